"""Running a fully convolutional model over an image of any size.

The image is padded once (reflect) to the model's size rule, exactly as a single
untiled run would see it, then cut into tiles whose origins and sizes are multiples
of ``multiple_of``: a network that downsamples by 2**k is only shift-equivariant for
shifts by multiples of 2**k, so this is what makes tiled output equal untiled output.
Each tile's outer ``margin`` (where the graph's own zero padding distorts the result)
gets zero weight; inside it a linear feather blends neighbours so no seam shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.cancel import NEVER, CancelToken
from engine.models import SizeRule

TileFn = Callable[[np.ndarray], np.ndarray]
"""Maps an NCHW float32 batch of one tile to an NCHW output of the same H and W, or of
H and W times a whole number (an upscaler)."""

DEFAULT_BUDGET_MB = 1024


@dataclass(frozen=True)
class TilePlan:
    padded: tuple[int, int]
    tile: tuple[int, int]
    origins: tuple[tuple[int, int], ...]

    @property
    def count(self) -> int:
        return len(self.origins)


def padded_size(height: int, width: int, rule: SizeRule) -> tuple[int, int]:
    """The smallest size >= (height, width) and >= rule.min that the rule accepts."""
    if rule.fixed:
        return rule.fixed
    m = rule.multiple_of
    low = math.ceil(rule.min / m) * m
    return max(low, math.ceil(height / m) * m), max(low, math.ceil(width / m) * m)


def tile_for_budget(budget_mb: float, bytes_per_pixel: int, rule: SizeRule) -> int:
    """Largest square tile whose activations fit in ``budget_mb`` (at least rule.min)."""
    side = int(math.sqrt(budget_mb * 1024 * 1024 / max(1, bytes_per_pixel)))
    m = rule.multiple_of
    return max(math.ceil(rule.min / m) * m, side // m * m, m)


def smallest_tile(rule: SizeRule, overlap: int) -> int:
    """The smallest tile larger than its overlap. Below it a tile is all feathered
    margin: its weights vanish (a black result) or the step between tiles collapses to
    ``multiple_of`` pixels (thousands of tiles)."""
    m = rule.multiple_of
    return max(math.ceil(rule.min / m) * m, math.ceil((overlap + m) / m) * m)


def _origins(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def plan_tiles(height: int, width: int, rule: SizeRule, tile: int, overlap: int) -> TilePlan:
    """Where tiles go for an image of this size; one tile when it fits."""
    ph, pw = padded_size(height, width, rule)
    m = rule.multiple_of
    tile = max(tile // m * m, m)
    th, tw = min(tile, ph), min(tile, pw)
    overlap = math.ceil(overlap / m) * m
    step_h = max(m, (th - overlap) // m * m)
    step_w = max(m, (tw - overlap) // m * m)
    origins = tuple((y, x) for y in _origins(ph, th, step_h) for x in _origins(pw, tw, step_w))
    return TilePlan(padded=(ph, pw), tile=(th, tw), origins=origins)


def _ramp(length: int, start_open: bool, end_open: bool, overlap: int) -> np.ndarray:
    """1-D weights: 0 over the margin, a linear rise, 1 in the middle of the tile."""
    weights = np.ones(length, dtype=np.float32)
    margin = overlap // 4
    rise = max(1, overlap - 2 * margin)
    ramp = np.clip((np.arange(length, dtype=np.float32) - margin + 1) / (rise + 1), 0, 1)
    if start_open:
        weights = np.minimum(weights, ramp)
    if end_open:
        weights = np.minimum(weights, ramp[::-1])
    return weights


def _pad(image: np.ndarray, ph: int, pw: int) -> np.ndarray:
    h, w = image.shape[:2]
    if (h, w) == (ph, pw):
        return image
    mode = "reflect" if ph - h < h and pw - w < w else "symmetric"
    if ph - h >= 2 * h or pw - w >= 2 * w:
        mode = "edge"
    return np.pad(image, ((0, ph - h), (0, pw - w), (0, 0)), mode=mode)


def _scale_of(out: np.ndarray, tile: tuple[int, int]) -> int:
    """The whole-number factor between a tile and its output (an upscaler's 2, 4, ...)."""
    factor = out.shape[2] // tile[0]
    if factor < 1 or out.shape[2:] != (tile[0] * factor, tile[1] * factor):
        raise ValueError(f"a {tile} tile gave an output of {out.shape[2:]}: not a whole multiple")
    return factor


def run_tiled(
    fn: TileFn,
    image: np.ndarray,
    rule: SizeRule,
    *,
    tile: int = 512,
    overlap: int = 32,
    cancel: CancelToken = NEVER,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Apply ``fn`` to ``image`` (HxWxC float32) tile by tile; returns sH x sW x C_out.

    ``fn`` may return each tile ``s`` times larger (an upscaler): tiles are placed and
    feathered at the output's scale, so ``s`` is read from the first tile, never declared.
    ``overlap`` should be four times the model's receptive radius (a quarter of it is
    discarded at each inner tile edge, the rest is feathered) for tiled and
    untiled results to agree; a fitting image runs once and gives the untiled result.
    Cancellation is checked between tiles; ``progress(done, total)`` after each.
    """
    height, width = image.shape[:2]
    plan = plan_tiles(height, width, rule, tile, overlap)
    padded = _pad(image, *plan.padded)
    th, tw = plan.tile
    ph, pw = plan.padded
    if plan.count == 1:
        cancel.check()
        out = fn(padded[None].transpose(0, 3, 1, 2).astype(np.float32, copy=False))
        s = _scale_of(out, (ph, pw))
        if progress:
            progress(1, 1)
        return np.ascontiguousarray(out[0].transpose(1, 2, 0)[: height * s, : width * s])

    accum: np.ndarray | None = None
    weight_sum: np.ndarray | None = None
    s = 1
    for index, (y, x) in enumerate(plan.origins):
        cancel.check()
        crop = padded[y : y + th, x : x + tw]
        out = fn(crop[None].transpose(0, 3, 1, 2).astype(np.float32, copy=False))
        if accum is None:
            s = _scale_of(out, (th, tw))
            accum = np.zeros((height * s, width * s, out.shape[1]), dtype=np.float32)
            weight_sum = np.zeros((height * s, width * s, 1), dtype=np.float32)
        out = out[0].transpose(1, 2, 0)
        wy = _ramp(th * s, y > 0, y + th < ph, overlap * s)
        wx = _ramp(tw * s, x > 0, x + tw < pw, overlap * s)
        weight = (wy[:, None] * wx[None, :])[..., None]
        y0, x0 = y * s, x * s
        y1, x1 = min(y0 + th * s, height * s), min(x0 + tw * s, width * s)
        if y0 < height * s and x0 < width * s:
            accum[y0:y1, x0:x1] += (out * weight)[: y1 - y0, : x1 - x0]
            weight_sum[y0:y1, x0:x1] += weight[: y1 - y0, : x1 - x0]
        if progress:
            progress(index + 1, plan.count)
    assert accum is not None and weight_sum is not None
    return accum / np.maximum(weight_sum, 1e-8)
