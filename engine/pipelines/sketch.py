"""Sketch to photo: line drawings in, pix2pix-style generated photos out.

Three user tasks share the conventions of pix2pix's edges2* models, black 1-px lines
(0.0) on white (1.0):

- :func:`trace_edges` (from :mod:`engine.ops.edges`) makes such a drawing from a
  photo, for the user to edit;
- :func:`sketch_to_photo` feeds a whole drawing to a ``sketch2photo`` pack;
- :func:`sketch_into_photo` redraws one region of a real photo along the lines drawn
  in it, optionally with colour hints, with a ``sketch-into`` pack (decision 0015).

What users hand us is rarely what the model was trained on, so :func:`normalise_sketch`
first turns white-on-black drawings the right way round, refuses photos (see
docs/decisions/0003-sketch-input.md: we ask the user to trace edges rather than do it
silently), and thins soft, thick pen strokes to 1-px lines. The canvas is then padded
with paper to the pack's size rule (unet_256 packs need multiples of 256) and the
result cropped back, so any canvas size works, down to a few pixels.

Whole-drawing generation has no "region around the last stroke" mode, on purpose: the
generator's bottleneck sees the whole canvas, so a stroke changes the photo everywhere
and a cropped run would not match the whole run. Drawing *into* a photo is different:
everything outside the region is known and kept, so only a crop around the region
(with some context) runs, and its result is pasted inside the region only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from engine import arrays
from engine.adapter import PackAdapter
from engine.cancel import NEVER, CancelToken
from engine.errors import HeirloomError, PackError
from engine.jobs import Emitter, Result, silent
from engine.models import Registry, SizeRule
from engine.ops.edges import thin_lines, trace_edges
from engine.ops.prepass import telea_fill
from engine.runtime import Device
from engine.tiling import padded_size

__all__ = [
    "IntoOptions",
    "NormalisedSketch",
    "SketchError",
    "SketchOptions",
    "normalise_sketch",
    "sketch_into_photo",
    "sketch_to_photo",
    "trace_edges",
]

TASK = "sketch2photo"

# Line drawings are mostly paper: at least this share of pixels lies within PAPER_BAND
# of the paper's value. Photos measured 0.13-0.31 (samples, scikit-image photos), our
# edge maps 0.82-0.97, thick soft pen strokes 0.63.
PAPER_SHARE = 0.5
PAPER_BAND = 0.06
# A colour photo: more than this share of pixels is strongly coloured (saturation,
# max - min channel, above COLOUR_SATURATION). Edge maps and pencil scans have none.
COLOURFUL_SHARE = 0.02
COLOUR_SATURATION = 0.2
MIN_CONTRAST = 0.15  # lines must be this much darker than the paper, else the canvas is empty
INK = 0.5  # normalised value below which a pixel is part of a line


class SketchError(HeirloomError):
    """The sketch cannot be used as it is (empty canvas, a photo instead of lines)."""


@dataclass(frozen=True)
class SketchOptions:
    """How to run a sketch.

    ``model``: a pack name, or None for the preferred ``sketch2photo`` pack.
    ``thin``: thin strokes to 1-px lines first (turn off for drawings that are already
    pix2pix-style edge maps with deliberate soft lines).
    ``max_side``: canvases whose long side exceeds this are generated at this size and
    the photo enlarged, which bounds time and memory for the live mode.
    """

    model: str | None = None
    device: Device = "auto"
    thin: bool = True
    max_side: int = 1024


@dataclass(frozen=True)
class NormalisedSketch:
    """A drawing as models want it: HxW float32, 0 on lines, 1 on paper."""

    edges: np.ndarray
    inverted: bool  # the input had light lines on a dark ground and was flipped


def normalise_sketch(image: np.ndarray, thin: bool = True) -> NormalisedSketch:
    """Bring a user's drawing to the pix2pix convention, or say why it cannot be used.

    ``image`` is HxW or HxWxC float in [0, 1] (composite any alpha onto white first).
    The paper is the median grey, so lines must cover less than half of the canvas;
    if the paper is dark the drawing is inverted. Contrast is stretched so the darkest
    line is 0 and the paper 1. With ``thin`` every stroke becomes a 1-px line (already
    thin edge maps come back unchanged).

    Raises :class:`SketchError` for a flat canvas (empty, all black) and for photos:
    a photo's tones are spread out and often coloured, a drawing's sit on its paper.
    """
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3) or min(pixels.shape[:2]) < 1:
        raise ValueError(f"a sketch must be HxW, HxWx1 or HxWx3, not {pixels.shape}")
    if pixels.shape[2] == 3:
        gray = arrays.luma(pixels)
        saturation = pixels.max(axis=2) - pixels.min(axis=2)
        colourful = float(np.mean(saturation > COLOUR_SATURATION)) > COLOURFUL_SHARE
    else:
        gray, colourful = pixels[..., 0], False
    paper = float(np.median(gray))
    inverted = paper < 0.5
    if inverted:
        gray, paper = 1.0 - gray, 1.0 - paper
    ink = float(gray.min())
    if paper - ink < MIN_CONTRAST:
        raise SketchError(
            "the sketch is empty (one flat colour, no lines); draw some lines or trace a "
            "photo's edges first"
        )
    if colourful or float(np.mean(np.abs(gray - paper) < PAPER_BAND)) < PAPER_SHARE:
        raise SketchError(
            "this looks like a photo, not a line drawing; trace its edges first "
            "('heirloom edges PHOTO -o EDGES.png', or Trace edges in the Sketch workspace)"
        )
    values = np.clip((gray - ink) / (paper - ink), 0.0, 1.0)
    if thin:
        values = np.where(thin_lines(values < INK), 0.0, 1.0)
    return NormalisedSketch(values.astype(np.float32), inverted)


# --- fitting a canvas to a pack's size rule -------------------------------------


@dataclass(frozen=True)
class _Placement:
    """Where the (possibly shrunk) drawing sits on the padded canvas."""

    top: int
    left: int
    height: int  # of the drawing as fed, after any shrink
    width: int


def _shrink(edges: np.ndarray, height: int, width: int, thin: bool) -> np.ndarray:
    """Downscale a drawing without losing its lines: ink is averaged, then re-drawn."""
    coverage = arrays.resize_plane(1.0 - edges, width, height)
    if thin:
        return np.where(thin_lines(coverage > 0.25), 0.0, 1.0).astype(np.float32)
    return np.clip(1.0 - coverage, 0.0, 1.0)


def _fit(
    edges: np.ndarray, rule: SizeRule, max_side: int, thin: bool
) -> tuple[np.ndarray, _Placement]:
    """Pad (with paper, centred) and, if needed, shrink ``edges`` to what the rule accepts."""
    h, w = edges.shape
    scale = min(1.0, max_side / max(h, w))
    if rule.fixed:
        scale = min(scale, rule.fixed[0] / h, rule.fixed[1] / w)
    if scale < 1.0:
        h, w = max(1, round(h * scale)), max(1, round(w * scale))
        edges = _shrink(edges, h, w, thin)
    ph, pw = padded_size(h, w, rule)
    top, left = (ph - h) // 2, (pw - w) // 2
    canvas = np.ones((ph, pw), np.float32)
    canvas[top : top + h, left : left + w] = edges
    return canvas, _Placement(top, left, h, w)


def sketch_to_photo(
    edges: np.ndarray,
    options: SketchOptions = SketchOptions(),
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Generate a photo from a line drawing with a ``sketch2photo`` pack.

    ``edges``: HxW or HxWxC float in [0, 1], black lines on white (see
    :func:`normalise_sketch` for what else is accepted or refused). Returns
    ``images={"photo": HxWx3, "edges": HxW}`` (``edges`` is the drawing as the model
    saw it, at the input's size) and ``info`` with ``device`` (what really ran),
    ``model`` (pack name) and ``inverted``. Deterministic: the same drawing and pack
    give the same photo.
    """
    emit = emit or silent()
    emit.progress(0.0, "preparing sketch")
    sketch = normalise_sketch(edges, thin=options.thin)
    cancel.check()
    pack = (registry or Registry()).for_task(TASK, options.model)
    if pack.manifest.outputs[0].layout != "NCHW":
        raise PackError(f"model pack '{pack.name}': sketch2photo packs must use NCHW tensors")
    model = PackAdapter.open(pack, options.device)
    canvas, place = _fit(sketch.edges, model.size_rule, options.max_side, options.thin)
    emit.progress(0.2, "generating", f"{pack.name} on {model.describe()}")
    feed = np.repeat(model.to_model(canvas, "edges")[None, None], model.channels("edges"), 1)
    output = model.run({"edges": feed}, cancel)[0]
    photo = model.from_model(output[0].transpose(1, 2, 0))
    photo = photo[place.top : place.top + place.height, place.left : place.left + place.width]
    photo = arrays.rgb(photo)
    height, width = sketch.edges.shape
    if (place.height, place.width) != (height, width):
        photo = arrays.resize(photo, width, height)
    emit.progress(1.0, "done")
    return Result(
        images={"photo": photo.astype(np.float32), "edges": sketch.edges},
        info={"device": model.describe(), "model": pack.name, "inverted": sketch.inverted},
    )


# --- drawing into a photo -------------------------------------------------------

INTO_TASK = "sketch-into"
PREVIEW_SIDE = 384  # the app's live preview runs the region's crop at most this size
CONTEXT = 0.25  # known photo around the region, as a share of the region's box side
MIN_CONTEXT = 32  # px: even a small region sees this much of its surroundings


@dataclass(frozen=True)
class IntoOptions:
    """How to redraw a region of a photo.

    ``model``: a ``sketch-into`` pack name, or None for the preferred one. ``thin`` as in
    :class:`SketchOptions`. ``max_side``: the region's crop (with its context) is run
    shrunk to at most this side, and the result enlarged, which bounds the live mode.
    """

    model: str | None = None
    device: Device = "auto"
    thin: bool = True
    max_side: int = 1024


def drawn_lines(edges: np.ndarray, thin: bool = True) -> np.ndarray:
    """The user's lines as 0 on 1, like :func:`normalise_sketch`, except that an empty
    canvas is allowed: a region may be redrawn from colours and surroundings alone."""
    pixels = np.asarray(edges, np.float32)
    gray = arrays.luma(pixels) if pixels.ndim == 3 and pixels.shape[2] == 3 else pixels
    gray = gray[..., 0] if gray.ndim == 3 else gray
    if float(np.median(gray)) - float(gray.min()) < MIN_CONTRAST:
        return np.ones(gray.shape, np.float32)
    return normalise_sketch(pixels, thin=thin).edges


def _box(region: np.ndarray) -> tuple[int, int, int, int]:
    """The region's bounding box grown by its context, clipped: (top, bottom, left, right)."""
    ys, xs = np.nonzero(region)
    top, bottom = int(ys.min()), int(ys.max()) + 1
    left, right = int(xs.min()), int(xs.max()) + 1
    margin = max(MIN_CONTEXT, round(CONTEXT * max(bottom - top, right - left)))
    height, width = region.shape
    return (
        max(0, top - margin),
        min(height, bottom + margin),
        max(0, left - margin),
        min(width, right + margin),
    )


_TELEA_CACHE: dict[str, np.ndarray] = {}


def _known(pixels: np.ndarray, area: np.ndarray) -> np.ndarray:
    """The region filled by Telea (the model corrects it), mid-grey when nothing is known.

    While the user draws, the photo and region stay the same from update to update and
    only the lines change, so the last fill is kept: Telea of a large region is a
    quarter of a live update.
    """
    if area.all():
        return np.full_like(pixels, 0.5)
    key = hashlib.blake2b(pixels.tobytes() + np.packbits(area).tobytes(), digest_size=16)
    digest = key.hexdigest() + str(pixels.shape)
    if digest not in _TELEA_CACHE:
        _TELEA_CACHE.clear()
        _TELEA_CACHE[digest] = telea_fill(pixels, area)
    return _TELEA_CACHE[digest]


def _checked_region(region: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    region = np.asarray(region)
    region = region[..., 0] if region.ndim == 3 else region
    if region.shape != shape:
        raise SketchError(
            f"the region mask is {region.shape[1]}x{region.shape[0]} but the photo is "
            f"{shape[1]}x{shape[0]}; they must be the same size"
        )
    inside = region > 0.5
    if not inside.any():
        raise SketchError("the region to redraw is empty; paint (white) where to redraw")
    return inside


def sketch_into_photo(
    photo: np.ndarray,
    region: np.ndarray,
    edges: np.ndarray,
    hints: np.ndarray | None = None,
    hint_mask: np.ndarray | None = None,
    options: IntoOptions = IntoOptions(),
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Redraw ``region`` of ``photo`` to follow the lines in ``edges`` (and the colours
    in ``hints``) with a ``sketch-into`` pack.

    ``photo`` HxW(xC) in [0, 1]; ``region`` HxW, > 0.5 = redraw (the whole frame draws
    from scratch); ``edges`` HxW(xC) black lines on white, only their part inside the
    region is used; ``hints`` HxWx3 colours where ``hint_mask`` (HxW) > 0.5. Only a crop
    around the region runs (its box plus some context), so a small region is fast on a
    big photo. Returns ``images={"photo": HxWx3, "edges": HxW}``, the photo equal to the
    input outside the region bit for bit, and ``info`` with ``device``, ``model``,
    ``region_share`` and ``box``.
    """
    emit = emit or silent()
    emit.progress(0.0, "preparing sketch")
    image = arrays.rgb(np.asarray(photo, np.float32))
    shape = image.shape[:2]
    inside = _checked_region(region, shape)
    drawing = np.asarray(edges, np.float32)
    if drawing.shape[:2] != shape:
        raise SketchError(
            f"the drawing is {drawing.shape[1]}x{drawing.shape[0]} but the photo is "
            f"{shape[1]}x{shape[0]}; they must be the same size"
        )
    if hints is None or hint_mask is None:
        colours, dabs = np.zeros_like(image), np.zeros(shape, bool)
    else:
        colours, dabs = arrays.rgb(np.asarray(hints, np.float32)), np.asarray(hint_mask) > 0.5
        if colours.shape[:2] != shape or dabs.shape != shape:
            raise SketchError("the colour hints must be the same size as the photo")
    cancel.check()
    pack = (registry or Registry()).for_task(INTO_TASK, options.model)
    model = PackAdapter.open(pack, options.device)
    top, bottom, left, right = _box(inside)
    crop = (slice(top, bottom), slice(left, right))
    height, width = bottom - top, right - left
    scale = min(1.0, options.max_side / max(height, width))
    fed_h, fed_w = max(1, round(height * scale)), max(1, round(width * scale))
    known = arrays.resize(image[crop], fed_w, fed_h)
    area = arrays.resize_plane(inside[crop].astype(np.float32), fed_w, fed_h) > 0.5
    # only the crop is cleaned up, and thinned once, at the size it is fed (live-mode cost)
    lines = drawn_lines(drawing[crop], thin=options.thin and scale == 1.0)
    ink = lines if scale == 1.0 else _shrink(lines, fed_h, fed_w, options.thin)
    ink = np.where(area, ink, 1.0)
    dab = arrays.resize_plane(dabs[crop].astype(np.float32), fed_w, fed_h) > 0.5
    dab &= area
    tint = arrays.resize(colours[crop], fed_w, fed_h)
    pad_h, pad_w = model.padded_size(fed_h, fed_w)
    pads = ((0, pad_h - fed_h), (0, pad_w - fed_w))

    def nchw(values: np.ndarray) -> np.ndarray:
        planes = values if values.ndim == 3 else values[..., None]
        return np.ascontiguousarray(planes.transpose(2, 0, 1)[None], np.float32)

    area_f, dab_f = area.astype(np.float32), dab.astype(np.float32)
    known = _known(known, area)
    feeds = {
        "known": nchw(np.pad(model.to_model(known, "known"), (*pads, (0, 0)), mode="edge")),
        "region": nchw(np.pad(area_f, pads)),
        "edges": nchw(np.pad(model.to_model(ink, "edges"), pads, constant_values=1.0)),
        "hints": nchw(np.pad(model.to_model(tint, "hints"), (*pads, (0, 0))))
        * nchw(np.pad(dab_f, pads)),
        "hint_mask": nchw(np.pad(dab_f, pads)),
    }
    emit.progress(0.2, "drawing", f"{pack.name} on {model.describe()}")
    output = model.run(feeds, cancel)[0]
    drawn = model.from_model(output[0].transpose(1, 2, 0))[:fed_h, :fed_w]
    drawn = arrays.rgb(drawn)
    if (fed_h, fed_w) != (height, width):
        drawn = arrays.resize(drawn, width, height)
    result = image.copy()
    result[crop] = np.where(inside[crop][..., None], drawn, image[crop])
    seen = np.ones(shape, np.float32)  # the lines the model used, at the photo's size
    seen[crop] = np.where(inside[crop], lines, 1.0)
    emit.progress(1.0, "done")
    return Result(
        images={"photo": result, "edges": seen},
        info={
            "device": model.describe(),
            "model": pack.name,
            "region_share": round(float(inside.mean()), 4),
            "box": (top, left, height, width),
        },
    )
