"""What each batch task does to one file, with the same pipelines as the single-file commands.

A task is a row in :data:`TASKS`: the options it reads (argparse names shared with
``heirloom batch``), where its output goes, and a function that loads a photo, runs
the pipeline and saves the result through the guarded write path. A new task
(upscale, colorize) is one more row; the ledger, the runners and the CLI do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from engine.images import load_image, save_image
from engine.models import Registry
from engine.pipelines.restore import RestoreOptions, detect_scratches, restore_photo
from engine.runtime import Device


@dataclass(frozen=True)
class Settings:
    """How a worker runs (not what it makes): changing these never invalidates a ledger."""

    device: Device = "auto"
    memory_mb: int = 1024


TaskFn = Callable[[Path, Path, Mapping[str, Any], Settings, Registry], dict[str, Any]]


@dataclass(frozen=True)
class Task:
    """One user-facing task as the batch engine sees it."""

    name: str
    help: str
    options: tuple[str, ...]  # the ``heirloom batch`` option names (dests) it reads
    output: Callable[[PurePosixPath], PurePosixPath]  # relative source -> relative output
    run: TaskFn


def _restore_options(options: Mapping[str, Any], settings: Settings) -> RestoreOptions:
    return RestoreOptions(
        scratches=options.get("scratches", "auto"),
        threshold=options.get("threshold"),
        faces=options.get("faces", True),
        colour=options.get("colour", False),
        smoothing=options.get("smoothing", 1.0),
        tile=options.get("tile"),
        restorer=options.get("model"),
        detector=options.get("detector"),
        device=settings.device,
        memory_mb=settings.memory_mb,
    )


def _restore(
    source: Path, target: Path, options: Mapping[str, Any], settings: Settings, registry: Registry
) -> dict[str, Any]:
    photo = load_image(source)
    result = restore_photo(photo.pixels, _restore_options(options, settings), registry=registry)
    save_image(
        target,
        result.images["restored"],
        meta=photo.meta,
        alpha=photo.alpha,
        bit_depth=options.get("bit_depth"),
        quality=options.get("quality", 95),
        overwrite=True,  # the driver decided, from the ledger, that this file is ours to write
    )
    info = result.info
    return {"model": info["model"], "device": info["device"], "faces": len(info["faces"])}


def _detect(
    source: Path, target: Path, options: Mapping[str, Any], settings: Settings, registry: Registry
) -> dict[str, Any]:
    photo = load_image(source)
    result = detect_scratches(photo.pixels, _restore_options(options, settings), registry=registry)
    mask = result.images["mask"]
    save_image(target, mask.astype(np.float32), overwrite=True)
    info = result.info
    return {"model": info["model"], "device": info["device"], "damage": float(mask.mean())}


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "restore",
            "detect damage, restore, refine faces (as heirloom restore)",
            (
                "scratches",
                "threshold",
                "faces",
                "colour",
                "smoothing",
                "bit_depth",
                "quality",
                "tile",
                "model",
                "detector",
            ),
            lambda rel: rel,
            _restore,
        ),
        Task(
            "detect-scratches",
            "write each photo's damage mask as NAME_mask.png (as heirloom detect-scratches)",
            ("threshold", "tile", "detector"),
            lambda rel: rel.with_name(f"{rel.stem}_mask.png"),
            _detect,
        ),
    )
}
