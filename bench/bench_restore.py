"""Restoration: quality on the bundled held-out samples, speed, and memory on a 24 MP scan.

- Quality: each sample in resources/samples has its clean original and true damage
  mask (made from held-out photos). Scratch masks: ours vs. the black-hat/top-hat
  baseline (parameters tuned on training crops, from the detector's manifest).
  Restoration: PSNR/SSIM of ours (with the *detected* mask) vs. the classical
  pipeline (baseline mask -> Telea -> non-local means) vs. the untouched input.
- Faces: faces the face pass would refine on held-out samples with and without people
  (false faces must be 0).
- Speed: the whole pipeline on a 1024x768 photo, median of 3 (target < 10 s).
- Memory: a 6000x4000 scan restored in a fresh process; peak RSS (target < 4 GB).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.common import Row, median_seconds
from engine import arrays
from engine.errors import PackError
from engine.images import load_image
from engine.models import Registry
from engine.pipelines.restore import RestoreOptions, detect_scratches, restore_photo
from training.eval.baselines import HatParams, baseline_scratch_mask, classical_restore
from training.eval.metrics import pooled_mask_scores, psnr, ssim

SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"
NAME = "restore"

MEMORY_PROBE = """
import resource, sys, time
import numpy as np
from engine import arrays
from engine.images import load_image
from engine.pipelines.restore import RestoreOptions, restore_photo
small = load_image(sys.argv[1]).pixels
scan = arrays.resize(small, 6000, 4000)
del small
start = time.perf_counter()
result = restore_photo(scan, RestoreOptions())
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _samples() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    found = []
    for old in sorted(SAMPLES.glob("old_*.jpg")):
        name = old.stem.removeprefix("old_")
        clean, mask = SAMPLES / f"clean_{name}.jpg", SAMPLES / f"old_{name}_mask.png"
        if clean.exists() and mask.exists():
            found.append(
                (
                    name,
                    arrays.rgb(load_image(old).pixels),
                    arrays.rgb(load_image(clean).pixels),
                    load_image(mask).pixels[..., 0] > 0.5,
                )
            )
    return found


def _hat_params(registry: Registry) -> HatParams:
    pack = registry.for_task("scratch-detect")
    params = pack.manifest.provenance.get("metrics", {}).get("baseline_params")
    return HatParams(**params) if params else HatParams()


def quality(registry: Registry) -> list[Row]:
    rows: list[Row] = []
    hat = _hat_params(registry)
    ours_masks, base_masks = [], []
    scores: dict[str, list[tuple[float, float]]] = {"input": [], "classical": [], "ours": []}
    for _name, old, clean, truth in _samples():
        detected = detect_scratches(old, RestoreOptions(), registry=registry).images["mask"]
        base = baseline_scratch_mask(arrays.luma(old), hat)
        ours_masks.append((detected, truth))
        base_masks.append((base, truth))
        restored = restore_photo(old, RestoreOptions(colour=True), registry=registry)
        outputs = {
            "input": old,
            "classical": classical_restore(old, base),
            "ours": arrays.rgb(restored.images["restored"]),
        }
        for key, image in outputs.items():
            scores[key].append((psnr(image, clean), ssim(image, clean)))
    ours, base = pooled_mask_scores(ours_masks), pooled_mask_scores(base_masks)
    rows.append(
        Row(
            NAME,
            "scratch F1, ours (samples)",
            ours.f1,
            "",
            ">= baseline + 0.15",
            ours.f1 >= base.f1 + 0.15,
            ours.as_dict(),
        )
    )
    rows.append(Row(NAME, "scratch F1, black-hat baseline", base.f1, "", "", None, base.as_dict()))
    rows.append(
        Row(
            NAME,
            "scratch precision, ours (samples)",
            ours.precision,
            "",
            ">= 0.7",
            ours.precision >= 0.7,
        )
    )
    means = {
        k: (float(np.mean([v[0] for v in s])), float(np.mean([v[1] for v in s])))
        for k, s in scores.items()
    }
    for key in ("input", "classical", "ours"):
        rows.append(Row(NAME, f"PSNR {key} (samples)", means[key][0], "dB"))
        rows.append(Row(NAME, f"SSIM {key} (samples)", means[key][1], ""))
    gain = means["ours"][0] - means["classical"][0]
    rows.append(Row(NAME, "PSNR ours - classical", gain, "dB", ">= 1.0 dB", gain >= 1.0))
    ssim_gap = means["ours"][1] - means["classical"][1]
    rows.append(Row(NAME, "SSIM ours - classical", ssim_gap, "", ">= 0", ssim_gap >= 0))
    return rows


# held-out samples: which show people (their faces must be found) and which do not
FACE_SAMPLES = {
    "old_grace_hopper.jpg": True,
    "solvay_1927.jpg": True,
    "old_EveningGlow.jpg": False,
    "old_LadyBird.jpg": False,
    "old_ColdRipple.jpg": False,
}


def faces(registry: Registry) -> list[Row]:
    """Faces the restore's face pass would refine: none on photos without people."""
    from engine.ops import faces as face_ops
    from engine.pipelines.restore import FACE_SCORE, MIRROR_SCORE

    detector = face_ops.FaceDetector.from_registry(registry, device="cpu")
    found = {}
    for name in FACE_SAMPLES:
        image = load_image(SAMPLES / name).pixels
        candidates = [
            f
            for f in face_ops.detect_faces(image, detector, RestoreOptions.min_face)
            if f.score >= FACE_SCORE
        ]
        found[name] = len(face_ops.confirm_faces(image, candidates, detector, MIRROR_SCORE))
    false = sum(n for name, n in found.items() if not FACE_SAMPLES[name])
    missed = [name for name, n in found.items() if FACE_SAMPLES[name] and n == 0]
    return [
        Row(NAME, "false faces on samples without people", false, "", "0", false == 0, found),
        Row(NAME, "people samples with no face found", len(missed), "", "0", not missed, found),
    ]


def speed(registry: Registry) -> Row:
    photo = arrays.resize(arrays.rgb(load_image(SAMPLES / "old_LadyBird.jpg").pixels), 1024, 768)
    seconds = median_seconds(
        lambda: restore_photo(photo, RestoreOptions(), registry=registry), repeats=3, warmup=1
    )
    return Row(NAME, "whole pipeline 1024x768", seconds, "s", "< 10 s", seconds < 10)


def memory() -> list[Row]:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(SAMPLES / "old_EveningGlow.jpg")],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        return [
            Row(
                NAME,
                "6000x4000 restore",
                float("nan"),
                "",
                "< 4 GB",
                False,
                {"error": result.stderr.strip().splitlines()[-1:]},
            )
        ]
    seconds, peak = (float(v) for v in result.stdout.split())
    return [
        Row(NAME, "6000x4000 restore peak RSS", peak / 2**30, "GiB", "< 4 GB", peak < 4e9),
        Row(NAME, "6000x4000 restore time", seconds, "s"),
    ]


def run() -> list[Row]:
    registry = Registry()
    try:
        registry.for_task("restore")
        registry.for_task("scratch-detect")
    except PackError as exc:
        return [Row(NAME, "skipped", float("nan"), "", "", None, {"reason": str(exc)})]
    rows = quality(registry) + faces(registry) + [speed(registry)] + memory()
    print(json.dumps([r.extra for r in rows if r.extra], indent=1))
    return rows
