"""Where the windows go: a photo larger than the model's fixed size is worked on in
model-size windows, each allowed to change only its *core* (the window less
``context`` px on each side, except where the window touches the photo's edge).

Two layouts: :func:`plan_windows` tiles the region with cores in up to four waves (a
2x2 colouring of the core grid, so a window sees its neighbours' finished cores; SDEdit
uses it), and :func:`cover_windows` covers the holes with as few, possibly
overlapping, windows as it can (inpainting blends them as they denoise).
:func:`fill_budget` thins a fill that would need too many network images per step;
:func:`deep_holes` finds the holes too deep for any window to see across.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from engine.pipelines.diffusion.options import DiffusionError, InpaintOptions

DEEP = 4  # a hole pixel farther than model side / DEEP from known pixels is "deep"
COVER_STRIDE = 4  # px at most between the window positions the cover chooses from
THIN_DRAWS = 2  # draws of a photo over its step budget: one antithetic pair (decision 0012)
THIN_CONTEXT = 0  # px of default context for such a photo: cores are whole windows, fewer


@dataclass(frozen=True)
class Window:
    """A model-size window at (``y``, ``x``) that may change only its ``core``."""

    y: int
    x: int
    core: tuple[slice, slice]


def cores(length: int, size: int, context: int) -> list[tuple[int, int, int]]:
    """(core start, core end, window start) along one axis of ``length`` >= ``size``.

    Cores tile the axis; a core is at most ``size - 2 * context`` long with
    ``context`` pixels of its window on each side, except at the photo's edges, where
    the window cannot extend and its core grows to the edge instead.
    """
    if length <= size:
        return [(0, length, 0)]
    step = size - 2 * context
    spans, start = [], 0
    end = size - context
    while length - start > size - context:
        spans.append((start, end))
        start, end = end, end + step
    spans.append((start, length))
    return [(a, b, min(max(a - context, 0), length - size)) for a, b in spans]


def plan_windows(region: np.ndarray, size: tuple[int, int], context: int) -> list[list[Window]]:
    """The windows whose cores hold region pixels, grouped in up to four waves."""
    height, width = region.shape
    rows, cols = cores(height, size[0], context), cores(width, size[1], context)
    waves: list[list[Window]] = [[], [], [], []]
    for r, (y0, y1, wy) in enumerate(rows):
        for c, (x0, x1, wx) in enumerate(cols):
            if region[y0:y1, x0:x1].any():
                core = (slice(y0, y1), slice(x0, x1))
                waves[2 * (r % 2) + c % 2].append(Window(wy, wx, core))
    return [wave for wave in waves if wave]


def batches(windows: list[Window], size: int) -> Iterator[list[Window]]:
    for i in range(0, len(windows), size):
        yield windows[i : i + size]


def window_context(context: int | None, size: tuple[int, int], share: int = 5) -> int:
    """``context`` checked, or by default ``1 / share`` of the model's side."""
    side = min(size)
    value = side // share if context is None else context
    if not 0 <= value < side // 2:
        raise DiffusionError(f"context must be between 0 and {side // 2 - 1} px, not {value}")
    return value


def paste(target: np.ndarray, crop: np.ndarray, window: Window, todo: np.ndarray) -> None:
    """Write ``crop``'s pixels into ``target`` (CHW) inside the window's core, where todo."""
    ys, xs = window.core
    inner = crop[
        :, ys.start - window.y : ys.stop - window.y, xs.start - window.x : xs.stop - window.x
    ]
    target[:, ys, xs] = np.where(todo[ys, xs], inner, target[:, ys, xs])


def cover_windows(region: np.ndarray, size: tuple[int, int], context: int) -> list[Window]:
    """Few model-size windows whose cores cover every ``region`` pixel (greedy set cover).

    A window's core is the window less ``context`` px on each side, except on a side
    that touches the photo's edge. Positions are every tenth of a core (at most
    ``COVER_STRIDE`` px) plus flush
    with the far edges; the window whose core holds the most still-uncovered pixels is
    taken until none is left. Windows may overlap; each holds some of the region.
    """
    height, width = region.shape
    mh, mw = size
    stride = max(1, min(COVER_STRIDE, (min(size) - 2 * context) // 10))

    def positions(length: int, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        starts = np.array(sorted({*range(0, length - side + 1, stride), length - side}))
        lo = starts + np.where(starts > 0, context, 0)
        hi = starts + side - np.where(starts < length - side, context, 0)
        return starts, lo, hi

    ys, y0, y1 = positions(height, mh)
    xs, x0, x1 = positions(width, mw)
    todo = np.asarray(region, bool).copy()
    table = np.zeros((height + 1, width + 1), np.int64)
    table[1:, 1:] = todo.cumsum(0).cumsum(1)
    counts = table[np.ix_(y1, x1)] - table[np.ix_(y0, x1)] - table[np.ix_(y1, x0)]
    counts += table[np.ix_(y0, x0)]  # uncovered pixels in each candidate's core
    windows: list[Window] = []
    while counts.max() > 0:
        r, c = np.unravel_index(int(np.argmax(counts)), counts.shape)
        top, bottom, left, right = int(y0[r]), int(y1[r]), int(x0[c]), int(x1[c])
        windows.append(Window(int(ys[r]), int(xs[c]), (slice(top, bottom), slice(left, right))))
        # the candidates whose cores overlap this one lose the pixels it covers now
        local = np.zeros((bottom - top + 1, right - left + 1), np.int64)
        local[1:, 1:] = todo[top:bottom, left:right].cumsum(0).cumsum(1)
        rows = np.nonzero((y0 < bottom) & (y1 > top))[0]
        cols = np.nonzero((x0 < right) & (x1 > left))[0]
        ya, yb = np.clip(y0[rows], top, bottom) - top, np.clip(y1[rows], top, bottom) - top
        xa, xb = np.clip(x0[cols], left, right) - left, np.clip(x1[cols], left, right) - left
        lost = local[np.ix_(yb, xb)] - local[np.ix_(ya, xb)] - local[np.ix_(yb, xa)]
        counts[np.ix_(rows, cols)] -= lost + local[np.ix_(ya, xa)]
        todo[top:bottom, left:right] = False
    # a window picked early may have been made redundant by later ones: drop it
    depth = np.zeros(region.shape, np.int32)
    for window in windows:
        depth[window.core] += 1
    kept = []
    for window in reversed(windows):
        if (depth[window.core][region[window.core]] > 1).all():
            depth[window.core] -= 1
        else:
            kept.append(window)
    return kept[::-1]


def fill_budget(
    region: np.ndarray, size: tuple[int, int], options: InpaintOptions, context: int
) -> tuple[list[Window], int, int]:
    """The windows, draws and context of a fill: the options' own, unless the photo's
    windows x draws exceed ``options.step_images`` network images per model step (a
    large photo with many holes). Then the draws fall to one antithetic pair
    (``THIN_DRAWS``) and a default context to ``THIN_CONTEXT``, and the holes are
    covered again: on validation holes a pair scored about as well as 4 paired draws
    and better than 4 independent ones, and less context as well as the default
    (decision 0012 has the figures). A photo of few windows keeps the defaults."""
    windows = cover_windows(region, size, context)
    budget, draws = options.step_images, options.draws
    if budget is None or len(windows) * draws <= budget:
        return windows, draws, context
    draws = min(draws, THIN_DRAWS)
    if options.context is None and context > THIN_CONTEXT:
        context = THIN_CONTEXT
        windows = cover_windows(region, size, context)
    return windows, draws, context


def window_weight(window: Window, size: tuple[int, int], context: int) -> np.ndarray:
    """Blending weight over a window: 1 in its core, falling linearly towards the window's
    inner borders (where it sees least), so overlapping windows defer to the one that
    has the pixel well inside."""
    (ys, xs), (mh, mw) = window.core, size

    def ramp(side: int, lo: int, hi: int) -> np.ndarray:
        i = np.arange(side, dtype=np.float32)
        below = np.clip((i + 1) / (lo + 1), 0, 1) if lo > 0 else np.ones(side, np.float32)
        above = np.clip((side - i) / (side - hi + 1), 0, 1) if hi < side else 1.0
        return np.minimum(below, above) if context > 0 else np.ones(side, np.float32)

    ry = ramp(mh, ys.start - window.y, ys.stop - window.y)
    rx = ramp(mw, xs.start - window.x, xs.stop - window.x)
    return (ry[:, None] * rx[None, :]).astype(np.float32)


def context_of(window: Window, size: tuple[int, int]) -> int:
    """The context the window was planned with: its core's inset from an inner side."""
    (ys, xs), (mh, mw) = window.core, size
    insets = [ys.start - window.y, window.y + mh - ys.stop, xs.start - window.x]
    insets.append(window.x + mw - xs.stop)
    return max(insets)


def deep_holes(region: np.ndarray, size: tuple[int, int]) -> list[tuple[slice, slice]]:
    """Boxes around the holes whose middle lies deeper than ``min(size) // DEEP`` px from
    any known pixel (windows there would see only hole and invent unrelated texture):
    each such connected hole's bounding box with as much context again around it.
    Overlapping boxes are merged. Thin holes (brush strokes) give none."""
    depth = cv2.distanceTransform(
        np.pad(region, 1, constant_values=True).astype(np.uint8), cv2.DIST_L2, 5
    )[1:-1, 1:-1]
    deep = depth > min(size) // DEEP
    if not deep.any():
        return []
    count, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    height, width = region.shape
    boxes = []
    for label in np.unique(labels[deep]):
        ys, xs = np.nonzero(labels == label)
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        my, mx = (y1 - y0) // 2 + 4, (x1 - x0) // 2 + 4
        boxes.append([max(0, y0 - my), min(height, y1 + my), max(0, x0 - mx), min(width, x1 + mx)])
    merged = True
    while merged:  # boxes that overlap become one
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                    boxes[i] = [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return [(slice(a, b), slice(c, d)) for a, b, c, d in boxes]
