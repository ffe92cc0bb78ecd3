"""Upscale: how long a 1024x768 photo takes with each installed upscale pack on this CPU.

Runs :func:`engine.pipelines.upscale.upscale_image` (tiling within the default memory
budget, feathered joins) on a 1024x768 copy of a sample, median of 3 after a warm-up,
on the CPU. No upscale pack is bundled (they are imported from checkpoints with
``heirloom models import FILE.pth``), so without one the row is skipped, saying why.
Only reported: the time depends on the architecture and size of what users import.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import Row, median_seconds
from engine import arrays
from engine.images import load_image
from engine.models import Registry
from engine.pipelines.upscale import TASK, UpscaleOptions, upscale_image

SAMPLE = Path(__file__).resolve().parent.parent / "resources" / "samples" / "clean_LadyBird.jpg"
NAME = "upscale"


def run() -> list[Row]:
    packs = [p for p in Registry().packs() if p.manifest.task == TASK]
    if not packs:
        reason = "no upscale pack installed (heirloom models import FILE.pth)"
        return [
            Row(NAME, "upscale 1024x768 (skipped)", float("nan"), "s", extra={"skipped": reason})
        ]
    photo = arrays.resize(arrays.rgb(load_image(SAMPLE).pixels), 1024, 768)
    rows = []
    for pack in packs:
        options = UpscaleOptions(model=pack.name, device="cpu")
        seconds = median_seconds(lambda o=options: upscale_image(photo, o), repeats=3, warmup=1)
        scale = pack.manifest.options.get("scale", 1)
        rows.append(
            Row(
                NAME,
                f"upscale 1024x768 x{scale} with {pack.name}",
                seconds,
                "s",
                extra={"architecture": pack.manifest.architecture},
            )
        )
    return rows
