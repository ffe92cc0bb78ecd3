"""Classical line drawings from photos, in the form pix2pix edge maps take: 1-px black on white.

pix2pix's edges2* datasets were made with HED (a learned edge detector) followed by
post-processing: non-maximum suppression, a threshold, thinning and removal of small
pieces. We have no learned detector, so the magnitude comes from a multi-scale colour
gradient instead, and the post-processing follows the same steps:

1. Gradients (Gaussian-smoothed Sobel) of luma and two opponent-colour channels at three
   scales of a small pyramid, combined as a colour structure tensor (Di Zenzo): hue
   boundaries count, and an edge that persists across scales outweighs fine texture.
2. Non-maximum suppression across the edge, then hysteresis with thresholds that adapt
   to the photo's own contrast (so faded prints still give lines).
3. Thinning to 1 px (Zhang-Suen, then removal of the staircase corners it leaves).
4. Removal of pieces shorter than :func:`min_piece_length`.

``detail`` (0..1) moves the thresholds and the piece length together: more detail, more
lines. Everything here is numpy and Pillow (resampling), so the engine stays light; a
1024x768 photo takes a few hundred milliseconds.
"""

from __future__ import annotations

import math

import numpy as np

from engine.arrays import LUMA, resize_plane

LEVELS = 3  # pyramid levels: smoothing scales sigma 1, 2, 4 px of the photo
SIGMA = 1.0
CHROMA_WEIGHT = 0.5  # opponent-colour gradients count half as much as luma ones

# detail 0 -> 1: share of NMS candidates that seed lines, and the contrast floor below
# which nothing is a line (in units of the combined gradient of a unit step, ~0.6).
SEED_SHARE = (0.06, 0.45)
FLOOR = (0.08, 0.012)
LOW_RATIO = 0.45  # hysteresis: a line continues down to this fraction of the seed threshold
PIECE = (30.0, 3.0)  # shortest piece kept at 512 px, detail 0 -> 1 (scaled by sqrt(size/512))


def trace_edges(image: np.ndarray, detail: float = 0.5) -> np.ndarray:
    """A line drawing of ``image``: HxW float32, 0.0 on 1-px lines, 1.0 elsewhere.

    ``image`` is HxW or HxWxC (C = 1, 3 or 4; alpha is ignored) float in [0, 1].
    ``detail`` in [0, 1]: 0 keeps only the strongest, longest contours, 1 nearly every
    boundary. The result is deterministic and never has a 2x2 block of line pixels.
    """
    if not 0.0 <= detail <= 1.0:
        raise ValueError(f"detail must be in [0, 1], not {detail}")
    channels = _channels(np.asarray(image, dtype=np.float32))
    height, width = channels[0].shape
    jxx, jxy, jyy = _structure_tensor(channels)
    root = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2)
    magnitude = np.sqrt(np.maximum(0.5 * (jxx + jyy + root), 0.0))
    angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # direction of steepest change
    candidates = _non_maximum(magnitude, angle)
    strong, weak = _thresholds(magnitude[candidates], detail)
    lines = _hysteresis(candidates & (magnitude >= weak), magnitude >= strong)
    lines = thin_lines(lines)
    lines = remove_small_pieces(lines, min_piece_length((height, width), detail))
    return np.where(lines, 0.0, 1.0).astype(np.float32)


def min_piece_length(shape: tuple[int, int], detail: float) -> int:
    """Pixels a line needs to survive in an image of ``shape`` at ``detail``.

    Scales with the square root of the image's size, so a crop and the whole photo
    lose comparable clutter.
    """
    base = PIECE[0] + (PIECE[1] - PIECE[0]) * detail
    return max(2, round(base * math.sqrt(max(shape) / 512)))


# --- gradients ------------------------------------------------------------------


def _channels(image: np.ndarray) -> list[np.ndarray]:
    """Luma and, for colour photos, two weighted opponent-colour planes."""
    if image.ndim == 2:
        return [image]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must be HxW or HxWx(1|3|4), not {image.shape}")
    if image.shape[2] == 1:
        return [image[..., 0]]
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    wr, wg, wb = LUMA
    luma = wr * r + wg * g + wb * b
    return [luma, CHROMA_WEIGHT * (r - g), CHROMA_WEIGHT * (0.5 * (r + g) - b)]


def _gaussian(plane: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, int(math.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    taps /= taps.sum()
    padded = np.pad(plane, radius, mode="reflect" if min(plane.shape) > radius else "edge")
    h, w = plane.shape
    rows = sum(t * padded[i : i + h, :] for i, t in enumerate(taps))
    return sum(t * rows[:, i : i + w] for i, t in enumerate(taps))


def _sobel(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Derivatives along x and y (per pixel, i.e. Sobel / 8), borders replicated."""
    p = np.pad(plane, 1, mode="edge")
    smooth_y = p[:-2, :] + 2 * p[1:-1, :] + p[2:, :]
    smooth_x = p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]
    gx = (smooth_y[:, 2:] - smooth_y[:, :-2]) / 8
    gy = (smooth_x[2:, :] - smooth_x[:-2, :]) / 8
    return gx, gy


def _structure_tensor(channels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum over channels and pyramid levels of [gx^2, gx*gy, gy^2], at full resolution.

    Each level halves the previous one and smooths it by the same ``SIGMA`` in its own
    pixels, so a step edge answers equally at every level (scale-normalised) while
    texture finer than the level's scale fades: persistent contours add up.
    """
    full = channels[0].shape
    total = [np.zeros(full, np.float32) for _ in range(3)]
    planes = channels
    for level in range(LEVELS):
        jxx = jxy = jyy = np.zeros(planes[0].shape, np.float32)
        for plane in planes:
            gx, gy = _sobel(_gaussian(plane, SIGMA))
            jxx, jxy, jyy = jxx + gx * gx, jxy + gx * gy, jyy + gy * gy
        for acc, part in zip(total, (jxx, jxy, jyy), strict=True):
            acc += part if level == 0 else resize_plane(part, full[1], full[0])
        h, w = planes[0].shape
        if min(h, w) < 8 or level == LEVELS - 1:
            break
        half = (max(1, h // 2), max(1, w // 2))
        planes = [resize_plane(p, half[1], half[0]) for p in planes]
    return total[0], total[1], total[2]


def _non_maximum(magnitude: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Pixels that are the strongest across the edge (strictly on one side: 1 px wide)."""
    sector = np.round(angle / (np.pi / 4)).astype(np.int64) % 4  # 0: x, 1: diag, 2: y, 3: anti
    p = np.pad(magnitude, 1, mode="constant")
    h, w = magnitude.shape
    keep = np.zeros(magnitude.shape, bool)
    for index, (dy, dx) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        ahead = p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        behind = p[1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]
        keep |= (sector == index) & (magnitude > ahead) & (magnitude >= behind)
    return keep & (magnitude > 0)


def _thresholds(values: np.ndarray, detail: float) -> tuple[float, float]:
    """Seed and continuation thresholds from the photo's own candidate magnitudes."""
    floor = FLOOR[0] + (FLOOR[1] - FLOOR[0]) * detail
    share = SEED_SHARE[0] + (SEED_SHARE[1] - SEED_SHARE[0]) * detail
    relative = float(np.quantile(values, 1.0 - share)) if values.size else floor
    strong = max(floor, relative)
    return strong, strong * LOW_RATIO


def _hysteresis(weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """Weak pixels 8-connected to at least one strong pixel."""
    roots, flat = label_pieces(weak)
    if flat.size == 0:
        return weak
    seeded = np.bincount(roots, weights=strong.ravel()[flat], minlength=flat.size) > 0
    keep = np.zeros(weak.size, bool)
    keep[flat[seeded[roots]]] = True
    return keep.reshape(weak.shape)


# --- connected pieces -----------------------------------------------------------


def label_pieces(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of ``mask``, for sparse masks such as line drawings.

    Returns ``(roots, flat)``: ``flat`` are the raster indices of the mask's pixels and
    ``roots[i]`` the index (into ``flat``) of the first pixel of pixel i's component.
    Union-find with hooking of roots onto smaller roots and pointer jumping, all
    vectorised, so it takes a few dozen whole-array passes rather than a Python loop
    per pixel.
    """
    h, w = mask.shape
    flat = np.flatnonzero(mask)
    index = np.full(h * w, -1, np.int64)
    index[flat] = np.arange(flat.size)
    grid = index.reshape(h, w)
    pairs = []
    for a, b in (
        (grid[:, :-1], grid[:, 1:]),
        (grid[:-1, :], grid[1:, :]),
        (grid[:-1, :-1], grid[1:, 1:]),
        (grid[:-1, 1:], grid[1:, :-1]),
    ):
        both = (a >= 0) & (b >= 0)
        pairs.append((a[both], b[both]))
    left = np.concatenate([p[0] for p in pairs])
    right = np.concatenate([p[1] for p in pairs])
    parent = np.arange(flat.size)
    while True:
        pa, pb = parent[left], parent[right]
        differ = pa != pb
        if not differ.any():
            break
        low, high = np.minimum(pa[differ], pb[differ]), np.maximum(pa[differ], pb[differ])
        np.minimum.at(parent, high, low)  # every root ends up pointing at a smaller one
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return parent, flat


def remove_small_pieces(lines: np.ndarray, min_length: int) -> np.ndarray:
    """``lines`` without 8-connected pieces of fewer than ``min_length`` pixels."""
    roots, flat = label_pieces(lines)
    if flat.size == 0:
        return lines.copy()
    sizes = np.bincount(roots, minlength=flat.size)
    keep = np.zeros(lines.size, bool)
    keep[flat[sizes[roots] >= min_length]] = True
    return keep.reshape(lines.shape)


# --- thinning -------------------------------------------------------------------

# Neighbour bits, clockwise from north: P2 (N) = bit 0, P3 (NE) = 1, ... P9 (NW) = 7.
_OFFSETS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _neighbour_codes(mask: np.ndarray) -> np.ndarray:
    p = np.pad(mask.astype(np.uint8), 1)
    h, w = mask.shape
    code = np.zeros((h, w), np.uint8)
    for bit, (dy, dx) in enumerate(_OFFSETS):
        code |= p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] << bit
    return code


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables over the 256 neighbourhoods: Zhang-Suen's two sub-iterations, and
    'simple corner' (removable without changing 8-connectivity, not a line end, and
    the corner of an L of 4-neighbours, i.e. a staircase step or part of a 2x2 block)."""
    first, second, corner = (np.zeros(256, bool) for _ in range(3))
    for code in range(256):
        n = [(code >> bit) & 1 for bit in range(8)]  # P2..P9
        count = sum(n)
        transitions = sum(n[i] == 0 and n[(i + 1) % 8] == 1 for i in range(8))
        p2, _, p4, _, p6, _, p8, _ = n
        if 2 <= count <= 6 and transitions == 1:
            first[code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
            second[code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
        # Yokoi's 8-connectivity number: 1 means deleting the pixel keeps topology.
        ring = [n[2], n[1], n[0], n[7], n[6], n[5], n[4], n[3]]  # E, NE, N, NW, W, SW, S, SE
        inv = [1 - v for v in ring]
        yokoi = sum(inv[k] - inv[k] * inv[(k + 1) % 8] * inv[(k + 2) % 8] for k in (0, 2, 4, 6))
        l_shape = (p2 and p4) or (p4 and p6) or (p6 and p8) or (p8 and p2)
        corner[code] = yokoi == 1 and count >= 2 and bool(l_shape)
    return first, second, corner


_FIRST, _SECOND, _CORNER = _tables()


def thin_lines(mask: np.ndarray) -> np.ndarray:
    """Skeleton of a boolean line mask: 1 px wide, same 8-connected pieces, ends kept.

    Zhang-Suen's parallel thinning, then the staircase corners it leaves are removed in
    four passes over the pixel-parity classes (pixels of one class are never
    neighbours, so deleting them together cannot cut a line). A 2x2 block whose every
    pixel holds a separate branch (four lines meeting diagonally) cannot lose a pixel
    without cutting one; it loses its bottom-right pixel anyway, so the result never
    holds a 2x2 block.
    """
    skeleton = np.asarray(mask, bool).copy()
    changed = True
    while changed:
        changed = False
        for table in (_FIRST, _SECOND):
            delete = skeleton & table[_neighbour_codes(skeleton)]
            if delete.any():
                skeleton &= ~delete
                changed = True
    ys, xs = np.indices(skeleton.shape)
    classes = [(ys % 2 == a) & (xs % 2 == b) for a in (0, 1) for b in (0, 1)]
    changed = True
    while changed:
        changed = False
        for members in classes:
            delete = skeleton & members & _CORNER[_neighbour_codes(skeleton)]
            if delete.any():
                skeleton &= ~delete
                changed = True
    blocks = skeleton[:-1, :-1] & skeleton[1:, :-1] & skeleton[:-1, 1:] & skeleton[1:, 1:]
    skeleton[1:, 1:] &= ~blocks
    return skeleton
