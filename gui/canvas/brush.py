"""Brush dabs on 8-bit planes (mask, sketch, colour paint), and strokes that remember
what they changed.

A plane is an HxW uint8 array (the colour paint layer: HxWx4 RGBA). Painting drives
pixels towards a target value (255 or 0) by the dab's coverage, never past what is
already there, so going over the same spot twice does not darken a soft edge into a
hard one within one stroke's reach.
A :class:`Stroke` keeps the original of each 64x64 block it touches the first time, so
the undo entry for the whole stroke holds only its bounding box, however long it ran.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

BLOCK = 64


@dataclass(frozen=True)
class Box:
    """A pixel rectangle, half-open: x0 <= x < x1, y0 <= y < y1."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0

    def union(self, other: Box) -> Box:
        if self.empty:
            return other
        if other.empty:
            return self
        return Box(
            min(self.x0, other.x0),
            min(self.y0, other.y0),
            max(self.x1, other.x1),
            max(self.y1, other.y1),
        )

    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


EMPTY = Box(0, 0, 0, 0)


@functools.lru_cache(maxsize=64)
def dab(radius: float, hardness: float) -> np.ndarray:
    """Coverage of one round dab, (2r+1)^2 float32 in [0, 1]: 1 inside ``hardness * r``,
    a smooth fall-off to 0 at ``r`` (hardness 1 is a hard-edged disc)."""
    r = max(0.5, float(radius))
    size = int(math.ceil(r))
    axis = np.arange(-size, size + 1, dtype=np.float32)
    distance = np.hypot(axis[None, :], axis[:, None])
    inner = r * min(max(hardness, 0.0), 1.0)
    if inner >= r - 0.5:  # hard: one pixel of antialiasing only
        return np.clip(r + 0.5 - distance, 0.0, 1.0)
    t = np.clip((distance - inner) / (r - inner), 0.0, 1.0)
    return (1.0 - t * t * (3.0 - 2.0 * t)).astype(np.float32)


def _dab_box(shape: tuple[int, ...], x: float, y: float, size: int) -> Box:
    """The pixels a dab of ``size`` (odd) centred at (x, y) reaches on a plane of ``shape``."""
    half = size // 2
    cx, cy = int(round(x)), int(round(y))
    height, width = shape[:2]
    return Box(
        max(0, cx - half), max(0, cy - half), min(width, cx + half + 1), min(height, cy + half + 1)
    )


def _dab_cut(coverage: np.ndarray, box: Box, x: float, y: float) -> np.ndarray:
    """The part of ``coverage`` that falls inside ``box`` (the dab clipped to the plane)."""
    half = coverage.shape[0] // 2
    left, top = int(round(x)) - half, int(round(y)) - half
    return coverage[box.y0 - top : box.y1 - top, box.x0 - left : box.x1 - left]


def stamp(plane: np.ndarray, x: float, y: float, coverage: np.ndarray, target: int) -> Box:
    """Apply one dab centred at (x, y), driving pixels towards ``target`` (0 or 255)."""
    box = _dab_box(plane.shape, x, y, coverage.shape[0])
    if box.empty:
        return EMPTY
    cut = _dab_cut(coverage, box, x, y)
    region = plane[box.slices()]
    if target >= 128:
        np.maximum(region, (cut * target + 0.5).astype(np.uint8), out=region)
    else:
        np.minimum(region, (255.0 - cut * 255.0 + 0.5).astype(np.uint8), out=region)
    return box


def spaced_points(
    start: tuple[float, float], end: tuple[float, float], spacing: float
) -> list[tuple[float, float]]:
    """Points from just after ``start`` to ``end``, ``spacing`` apart (at least the end)."""
    length = math.dist(start, end)
    count = max(1, int(length / max(spacing, 0.5)))
    return [
        (start[0] + (end[0] - start[0]) * i / count, start[1] + (end[1] - start[1]) * i / count)
        for i in range(1, count + 1)
    ]


class Stroke:
    """One press-drag-release of a brush on a plane, with what it needs to be undone."""

    def __init__(self, plane: np.ndarray, target: int, radius: float, hardness: float) -> None:
        self.plane = plane
        self.target = target
        self.coverage = dab(round(radius * 2) / 2, round(hardness, 2))
        self.spacing = max(0.5, radius * 0.2)
        self.bounds = EMPTY
        self._originals: dict[tuple[int, int], np.ndarray] = {}
        self._last: tuple[float, float] | None = None

    def _remember(self, box: Box) -> None:
        for by in range(box.y0 // BLOCK, (box.y1 - 1) // BLOCK + 1):
            for bx in range(box.x0 // BLOCK, (box.x1 - 1) // BLOCK + 1):
                if (by, bx) not in self._originals:
                    block = self.plane[by * BLOCK : (by + 1) * BLOCK, bx * BLOCK : (bx + 1) * BLOCK]
                    self._originals[(by, bx)] = block.copy()

    def to(self, x: float, y: float) -> Box:
        """Extend the stroke to (x, y); returns the rectangle of pixels that changed."""
        points = [(x, y)] if self._last is None else spaced_points(self._last, (x, y), self.spacing)
        self._last = (x, y)
        changed = EMPTY
        for px, py in points:
            reach = _dab_box(self.plane.shape, px, py, self.coverage.shape[0])
            if reach.empty:
                continue
            self._remember(reach)
            changed = changed.union(self._stamp(px, py))
        self.bounds = self.bounds.union(changed)
        return changed

    def _stamp(self, x: float, y: float) -> Box:
        return stamp(self.plane, x, y, self.coverage, self.target)

    def before(self) -> np.ndarray:
        """The stroke's bounding box as it was before the stroke."""
        box = self.bounds
        out = self.plane[box.slices()].copy()
        for (by, bx), block in self._originals.items():
            y0, x0 = by * BLOCK, bx * BLOCK
            inter = Box(
                max(x0, box.x0),
                max(y0, box.y0),
                min(x0 + block.shape[1], box.x1),
                min(y0 + block.shape[0], box.y1),
            )
            if inter.empty:
                continue
            out[inter.y0 - box.y0 : inter.y1 - box.y0, inter.x0 - box.x0 : inter.x1 - box.x0] = (
                block[inter.y0 - y0 : inter.y1 - y0, inter.x0 - x0 : inter.x1 - x0]
            )
        return out


def stamp_colour(
    rgba: np.ndarray,
    x: float,
    y: float,
    coverage: np.ndarray,
    colour: tuple[int, int, int] | None,
) -> Box:
    """One dab on an RGBA plane: paint ``colour`` by the dab's coverage, or erase (None).

    Colour moves towards the brush colour and opacity only grows (the larger of what
    is there and the dab), so a stroke over itself never builds up past the colour.
    """
    box = _dab_box(rgba.shape, x, y, coverage.shape[0])
    if box.empty:
        return EMPTY
    cut = _dab_cut(coverage, box, x, y)
    region = rgba[box.slices()]
    if colour is None:
        np.minimum(region[..., 3], (255.0 - cut * 255.0 + 0.5).astype(np.uint8), out=region[..., 3])
        return box
    rgb = region[..., :3].astype(np.float32)
    rgb += cut[..., None] * (np.asarray(colour, np.float32) - rgb)
    region[..., :3] = (rgb + 0.5).astype(np.uint8)
    np.maximum(region[..., 3], (cut * 255.0 + 0.5).astype(np.uint8), out=region[..., 3])
    return box


class ColourStroke(Stroke):
    """A stroke of colour (or of the colour eraser, ``colour=None``) on an RGBA plane."""

    def __init__(
        self,
        plane: np.ndarray,
        colour: tuple[int, int, int] | None,
        radius: float,
        hardness: float,
    ) -> None:
        super().__init__(plane, 0, radius, hardness)
        self.colour = colour

    def _stamp(self, x: float, y: float) -> Box:
        return stamp_colour(self.plane, x, y, self.coverage, self.colour)
