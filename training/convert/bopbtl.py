"""Official BOPBTL checkpoint folders -> up to four model packs.

Reads the layout the official download unpacks (``Global/checkpoints.zip`` and
``Face_Enhancement/checkpoints.zip``), as ``Global/detection.py``, ``Global/test.py``
and ``Face_Enhancement/test_face.py`` load it::

    Global/checkpoints/detection/FT_Epoch_latest.pt              {"model_state": ...}
    Global/checkpoints/restoration/VAE_A_quality/latest_net_G.pth
    Global/checkpoints/restoration/VAE_B_quality/latest_net_G.pth
    Global/checkpoints/restoration/VAE_B_scratch/latest_net_G.pth
    Global/checkpoints/restoration/mapping_quality/latest_net_mapping_net.pth
    Global/checkpoints/restoration/mapping_scratch/latest_net_mapping_net.pth
    Face_Enhancement/checkpoints/Setting_9_epoch_100/latest_net_G.pth

The official loaders print a line and run random weights when a file is missing, and
silently drop keys that do not fit; here every file is loaded strictly (a wrong key
fails naming it) and a pack whose files are absent is not written, with a warning
naming the files.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.errors import HeirloomError
from engine.models import Manifest, ModelPack, SizeRule, TensorSpec, Tiling, sha256_of
from training.convert.checkpoint import CheckpointError, load_state_dict_file, load_strict
from training.convert.pix2pix import drop_stale_instance_norm_stats
from training.eval.cards import render_card
from training.export import export_pack
from training.nets.bopbtl_detect import ScratchProbability, ScratchUNet, detect_config
from training.nets.bopbtl_face import LOAD_SIZE, SPADEGenerator, face_config, fold_spectral_norm
from training.nets.bopbtl_mapping import (
    ATTENTION_SIDE,
    MappingModel,
    MappingModelWithMask,
    RestoreQuality,
    RestoreScratch,
    mapping_config,
)
from training.nets.bopbtl_vae import OFFICIAL as VAE_OPTIONS
from training.nets.bopbtl_vae import GlobalGeneratorDCDCv2

HELP = "official BOPBTL checkpoint folders -> scratch-detect, restore and face-enhance packs"
log = logging.getLogger(__name__)

DETECT = "detection/FT_Epoch_latest.pt"
VAE_A = "restoration/VAE_A_quality/latest_net_G.pth"
VAE_B_QUALITY = "restoration/VAE_B_quality/latest_net_G.pth"
VAE_B_SCRATCH = "restoration/VAE_B_scratch/latest_net_G.pth"
MAPPING_QUALITY = "restoration/mapping_quality/latest_net_mapping_net.pth"
MAPPING_SCRATCH = "restoration/mapping_scratch/latest_net_mapping_net.pth"
FACE = "Setting_9_epoch_100/latest_net_G.pth"

ORIGIN = "microsoft/Bringing-Old-Photos-Back-to-Life"
LICENCE = "MIT (code and released weights of microsoft/Bringing-Old-Photos-Back-to-Life)"
_IMAGE_AXES = {0: "batch", 2: "height", 3: "width"}


@dataclass(frozen=True)
class Roots:
    """Where the two official checkpoint folders are (None when absent)."""

    global_dir: Path | None
    face_dir: Path | None


def find_roots(source: Path) -> Roots:
    """Accept the repo root, ``Global``/``Face_Enhancement``, or a ``checkpoints`` folder."""
    source = Path(source)
    if not source.is_dir():
        raise CheckpointError(f"'{source}' is not a folder")

    def first(candidates: list[Path], marker: Callable[[Path], bool]) -> Path | None:
        return next((c for c in candidates if c.is_dir() and marker(c)), None)

    global_dir = first(
        [source / "Global" / "checkpoints", source / "checkpoints", source],
        lambda p: (p / "detection").is_dir() or (p / "restoration").is_dir(),
    )
    face_dir = first(
        [source / "Face_Enhancement" / "checkpoints", source / "checkpoints", source],
        lambda p: (p / FACE).parent.is_dir(),
    )
    if global_dir is None and face_dir is None:
        raise CheckpointError(
            f"no BOPBTL checkpoints under '{source}': expected Global/checkpoints/"
            "{detection,restoration} or Face_Enhancement/checkpoints/Setting_9_epoch_100 "
            "(unzip the official checkpoints.zip files there)"
        )
    return Roots(global_dir, face_dir)


# --- loading ----------------------------------------------------------------------


def _load_detection_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"'{path}' is not a readable torch checkpoint ({first[:160]})"
        ) from exc
    state = saved.get("model_state") if isinstance(saved, Mapping) else None
    if not isinstance(state, Mapping):
        raise CheckpointError(f"'{path}' has no 'model_state' entry (not FT_Epoch_latest.pt?)")
    return dict(state)


def _loaded(net: nn.Module, state: dict[str, torch.Tensor], path: Path) -> nn.Module:
    load_strict(net, drop_stale_instance_norm_stats(state, net), f"'{path}'")
    return net.eval()


def load_detector(path: Path) -> ScratchUNet:
    state = _load_detection_state(path)
    return _loaded(ScratchUNet(**detect_config(state)), state, path)


def load_vae(path: Path) -> GlobalGeneratorDCDCv2:
    return _loaded(GlobalGeneratorDCDCv2(**VAE_OPTIONS), load_state_dict_file(path), path)


def load_mapping(path: Path, scratch: bool, max_side: int | None = ATTENTION_SIDE) -> nn.Module:
    """The quality or scratch mapping net; ``max_side`` bounds the non-local block."""
    state = load_state_dict_file(path)
    if scratch:
        net = MappingModelWithMask(**mapping_config(state, "after_NL."), max_side=max_side)
    else:
        net = MappingModel(**mapping_config(state, "model."))
    return _loaded(net, state, path)


def load_face(path: Path) -> SPADEGenerator:
    """Setting_9 generator, spectral norm folded into plain weights."""
    state = load_state_dict_file(path)
    return fold_spectral_norm(_loaded(SPADEGenerator(**face_config(state)), state, path))


# --- packs ------------------------------------------------------------------------


def _rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-1, 1, shape).astype(np.float32)


def _mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return (rng.random((1, 1, h, w)) > 0.85).astype(np.float32)


def _official_name(path: Path, roots: Roots) -> str:
    """The file's place in the official layout: no user paths end up in a pack."""
    for prefix, root in (
        ("Global/checkpoints", roots.global_dir),
        ("Face_Enhancement/checkpoints", roots.face_dir),
    ):
        if root is not None and path.is_relative_to(root):
            return f"{prefix}/{path.relative_to(root).as_posix()}"
    return path.name


def _manifest(
    name: str, task: str, title: str, roots: Roots, files: dict[str, Path], **fields: Any
) -> Manifest:
    provenance = {
        "converted_from": ORIGIN,
        "files": {
            label: {"path": _official_name(p, roots), "sha256": sha256_of(p)}
            for label, p in files.items()
        },
    }
    return Manifest(
        name=name,
        task=task,
        version="1.0",
        title=title,
        sha256="",
        licence=LICENCE,
        provenance=provenance,
        **fields,
    )


def _card(title: str, architecture: str, io: str, files: dict[str, Path]) -> str:
    listed = ", ".join(f"`{p.parent.name}/{p.name}`" for p in files.values())
    return render_card(
        title,
        {
            "Architecture": f"{architecture}\n\n{io}",
            "Data": "Trained by the BOPBTL authors (Wan et al., CVPR 2020) on their old-photo "
            "and synthetic-degradation data; see the official repository.",
            "Training": f"None here: converted from the official checkpoints {listed}, "
            "every key and shape checked.",
            "Metrics": "No quality metrics measured here; conversion fidelity is the "
            "ONNX-vs-torch parity listed below.",
            "Licence": LICENCE + ".",
        },
    )


GRAY_RULE = (
    "The official detection.py prepares the photo ('full_size': both sides rounded to the "
    "nearest multiple of 16, bicubic), converts it to gray (PIL 'L'), maps it to [-1, 1], "
    "resizes it bilinearly so the short side is 256 (sides rounded to multiples of 16), "
    "runs the net, upsamples the probability (nearest) to the prepared size and marks "
    "scratches where probability >= 0.4."
)


def detect_pack(roots: Roots, out: Path, overwrite: bool) -> ModelPack:
    files = {"detector": _file(roots.global_dir, DETECT)}
    net = load_detector(files["detector"])
    side = 2 ** len(net.down_path)
    options = {
        "input_range": [-1, 1],
        "output": "probability",
        "threshold": 0.4,
        "threshold_inclusive": True,
        "prepare_multiple_of": 16,
        "prepare_resize": "bicubic",
        "detect_short_side": 256,
        "detect_multiple_of": 16,
        "detect_resize": "bilinear",
        "mask_upsample": "nearest",
    }
    architecture = (
        f"Scratch-detection UNet (Global/detection_models/networks.py UNet): depth "
        f"{len(net.down_path)}, {net.first[1].out_channels} base channels, batch norm, "
        "antialiased downsampling, bilinear upsampling + conv; sigmoid appended."
    )
    io = (
        "Input `image`: NCHW, 1 gray channel in [-1, 1]. Output `probability`: NCHW, 1 "
        f"channel in [0, 1] (sigmoid of the logits). {GRAY_RULE}"
    )
    manifest = _manifest(
        "bopbtl-scratch-detect",
        "scratch-detect",
        "Scratch detection (BOPBTL)",
        roots,
        files,
        inputs=(TensorSpec("image", "NCHW", 1, "float32", (-1.0, 1.0)),),
        outputs=(TensorSpec("probability", "NCHW", 1, "float32", (0.0, 1.0)),),
        size_rule=SizeRule(multiple_of=side, min=side),
        tiling=Tiling(allowed=False, overlap=0),
        options=options,
        architecture=architecture,
    )
    rng = np.random.default_rng(0)
    parity = [
        {"image": _rand(rng, 1, 1, 2 * side, 3 * side)},
        {"image": _rand(rng, 1, 1, 4 * side, 2 * side)},
    ]
    return export_pack(
        ScratchProbability(net).eval(),
        out / manifest.name,
        manifest,
        _card(manifest.title, architecture, io, files),
        example={"image": torch.from_numpy(parity[0]["image"])},
        dynamic={"image": _IMAGE_AXES, "probability": _IMAGE_AXES},
        parity_inputs=parity,
        overwrite=overwrite,
    )


def restore_pack(roots: Roots, out: Path, scratch: bool, overwrite: bool) -> ModelPack:
    """encoder A -> mapping -> decoder B as one graph (quality or scratch variant)."""
    files = {
        "vae_a": _file(roots.global_dir, VAE_A),
        "mapping": _file(roots.global_dir, MAPPING_SCRATCH if scratch else MAPPING_QUALITY),
        "vae_b": _file(roots.global_dir, VAE_B_SCRATCH if scratch else VAE_B_QUALITY),
    }
    vae_a, vae_b = load_vae(files["vae_a"]), load_vae(files["vae_b"])
    mapping = load_mapping(files["mapping"], scratch)
    rng = np.random.default_rng(0)
    sizes = [(32, 48), (40, 24)]
    inputs = [TensorSpec("image", "NCHW", 3, "float32", (-1.0, 1.0))]
    options: dict[str, object] = {
        "input_range": [-1, 1],
        "output_range": [-1, 1],
        "needs_mask": scratch,
        "whole_image": "instance norm uses whole-image statistics: do not tile",
    }
    if scratch:
        inputs.append(TensorSpec("mask", "NCHW", 1, "float32", (0.0, 1.0)))
        module: nn.Module = RestoreScratch(vae_a, mapping, vae_b)
        parity = [{"image": _rand(rng, 1, 3, h, w), "mask": _mask(rng, h, w)} for h, w in sizes]
        dynamic = {"image": _IMAGE_AXES, "mask": _IMAGE_AXES}
        options |= {
            "mask_dilate": 0,
            "mask_meaning": "1 = damaged; the graph paints damaged pixels white itself",
            "prepare_multiple_of": 16,
            "prepare_resize": "bicubic",
            "attention_max_side": ATTENTION_SIDE,
        }
        mapping_text = (
            "Mapping_Model_with_mask (masked non-local block NonLocalBlock2D_with_mask_Res; "
            f"exact for latent maps up to {ATTENTION_SIDE}x{ATTENTION_SIDE}, i.e. photos up "
            f"to {4 * ATTENTION_SIDE} px a side; above that attention runs on the latent "
            f"map average-pooled to at most {ATTENTION_SIDE}x{ATTENTION_SIDE} bins, so "
            "memory stays bounded)"
        )
        name, title = "bopbtl-restore-scratch", "Old photo restoration with scratches (BOPBTL)"
        io_extra = (
            " Input `mask`: NCHW, 1 channel in [0, 1], same size, 1 = damaged (the "
            "scratch-detect mask, not dilated, as Global/test.py without --HR). The photo "
            "is the one scratch detection prepared (sides multiples of 16)."
        )
    else:
        module = RestoreQuality(vae_a, mapping, vae_b)
        parity = [{"image": _rand(rng, 1, 3, h, w)} for h, w in sizes]
        dynamic = {"image": _IMAGE_AXES}
        options |= {"prepare_multiple_of": 4, "prepare_resize": "bilinear"}
        mapping_text = "Mapping_Model"
        name, title = "bopbtl-restore-quality", "Old photo restoration (BOPBTL)"
        io_extra = (
            " Global/test.py --test_mode Full resizes the photo bilinearly to the nearest "
            "multiples of 4 first."
        )
    architecture = (
        f"BOPBTL triplet: VAE_A encoder (GlobalGenerator_DCDCv2) -> {mapping_text} -> "
        f"{'VAE_B_scratch' if scratch else 'VAE_B_quality'} decoder, one graph."
    )
    io = (
        "Input `image`: NCHW RGB in [-1, 1], sides multiples of 4. Output `restored`: "
        f"NCHW RGB in [-1, 1], same size.{io_extra} Not tiled: instance norm needs "
        "whole-image statistics."
    )
    manifest = _manifest(
        name,
        "restore",
        title,
        roots,
        files,
        inputs=tuple(inputs),
        outputs=(TensorSpec("restored", "NCHW", 3, "float32", (-1.0, 1.0)),),
        size_rule=SizeRule(multiple_of=4, min=16),
        tiling=Tiling(allowed=False, overlap=0),
        options=options,
        architecture=architecture,
    )
    example = {k: torch.from_numpy(v) for k, v in parity[0].items()}
    return export_pack(
        module.eval(),
        out / name,
        manifest,
        _card(title, architecture, io, files),
        example=example,
        dynamic={**dynamic, "restored": _IMAGE_AXES},
        parity_inputs=parity,
        overwrite=overwrite,
    )


def face_pack(roots: Roots, out: Path, overwrite: bool) -> ModelPack:
    files = {"generator": _file(roots.face_dir, FACE)}
    net = load_face(files["generator"])
    architecture = (
        "SPADEGenerator of Face_Enhancement (Setting_9: no parsing map, the degraded face "
        f"is the SPADE condition), ngf {net.conv_img.in_channels}; spectral norm folded "
        "into the weights, SPADE batch norm with its running statistics (eval mode)."
    )
    io = (
        "Input `image`: NCHW RGB face in [-1, 1], 256x256, aligned as the official "
        "Face_Detection scripts do and resized bicubically. Output `enhanced`: NCHW RGB in "
        "[-1, 1], 256x256."
    )
    options = {
        "input_range": [-1, 1],
        "output_range": [-1, 1],
        "face_size": LOAD_SIZE,
        "prepare_resize": "bicubic",
    }
    manifest = _manifest(
        "bopbtl-face-enhance",
        "face-enhance",
        "Face enhancement (BOPBTL)",
        roots,
        files,
        inputs=(TensorSpec("image", "NCHW", 3, "float32", (-1.0, 1.0)),),
        outputs=(TensorSpec("enhanced", "NCHW", 3, "float32", (-1.0, 1.0)),),
        size_rule=SizeRule(fixed=(LOAD_SIZE, LOAD_SIZE), min=LOAD_SIZE),
        tiling=Tiling(allowed=False, overlap=0),
        options=options,
        architecture=architecture,
    )
    # Traced at batch 1, checked at batch 2: one costly 256x256 check covers the batch axis.
    parity = [{"image": _rand(np.random.default_rng(0), 2, 3, LOAD_SIZE, LOAD_SIZE)}]
    return export_pack(
        net,
        out / manifest.name,
        manifest,
        _card(manifest.title, architecture, io, files),
        example={"image": torch.from_numpy(parity[0]["image"][:1])},
        dynamic={"image": {0: "batch"}, "enhanced": {0: "batch"}},
        parity_inputs=parity,
        overwrite=overwrite,
    )


# --- entry points -----------------------------------------------------------------


PARTS: dict[str, tuple[str, ...]] = {
    "bopbtl-scratch-detect": (DETECT,),
    "bopbtl-restore-quality": (VAE_A, MAPPING_QUALITY, VAE_B_QUALITY),
    "bopbtl-restore-scratch": (VAE_A, MAPPING_SCRATCH, VAE_B_SCRATCH),
    "bopbtl-face-enhance": (FACE,),
}


def _file(root: Path | None, relative: str) -> Path:
    if root is None or not (root / relative).is_file():
        raise CheckpointError(f"missing checkpoint file '{root / relative if root else relative}'")
    return root / relative


def _missing(roots: Roots, part: str) -> list[str]:
    face = part == "bopbtl-face-enhance"
    root = roots.face_dir if face else roots.global_dir
    if root is None:
        base = "Face_Enhancement/checkpoints" if face else "Global/checkpoints"
        return [f"{base}/{rel}" for rel in PARTS[part]]
    return [str(root / rel) for rel in PARTS[part] if not (root / rel).is_file()]


def convert_bopbtl(
    checkpoints: Path,
    out: Path,
    parts: Sequence[str] | None = None,
    overwrite: bool = False,
) -> list[ModelPack]:
    """Convert every pack whose files are present (or exactly ``parts``) into ``out``.

    Packs named in ``parts`` must be complete; without ``parts``, incomplete packs are
    skipped with a warning naming the missing files, and having none is an error.
    """
    roots = find_roots(Path(checkpoints))
    unknown = sorted(set(parts or ()) - set(PARTS))
    if unknown:
        raise HeirloomError(f"unknown BOPBTL pack(s) {unknown}; choose from {sorted(PARTS)}")
    wanted = list(parts or PARTS)
    missing = {part: _missing(roots, part) for part in wanted}
    if parts is not None or all(missing.values()):
        problems = [f"{part}: {', '.join(files)}" for part, files in missing.items() if files]
        if problems:
            raise CheckpointError("missing checkpoint files for " + "; ".join(problems))
    builders: dict[str, Callable[[], ModelPack]] = {
        "bopbtl-scratch-detect": lambda: detect_pack(roots, Path(out), overwrite),
        "bopbtl-restore-quality": lambda: restore_pack(roots, Path(out), False, overwrite),
        "bopbtl-restore-scratch": lambda: restore_pack(roots, Path(out), True, overwrite),
        "bopbtl-face-enhance": lambda: face_pack(roots, Path(out), overwrite),
    }
    packs = []
    for part in wanted:
        if missing[part]:
            log.warning("skipped %s: missing %s", part, ", ".join(missing[part]))
            continue
        packs.append(builders[part]())
    return packs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--part",
        action="append",
        choices=sorted(PARTS),
        help="convert only this pack (repeatable); -o is the folder that receives the packs",
    )


def run(args: argparse.Namespace) -> list[ModelPack]:
    """CLI entry: ``-o`` is the folder that receives the packs (named bopbtl-*)."""
    if args.name:
        raise HeirloomError("BOPBTL packs have fixed names; drop --name")
    logging.basicConfig(format="warning: %(message)s")
    return convert_bopbtl(args.source, args.output, args.part, args.overwrite)
