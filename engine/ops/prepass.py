"""The classical pre-pass a restore pack may ask for: fill the damage, then denoise.

OpenCV's Telea inpainting fills the masked damage from its border and its
non-local-means filter removes grain and scanner noise while keeping edges; that pair
is the classical restoration we measure ourselves against. Our bundled restorer takes
its output as a third input and learns only what it misses (fading, casts, blur,
JPEG, badly filled holes), so it starts from the classical result instead of having
to learn non-local denoising on two CPU cores. The functions work on any tile: both
filters are local (Telea radius 3, search window 21 px), so tiles overlapping by a
few dozen pixels join without seams.
"""

from __future__ import annotations

import cv2
import numpy as np

INPAINT_RADIUS = 3
DENOISE = 7.0  # NLM filter strength for luminance and colour, on the 0..255 scale
TEMPLATE, SEARCH = 7, 21


def telea_fill(pixels: np.ndarray, region: np.ndarray) -> np.ndarray:
    """OpenCV Telea (radius 3) of ``region`` (HxW bool) in ``pixels`` (HxWx3 in [0, 1];
    filled on 8 bits, as OpenCV fills colour); pixels outside the region are kept as
    they are. The classical start of a diffusion fill and of drawing into a photo."""
    rgb = np.ascontiguousarray((np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    holes = np.ascontiguousarray(np.asarray(region, bool).astype(np.uint8))
    filled = cv2.inpaint(rgb, holes, INPAINT_RADIUS, cv2.INPAINT_TELEA).astype(np.float32) / 255.0
    return np.where(holes[..., None] > 0, filled, pixels).astype(np.float32)


def fill_and_denoise(image: np.ndarray, mask: np.ndarray, denoise: float = DENOISE) -> np.ndarray:
    """Telea inpainting of ``mask`` then colour non-local means; HxWx3 in [0, 1] -> same."""
    rgb = np.ascontiguousarray((np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    holes = np.ascontiguousarray(np.asarray(mask, bool).astype(np.uint8) * 255)
    filled = cv2.inpaint(rgb, holes, INPAINT_RADIUS, cv2.INPAINT_TELEA) if holes.any() else rgb
    clean = cv2.fastNlMeansDenoisingColored(filled, None, denoise, denoise, TEMPLATE, SEARCH)
    return clean.astype(np.float32) / 255.0


def prepass_batch(images: np.ndarray, masks: np.ndarray, denoise: float = DENOISE) -> np.ndarray:
    """The pre-pass over a batch of tiles: images Nx3xHxW, masks Nx1xHxW -> Nx3xHxW."""
    out = [
        fill_and_denoise(image.transpose(1, 2, 0), mask[0] > 0.5, denoise).transpose(2, 0, 1)
        for image, mask in zip(images, masks, strict=True)
    ]
    return np.stack(out).astype(np.float32)
