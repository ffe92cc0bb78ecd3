"""Side-by-side pictures for model cards: rows of images under column titles."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def _rgb(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image, np.float32)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_grid(
    path: Path, rows: Sequence[Sequence[np.ndarray]], titles: Sequence[str], cell: int = 192
) -> Path:
    """Write a JPEG grid (one row per example, one column per title) for a card."""
    pad, head = 4, 18
    width = len(titles) * (cell + pad) + pad
    height = head + len(rows) * (cell + pad) + pad
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for col, title in enumerate(titles):
        draw.text((pad + col * (cell + pad) + 2, 3), title, fill=(0, 0, 0))
    for row, images in enumerate(rows):
        for col, image in enumerate(images):
            tile = Image.fromarray(_rgb(image)).resize((cell, cell), Image.Resampling.LANCZOS)
            canvas.paste(tile, (pad + col * (cell + pad), head + pad + row * (cell + pad)))
    canvas.save(path, quality=88)
    return path
