"""Colorizing a photo with a colorize pack, keeping the photo's own luminance.

Every colorize pack speaks one contract (the ``gray`` role in, an RGB image in [0, 1]
out): our own ``heirloom-colorize`` as trained, and DDColor imports, whose graph holds
DDColor's Lab round trip (training/convert/spandrel_colorize.py). The network only
decides the colour, at its working size; the detail is the photo's:

1. the photo's luma (Rec. 601, :data:`engine.arrays.LUMA`) is shrunk to the working
   size (the pack's fixed size, else the long side ``working_side`` fitted to its
   size rule) and colorized;
2. the colour is taken as each channel's offset from the result's own luma, an offset
   with zero luma, and enlarged to the photo's size;
3. offset and full-resolution luma are added; where that would leave [0, 1], the
   offset is shortened (toward gray, along a line of constant luma) until it fits.

So the output's luma is the photo's, exactly up to the file's quantisation, and the
colour is as sharp as the working size allows (colour needs far less resolution than
detail, which is why photo formats subsample chroma).
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

TASK = "colorize"
MIN_SIDE = 16
WORKING_SIDE = 512  # long side for packs of any size, unless their manifest says


@dataclass(frozen=True)
class ColorizeOptions:
    """``model``: a colorize pack's name, or None for the preferred installed one."""

    model: str | None = None
    device: Device = "auto"
    working_side: int | None = None  # default: the manifest's option, else WORKING_SIDE


def colorize_pack(registry: Registry, name: str | None) -> ModelPack:
    """The colorize pack to use, refused in one line when none is installed."""
    return registry.for_task(TASK, name)


def working_size(pack: ModelPack, height: int, width: int, side: int | None) -> tuple[int, int]:
    """(height, width) the pack colorizes a ``height`` x ``width`` photo at."""
    rule = pack.manifest.size_rule
    if rule.fixed:
        return rule.fixed
    side = side or int(pack.manifest.options.get("working_side", WORKING_SIDE))
    scale = min(1.0, side / max(height, width))
    m = rule.multiple_of

    def fit(n: int) -> int:
        return max(rule.min, m, round(n * scale / m) * m)

    return fit(height), fit(width)


def colour_offsets(rgb: np.ndarray) -> np.ndarray:
    """Each channel minus the pixel's luma: the colour alone (its luma is zero)."""
    return rgb - arrays.luma(rgb)[..., None]


def with_luma(luma: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``luma`` + ``offsets``, each offset shortened just enough to stay in [0, 1].

    Gray (the luma itself) is always inside, so the largest t in [0, 1] with
    0 <= luma + t * offset <= 1 for every channel exists; luma is unchanged by it.
    """
    y = luma[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(offsets > 0, (1.0 - y) / offsets, np.where(offsets < 0, -y / offsets, 1.0))
    t = np.clip(room.min(axis=2, keepdims=True), 0.0, 1.0)
    return np.clip(y + t * offsets, 0.0, 1.0).astype(np.float32)


def colorize_photo(
    image: np.ndarray,
    options: ColorizeOptions = ColorizeOptions(),
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Colorize a photo (HxWx1 or HxWx3 in [0, 1]; a colour photo is recoloured).

    Returns ``images={"colorized": HxWx3}``; info has the pack, the device and the
    working size. The input array is not modified.
    """
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"image must be HxWx1 or HxWx3, not {image.shape}")
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise HeirloomError(
            f"the photo is {width}x{height} pixels; colorizing needs at least {MIN_SIDE} "
            "pixels on each side"
        )
    emit = emit or silent()
    registry = registry or Registry()
    pack = colorize_pack(registry, options.model)
    model = PackAdapter.open(pack, options.device)
    wh, ww = working_size(pack, height, width, options.working_side)
    emit.progress(0.0, "Colorizing", f"{pack.name} at {ww}x{wh} on {model.describe()}")
    luma = arrays.luma(image)
    small = arrays.resize_plane(luma, ww, wh)
    feed = model.to_model(model.to_channels(small[..., None], "gray", 1), "gray")
    out = model.run({"gray": feed.transpose(2, 0, 1)[None]}, cancel)[0]
    coloured = arrays.rgb(model.from_model(out[0].transpose(1, 2, 0)))
    emit.progress(0.8, "Colorizing", "keeping the photo's luminance")
    offsets = arrays.resize(colour_offsets(coloured), width, height)
    result = with_luma(luma, offsets)
    emit.preview(result, 1, 1, "colorized")
    emit.progress(1.0, "Done", f"colorized with {pack.name}")
    return Result(
        images={"colorized": result},
        info={"model": pack.name, "device": model.describe(), "working_size": (ww, wh)},
    )
