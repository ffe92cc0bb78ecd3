"""Array plumbing every pipeline needs: value ranges, resizing, masks, overlays.

All in numpy and Pillow (the engine's only image dependencies). Images are float32
HxWxC in [0, 1]; planes are HxW.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.models import TensorSpec


def to_model_range(image: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Map [0, 1] to the value range a graph input wants (e.g. [-1, 1])."""
    low, high = spec.value_range or (0.0, 1.0)
    return (image * (high - low) + low).astype(np.float32, copy=False)


def from_model_range(output: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Map a graph output from its declared range back to [0, 1] (clipped)."""
    low, high = spec.value_range or (0.0, 1.0)
    return np.clip((output - low) / (high - low), 0.0, 1.0).astype(np.float32, copy=False)


def resize_plane(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize one float plane; area-like when shrinking (no aliasing), bilinear when growing."""
    if plane.shape[1] == width and plane.shape[0] == height:
        return plane.astype(np.float32, copy=False)
    image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F")
    shrinking = width < plane.shape[1] or height < plane.shape[0]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return np.asarray(image.resize((width, height), method), dtype=np.float32)


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an HxWxC float image channel by channel (keeps 16-bit precision)."""
    planes = [resize_plane(image[..., c], width, height) for c in range(image.shape[2])]
    return np.stack(planes, axis=2)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grow a boolean mask by ``radius`` pixels (square neighbourhood)."""
    out = np.asarray(mask, bool)
    for _ in range(max(0, radius)):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        out = grown
    return out


LUMA = (0.299, 0.587, 0.114)  # Rec. 601 weights of R, G, B: the one copy of them


def luma(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma as HxW (gray images pass through)."""
    if image.shape[2] == 1:
        return image[..., 0]
    return (image @ np.array(LUMA, np.float32)).astype(np.float32)


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """HxWxC with ``channels`` channels: RGB -> luma for 1, gray replicated for 3."""
    if image.shape[2] == channels:
        return image
    if channels == 1:
        return luma(image)[..., None]
    return np.repeat(image[..., :1], channels, axis=2)


def rgb(image: np.ndarray) -> np.ndarray:
    """HxWx3: gray replicated, RGB as is."""
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def overlay(image: np.ndarray, mask: np.ndarray, colour=(1.0, 0.15, 0.1), alpha=0.6) -> np.ndarray:
    """The photo with ``mask`` painted over it: how damage is shown to the user."""
    out = rgb(image).copy()
    m = np.asarray(mask, bool)
    out[m] = out[m] * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    return out


def outline_boxes(image: np.ndarray, boxes, colour=(0.2, 0.9, 0.3), width: int = 3) -> np.ndarray:
    """Draw rectangles (x0, y0, x1, y1) on an RGB copy: faces found, shown in previews."""
    out = rgb(image).copy()
    h, w = out.shape[:2]
    c = np.asarray(colour, np.float32)
    for x0, y0, x1, y1 in boxes:
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(w, int(x1)), min(h, int(y1))
        out[y0 : min(y1, y0 + width), x0:x1] = c
        out[max(y0, y1 - width) : y1, x0:x1] = c
        out[y0:y1, x0 : min(x1, x0 + width)] = c
        out[y0:y1, max(x0, x1 - width) : x1] = c
    return out
