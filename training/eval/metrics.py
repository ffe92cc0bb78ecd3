"""Quality measures used by trainers, model cards and tests.

Images are float arrays in [0, 1], HxW or HxWxC; masks are boolean-like HxW arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB for signals in [0, 1] (optionally inside a mask)."""
    diff = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    if where is not None:
        diff = diff[np.asarray(where, bool)]
    mse = float(diff.mean()) if diff.size else 0.0
    return float(10 * np.log10(1.0 / max(mse, 1e-10)))


def ssim(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """SSIM over the whole image (channels averaged), data range 1; with ``where`` (HxW)
    the mean of the SSIM map inside that mask (e.g. outside the damage, to measure harm)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim == 3 and a.shape[2] == 1:
        a, b = a[..., 0], b[..., 0]
    channel_axis = 2 if a.ndim == 3 else None
    if where is None:
        return float(structural_similarity(a, b, data_range=1.0, channel_axis=channel_axis))
    _, full = structural_similarity(a, b, data_range=1.0, channel_axis=channel_axis, full=True)
    if full.ndim == 3:
        full = full.mean(axis=2)
    inside = np.asarray(where, bool)
    return float(full[inside].mean()) if inside.any() else 1.0


def ssim_in_hole(a: np.ndarray, b: np.ndarray, hole: np.ndarray) -> float:
    """Mean of the SSIM map over the hole's pixels (7 px windows, channels averaged): the
    DDPM card's measure, on float32 HxWx3 images (unlike :func:`ssim`, no float64 copy)."""
    _, full = structural_similarity(a, b, data_range=1.0, channel_axis=2, full=True)
    return float(full.mean(axis=2)[hole].mean())


@dataclass(frozen=True)
class MaskScores:
    precision: float
    recall: float
    f1: float
    iou: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


def mask_scores(predicted: np.ndarray, truth: np.ndarray) -> MaskScores:
    """Pixel precision, recall, F1 and IoU of a predicted mask against the true one."""
    p, t = np.asarray(predicted, bool), np.asarray(truth, bool)
    tp = float(np.logical_and(p, t).sum())
    fp, fn = float(p.sum()) - tp, float(t.sum()) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 1.0
    return MaskScores(precision, recall, f1, iou)


def pooled_mask_scores(pairs: list[tuple[np.ndarray, np.ndarray]]) -> MaskScores:
    """Scores over all pixels of all images (not a mean of per-image scores)."""
    predicted = np.concatenate([np.asarray(p, bool).ravel() for p, _ in pairs])
    truth = np.concatenate([np.asarray(t, bool).ravel() for _, t in pairs])
    return mask_scores(predicted, truth)


def edge_f1(predicted: np.ndarray, truth: np.ndarray, tolerance: int = 2) -> float:
    """F1 of two binary edge maps, a pixel matching if the other has one within ``tolerance``."""
    p, t = np.asarray(predicted, bool), np.asarray(truth, bool)
    if not p.any() and not t.any():
        return 1.0
    near_t = ndimage.distance_transform_edt(~t) <= tolerance if t.any() else np.zeros_like(t)
    near_p = ndimage.distance_transform_edt(~p) <= tolerance if p.any() else np.zeros_like(p)
    precision = float((p & near_t).sum()) / max(1, int(p.sum()))
    recall = float((t & near_p).sum()) / max(1, int(t.sum()))
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def gradient_energy(image: np.ndarray) -> float:
    """Mean squared gradient magnitude: sharpness, compared against the real photo."""
    gray = image.mean(axis=2) if image.ndim == 3 else image
    gy, gx = np.gradient(np.asarray(gray, np.float64))
    return float((gx**2 + gy**2).mean())
