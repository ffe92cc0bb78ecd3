"""Filling a masked region with an imported inpainting pack (LaMa).

Only a crop around the mask runs: the mask's bounding box grown by ``CONTEXT`` of its
size on each side (at least ``MIN_CONTEXT`` pixels), so the network sees what
surrounds the hole. The crop is shrunk to at most ``working_side`` pixels on its long
side (LaMa was trained at 256-512 and its Fourier units see the whole input, so a
huge crop helps nothing and costs quadratically), padded by reflection to the pack's
size rule, filled, enlarged back, and written into the photo **only where the mask
is**: every other pixel is returned exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import arrays
from engine.adapter import PackAdapter
from engine.cancel import NEVER, CancelToken
from engine.errors import HeirloomError
from engine.jobs import Emitter, Result, silent
from engine.models import ModelPack, Registry
from engine.runtime import Device

TASK = "fill"
MIN_SIDE = 16
WORKING_SIDE = 512
CONTEXT = 0.5  # of the mask's bounding box, added on each side
MIN_CONTEXT = 32


@dataclass(frozen=True)
class FillOptions:
    """``model``: a fill pack's name, or None for the preferred installed one."""

    model: str | None = None
    device: Device = "auto"
    working_side: int | None = None  # default: the manifest's option, else WORKING_SIDE


def fill_pack(registry: Registry, name: str | None) -> ModelPack:
    """The fill pack to use, refused in one line when none is installed."""
    return registry.for_task(TASK, name)


def crop_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the region to run: the mask's box with context around it."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    margin_y = max(MIN_CONTEXT, round(CONTEXT * (y1 - y0)))
    margin_x = max(MIN_CONTEXT, round(CONTEXT * (x1 - x0)))
    height, width = mask.shape
    return (
        max(0, y0 - margin_y),
        min(height, y1 + margin_y),
        max(0, x0 - margin_x),
        min(width, x1 + margin_x),
    )


def _model_size(pack: ModelPack, height: int, width: int, side: int) -> tuple[int, int]:
    rule = pack.manifest.size_rule
    if rule.fixed:
        return rule.fixed
    scale = min(1.0, side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def fill_photo(
    image: np.ndarray,
    mask: np.ndarray,
    options: FillOptions = FillOptions(),
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Fill ``mask`` (HxW, true = fill) in ``image`` (HxWx1 or HxWx3 in [0, 1]).

    Returns ``images={"filled": HxWxC}`` (C as the input's) and info with the pack,
    the device and the crop; outside the mask the result equals ``image`` exactly.
    """
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"image must be HxWx1 or HxWx3, not {image.shape}")
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise HeirloomError(
            f"the photo is {width}x{height} pixels; filling needs at least {MIN_SIDE} "
            "pixels on each side"
        )
    mask = np.asarray(mask) > 0.5
    if mask.shape != (height, width):
        raise HeirloomError(
            f"the mask is {mask.shape[1]}x{mask.shape[0]} but the photo is {width}x{height}; "
            "they must be the same size"
        )
    if not mask.any():
        raise HeirloomError("the mask is empty: paint the region to fill in white")
    emit = emit or silent()
    registry = registry or Registry()
    pack = fill_pack(registry, options.model)
    model = PackAdapter.open(pack, options.device)
    y0, y1, x0, x1 = crop_box(mask)
    side = options.working_side or int(pack.manifest.options.get("working_side", WORKING_SIDE))
    mh, mw = _model_size(pack, y1 - y0, x1 - x0, side)
    emit.progress(0.0, "Filling", f"{pack.name} at {mw}x{mh} on {model.describe()}")
    crop = arrays.resize(model.to_channels(image[y0:y1, x0:x1], "image"), mw, mh)
    hole = arrays.resize_plane(mask[y0:y1, x0:x1].astype(np.float32), mw, mh) > 0
    ph, pw = model.padded_size(mh, mw)
    pads = ((0, ph - mh), (0, pw - mw))
    crop = np.pad(crop, (*pads, (0, 0)), mode="symmetric")
    hole = np.pad(hole, pads)
    feeds = {
        "image": model.to_model(crop.transpose(2, 0, 1)[None], "image"),
        "mask": model.to_model(hole[None, None].astype(np.float32), "mask"),
    }
    out = model.run(feeds, cancel)[0]
    filled = model.from_model(out[0, :, :mh, :mw].transpose(1, 2, 0))
    filled = arrays.resize(filled, x1 - x0, y1 - y0)
    if image.shape[2] == 1:
        filled = arrays.luma(filled)[..., None]
    result = image.astype(np.float32, copy=True)
    region = mask[y0:y1, x0:x1]
    result[y0:y1, x0:x1][region] = filled[region]
    emit.preview(result, 1, 1, "filled")
    emit.progress(1.0, "Done", f"filled with {pack.name}")
    return Result(
        images={"filled": result},
        info={
            "model": pack.name,
            "device": model.describe(),
            "crop": (int(x0), int(y0), int(x1), int(y1)),
            "working_size": (mw, mh),
        },
    )
