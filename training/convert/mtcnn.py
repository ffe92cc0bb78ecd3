"""facenet-pytorch's pretrained MTCNN (PNet, RNet, ONet) -> three model packs.

    python -m training.convert mtcnn WEIGHTS -o PACKS_DIR    # WEIGHTS: folder or wheel
    python -m training.convert.mtcnn [--weights DIR] [--out resources/models]

``WEIGHTS`` is a folder holding ``pnet.pt``, ``rnet.pt`` and ``onet.pt`` or the
facenet-pytorch wheel itself. The second form (what ``make models`` runs) fetches that
wheel with pip (no install) into ``.cache/facenet`` when no ``--weights`` are given.
Each graph is checked against torch through onnxruntime
(``training.export.export_pack``) before its pack is written; existing mtcnn-* packs
in the output folder are replaced.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import HeirloomError
from engine.models import (
    BUNDLED_DIR,
    Manifest,
    ModelPack,
    SizeRule,
    TensorSpec,
    Tiling,
    sha256_of,
)
from training.eval.cards import render_card
from training.export import export_pack
from training.nets.mtcnn import WEIGHT_FILES, load_pretrained

HELP = "facenet-pytorch's MTCNN weights (folder or wheel) -> the three face-detect packs"
FACENET_VERSION = "2.6.0"
PARITY_TOLERANCE = 1e-4
NORMALISATION = {"input_scale": 255.0, "mean": 127.5, "std": 128.0, "channel_order": "RGB"}
LANDMARKS = ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"]


@dataclass(frozen=True)
class Stage:
    """What differs between the three packs."""

    name: str
    title: str
    threshold: float
    size: int | None  # fixed square input side; None = fully convolutional
    outputs: tuple[TensorSpec, ...]
    role: str


STAGES = {
    "pnet": Stage(
        "pnet",
        "MTCNN proposal net (PNet)",
        0.6,
        None,
        (TensorSpec("box_reg", "NCHW", 4), TensorSpec("prob", "NCHW", 1, value_range=(0.0, 1.0))),
        "slides a 12x12 window (stride 2) over each pyramid level and proposes boxes",
    ),
    "rnet": Stage(
        "rnet",
        "MTCNN refine net (RNet)",
        0.7,
        24,
        (TensorSpec("box_reg", "NC", 4), TensorSpec("prob", "NC", 1, value_range=(0.0, 1.0))),
        "rescores and regresses 24x24 crops of the proposals",
    ),
    "onet": Stage(
        "onet",
        "MTCNN output net (ONet)",
        0.7,
        48,
        (
            TensorSpec("box_reg", "NC", 4),
            TensorSpec("prob", "NC", 1, value_range=(0.0, 1.0)),
            TensorSpec("landmarks", "NC", 10),
        ),
        "gives the final score, box and five landmarks from 48x48 crops",
    ),
}

CASCADE_OPTIONS = {
    "factor": 0.709,
    "min_face_size": 20,
    "thresholds": [0.6, 0.7, 0.7],
    "nms_within_scale": 0.5,
    "nms": 0.7,
    "stride": 2,
    "cell_size": 12,
}


def unpack_weights(wheel: Path, target: Path) -> Path:
    """The three ``*.pt`` files of a facenet-pytorch wheel, written into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for filename in WEIGHT_FILES.values():
            (target / filename).write_bytes(archive.read(f"facenet_pytorch/data/{filename}"))
    return target


def fetch_weights(cache: Path) -> Path:
    """Download the facenet-pytorch wheel (not installed) and unpack its MTCNN weights."""
    cache = Path(cache)
    wheel = cache / f"facenet_pytorch-{FACENET_VERSION}-py3-none-any.whl"
    if not wheel.is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                f"facenet-pytorch=={FACENET_VERSION}",
                "-d",
                str(cache),
            ],
            check=True,
        )
    return unpack_weights(wheel, cache / "weights")


def _example(batch: int, height: int, width: int) -> np.ndarray:
    generator = np.random.default_rng(batch * 1000 + height + width)
    return generator.uniform(-1, 1, (batch, 3, height, width)).astype(np.float32)


def _parity_inputs(stage: Stage) -> list[dict[str, np.ndarray]]:
    if stage.size is None:
        shapes = [(1, 12, 12), (1, 97, 131), (3, 64, 40)]
    else:
        shapes = [(1, stage.size, stage.size), (7, stage.size, stage.size)]
    return [{"image": _example(*shape)} for shape in shapes]


def _dynamic_axes(stage: Stage) -> dict[str, dict[int, str]]:
    if stage.size is None:
        spatial = {0: "batch", 2: "height", 3: "width"}
        return {"image": spatial} | {
            o.name: {0: "batch", 2: "rows", 3: "cols"} for o in stage.outputs
        }
    return {name: {0: "batch"} for name in ["image", *(o.name for o in stage.outputs)]}


def _manifest(stage: Stage, source_sha: str) -> Manifest:
    options = {
        "stage": stage.name,
        "threshold": stage.threshold,
        **NORMALISATION,
        **CASCADE_OPTIONS,
    }
    if stage.name == "onet":
        options["landmark_order"] = LANDMARKS
        options["landmark_layout"] = "x of 5 points then y of 5 points, fractions of the box"
    return Manifest(
        name=f"mtcnn-{stage.name}",
        task=f"face-detect-{stage.name}",
        version=f"facenet-pytorch-{FACENET_VERSION}",
        title=stage.title,
        inputs=(TensorSpec("image", "NCHW", 3, value_range=(-1.0, 1.0)),),
        outputs=stage.outputs,
        sha256="",  # filled in by write_pack
        licence="MIT",
        size_rule=SizeRule(min=12)
        if stage.size is None
        else SizeRule(fixed=(stage.size, stage.size)),
        tiling=Tiling(allowed=False, overlap=0),
        options=options,
        provenance={
            "converted_from": f"facenet-pytorch {FACENET_VERSION} (PyPI wheel), "
            f"facenet_pytorch/data/{WEIGHT_FILES[stage.name]}",
            "source_sha256": source_sha,
            "original": "Zhang et al. 2016, MTCNN; the authors' Caffe models converted by "
            "facenet-pytorch",
            "exporter": "training.convert.mtcnn via training.export.export_pack",
            "parity_atol_vs_torch": PARITY_TOLERANCE,
        },
        architecture=f"training.nets.mtcnn.{stage.name[0].upper()}Net",
    )


def _card(stage: Stage) -> str:
    shape = (
        "N x 3 x H x W (any H, W >= 12)"
        if stage.size is None
        else f"N x 3 x {stage.size} x {stage.size}"
    )
    outputs = ", ".join(f"`{o.name}`" for o in stage.outputs)
    landmarks = (
        "\n- `landmarks`: x of left eye, right eye, nose, mouth left, mouth right, then "
        "their y; fractions of the box."
        if stage.name == "onet"
        else ""
    )
    return render_card(
        stage.title,
        {
            "Architecture": (
                f"Stage '{stage.name}' of the MTCNN face detector cascade: {stage.role}. "
                f"`training.nets.mtcnn.{stage.name[0].upper()}Net`: convolutions with PReLU and "
                "max pooling, softmax face probability; facenet-pytorch's state-dict keys. Used "
                "by `engine.ops.faces.detect_faces` with the other two stages."
            ),
            "Data": (
                f"Weights: facenet-pytorch {FACENET_VERSION} pretrained MTCNN weights "
                f"(`facenet_pytorch/data/{WEIGHT_FILES[stage.name]}` in the PyPI wheel), "
                'originally Zhang et al. 2016, "Joint Face Detection and Alignment using '
                "Multi-task Cascaded Convolutional Networks\", converted from the authors' Caffe "
                "models (trained on WIDER FACE and CelebA)."
            ),
            "Training": "None here: the pretrained weights are exported unchanged.",
            "Input convention": (
                f"- `image`: float32 {shape}, RGB, `(x - 127.5) / 128` with x in [0, 255].\n"
                f"- Outputs: {outputs}. `prob` is the face probability (softmax channel 1); "
                "`box_reg` are box-edge offsets as fractions of the box width/height."
                f"{landmarks}\n"
                f"- Stage threshold {stage.threshold}; cascade: thresholds 0.6 / 0.7 / 0.7, "
                "pyramid factor 0.709, minimum face 20 px, NMS 0.5 within a scale, 0.7 across."
            ),
            "Metrics": (
                f"ONNX Runtime (CPU) agrees with torch within {PARITY_TOLERANCE:g} (max abs) on "
                "random inputs of several shapes and batch sizes."
            ),
            "Licence": "MIT (facenet-pytorch).",
        },
    )


def export_stage(name: str, weights_dir: Path, out_dir: Path) -> ModelPack:
    """Export one stage to ``out_dir/mtcnn-<name>``, parity-checked and verified."""
    stage = STAGES[name]
    net = load_pretrained(name, weights_dir)
    side = stage.size or 48
    return export_pack(
        net,
        Path(out_dir) / f"mtcnn-{name}",
        _manifest(stage, sha256_of(Path(weights_dir) / WEIGHT_FILES[name])),
        _card(stage),
        example={"image": torch.from_numpy(_example(2, side, side))},
        dynamic=_dynamic_axes(stage),
        parity_inputs=_parity_inputs(stage),
        atol=PARITY_TOLERANCE,
        overwrite=True,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own: ``-o`` is the folder that receives the mtcnn-* packs."""


def run(args: argparse.Namespace) -> list[ModelPack]:
    """Converter entry (:mod:`training.convert`): ``source`` is a weights folder or the
    wheel; the packs have fixed names and always replace earlier ones."""
    if args.name:
        raise HeirloomError("the MTCNN packs have fixed names (mtcnn-pnet, ...); drop --name")
    source = Path(args.source)
    with tempfile.TemporaryDirectory(prefix="heirloom-mtcnn-") as tmp:
        weights = unpack_weights(source, Path(tmp)) if source.is_file() else source
        missing = [f for f in WEIGHT_FILES.values() if not (weights / f).is_file()]
        if missing:
            raise HeirloomError(f"{source} lacks {', '.join(missing)}")
        return [export_stage(name, weights, args.output) for name in STAGES]


def main(argv: list[str] | None = None) -> None:
    """``make models``' step: fetch the wheel if needed, export into the bundled packs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="folder with pnet.pt, rnet.pt, onet.pt")
    parser.add_argument("--out", type=Path, default=BUNDLED_DIR)
    parser.add_argument("--cache", type=Path, default=Path(".cache/facenet"))
    args = parser.parse_args(argv)
    weights = args.weights or fetch_weights(args.cache)
    for name in STAGES:
        pack = export_stage(name, weights, args.out)
        print(f"{pack.name}: {pack.path} (sha256 {pack.manifest.sha256[:12]})")


if __name__ == "__main__":
    main()
