"""Torch -> ONNX export that is only trusted after onnxruntime agrees with torch.

Every pack we ship goes through :func:`export_pack`: export to a temporary file,
compare the graph against the torch module on the caller's parity inputs through the
engine's own runtime (the code path the app uses), then write and verify the pack.
"""

from __future__ import annotations

import copy
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine import runtime
from engine.errors import PackError
from engine.models import Manifest, ModelPack, sha256_of, verify_pack, write_pack


class ParityError(RuntimeError):
    """The exported graph does not compute what the torch module computes."""


def export_onnx(
    module: nn.Module,
    example: Mapping[str, torch.Tensor],
    path: Path,
    *,
    dynamic: Mapping[str, Mapping[int, str]] | None,
    output_names: Sequence[str] = ("output",),
    opset: int = 17,
) -> Path:
    """Export ``module`` (switched to eval mode) to ``path``.

    ``example`` maps graph input names to example tensors, passed to ``forward``
    positionally in the mapping's order. ``dynamic`` maps input/output names to
    ``{axis: symbolic name}`` for axes that may vary (batch, height, width). Uses the
    classic TorchScript exporter (``dynamo=False``); trust a graph only after
    :func:`check_parity`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # Shape checks traced as constants and "instance_norm exported with train=True"
        # are expected here; parity checks, not warnings, decide whether a graph is good.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="ONNX export mode is set to TrainingMode")
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript")
        torch.onnx.export(
            module,
            tuple(example.values()),
            str(path),
            input_names=list(example),
            output_names=list(output_names),
            dynamic_axes={k: dict(v) for k, v in (dynamic or {}).items()},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    return path


def _as_list(result: object) -> list[torch.Tensor]:
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [t for t in result if isinstance(t, torch.Tensor)]
    raise TypeError(f"cannot compare a module output of type {type(result).__name__}")


def _shapes(inputs: Mapping[str, np.ndarray]) -> str:
    return ", ".join(f"{k}{tuple(np.shape(v))}" for k, v in inputs.items())


def check_parity(
    module: nn.Module, onnx_path: Path, inputs: Mapping[str, np.ndarray], atol: float = 1e-4
) -> float:
    """Run torch and onnxruntime (CPU, via :mod:`engine.runtime`) on the same inputs.

    Returns the largest absolute difference over all outputs; raises
    :class:`ParityError` naming the output and input shapes when it exceeds ``atol``.
    """
    module.eval()
    with torch.no_grad():
        expected = _as_list(module(*(torch.from_numpy(np.asarray(v)) for v in inputs.values())))
    session = runtime.open_session(Path(onnx_path), device="cpu")
    got = session.run({k: np.asarray(v) for k, v in inputs.items()})
    if len(got) != len(expected):
        raise ParityError(f"ONNX graph has {len(got)} outputs, torch module {len(expected)}")
    shapes = _shapes(inputs)
    worst = 0.0
    for name, ours, theirs in zip(session.output_names, got, expected, strict=True):
        theirs = theirs.numpy()
        if ours.shape != theirs.shape:
            raise ParityError(
                f"ONNX output '{name}' has shape {ours.shape}, torch {theirs.shape} ({shapes})"
            )
        diff = float(np.max(np.abs(ours.astype(np.float64) - theirs))) if ours.size else 0.0
        if not diff <= atol:  # also catches NaN
            raise ParityError(
                f"ONNX output '{name}' differs from torch by {diff:.3g} > atol {atol:g} "
                f"for inputs {shapes}"
            )
        worst = max(worst, diff)
    return worst


def batchnorm_to_instancenorm(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every BatchNorm2d replaced by an InstanceNorm2d.

    pix2pix's official test runs BatchNorm in train mode, i.e. with each batch's own
    statistics; for batch 1 that is exactly instance norm. The copy keeps weight, bias
    and eps, ignores running statistics, and normalises per image for any batch.
    """
    converted = copy.deepcopy(module)
    _swap_batchnorm(converted)
    return converted


def _swap_batchnorm(parent: nn.Module) -> None:
    for name, child in parent.named_children():
        if isinstance(child, nn.BatchNorm2d):
            norm = nn.InstanceNorm2d(
                child.num_features, eps=child.eps, affine=child.affine, track_running_stats=False
            )
            if child.affine:
                with torch.no_grad():
                    norm.weight.copy_(child.weight)
                    norm.bias.copy_(child.bias)
            setattr(parent, name, norm)
        else:
            _swap_batchnorm(child)


def export_pack(
    module: nn.Module,
    folder: Path,
    manifest: Manifest,
    card: str,
    example: Mapping[str, torch.Tensor],
    dynamic: Mapping[str, Mapping[int, str]] | None,
    parity_inputs: Sequence[Mapping[str, np.ndarray]],
    *,
    atol: float = 1e-4,
    overwrite: bool = False,
    opset: int = 17,
    exporter: Callable[[nn.Module, Mapping[str, torch.Tensor], Path], Path] | None = None,
) -> ModelPack:
    """Export, check parity on every entry of ``parity_inputs``, write and verify a pack.

    ``exporter(module, example, onnx_path)`` replaces :func:`export_onnx` for graphs the
    default export cannot write as they are (imported architectures with ops ONNX lacks);
    parity is checked the same way either way.
    Output names come from ``manifest.outputs``; the manifest's sha256 is filled in by
    :func:`engine.models.write_pack`; it and the parity results are appended to the
    card. Nothing is written to ``folder`` unless every parity check passes.
    """
    if not parity_inputs:
        raise ValueError("export_pack needs at least one parity input")
    if Path(folder).exists() and not overwrite:  # fail before minutes of export work
        raise PackError(f"'{folder}' already exists; use --overwrite to replace it")
    with tempfile.TemporaryDirectory(prefix="heirloom-export-") as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        if exporter is not None:
            onnx_path = exporter(module, example, onnx_path)
        else:
            export_onnx(
                module,
                example,
                onnx_path,
                dynamic=dynamic,
                output_names=[o.name for o in manifest.outputs],
                opset=opset,
            )
        checks = [
            f"- inputs {_shapes(inputs)}: max abs difference "
            f"{check_parity(module, onnx_path, inputs, atol=atol):.2g}"
            for inputs in parity_inputs
        ]
        digest = sha256_of(onnx_path)
        card = (
            f"{card.rstrip()}\n\n## File\n\n`model.onnx` sha256: `{digest}`\n\n"
            f"ONNX Runtime (CPU) against torch, atol {atol:g}:\n\n" + "\n".join(checks) + "\n"
        )
        pack = write_pack(Path(folder), onnx_path, manifest, card, overwrite=overwrite)
    if pack.manifest.sha256 != digest:  # write_pack copies the same bytes; guard the card
        raise RuntimeError(f"pack '{pack.name}': sha256 changed while writing the pack")
    verify_pack(pack)
    return pack
