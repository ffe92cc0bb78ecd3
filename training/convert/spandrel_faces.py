"""Face restorers (GFPGAN, RestoreFormer, CodeFormer) as fixed-size ONNX graphs.

All three restore one aligned face of 512x512 pixels (the FFHQ 5-point template the
engine aligns to, :data:`engine.ops.faces.FFHQ_TEMPLATE`). Their own inference code
normalises the face to [-1, 1] and reads the result in [-1, 1]; the graph keeps that
range (the pack declares it, and :class:`engine.adapter.PackAdapter` converts), so the
graph is the network and nothing else.

Why each needs more than ``torch.onnx.export(descriptor.model)``:

- **GFPGAN** (its StyleGAN2 decoder): noise injection draws fresh noise with
  ``normal_()`` on every call unless asked to use the noise buffers stored in the
  checkpoint. Traced, that draw becomes ``RandomNormalLike`` followed by a cast to
  float64, which turns every later modulated convolution into a float64 ``Conv`` that
  ONNX Runtime has no kernel for ("Could not find an implementation for Conv(11)").
  With ``randomize_noise=False`` the graph is float32 throughout and deterministic.
  The modulated convolution computes its kernel per sample (a grouped conv with one
  group per batch item), so the graph is exported at batch 1 and a fixed 512x512: the
  TorchScript exporter refuses a convolution whose kernel shape is not static.
- **CodeFormer**: its forward keys fused features by ``str(x.shape[-1])``, which under
  the TorchScript tracer is a tensor, not a number; the dynamo exporter
  (``torch.export``) sees plain integers at a fixed size, so it exports with
  ``dynamo=True``. Its fidelity weight ``w`` (0: the codebook's face, 1: closest to the
  input) is fixed in the graph at :data:`CODEFORMER_FIDELITY`, its authors' default.
- **RestoreFormer**: exports as is; only the fixed size and range are set here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from training.export import export_onnx

FACE_SIZE = 512
CODEFORMER_FIDELITY = 0.5
OPSET = 18


class FaceGraph(nn.Module):
    """One aligned face (1x3x512x512 in [-1, 1]) -> the restored face, same size and range.

    Calls the network the way its authors' inference does, which differs per
    architecture (see the module docstring); spandrel's ``call_fn`` is not used, as it
    feeds [0, 1] and lets GFPGAN draw random noise.
    """

    def __init__(self, model: nn.Module, arch: str, fidelity: float = CODEFORMER_FIDELITY):
        super().__init__()
        if arch not in ("GFPGAN", "RestoreFormer", "CodeFormer"):
            raise ValueError(f"{arch} is not a face restorer Heirloom can export")
        self.model = model
        self.arch = arch
        self.fidelity = fidelity

    def forward(self, face: torch.Tensor) -> torch.Tensor:
        if self.arch == "GFPGAN":
            return self.model(face, return_rgb=False, randomize_noise=False)[0]
        if self.arch == "CodeFormer":
            return self.model(face, weight=self.fidelity)[0]
        return self.model(face)[0]


def wrap_face(descriptor: Any) -> nn.Module:
    """spandrel's descriptor -> the module to export and compare (the table's ``wrap``)."""
    return FaceGraph(descriptor.model, descriptor.architecture.id)


def export_face(module: nn.Module, example: Mapping[str, torch.Tensor], path: Path) -> Path:
    """Export at batch 1 and 512x512 (the table's ``export``); dynamo for CodeFormer."""
    arch = module.arch if isinstance(module, FaceGraph) else ""
    if arch != "CodeFormer":
        return export_onnx(module, example, path, dynamic=None, opset=OPSET)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            tuple(example.values()),
            str(path),
            input_names=list(example),
            output_names=["output"],
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return path
