"""Choose the inpainting defaults on validation holes (decision 0012).

    python -m training.tune_inpaint out/tune_inpaint.json [--cases 12] [--config NAME ...]
        [--side PX]

Fills brush-stroke holes in crops of the *validation* photos (``Corpus.validation``;
the DDPM card's protocol, ``training.eval.cases.hole_cases``, with its own seed) with each
named setting of :class:`engine.pipelines.diffusion.InpaintOptions` through the engine
on the CPU, and writes per case: PSNR inside the hole, seconds, model calls, windows,
and OpenCV Telea's PSNR on the same hole. The held-out photos are never used here.
``--side PX`` takes square crops of that side instead, with the bench's brush holes
(8-24 px wide, ``training.eval.holes.brush_mask``): photos of many windows, whose windows
mostly sit inside the photo (the card's small crops have windows flush with an edge).
Nothing is trained. The chosen defaults (strength 0.25, 16 steps = 4 model steps, no
resampling, 4 draws, context 8 px) and the scores behind them are in decision 0012.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from engine.models import Registry
from engine.pipelines import diffusion
from training.data.corpus import load_corpus, photo_array
from training.eval.cases import hole_cases
from training.eval.holes import HoleCase, brush_mask, opencv_fill
from training.eval.metrics import psnr

SEED = 4242  # the validation holes; the card's held-out ones use 20261128
MODEL = "heirloom-ddpm64"

CONFIGS: dict[str, dict] = {
    # what inpaint did before decision 0012 (from noise, 45 model steps, 4 draws)
    "before": {"steps": 25, "jump_length": 5, "jump_n_sample": 2, "draws": 4, "strength": 1.0},
    "s0.5-n20-r1-d4": {"steps": 20, "jump_n_sample": 1, "draws": 4, "strength": 0.5},
    "s0.3-n25-r1-d4": {"steps": 25, "jump_n_sample": 1, "draws": 4, "strength": 0.3},
    "s0.3-n25-r1-d2": {"steps": 25, "jump_n_sample": 1, "draws": 2, "strength": 0.3},
    "s0.3-n25-r1-d1": {"steps": 25, "jump_n_sample": 1, "draws": 1, "strength": 0.3},
    "s0.2-n25-r1-d2": {"steps": 25, "jump_n_sample": 1, "draws": 2, "strength": 0.2},
    "s0.4-n20-r1-d2": {"steps": 20, "jump_n_sample": 1, "draws": 2, "strength": 0.4},
    "s0.3-n25-r1-d2-ddim": {
        "steps": 25,
        "jump_n_sample": 1,
        "draws": 2,
        "strength": 0.3,
        "sampler": "ddim",
        "eta": 1.0,
    },
    "s0.3-n15-r1-d4": {"steps": 15, "jump_n_sample": 1, "draws": 4, "strength": 0.3},
    "s0.3-n10-r1-d4": {"steps": 10, "jump_n_sample": 1, "draws": 4, "strength": 0.3},
    "s0.4-n15-r1-d4": {"steps": 15, "jump_n_sample": 1, "draws": 4, "strength": 0.4},
    "s0.3-n15-r1-d6": {"steps": 15, "jump_n_sample": 1, "draws": 6, "strength": 0.3},
    "s0.3-n15-r1-d4-c8": {
        "steps": 15,
        "jump_n_sample": 1,
        "draws": 4,
        "strength": 0.3,
        "context": 8,
    },
    "s0.2-n20-r1-d4": {"steps": 20, "jump_n_sample": 1, "draws": 4, "strength": 0.2},
    "s0.25-n16-r1-d4": {"steps": 16, "jump_n_sample": 1, "draws": 4, "strength": 0.25},
    "s0.3-n25-r1-d3": {"steps": 25, "jump_n_sample": 1, "draws": 3, "strength": 0.3},
    "s0.3-n25-r1-d4-c8": {
        "steps": 25,
        "jump_n_sample": 1,
        "draws": 4,
        "strength": 0.3,
        "context": 8,
    },
    "s0.3-n25-r2-d4": {
        "steps": 25,
        "jump_length": 3,
        "jump_n_sample": 2,
        "draws": 4,
        "strength": 0.3,
    },
    "s0.3-n25-r1-d2-c8": {
        "steps": 25,
        "jump_n_sample": 1,
        "draws": 2,
        "strength": 0.3,
        "context": 8,
    },
    # issue 17's last target (1024x768 under 60 s): fewer network images per step
    "s0.25-n16-r1-d3": {"steps": 16, "jump_n_sample": 1, "draws": 3, "strength": 0.25},
    "s0.25-n16-r1-d2": {"steps": 16, "jump_n_sample": 1, "draws": 2, "strength": 0.25},
    "s0.25-n16-r1-d1": {"steps": 16, "jump_n_sample": 1, "draws": 1, "strength": 0.25},
    "s0.25-n8-r1-d4": {"steps": 8, "jump_n_sample": 1, "draws": 4, "strength": 0.25},
    "s0.25-n8-r1-d2": {"steps": 8, "jump_n_sample": 1, "draws": 2, "strength": 0.25},
    "s0.25-n16-r1-d4-c4": {"steps": 16, "jump_n_sample": 1, "draws": 4, "context": 4},
    "s0.25-n16-r1-d2-c4": {"steps": 16, "jump_n_sample": 1, "draws": 2, "context": 4},
    "s0.25-n16-r1-d1-c4": {"steps": 16, "jump_n_sample": 1, "draws": 1, "context": 4},
    "s0.25-n8-r1-d2-c4": {"steps": 8, "jump_n_sample": 1, "draws": 2, "context": 4},
    "s0.25-n12-r1-d2-c4": {"steps": 12, "jump_n_sample": 1, "draws": 2, "context": 4},
    "s0.3-n10-r1-d2-c4": {
        "steps": 10,
        "jump_n_sample": 1,
        "draws": 2,
        "strength": 0.3,
        "context": 4,
    },
    "s0.25-n16-r1-d2-c0": {"steps": 16, "jump_n_sample": 1, "draws": 2, "context": 0},
    "s0.25-n12-r1-d2-c0": {"steps": 12, "jump_n_sample": 1, "draws": 2, "context": 0},
}


def side_cases(paths: list[Path], count: int, side: int, seed: int = SEED) -> list[HoleCase]:
    """``count`` crops of ``side`` x ``side`` px of the photos at least that large, each
    with the bench's brush holes over 5-15 %; fixed per seed."""
    rng = np.random.default_rng(seed)
    photos = [p for p in map(photo_array, paths) if min(p.shape[:2]) >= side]
    cases = []
    for _ in range(count):
        photo = photos[int(rng.integers(len(photos)))]
        y = int(rng.integers(0, photo.shape[0] - side + 1))
        x = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = photo[y : y + side, x : x + side].astype(np.float32) / 255
        cases.append(HoleCase(crop, brush_mask(side, side, rng)))
    return cases


def evaluate(config: dict, cases, registry: Registry) -> list[dict]:
    rows = []
    for i, case in enumerate(cases):
        damaged = case.damaged
        options = diffusion.InpaintOptions(seed=i, model=MODEL, device="cpu", **config)
        started = time.perf_counter()
        result = diffusion.inpaint(damaged, case.hole, options, registry=registry)
        seconds = time.perf_counter() - started
        rows.append(
            {
                "psnr": round(psnr(result.images["image"], case.truth, case.hole), 3),
                "telea": round(psnr(opencv_fill(case), case.truth, case.hole), 3),
                "seconds": round(seconds, 2),
                "calls": result.info["model_calls"],
                "windows": result.info["windows"],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS))
    parser.add_argument("--side", type=int, help="square crops of this side, bench holes")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    if args.side:
        cases = side_cases(corpus.validation, args.cases, args.side)
    else:
        cases = hole_cases(corpus.validation, args.cases, 64, seed=SEED)
    registry = Registry()
    diffusion.generate(diffusion.GenerateOptions(steps=1, seed=0, model=MODEL, device="cpu"))
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.config or list(CONFIGS):
        rows = evaluate(CONFIGS[name], cases, registry)
        results[name] = {"config": CONFIGS[name], "cases": rows}
        mean = statistics.mean(r["psnr"] for r in rows)
        gain = statistics.mean(r["psnr"] - r["telea"] for r in rows)
        seconds = statistics.median(r["seconds"] for r in rows)
        print(f"{name}: PSNR {mean:.2f} dB, over Telea {gain:+.2f}, median {seconds:.1f} s")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
