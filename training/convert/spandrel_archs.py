"""Which spandrel architectures Heirloom can turn into a model pack, and how.

spandrel (https://github.com/chaiNNer-org/spandrel) detects a checkpoint's architecture
and builds the torch module; this table says what Heirloom does with it: the task the
pack serves, the graph's inputs and value ranges, the size rule and tiling, the licence
users must respect, where they get checkpoints, and how to export it to ONNX. The
importer (:mod:`training.convert.spandrel`) refuses any architecture not listed here,
and ``heirloom models supported`` prints this table.

This module imports neither torch nor spandrel, so the table can be listed on a machine
that cannot import a checkpoint.

Adding an architecture (part B of issue 19 adds the face, fill and colorize ones):

1. add one :class:`ArchSpec` to :data:`ARCHS`, keyed by spandrel's ``Architecture.id``;
2. give it ``inputs`` in the order the exported graph takes them (the pipeline finds
   them by name through ``engine.adapter.ROLES`` of its task), ``output``, and whatever
   of ``multiple_of`` / ``fixed_size`` / ``tiling`` / ``overlap`` spandrel's own
   descriptor does not already say;
3. if ``torch.onnx.export`` of spandrel's module at opset 18 does not work or does not
   match torch, give ``wrap`` (the module to export instead: e.g. one that returns only
   the image, or replaces an op ONNX lacks) and/or ``export`` (a callable doing the whole
   export its own way: dynamo, fixed batch and size, a graph rewrite afterwards);
4. add a test in ``tests/training/test_spandrel_import.py`` that builds a small random
   network of that architecture with spandrel's own class and imports it through the CLI.

Parity (ONNX Runtime against torch at ``parity_sizes``, within ``atol``) decides
whether an import is written; nothing here is trusted without it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch
    from torch import nn

Task = Literal["upscale", "face-restore", "fill", "colorize", "denoise"]

OPSET = 18

Exporter = Callable[["nn.Module", Mapping[str, "torch.Tensor"], Path], Path]
"""``(module, example inputs by graph name, onnx path) -> onnx path``: writes the graph.
Without one, :func:`training.export.export_onnx` (``torch.onnx.export``) writes it at
opset :data:`OPSET` with dynamic batch, height and width."""

Wrapper = Callable[[Any], "nn.Module"]
"""spandrel's model descriptor -> the torch module to export and compare against."""


@dataclass(frozen=True)
class Port:
    """One graph input or output: its name, channels (None: the checkpoint's own, as
    spandrel reads them from the weights) and the value range it works in."""

    name: str
    channels: int | None = None
    value_range: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class ArchSpec:
    """How one spandrel architecture becomes a model pack."""

    arch: str  # spandrel's Architecture.id
    title: str
    task: Task  # what a checkpoint of scale > 1 serves; see :meth:`task_for`
    licence: str  # the architecture's code licence (SPDX); weights may add their own
    checkpoints: str  # where users get checkpoints
    package: str = "spandrel"  # or "spandrel-extra-arches" (restrictive licences)
    inputs: tuple[Port, ...] = (Port("image"),)
    output: Port = Port("output")
    # None: spandrel's size requirements say; a callable reads it from the descriptor
    multiple_of: int | Callable[[Any], int] | None = None
    fixed_size: tuple[int, int] | None = None  # the graph takes only this (h, w)
    tiling: bool = True
    overlap: int = 32  # input pixels of context per tile edge (engine.tiling)
    bytes_per_pixel: int = 8192  # peak activation memory per input pixel, for tile size
    parity_sizes: tuple[tuple[int, int], tuple[int, int]] = ((64, 64), (43, 61))
    atol: float = 1e-4
    wrap: Wrapper | None = None
    export: Exporter | None = None
    status: str = "supported"  # or why not yet, e.g. "planned: ONNX has no FFT"
    notes: str = ""

    def task_for(self, scale: int) -> str:
        """An upscaler's architecture trained at scale 1 is a denoiser / restorer
        (Real-ESRGAN's and SPAN's 1x models), so it serves the restore stage instead."""
        if self.task == "upscale" and scale == 1:
            return "denoise"
        return self.task


def _late(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported when first called: the hooks need torch and spandrel,
    and this table must load without them."""

    def hook(*args: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args)

    return hook


_FACES = "training.convert.spandrel_faces"
_FACE = Port("image", 3, (-1.0, 1.0))  # aligned 512x512 faces in their authors' range
_FACE_512 = dict(
    inputs=(_FACE,),
    output=Port("output", 3, (-1.0, 1.0)),
    fixed_size=(512, 512),
    tiling=False,
    parity_sizes=((512, 512), (512, 512)),  # one size only: two random faces
    atol=1e-3,
    wrap=_late(_FACES, "wrap_face"),
    export=_late(_FACES, "export_face"),
)

_REAL_ESRGAN = "https://github.com/xinntao/Real-ESRGAN/releases; https://openmodeldb.info"

ARCHS: dict[str, ArchSpec] = {
    spec.arch: spec
    for spec in (
        ArchSpec(
            "Compact",
            "Real-ESRGAN Compact (SRVGGNet)",
            "upscale",
            "BSD-3-Clause",
            _REAL_ESRGAN,
            overlap=48,
            bytes_per_pixel=2048,
        ),
        ArchSpec(
            "ESRGAN",
            "ESRGAN / Real-ESRGAN (RRDBNet)",
            "upscale",
            "Apache-2.0 (ESRGAN); Real-ESRGAN weights BSD-3-Clause",
            _REAL_ESRGAN,
            overlap=64,
        ),
        ArchSpec(
            "SwinIR",
            "SwinIR",
            "upscale",
            "Apache-2.0",
            "https://github.com/JingyunLiang/SwinIR/releases; https://openmodeldb.info",
            # its own padding to whole windows is traced as a constant: feed whole windows
            multiple_of=lambda descriptor: int(descriptor.model.window_size),
            overlap=64,
            bytes_per_pixel=32768,
            notes="windowed attention: tiles need generous overlap (spandrel discourages tiling)",
        ),
        ArchSpec(
            "SPAN",
            "SPAN",
            "upscale",
            "Apache-2.0",
            "https://github.com/hongyuanyu/SPAN; https://openmodeldb.info",
            overlap=48,
        ),
        ArchSpec(
            "SCUNet",
            "SCUNet (blind denoising)",
            "denoise",
            "Apache-2.0",
            "https://github.com/cszn/SCUNet/releases (scunet_color_real_psnr.pth, ...)",
            multiple_of=64,  # it pads to 64 itself, traced as a constant: feed multiples
            overlap=64,
            parity_sizes=((64, 64), (64, 128)),
            bytes_per_pixel=32768,
        ),
        ArchSpec(
            "NAFNet",
            "NAFNet (denoising / deblurring)",
            "denoise",
            "MIT",
            "https://github.com/megvii-research/NAFNet (SIDD width 32/64 models)",
            overlap=64,
            bytes_per_pixel=4096,
            notes="channel attention pools the whole input: tiled output differs a little",
        ),
        ArchSpec(
            "GFPGAN",
            "GFPGAN face restorer",
            "face-restore",
            "Apache-2.0",
            "https://github.com/TencentARC/GFPGAN/releases (GFPGANv1.3.pth, GFPGANv1.4.pth)",
            notes="exported with the checkpoint's stored StyleGAN2 noise (deterministic)",
            **_FACE_512,
        ),
        ArchSpec(
            "RestoreFormer",
            "RestoreFormer face restorer",
            "face-restore",
            "Apache-2.0",
            "https://github.com/wzhouxiff/RestoreFormer/releases (RestoreFormer.ckpt)",
            **_FACE_512,
        ),
        ArchSpec(
            "CodeFormer",
            "CodeFormer face restorer",
            "face-restore",
            "S-Lab License 1.0 (non-commercial use only)",
            "https://github.com/sczhou/CodeFormer/releases (codeformer.pth)",
            package="spandrel-extra-arches",
            notes="fidelity weight fixed at 0.5 in the graph",
            **_FACE_512,
        ),
        ArchSpec(
            "LaMa",
            "LaMa inpainting",
            "fill",
            "Apache-2.0",
            "https://github.com/advimman/lama (big-lama)",
            inputs=(Port("image", 3), Port("mask", 1)),
            tiling=False,
            parity_sizes=((64, 64), (48, 80)),
            wrap=_late("training.convert.spandrel_fill", "wrap_lama"),
            notes="its FFTs run as DFT matrix products in the graph",
        ),
        ArchSpec(
            "DDColor",
            "DDColor colorizer",
            "colorize",
            "Apache-2.0",
            "https://github.com/piddnad/DDColor (ddcolor_paper.pth, ddcolor_artistic.pth, ...)",
            package="spandrel-extra-arches",
            inputs=(Port("gray", 1),),
            output=Port("rgb", 3),
            fixed_size=(256, 256),
            tiling=False,
            parity_sizes=((256, 256), (256, 256)),
            wrap=_late("training.convert.spandrel_colorize", "wrap_colorizer"),
            export=_late("training.convert.spandrel_colorize", "export_fixed"),
            notes="runs at 256x256; the engine keeps the photo's own luminance",
        ),
    )
}


def spec_for(arch: str) -> ArchSpec | None:
    """The table's entry for spandrel architecture id ``arch`` if it can be imported."""
    spec = ARCHS.get(arch)
    return spec if spec is not None and spec.status == "supported" else None


def supported_names() -> str:
    """The architectures an import accepts, for one-line refusals."""
    return ", ".join(a for a, spec in ARCHS.items() if spec.status == "supported")


def table_lines() -> list[str]:
    """``heirloom models supported``: architecture, task, licence, status."""
    lines = [f"{'architecture':14s} {'task':22s} {'status':10s} licence (package)"]
    for spec in ARCHS.values():
        task = spec.task + (" (1x: denoise)" if spec.task == "upscale" else "")
        lines.append(
            f"{spec.arch:14s} {task:22s} {spec.status:10s} {spec.licence} ({spec.package})"
        )
    return lines


def main() -> int:
    print("\n".join(table_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
