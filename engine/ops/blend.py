"""Putting a restoration back over the photo: damage fully, the rest by a tone map and
a share of local detail (decision 0008).

Pure numpy over float32 HxWx3 arrays in [0, 1]; the restore pipeline feeds it the
network's output and the photo (or the classical pre-pass the pack refines), and the
restore trainer uses the same functions to choose the pack's blend weights.
"""

from __future__ import annotations

import numpy as np

from engine import arrays

DAMAGE_GROW = 2  # px around the mask that always take the restored pixels


TONE_STRIDE = 4  # the tone fit reads every 4th pixel of every 4th row: plenty, and fast


def fit_tone(
    base: np.ndarray, restored: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gain and offset mapping ``base`` closest to ``restored`` (least squares
    over the ``keep`` pixels): the network's correction of tone and colour, summed up
    over the whole photo instead of decided patch by patch."""
    step = slice(None, None, TONE_STRIDE)
    chosen = np.asarray(keep, bool)[step, step]
    gain, offset = np.ones(3, np.float32), np.zeros(3, np.float32)
    if chosen.sum() < 16:
        return gain, offset
    for c in range(3):
        x = base[step, step, c][chosen].astype(np.float64)
        y = restored[step, step, c][chosen].astype(np.float64)
        spread = x.var()
        gain[c] = ((x - x.mean()) * (y - y.mean())).mean() / spread if spread > 1e-8 else 1.0
        offset[c] = y.mean() - gain[c] * x.mean()
    return gain, offset


def blend_restoration(
    base: np.ndarray,
    restored: np.ndarray,
    mask: np.ndarray,
    strength: float,
    detail: float | None = None,
) -> np.ndarray:
    """Take the restoration fully where damaged (mask grown a little) and only partly
    elsewhere, over ``base``: the photo, or the classical pre-pass for packs that refine one.

    A small model's global corrections (fading, casts) are guesses that can miss. With
    ``detail`` None, the correction outside the damage is taken with weight ``strength``.
    With ``detail`` it is split: a tone map fitted over the whole photo (:func:`fit_tone`)
    with weight ``strength``, and what the tone map leaves (local detail) with weight
    ``detail``. One tone decision for the whole photo is steadier than one per patch, and
    tiles cannot disagree about it. Both weights are tuned per pack on validation crops
    (manifest options global_strength and detail_strength); ``detail == strength`` is the
    plain blend.
    """
    grown = arrays.dilate(mask, DAMAGE_GROW)
    if detail is None or detail == strength:
        weight = np.maximum(grown, np.float32(strength)).astype(np.float32)[..., None]
        return base + weight * (restored - base)
    gain, offset = fit_tone(base, restored, ~grown)
    out = np.empty_like(base)
    for c in range(3):  # one plane at a time: a 24 MP scan has no room for more copies
        b, r = base[..., c], restored[..., c]
        # base + strength * (tone(base) - base) + detail * (restored - tone(base))
        plane = b * np.float32(1 - strength + (strength - detail) * gain[c])
        plane += np.float32(detail) * r
        plane += np.float32((strength - detail) * offset[c])
        out[..., c] = np.where(grown, r, plane)
    return np.clip(out, 0.0, 1.0, out=out)
