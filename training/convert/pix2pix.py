"""Official pix2pix ``latest_net_G.pth`` -> ``sketch2photo`` model pack.

The checkpoint is a plain state_dict of the official U-Net (see
:mod:`training.nets.pix2pix`). The official test script runs the generator with
BatchNorm in train mode (per-image statistics at batch 1); we export exactly that as
affine instance norm, with dropout off, so the graph is deterministic for any batch.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.models import Manifest, ModelPack, SizeRule, TensorSpec, Tiling, sha256_of
from training.convert.checkpoint import CheckpointError, load_state_dict_file, load_strict
from training.eval.cards import render_card
from training.export import batchnorm_to_instancenorm, export_pack
from training.nets.pix2pix import Norm, UnetGenerator

HELP = "official pix2pix generator (latest_net_G.pth) -> sketch2photo pack"
_OUTER = "model.model"
_SECOND = ".1.model"  # level 2 sits at index 1 of the outermost block's Sequential,
_NESTED = ".3.model"  # deeper levels at index 3 (after leaky ReLU, down-conv, norm)


@dataclass(frozen=True)
class UnetShape:
    """Generator hyper-parameters as read back from checkpoint tensor shapes."""

    input_nc: int
    output_nc: int
    ngf: int
    num_downs: int
    norm: Norm


def infer_unet_shape(state: dict[str, torch.Tensor]) -> UnetShape:
    """Read ngf, channels, depth and norm type from the official key layout."""
    first, last = f"{_OUTER}.0.weight", f"{_OUTER}.3.weight"
    if first not in state or last not in state:
        raise CheckpointError(
            f"not a pix2pix U-Net generator checkpoint (no '{first}' / '{last}' keys)"
        )
    ngf, input_nc = state[first].shape[:2]
    output_nc = state[last].shape[1]
    depth, prefix = 1, _OUTER + _SECOND
    while any(k.startswith(prefix + ".") for k in state):  # one more nested level
        depth, prefix = depth + 1, prefix + _NESTED
    has_bn = f"{_OUTER}{_SECOND}.2.weight" in state  # affine BN; old IN stats have no weight
    return UnetShape(
        int(input_nc), int(output_nc), int(ngf), depth, "batch" if has_bn else "instance"
    )


def drop_stale_instance_norm_stats(
    state: dict[str, torch.Tensor], net: torch.nn.Module
) -> dict[str, torch.Tensor]:
    """Remove InstanceNorm running stats that old (PyTorch < 0.4) checkpoints carry.

    The official loader deletes exactly these: ``running_mean``/``running_var`` of an
    InstanceNorm that tracks none, and its ``num_batches_tracked``.
    """
    stale = {
        f"{name}.{buffer}"
        for name, module in net.named_modules()
        if isinstance(module, torch.nn.InstanceNorm2d) and not module.track_running_stats
        for buffer in ("running_mean", "running_var", "num_batches_tracked")
    }
    return {k: v for k, v in state.items() if k not in stale}


def load_generator(
    checkpoint: Path, *, ngf: int | None = None, num_downs: int | None = None
) -> tuple[UnetGenerator, UnetShape]:
    """The official generator with the checkpoint's weights, all keys checked.

    ``ngf``/``num_downs`` override what the shapes suggest; a wrong override then fails
    the strict load with the mismatching keys named.
    """
    state = load_state_dict_file(checkpoint)
    shape = infer_unet_shape(state)
    shape = UnetShape(
        shape.input_nc,
        shape.output_nc,
        ngf or shape.ngf,
        num_downs or shape.num_downs,
        shape.norm,
    )
    if shape.num_downs < 5:
        raise CheckpointError(f"'{checkpoint.name}' has {shape.num_downs} levels; pix2pix needs 5+")
    net = UnetGenerator(
        shape.input_nc, shape.output_nc, shape.num_downs, shape.ngf, shape.norm, use_dropout=False
    )
    load_strict(net, drop_stale_instance_norm_stats(state, net), f"'{checkpoint.name}'")
    return net.eval(), shape


def convert(
    checkpoint: Path,
    output: Path,
    *,
    name: str | None = None,
    ngf: int | None = None,
    num_downs: int | None = None,
    overwrite: bool = False,
) -> ModelPack:
    """Convert ``checkpoint`` into a pack at ``output`` (named after the folder by default)."""
    checkpoint, output = Path(checkpoint), Path(output)
    net, shape = load_generator(checkpoint, ngf=ngf, num_downs=num_downs)
    exported = batchnorm_to_instancenorm(net).eval()
    side = 2**shape.num_downs
    name = name or output.name
    manifest = Manifest(
        name=name,
        task="sketch2photo",
        version="1",
        title=f"pix2pix {name}",
        inputs=(TensorSpec("edges", "NCHW", shape.input_nc, "float32", (-1.0, 1.0)),),
        outputs=(TensorSpec("photo", "NCHW", shape.output_nc, "float32", (-1.0, 1.0)),),
        sha256="",
        licence="BSD (pix2pix code); weights: as published by the official repository",
        size_rule=SizeRule(multiple_of=side, min=side),
        tiling=Tiling(allowed=False, overlap=0),
        provenance={
            "converted_from": checkpoint.name,
            "source_sha256": sha256_of(checkpoint),
            "origin": "junyanz/pytorch-CycleGAN-and-pix2pix",
        },
        architecture=_architecture(shape),
    )
    rng = np.random.default_rng(0)
    parity = [
        {"edges": rng.uniform(-1, 1, (1, shape.input_nc, side, side)).astype(np.float32)},
        {"edges": rng.uniform(-1, 1, (2, shape.input_nc, 2 * side, side)).astype(np.float32)},
    ]
    axes = {0: "batch", 2: "height", 3: "width"}
    return export_pack(
        exported,
        output,
        manifest,
        _card(name, checkpoint, shape),
        example={"edges": torch.from_numpy(parity[0]["edges"])},
        dynamic={"edges": axes, "photo": axes},
        parity_inputs=parity,
        overwrite=overwrite,
    )


def _architecture(shape: UnetShape) -> str:
    norm = "batch norm with per-image statistics" if shape.norm == "batch" else "instance norm"
    return (
        f"pix2pix U-Net generator, {shape.num_downs} down/up levels, ngf {shape.ngf}, "
        f"{norm}, no dropout"
    )


def _card(name: str, checkpoint: Path, shape: UnetShape) -> str:
    side = 2**shape.num_downs
    return render_card(
        f"pix2pix {name}",
        {
            "Architecture": _architecture(shape) + ". Input `edges` NCHW in [-1, 1] (black "
            f"lines on white), output `photo` NCHW in [-1, 1]; H and W multiples of {side}; "
            "not tiled (the U-Net bottleneck sees the whole image).",
            "Data": "Whatever the official authors trained this checkpoint on (e.g. "
            "edges2shoes, edges2handbags); see junyanz/pytorch-CycleGAN-and-pix2pix.",
            "Training": f"None here: converted from the official pix2pix checkpoint "
            f"`{checkpoint.name}`. BatchNorm runs with per-image statistics as in the "
            "official test script; dropout is off, so results are deterministic.",
            "Metrics": "No quality metrics measured here; conversion fidelity is the "
            "ONNX-vs-torch parity listed below.",
            "Licence": "pix2pix code: BSD licence (junyanz/pytorch-CycleGAN-and-pix2pix). "
            "Weights: under the terms the official repository publishes them with.",
        },
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ngf", type=int, help="override the inferred generator width")
    parser.add_argument("--num-downs", type=int, help="override the inferred U-Net depth")


def run(args: argparse.Namespace) -> ModelPack:
    return convert(
        args.source,
        args.output,
        name=args.name,
        ngf=args.ngf,
        num_downs=args.num_downs,
        overwrite=args.overwrite,
    )
