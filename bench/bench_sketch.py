"""Sketch: how fast a drawing becomes a photo, and a photo a drawing, on this CPU.

- Generation through the engine (:func:`sketch_to_photo`: normalising and thinning the
  drawing, padding to the size rule, the ONNX run, cropping back) at 256x256 and
  512x512 with the preferred ``sketch2photo`` pack on the CPU, median of 7 after a
  warm-up. Targets < 100 ms and < 400 ms: what live mode (a new photo after every
  stroke) needs. Skipped, with the reason, when no pack is installed.
- Edge tracing (:func:`trace_edges`) of a 1024x768 photo, median of 5; target < 500 ms
  ("Trace edges" should feel immediate).
- Drawing into a photo (:func:`sketch_into_photo`) of a 512x512 region of a 1024x768
  photo with the preferred ``sketch-into`` pack: the live preview (its crop run at most
  ``PREVIEW_SIDE`` px a side, as the app's live mode does; the same photo and region
  each time, as while the user draws, so the region's Telea fill is reused) against the
  150 ms target, and the full-resolution Apply beside it; median of 7 after a warm-up.

Quality (L1, PSNR, sharpness, edge F1 on held-out crops) is measured when the pack is
trained and is in its model card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.common import Row, median_seconds
from engine import arrays
from engine.errors import PackError
from engine.images import load_image
from engine.models import Registry
from engine.pipelines.sketch import (
    PREVIEW_SIDE,
    IntoOptions,
    SketchOptions,
    sketch_into_photo,
    sketch_to_photo,
    trace_edges,
)

SAMPLE = Path(__file__).resolve().parent.parent / "resources" / "samples" / "clean_LadyBird.jpg"
NAME = "sketch"
GENERATION_TARGETS = ((256, 0.100), (512, 0.400))
TRACE_TARGET = 0.5
PREVIEW_TARGET = 0.150


def tracing() -> Row:
    photo = arrays.resize(arrays.rgb(load_image(SAMPLE).pixels), 1024, 768)
    seconds = median_seconds(lambda: trace_edges(photo, 0.5), repeats=5, warmup=1)
    return Row(
        NAME,
        "trace edges 1024x768",
        seconds * 1000,
        "ms",
        f"< {TRACE_TARGET * 1000:.0f} ms",
        seconds < TRACE_TARGET,
    )


def generation(registry: Registry) -> list[Row]:
    try:
        pack = registry.for_task("sketch2photo")
    except PackError as exc:
        return [
            Row(
                NAME,
                f"generate {side}x{side} (skipped)",
                float("nan"),
                "ms",
                f"< {limit * 1000:.0f} ms",
                None,
                {"skipped": str(exc)},
            )
            for side, limit in GENERATION_TARGETS
        ]
    photo = arrays.rgb(load_image(SAMPLE).pixels)
    options = SketchOptions(model=pack.name, device="cpu")
    rows = []
    for side, limit in GENERATION_TARGETS:
        drawing = trace_edges(arrays.resize(photo, side, side), 0.5)
        info = sketch_to_photo(drawing, options, registry=registry).info
        seconds = median_seconds(
            lambda d=drawing: sketch_to_photo(d, options, registry=registry), repeats=7, warmup=1
        )
        rows.append(
            Row(
                NAME,
                f"generate {side}x{side} ({pack.name})",
                seconds * 1000,
                "ms",
                f"< {limit * 1000:.0f} ms",
                seconds < limit,
                {"device": info["device"], "model": pack.name},
            )
        )
    return rows


def drawing_into(registry: Registry) -> list[Row]:
    cases = (("preview", PREVIEW_SIDE, f"< {PREVIEW_TARGET * 1000:.0f} ms"), ("apply", 4096, ""))
    try:
        pack = registry.for_task("sketch-into")
    except PackError as exc:
        return [
            Row(NAME, f"draw into a 512x512 region, {kind} (skipped)", float("nan"), "ms",
                target, None, {"skipped": str(exc)})
            for kind, _, target in cases
        ]  # fmt: skip
    photo = arrays.resize(arrays.rgb(load_image(SAMPLE).pixels), 1024, 768)
    region = np.zeros(photo.shape[:2], np.float32)
    region[128:640, 256:768] = 1.0
    lines = trace_edges(photo, 0.5)
    rows = []
    for kind, side, target in cases:
        options = IntoOptions(model=pack.name, device="cpu", max_side=side)
        info = sketch_into_photo(photo, region, lines, options=options, registry=registry).info
        seconds = median_seconds(
            lambda o=options: sketch_into_photo(photo, region, lines, options=o, registry=registry),
            repeats=7,
            warmup=1,
        )
        rows.append(
            Row(
                NAME,
                f"draw into a 512x512 region, {kind} ({pack.name})",
                seconds * 1000,
                "ms",
                target,
                seconds < PREVIEW_TARGET if target else None,
                {"device": info["device"], "model": pack.name, "box": info["box"]},
            )
        )
    return rows


def run() -> list[Row]:
    registry = Registry()
    return [tracing(), *generation(registry), *drawing_into(registry)]
