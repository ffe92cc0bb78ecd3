"""Fine texture for big inpainted holes, borrowed from the photo around them.

Our 64 px DDPM plans the colours of a big hole well but draws almost no fine texture:
a torn corner of gravel came back as a flat grey block (decision 0009 has the
measurements). :func:`borrow_texture` keeps the fill's smooth part and lays over it
the fine detail of known blocks nearby whose smooth colour is closest, block by block,
with overlapping windows that keep the detail's contrast (summed by the root of the
summed squared weights, as for independent noise). The colour decision stays the
model's; only grain, gravel and foliage come from the photo itself.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine import arrays

BLOCK = 24  # px per copied block; targets overlap by half a block
SIGMA = 4.0  # px: detail is what a Gaussian of this sigma smooths away
CHOICES = 8  # each block copies one of the this many closest in colour, at random
MAX_SOURCES = 4000  # known blocks considered (a random subset beyond that)
CALM = 90  # percentile: busier sources (edges, scratches, specular spots) are skipped


def _smooth(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), SIGMA)


def _block_means(plane: np.ndarray) -> np.ndarray:
    """Mean over the BLOCK x BLOCK block whose top-left corner is each pixel (per channel)."""
    return cv2.boxFilter(
        plane, -1, (BLOCK, BLOCK), anchor=(0, 0), normalize=True, borderType=cv2.BORDER_CONSTANT
    )


def _sources(
    photo_smooth: np.ndarray, detail: np.ndarray, hole: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (N x 2) of calm blocks clear of the hole, and their mean colours."""
    clear = ~arrays.dilate(hole, int(3 * SIGMA))  # the hole's content does not leak in
    whole = _block_means(clear.astype(np.float32)) > 1 - 1e-4
    whole[-BLOCK + 1 :, :] = False
    whole[:, -BLOCK + 1 :] = False
    grid = np.zeros_like(whole)
    grid[::4, ::4] = True
    corners = np.argwhere(whole & grid)
    if len(corners) == 0:
        return corners, np.zeros((0, 3), np.float32)
    if len(corners) > MAX_SOURCES:
        corners = corners[rng.choice(len(corners), MAX_SOURCES, replace=False)]
    energy = _block_means(np.square(detail).sum(axis=2))[corners[:, 0], corners[:, 1]]
    corners = corners[energy <= np.percentile(energy, CALM)]
    return corners, _block_means(photo_smooth)[corners[:, 0], corners[:, 1]]


def _starts(first: int, last: int, size: int) -> list[int]:
    """Block starts every half block from ``first`` until block covers ``last``, all
    inside ``size`` (the last one flush with the edge if need be)."""
    starts = list(range(max(0, first), min(size - BLOCK, last) + 1, BLOCK // 2))
    if not starts or starts[-1] + BLOCK < min(size, last + 1):
        starts.append(max(0, min(size - BLOCK, last)))
    return starts


def borrow_texture(
    photo: np.ndarray, filled: np.ndarray, hole: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``filled`` (HxWx3 in [0, 1]) with its fine detail inside ``hole`` (HxW bool)
    replaced by detail copied from known blocks of ``photo`` (HxWx3) of similar smooth
    colour. Returns a new array, equal to ``filled`` outside the hole, and everywhere
    when the photo has no whole known block to copy from."""
    photo_smooth = _smooth(photo)
    detail = photo - photo_smooth
    corners, means = _sources(photo_smooth, detail, hole, rng)
    if len(corners) <= CHOICES:  # too few calm blocks to choose among (argpartition)
        return filled.copy()
    fill_smooth = _smooth(filled)
    fill_means = _block_means(fill_smooth)
    window = np.hanning(BLOCK + 2)[1:-1].astype(np.float32)
    window = (window[:, None] * window[None, :])[..., None]
    texture = np.zeros_like(filled)
    weight = np.zeros(hole.shape + (1,), np.float32)
    height, width = hole.shape
    ys, xs = np.nonzero(hole)
    half = BLOCK // 2
    for y in _starts(ys.min() - half, ys.max(), height):
        for x in _starts(xs.min() - half, xs.max(), width):
            distance = np.square(means - fill_means[y, x]).sum(axis=1)
            sy, sx = corners[rng.choice(np.argpartition(distance, CHOICES)[:CHOICES])]
            texture[y : y + BLOCK, x : x + BLOCK] += (
                window * detail[sy : sy + BLOCK, sx : sx + BLOCK]
            )
            weight[y : y + BLOCK, x : x + BLOCK] += np.square(window)
    texture /= np.sqrt(np.maximum(weight, 1e-6))
    out = filled.copy()
    out[hole] = np.clip(fill_smooth + texture, 0.0, 1.0)[hole]
    return out
