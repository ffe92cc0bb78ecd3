"""Training and evaluation cases for drawing into a photo: region, lines, colour hints.

A case is what a user hands the ``sketch-into`` model: a photo whose region to redraw
is masked out, the lines they drew in that region, and a few colour strokes. For
training all three are made from a real photo crop:

- the **region** ranges from brush strokes to the whole frame (the whole frame is
  sketch-from-scratch, so one model serves both uses);
- the **lines** are the engine's own traced edges (what "Trace edges" offers in the app)
  inside the region, made less perfect the way hand drawing is: a wobble of a pixel or
  two, some strokes thicker, some missing;
- the **hints** are short strokes of the photo's own colours, blurred (a user paints the
  colour of a place, not its texture); half the cases have none, so lines alone work.

Everything is numpy/OpenCV, so cases are the same for the trainer and the card.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.edges import trace_edges
from engine.ops.prepass import telea_fill

TRAIN_DETAIL = (0.3, 0.7)  # the app's detail slider around its default
EVAL_DETAIL = 0.5
HINT_SHARE = (0.005, 0.03)  # of the region's pixels, when a case has hints


@dataclass(frozen=True)
class SketchCase:
    """One drawing-into-a-photo case; every array is HxW(xC) float32 in [0, 1]."""

    photo: np.ndarray  # HxWx3, the truth
    region: np.ndarray  # HxW, 1 = redraw
    edges: np.ndarray  # HxW, 0 on lines, 1 on paper (paper outside the region)
    hints: np.ndarray  # HxWx3, colours where hint_mask is 1, else 0
    hint_mask: np.ndarray  # HxW, 1 = a colour hint

    @property
    def known(self) -> np.ndarray:
        """What the model gets as the photo: the region filled by OpenCV's Telea (the
        model learns what Telea misses), or mid-grey when the region is the whole frame."""
        return known_pixels(self.photo, self.region)


def known_pixels(photo: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The photo with ``region`` (> 0.5) filled by Telea; mid-grey if nothing is known.
    The engine feeds the same (:func:`engine.pipelines.sketch.sketch_into_photo`)."""
    inside = region > 0.5
    if inside.all():
        return np.full(photo.shape, 0.5, np.float32)
    return telea_fill(photo, inside)


def _strokes(
    height: int, width: int, rng: np.random.Generator, target: float, widths: tuple[int, int]
) -> np.ndarray:
    """Random brush polylines until ``target`` of the area is covered."""
    mask = np.zeros((height, width), np.uint8)
    while mask.mean() < target:
        thickness = int(rng.integers(*widths))
        point = rng.uniform((0, 0), (width, height))
        for _ in range(int(rng.integers(1, 5))):
            angle = rng.uniform(0, 2 * math.pi)
            length = rng.uniform(0.1, 0.5) * min(height, width)
            end = point + length * np.array([math.cos(angle), math.sin(angle)])
            cv2.line(mask, tuple(map(int, point)), tuple(map(int, end)), 1, thickness)
            point = end
    return mask


def _blobs(height: int, width: int, rng: np.random.Generator, target: float) -> np.ndarray:
    """Ellipses and rotated boxes (a roof, a corner) until ``target`` of the area."""
    mask = np.zeros((height, width), np.uint8)
    while mask.mean() < target:
        centre = tuple(int(v) for v in rng.uniform((0, 0), (width, height)))
        axes = tuple(int(v) for v in rng.uniform(0.08, 0.4, 2) * min(height, width))
        angle = float(rng.uniform(0, 180))
        if rng.random() < 0.5:
            cv2.ellipse(mask, centre, axes, angle, 0, 360, 1, -1)
        else:
            box = cv2.boxPoints((centre, (2 * axes[0], 2 * axes[1]), angle))
            cv2.fillPoly(mask, [box.astype(np.int32)], 1)
    return mask


def random_region(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A region to redraw: whole frame, brush strokes, or blobs, 3 % to 100 %."""
    kind = rng.random()
    if kind < 0.2:
        return np.ones((height, width), np.float32)
    if kind < 0.55:
        mask = _strokes(height, width, rng, rng.uniform(0.03, 0.3), (8, 48))
    else:
        mask = _blobs(height, width, rng, rng.uniform(0.05, 0.6))
    return mask.astype(np.float32)


def _wobble(lines: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Shift lines by a smooth random field of up to ``amplitude`` px (a hand's wobble)."""
    h, w = lines.shape
    coarse = rng.uniform(-amplitude, amplitude, (2, max(2, h // 32), max(2, w // 32)))
    dx = cv2.resize(coarse[0].astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(coarse[1].astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    moved = cv2.remap(
        lines.astype(np.float32), grid_x + dx, grid_y + dy, cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip
    return moved > 0.5


def drawn_lines(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo's traced lines made hand-like: 0 on lines, 1 on paper."""
    lines = trace_edges(photo, float(rng.uniform(*TRAIN_DETAIL))) < 0.5
    if rng.random() < 0.6:
        lines = _wobble(lines, rng, float(rng.uniform(0.5, 2.0)))
    if rng.random() < 0.3:  # users leave lines out: drop random patches of them
        keep = rng.random((lines.shape[0] // 16 + 1, lines.shape[1] // 16 + 1)) > 0.25
        lines &= np.kron(keep, np.ones((16, 16), bool))[: lines.shape[0], : lines.shape[1]]
    if rng.random() < 0.3:
        lines = cv2.dilate(lines.astype(np.uint8), np.ones((2, 2), np.uint8)) > 0
    return np.where(lines, 0.0, 1.0).astype(np.float32)


def colour_hints(
    photo: np.ndarray, region: np.ndarray, rng: np.random.Generator, share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Strokes of the photo's blurred colours over ``share`` of the region."""
    h, w = region.shape
    area = max(float(region.sum()), 1.0)
    strokes = np.zeros((h, w), np.uint8)
    for _ in range(200):
        if (strokes * region).sum() >= share * area:
            break
        thickness = int(rng.integers(3, 10))
        ys, xs = np.nonzero(region > 0.5)
        if len(ys) == 0:
            break
        i = int(rng.integers(len(ys)))
        point = np.array([xs[i], ys[i]], np.float64)
        angle = rng.uniform(0, 2 * math.pi)
        end = point + rng.uniform(6, 30) * np.array([math.cos(angle), math.sin(angle)])
        cv2.line(strokes, tuple(map(int, point)), tuple(map(int, end)), 1, thickness)
    hint_mask = (strokes > 0).astype(np.float32) * region
    blurred = cv2.GaussianBlur(photo, (0, 0), float(rng.uniform(2.0, 6.0)))
    return blurred * hint_mask[..., None], hint_mask


def make_case(
    photo: np.ndarray,
    rng: np.random.Generator,
    region: np.ndarray | None = None,
    hint_share: float | None = None,
    lines: np.ndarray | None = None,
) -> SketchCase:
    """A training case from a photo; pass ``region``/``hint_share``/``lines`` to fix them
    (the card's cases), else they are drawn at random (half the cases without hints)."""
    h, w = photo.shape[:2]
    region = random_region(h, w, rng) if region is None else region.astype(np.float32)
    lines = drawn_lines(photo, rng) if lines is None else lines
    edges = np.where(region > 0.5, lines, 1.0).astype(np.float32)
    if hint_share is None:
        hint_share = float(rng.uniform(*HINT_SHARE)) if rng.random() < 0.5 else 0.0
    if hint_share > 0:
        hints, hint_mask = colour_hints(photo, region, rng, hint_share)
    else:
        hints, hint_mask = np.zeros_like(photo), np.zeros((h, w), np.float32)
    return SketchCase(photo, region, edges, hints.astype(np.float32), hint_mask)


def true_lines(photo: np.ndarray) -> np.ndarray:
    """The evaluation's lines: the tracer at its default detail, no wobble."""
    return trace_edges(photo, EVAL_DETAIL)
