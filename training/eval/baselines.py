"""Classical baselines our models are measured against (OpenCV, no learning).

- scratches: morphological black-hat and top-hat (thin dark and bright structures
  that a small closing/opening removes), thresholded; the parameters are tuned on
  training images, never on the held-out split.
- restoration: that mask -> OpenCV Telea inpainting -> non-local-means denoising.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.prepass import fill_and_denoise


@dataclass(frozen=True)
class HatParams:
    kernel: int = 5  # odd size of the structuring element, px
    threshold: float = 0.08  # hat response (0..1) above which a pixel is a scratch


def hat_response(gray: np.ndarray, kernel: int) -> np.ndarray:
    """max(black-hat, top-hat) of a gray image in [0, 1]: how 'line-like' each pixel is."""
    g = (np.clip(gray, 0, 1) * 255).astype(np.uint8)
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))
    black = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, element)
    top = cv2.morphologyEx(g, cv2.MORPH_TOPHAT, element)
    return np.maximum(black, top).astype(np.float32) / 255.0


def baseline_scratch_mask(gray: np.ndarray, params: HatParams = HatParams()) -> np.ndarray:
    """Boolean HxW mask from the hat response."""
    return hat_response(gray, params.kernel) > params.threshold


def tune_hat(
    samples: list[tuple[np.ndarray, np.ndarray]],
    kernels: tuple[int, ...] = (3, 5, 7, 9, 11),
    thresholds: tuple[float, ...] = tuple(np.round(np.arange(0.02, 0.3, 0.02), 2)),
) -> tuple[HatParams, float]:
    """Grid-search kernel and threshold for the best pooled F1 on (gray, true mask) pairs."""
    from training.eval.metrics import pooled_mask_scores

    best, best_f1 = HatParams(), -1.0
    for kernel in kernels:
        responses = [(hat_response(g, kernel), m) for g, m in samples]
        for threshold in thresholds:
            f1 = pooled_mask_scores([(r > threshold, m) for r, m in responses]).f1
            if f1 > best_f1:
                best, best_f1 = HatParams(kernel, float(threshold)), f1
    return best, best_f1


def classical_restore(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Telea inpainting of ``mask`` then non-local-means denoising; HxWx3 in [0, 1].

    The same code as the engine's pre-pass (engine/ops/prepass.py), so "ours
    versus classical" compares the learned refinement with exactly its starting point.
    """
    return fill_and_denoise(image, mask)
