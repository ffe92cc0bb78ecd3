"""Upscaling with an imported super-resolution pack (Real-ESRGAN, Compact, SwinIR, SPAN).

The pack says its scale (manifest option ``scale``), size rule and tiling; the photo is
cut into tiles through :class:`engine.adapter.PackAdapter`, each tile upscaled and the
tiles feathered together at the output's scale (:func:`engine.tiling.run_tiled`), so
any photo size runs within a memory budget without seams. Gray photos go through as
RGB (upscalers are trained on colour) and come back gray. Alpha is not the network's
business: :func:`upscale_alpha` enlarges it smoothly beside the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine import arrays
from engine.adapter import PackAdapter, tile_size
from engine.cancel import NEVER, CancelToken
from engine.errors import HeirloomError
from engine.images import ImageMeta
from engine.jobs import Emitter, Result, silent
from engine.limits import MEMORY_MB, TILE
from engine.models import ModelPack, Registry
from engine.runtime import Device
from engine.tiling import DEFAULT_BUDGET_MB

TASK = "upscale"
MIN_SIDE = 4
MAX_OUTPUT_PIXELS = 400_000_000  # 20000x20000: float32 RGB of it is already 4.8 GB


@dataclass(frozen=True)
class UpscaleOptions:
    """``model``: an upscale pack's name, or None for the preferred installed one."""

    model: str | None = None
    device: Device = "auto"
    tile: int | None = None  # default: from memory_mb and the pack's bytes_per_pixel
    memory_mb: int = DEFAULT_BUDGET_MB


def scale_of(pack: ModelPack) -> int:
    """How many times larger the pack makes each side (its manifest's ``scale``)."""
    return int(pack.manifest.options.get("scale", 1))


def upscale_pack(registry: Registry, name: str | None) -> ModelPack:
    """The upscale pack to use, refused in one line when none is installed."""
    return registry.for_task(TASK, name)


def check_output_size(height: int, width: int, scale: int) -> None:
    """Refuse before any work an output too large to hold in memory."""
    if height * width * scale * scale > MAX_OUTPUT_PIXELS:
        raise HeirloomError(
            f"upscaling {width}x{height} by {scale} would make a "
            f"{width * scale}x{height * scale} image, more than Heirloom can hold; "
            "crop or shrink the photo first"
        )


def upscale_image(
    image: np.ndarray,
    options: UpscaleOptions = UpscaleOptions(),
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Upscale ``image`` (HxWx1 or HxWx3 in [0, 1]); returns ``images={"upscaled": ...}``
    with the input's channel count, and info with the pack, device, scale and tile."""
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"image must be HxWx1 or HxWx3, not {image.shape}")
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise HeirloomError(f"the photo is {width}x{height}; upscaling needs {MIN_SIDE}+ px")
    MEMORY_MB.check(options.memory_mb)
    TILE.check(options.tile)
    emit = emit or silent()
    registry = registry or Registry()
    pack = upscale_pack(registry, options.model)
    scale = scale_of(pack)
    check_output_size(height, width, scale)
    tile = tile_size(pack, options.tile, options.memory_mb)
    model = PackAdapter.open(pack, options.device)
    emit.progress(0.0, "Upscaling", f"x{scale} with {pack.name} on {model.describe()}")

    def run(batch: np.ndarray) -> np.ndarray:
        return model.run({"image": model.to_model(batch, "image")}, cancel)[0]

    out = model.run_tiled(
        run,
        model.to_channels(image, "image"),
        tile,
        cancel,
        lambda done, total: emit.progress(done / total, "Upscaling", f"tile {done}/{total}"),
    )
    upscaled = model.from_model(out)
    if image.shape[2] == 1:
        upscaled = arrays.luma(upscaled)[..., None]
    elif upscaled.shape[2] == 1:
        upscaled = arrays.rgb(upscaled)
    emit.preview(upscaled, 1, 1, "upscaled")
    emit.progress(1.0, "Done", f"{upscaled.shape[1]}x{upscaled.shape[0]}")
    return Result(
        images={"upscaled": upscaled.astype(np.float32, copy=False)},
        info={"model": pack.name, "device": model.describe(), "scale": scale, "tile": tile},
    )


def upscale_alpha(alpha: np.ndarray, height: int, width: int) -> np.ndarray:
    """An alpha plane enlarged to the upscaled picture's size (smoothly: edges of a
    cut-out stay soft rather than blocky)."""
    return np.clip(arrays.resize_plane(alpha, width, height), 0.0, 1.0)


def enlarged_meta(meta: ImageMeta, scale: int) -> ImageMeta:
    """The photo's metadata for its upscaled copy: DPI times ``scale``, so the print
    size stays the photo's (the point of upscaling a scan is finer detail, not a poster)."""
    if not meta.dpi or scale == 1:
        return meta
    return replace(meta, dpi=(meta.dpi[0] * scale, meta.dpi[1] * scale))
