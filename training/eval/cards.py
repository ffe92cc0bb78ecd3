"""Model cards: the Markdown text every pack carries and its side-by-side pictures.

Every trainer, converter and exporter renders its card here, so all cards have the
same required sections; measured figures belong in a card (and in
docs/bench-results.md), where they are dated by the pack's version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CARD_SECTIONS = ("Architecture", "Data", "Training", "Metrics", "Licence")


def render_card(title: str, sections: Mapping[str, str]) -> str:
    """A Markdown model card; the sections in ``CARD_SECTIONS`` are required.

    The sha256 is appended by :func:`export_pack` once the graph exists.
    """
    missing = [s for s in CARD_SECTIONS if not sections.get(s, "").strip()]
    if missing:
        raise ValueError(f"model card '{title}' lacks sections: {', '.join(missing)}")
    body = "\n\n".join(f"## {head}\n\n{text.strip()}" for head, text in sections.items())
    return f"# {title}\n\n{body}\n"


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
