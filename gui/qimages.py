"""Conversions between engine arrays (float32 HxWxC in [0, 1]) and Qt images.

Each QImage made here owns its pixels (``.copy()`` of a view over a numpy buffer), so
it may cross threads and outlive the array. Building them is plain CPU work and safe
off the GUI thread; only QPixmap must be made on it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """HxW, HxWx1 or HxWx3 float in [0, 1] -> contiguous HxWx3 uint8 (gray is replicated)."""
    data = np.asarray(pixels)
    if data.ndim == 2:
        data = data[..., None]
    if data.dtype != np.uint8:
        data = (np.clip(data, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if data.shape[2] == 1:
        data = np.repeat(data, 3, axis=2)
    return np.ascontiguousarray(data[..., :3])


def rgb8_to_qimage(rgb: np.ndarray) -> QImage:
    """HxWx3 uint8 -> an RGB888 QImage that owns a copy of the pixels."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888).copy()


def to_qimage(pixels: np.ndarray) -> QImage:
    """An engine image (float [0, 1], any of 1 or 3 channels) as a self-owned QImage."""
    return rgb8_to_qimage(to_rgb8(pixels))


def gray8_to_qimage(gray: np.ndarray) -> QImage:
    """HxW uint8 -> a Grayscale8 QImage owning its pixels (masks, edge layers)."""
    gray = np.ascontiguousarray(gray)
    height, width = gray.shape
    return QImage(gray.data, width, height, gray.strides[0], QImage.Format.Format_Grayscale8).copy()


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage (any format) -> float32 HxWx3 in [0, 1] (paste, drag-and-drop of images)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = rgb.width(), rgb.height()
    buffer = np.frombuffer(rgb.constBits(), np.uint8, count=rgb.sizeInBytes())
    rows = buffer.reshape(height, rgb.bytesPerLine())[:, : width * 3]
    return rows.reshape(height, width, 3).astype(np.float32) / 255.0


def resize_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """An HxWxC float image resampled (bicubic, per channel) to the document's size."""
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c], np.float32), "F").resize(
                (width, height), Image.Resampling.BICUBIC
            )
        )
        for c in range(image.shape[2])
    ]
    return np.clip(np.stack(planes, axis=2), 0.0, 1.0)
