"""Sketch: how fast a drawing becomes a photo, and a photo a drawing, on this CPU.

- Generation through the engine (:func:`sketch_to_photo`: normalising and thinning the
  drawing, padding to the size rule, the ONNX run, cropping back) at 256x256 and
  512x512 with the preferred ``sketch2photo`` pack on the CPU, median of 7 after a
  warm-up. Targets < 100 ms and < 400 ms: what live mode (a new photo after every
  stroke) needs. Skipped, with the reason, when no pack is installed.
- Edge tracing (:func:`trace_edges`) of a 1024x768 photo, median of 5; target < 500 ms
  ("Trace edges" should feel immediate).

Quality (L1, PSNR, sharpness, edge F1 on held-out crops) is measured when the pack is
trained and is in its model card.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import Row, median_seconds
from engine import arrays
from engine.errors import PackError
from engine.images import load_image
from engine.models import Registry
from engine.pipelines.sketch import SketchOptions, sketch_to_photo, trace_edges

SAMPLE = Path(__file__).resolve().parent.parent / "resources" / "samples" / "clean_LadyBird.jpg"
NAME = "sketch"
GENERATION_TARGETS = ((256, 0.100), (512, 0.400))
TRACE_TARGET = 0.5


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


def run() -> list[Row]:
    return [tracing(), *generation(Registry())]
