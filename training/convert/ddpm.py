"""A diffusers DDPM folder (``google/ddpm-*`` layout) -> ``ddpm-eps`` model pack.

The folder holds ``unet/config.json`` + ``unet/diffusion_pytorch_model.safetensors``
(or ``.bin``) and ``scheduler/scheduler_config.json``. The graph predicts the noise
``eps`` from ``sample`` and an int64 ``timestep`` per image; the sampling maths lives
in the engine and takes its schedule from the manifest options written here.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.models import Manifest, ModelPack, SizeRule, TensorSpec, Tiling
from training.compat import import_torchvision
from training.convert.checkpoint import CheckpointError
from training.eval.cards import render_card
from training.export import export_pack

HELP = "diffusers DDPM folder (unet/ + scheduler/, google/ddpm-* layout) -> ddpm-eps pack"
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
SCHEDULE_KEYS = (
    "num_train_timesteps",
    "beta_start",
    "beta_end",
    "beta_schedule",
    "variance_type",
    "clip_sample",
    "prediction_type",
)


class EpsNet(nn.Module):
    """``UNet2DModel`` with plain tensor in/out: (sample, timestep[N]) -> eps."""

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        return self.unet(sample, timestep, return_dict=False)[0]


def check_folder(folder: Path) -> None:
    """Raise a :class:`CheckpointError` listing every file the layout needs but lacks."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"diffusers folder '{folder}' does not exist")
    missing = [
        f
        for f in ("unet/config.json", "scheduler/scheduler_config.json")
        if not (folder / f).is_file()
    ]
    if not any((folder / "unet" / w).is_file() for w in WEIGHT_FILES):
        missing.append(f"unet/{WEIGHT_FILES[0]} (or .bin)")
    if missing:
        raise CheckpointError(f"'{folder}' is not a diffusers DDPM folder: missing {missing}")


def load(folder: Path) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """The UNet (eval mode), its config and the full scheduler config, from local files only."""
    import_torchvision()  # diffusers imports it when installed (training/compat.py)
    from diffusers import DDPMScheduler, UNet2DModel  # heavy; only when converting

    check_folder(folder)
    try:
        unet = UNet2DModel.from_pretrained(folder, subfolder="unet", local_files_only=True)
        scheduler = DDPMScheduler.from_pretrained(
            folder, subfolder="scheduler", local_files_only=True
        )
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"cannot load '{folder}' with diffusers: {first[:200]}") from None
    schedule = {k: scheduler.config[k] for k in SCHEDULE_KEYS}
    if schedule["prediction_type"] != "epsilon" or schedule["variance_type"].startswith("learned"):
        raise CheckpointError(
            f"'{folder}' predicts {schedule['prediction_type']} with {schedule['variance_type']} "
            "variance; only epsilon prediction with a fixed variance is supported"
        )
    return unet.eval(), dict(unet.config), schedule


def readme_licence(folder: Path) -> str | None:
    """The ``license:`` of a Hugging Face README front matter, if the folder has one."""
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8", errors="replace")
    front = re.match(r"---\n(.*?)\n---", text, re.DOTALL)
    found = re.search(r"^license:\s*(\S+)", front.group(1), re.MULTILINE) if front else None
    return found.group(1) if found else None


def describe_unet(config: dict[str, Any]) -> str:
    """The manifest's ``architecture`` line for a ``UNet2DModel`` config."""
    return (
        f"diffusers UNet2DModel, blocks {list(config['block_out_channels'])}, "
        f"{config['layers_per_block']} layers per block, {list(config['down_block_types'])}"
    )


def eps_manifest(
    name: str,
    config: dict[str, Any],
    schedule: dict[str, Any],
    *,
    licence: str,
    provenance: dict[str, Any],
    title: str | None = None,
    version: str = "1",
) -> Manifest:
    """The ``ddpm-eps`` manifest for a UNet2DModel config and its training schedule.

    The engine's sampler reads everything it needs from here: the fixed sample size,
    the int64 timestep input and the schedule options (``SCHEDULE_KEYS``).
    """
    size = config["sample_size"]
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    return Manifest(
        name=name,
        task="ddpm-eps",
        version=version,
        title=title or f"DDPM {name}",
        inputs=(
            TensorSpec("sample", "NCHW", config["in_channels"], "float32", (-1.0, 1.0)),
            TensorSpec("timestep", "N", None, "int64"),
        ),
        outputs=(TensorSpec("eps", "NCHW", config["out_channels"], "float32"),),
        sha256="",
        licence=licence,
        size_rule=SizeRule(multiple_of=1, min=min(height, width), fixed=(height, width)),
        tiling=Tiling(allowed=False, overlap=0),
        options={**{k: schedule[k] for k in SCHEDULE_KEYS}, "sample_size": [height, width]},
        provenance=provenance,
        architecture=describe_unet(config),
    )


def export_eps_pack(
    unet: nn.Module, output: Path, manifest: Manifest, card: str, *, overwrite: bool = False
) -> ModelPack:
    """Export ``unet`` as ``manifest`` says, parity-checked at batch 1 and 2 (dynamic batch)."""
    channels = manifest.inputs[0].channels
    height, width = manifest.options["sample_size"]  # set by eps_manifest
    steps = int(manifest.options["num_train_timesteps"])
    rng = np.random.default_rng(0)
    parity = [
        {
            "sample": rng.standard_normal((n, channels, height, width)).astype(np.float32),
            "timestep": np.array(t, dtype=np.int64),
        }
        for n, t in ((1, [steps - 1]), (2, [0, steps // 2]))
    ]
    return export_pack(
        EpsNet(unet),
        output,
        manifest,
        card,
        example={k: torch.from_numpy(v) for k, v in parity[0].items()},
        dynamic={"sample": {0: "batch"}, "timestep": {0: "batch"}, "eps": {0: "batch"}},
        parity_inputs=parity,
        overwrite=overwrite,
    )


def convert(
    folder: Path,
    output: Path,
    *,
    name: str | None = None,
    licence: str | None = None,
    overwrite: bool = False,
) -> ModelPack:
    """Convert ``folder`` into a pack at ``output`` (named after the output folder by default)."""
    folder, output = Path(folder), Path(output)
    unet, config, schedule = load(folder)
    name = name or output.name
    licence = licence or readme_licence(folder) or "unknown: check the source model's licence"
    manifest = eps_manifest(
        name,
        config,
        schedule,
        licence=licence,
        provenance={"converted_from": folder.name, "format": "diffusers"},
    )
    height, width = manifest.options["sample_size"]
    card = render_card(
        f"DDPM {name}",
        {
            "Architecture": f"{manifest.architecture}. Inputs `sample` NCHW {height}x{width} in "
            "[-1, 1] and `timestep` int64 (one per image); output `eps`, the predicted noise.",
            "Data": "Whatever the source model was trained on; see its own model card.",
            "Training": f"None here: converted from the diffusers folder `{folder.name}`. "
            f"Schedule: {json.dumps(schedule)}.",
            "Metrics": "No quality metrics measured here; conversion fidelity is the "
            "ONNX-vs-torch parity listed below.",
            "Licence": licence,
        },
    )
    return export_eps_pack(unet, output, manifest, card, overwrite=overwrite)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--licence", help="licence to record (default: README front matter)")


def run(args: argparse.Namespace) -> ModelPack:
    return convert(
        args.source, args.output, name=args.name, licence=args.licence, overwrite=args.overwrite
    )
