"""Any checkpoint spandrel recognises (``.pth``, ``.safetensors``, ``.ckpt``) -> model pack.

spandrel reads the architecture and its hyper-parameters from the weights; the table in
:mod:`training.convert.spandrel_archs` says what Heirloom does with that architecture.
The torch module is exported to ONNX and only written as a pack once ONNX Runtime
matches torch at the table's two parity sizes (:func:`training.export.export_pack`).
``heirloom models import FILE`` runs this converter in its own process (the engine may
not import torch).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.models import Manifest, ModelPack, SizeRule, TensorSpec, Tiling, sha256_of
from training.compat import import_spandrel
from training.convert.checkpoint import CheckpointError
from training.convert.spandrel_archs import OPSET, ArchSpec, Port, spec_for, supported_names
from training.eval.cards import render_card
from training.export import export_pack

HELP = "any checkpoint spandrel recognises (ESRGAN, Compact, SwinIR, ...) -> pack"
SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt")
_AXES = {0: "batch", 2: "height", 3: "width"}


def load_descriptor(checkpoint: Path) -> Any:
    """spandrel's model descriptor for ``checkpoint`` (float32, CPU, eval mode)."""
    spandrel = import_spandrel()
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise CheckpointError(f"checkpoint '{checkpoint}' does not exist")
    try:
        descriptor = spandrel.ModelLoader(device="cpu").load_from_file(checkpoint)
    except spandrel.UnsupportedModelError:
        raise CheckpointError(
            f"spandrel does not recognise the architecture of '{checkpoint.name}'; "
            f"Heirloom imports: {supported_names()} (see 'heirloom models supported')"
        ) from None
    except Exception as exc:  # noqa: BLE001 - torch, safetensors and pickle each raise their own
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"'{checkpoint.name}' is not a readable checkpoint ({first[:160]})"
        ) from None
    return descriptor.float().eval()


def arch_spec(descriptor: Any, checkpoint: Path) -> ArchSpec:
    """The table's entry for this checkpoint's architecture, or a one-line refusal."""
    arch = descriptor.architecture
    spec = spec_for(arch.id)
    if spec is None:
        raise CheckpointError(
            f"'{checkpoint.name}' is a {arch.name} ({arch.id}) model, which Heirloom cannot "
            f"import yet; it imports: {supported_names()} (see 'heirloom models supported')"
        )
    return spec


def _tensor(port: Port, channels: int) -> TensorSpec:
    return TensorSpec(port.name, "NCHW", port.channels or channels, "float32", port.value_range)


def size_rule(spec: ArchSpec, descriptor: Any) -> SizeRule:
    """The table's size rule, else spandrel's size requirements."""
    if spec.fixed_size:
        return SizeRule(fixed=spec.fixed_size)
    needs = descriptor.size_requirements
    multiple = spec.multiple_of(descriptor) if callable(spec.multiple_of) else spec.multiple_of
    multiple = multiple or needs.multiple_of
    return SizeRule(multiple_of=multiple, min=max(multiple, needs.minimum))


def parity_inputs(spec: ArchSpec, inputs: tuple[TensorSpec, ...], rule: SizeRule) -> list[dict]:
    """Random inputs in each port's range at the table's two sizes, fitted to ``rule``."""
    rng = np.random.default_rng(0)
    feeds = []
    for height, width in spec.parity_sizes:
        if rule.fixed:
            height, width = rule.fixed
        else:
            m = rule.multiple_of
            height = max(rule.min, -(-height // m) * m)
            width = max(rule.min, -(-width // m) * m)
        feeds.append(
            {
                t.name: rng.uniform(*t.value_range, (1, t.channels, height, width)).astype(
                    np.float32
                )
                for t in inputs
            }
        )
    return feeds


def convert(
    checkpoint: Path, output: Path, *, name: str | None = None, overwrite: bool = False
) -> ModelPack:
    """Import ``checkpoint`` as a pack at ``output`` (named after the folder by default)."""
    checkpoint, output = Path(checkpoint), Path(output)
    descriptor = load_descriptor(checkpoint)
    spec = arch_spec(descriptor, checkpoint)
    module = (spec.wrap(descriptor) if spec.wrap else descriptor.model).float().eval()
    name = name or output.name
    scale = int(descriptor.scale)
    inputs = tuple(_tensor(p, descriptor.input_channels) for p in spec.inputs)
    rule = size_rule(spec, descriptor)
    architecture = _architecture(spec, descriptor)
    manifest = Manifest(
        name=name,
        task=spec.task_for(scale),
        version="1",
        title=f"{spec.title} x{scale} ({checkpoint.name})",
        inputs=inputs,
        outputs=(_tensor(spec.output, descriptor.output_channels),),
        sha256="",
        licence=spec.licence,
        size_rule=rule,
        tiling=Tiling(
            allowed=spec.tiling, overlap=spec.overlap, bytes_per_pixel=spec.bytes_per_pixel
        ),
        options={"scale": scale},
        provenance={
            "converted_from": checkpoint.name,
            "source_sha256": sha256_of(checkpoint),
            "spandrel_architecture": spec.arch,
            "spandrel_version": _spandrel_version(),
        },
        architecture=architecture,
    )
    feeds = parity_inputs(spec, inputs, rule)
    return export_pack(
        module,
        output,
        manifest,
        _card(manifest, spec, checkpoint, architecture),
        example={t.name: torch.from_numpy(feeds[0][t.name]) for t in inputs},
        dynamic={name: _AXES for name in [*(t.name for t in inputs), spec.output.name]},
        parity_inputs=feeds,
        atol=spec.atol,
        overwrite=overwrite,
        opset=OPSET,
        exporter=spec.export,
    )


def _spandrel_version() -> str:
    return str(import_spandrel().__version__)


def _architecture(spec: ArchSpec, descriptor: Any) -> str:
    tags = ", ".join(descriptor.tags)
    return (
        f"{descriptor.architecture.name} (spandrel id {spec.arch}{'; ' + tags if tags else ''}), "
        f"scale {descriptor.scale}, {descriptor.input_channels} -> "
        f"{descriptor.output_channels} channels"
    )


def _card(manifest: Manifest, spec: ArchSpec, checkpoint: Path, architecture: str) -> str:
    rule = manifest.size_rule
    size = (
        f"fixed {rule.fixed[0]}x{rule.fixed[1]}"
        if rule.fixed
        else f"multiples of {rule.multiple_of}, at least {rule.min}"
    )
    tiling = f"tiled with {spec.overlap} px overlap" if spec.tiling else "run whole (never tiled)"
    return render_card(
        manifest.title,
        {
            "Architecture": f"{architecture}; detected and built by spandrel "
            f"{_spandrel_version()}, exported to ONNX (opset {OPSET}). Task "
            f"`{manifest.task}`; input sizes: {size}; {tiling}. {spec.notes}".rstrip(),
            "Source": f"Imported from `{checkpoint.name}`, sha256 "
            f"`{manifest.provenance['source_sha256']}`. Checkpoints: {spec.checkpoints}.",
            "Data": "Whatever its publisher trained the checkpoint on; see its source.",
            "Training": "None here: the weights are the checkpoint's, unchanged.",
            "Metrics": "No quality metrics measured here; conversion fidelity is the "
            "ONNX-vs-torch parity listed below.",
            "Licence": f"Architecture code: {spec.licence} ({spec.package}). The weights "
            "carry whatever licence their publisher gave them; check it before use.",
        },
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own: everything is read from the checkpoint."""


def run(args: argparse.Namespace) -> ModelPack:
    return convert(args.source, args.output, name=args.name, overwrite=args.overwrite)
