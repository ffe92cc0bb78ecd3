"""Layer items that paint only what is visible, from a cache of scaled tiles.

A 6000x4000 scan is never drawn whole. Each item cuts its layer into 256-pixel tiles
per level of detail (level k samples every 2^k-th pixel, so a fitted view draws a few
small tiles instead of scaling 24 megapixels), builds a tile the first time it is
exposed, and rebuilds only the tiles an edit touched. The cache is an LRU bounded by
tile count, so zooming around a huge image does not grow memory without end.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from PIL import Image
from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

TILE = 256
CACHE_TILES = 384  # ~100 MB of 256x256 ARGB tiles at most, per item
MAX_LEVEL = 6

Render = Callable[[int, int, int, int, int], QImage]
"""(x0, y0, x1, y1, step) -> the region sampled every ``step`` pixels, as a QImage."""


class TiledLayer(QGraphicsItem):
    """One layer of the canvas (photo, mask, sketch or result)."""

    def __init__(self, width: int, height: int, render: Render) -> None:
        super().__init__()
        self._width, self._height = width, height
        self._render = render
        self._cache: OrderedDict[tuple[int, int, int], QImage] = OrderedDict()
        self.clip_left: float | None = None  # compare view: draw only right of this x
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(0, 0, self._width, self._height)

    def invalidate(self, rect: QRect | None = None) -> None:
        """Forget tiles under ``rect`` (None or a null rect: all) and repaint that area."""
        if rect is None or rect.isNull():
            self._cache.clear()
            self.update()
            return
        for key in [k for k in self._cache if self._tile_rect(*k).intersects(rect)]:
            del self._cache[key]
        self.update(QRectF(rect))

    def _tile_rect(self, level: int, tx: int, ty: int) -> QRect:
        span = TILE << level
        return QRect(tx * span, ty * span, span, span)

    def _tile(self, level: int, tx: int, ty: int) -> QImage:
        key = (level, tx, ty)
        image = self._cache.get(key)
        if image is not None:
            self._cache.move_to_end(key)
            return image
        span = TILE << level
        x0, y0 = tx * span, ty * span
        image = self._render(
            x0, y0, min(self._width, x0 + span), min(self._height, y0 + span), 1 << level
        )
        self._cache[key] = image
        while len(self._cache) > CACHE_TILES:
            self._cache.popitem(last=False)
        return image

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        scale = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        level = 0 if scale >= 1 else min(MAX_LEVEL, int(math.floor(math.log2(1.0 / scale))))
        span = TILE << level
        area = option.exposedRect.intersected(self.boundingRect())
        if self.clip_left is not None:
            area.setLeft(max(area.left(), self.clip_left))
            painter.setClipRect(area)
        if area.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1)
        for ty in range(int(area.top()) // span, int(math.ceil(area.bottom())) // span + 1):
            for tx in range(int(area.left()) // span, int(math.ceil(area.right())) // span + 1):
                x0, y0 = tx * span, ty * span
                if x0 >= self._width or y0 >= self._height:
                    continue
                w, h = min(span, self._width - x0), min(span, self._height - y0)
                painter.drawImage(QRectF(x0, y0, w, h), self._tile(level, tx, ty))


# --- renderers: numpy regions -> QImage tiles --------------------------------------


def _argb(premultiplied_bgra: np.ndarray) -> QImage:
    data = np.ascontiguousarray(premultiplied_bgra)
    height, width = data.shape[:2]
    return QImage(
        data.data, width, height, data.strides[0], QImage.Format.Format_ARGB32_Premultiplied
    ).copy()


def photo_render(source: Callable[[], np.ndarray | None]) -> Render:
    """Tiles of an RGB8 image, box-filtered when zoomed out (photos must not alias)."""

    def render(x0: int, y0: int, x1: int, y1: int, step: int) -> QImage:
        rgb = source()
        if rgb is None:
            return QImage()
        region = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        if step > 1:
            region = np.asarray(Image.fromarray(region).reduce(step))
        region = np.ascontiguousarray(region)
        height, width = region.shape[:2]
        return QImage(
            region.data, width, height, region.strides[0], QImage.Format.Format_RGB888
        ).copy()

    return render


def mask_render(
    source: Callable[[], np.ndarray],
    colour: tuple[int, int, int],
    outline: Callable[[], bool] = lambda: False,
) -> Render:
    """A 0..255 mask as a coloured overlay (sampled: a mask has hard edges anyway); while
    ``outline()`` is true only its border is drawn, so what happens inside shows."""
    weights = np.array([colour[2], colour[1], colour[0], 255], np.uint16)

    def render(x0: int, y0: int, x1: int, y1: int, step: int) -> QImage:
        alpha = source()[y0:y1:step, x0:x1:step]
        if outline():
            alpha = border(alpha)
        return _argb((alpha.astype(np.uint16)[..., None] * weights // 255).astype(np.uint8))

    return render


def border(mask: np.ndarray, width: int = 2) -> np.ndarray:
    """The mask's pixels (>= 128) that lie within ``width`` pixels of an unmasked one, as
    0/255; a tile's own edge is not a border (its pixels are repeated outwards)."""
    inside = mask >= 128
    padded = np.pad(inside, width, mode="edge")
    eroded = inside.copy()
    height, w = inside.shape
    for dy in range(-width, width + 1):
        for dx in range(-width, width + 1):
            eroded &= padded[width + dy : width + dy + height, width + dx : width + dx + w]
    return np.where(inside & ~eroded, 255, 0).astype(np.uint8)


OUTSIDE_LINES = 0.3  # opacity of lines outside the region they are used in


def sketch_render(
    source: Callable[[], np.ndarray],
    paper: Callable[[], float],
    region: Callable[[], np.ndarray | None] = lambda: None,
) -> Render:
    """Black lines on paper of opacity ``paper()``: translucent, so the photo shows faintly
    beneath the sketch, or 0 for lines alone over a generated photo. When ``region()``
    gives a mask plane, lines outside it (< 128) are drawn faint: they are not used."""

    def render(x0: int, y0: int, x1: int, y1: int, step: int) -> QImage:
        value = source()[y0:y1:step, x0:x1:step].astype(np.float32) / 255.0
        opacity = paper()
        alpha = (1.0 - value) + value * opacity  # ink is opaque, paper as asked
        white = value * opacity  # premultiplied white of the paper
        inside = region()
        if inside is not None:
            keep = np.where(inside[y0:y1:step, x0:x1:step] >= 128, 1.0, OUTSIDE_LINES)
            alpha, white = alpha * keep, white * keep
        out = np.empty(value.shape + (4,), np.uint8)
        out[..., :3] = (white * 255.0 + 0.5).astype(np.uint8)[..., None]
        out[..., 3] = (alpha * 255.0 + 0.5).astype(np.uint8)
        return _argb(out)

    return render


def paint_render(source: Callable[[], np.ndarray | None]) -> Render:
    """RGBA colour strokes, drawn with their own opacity over the photo."""

    def render(x0: int, y0: int, x1: int, y1: int, step: int) -> QImage:
        rgba = source()
        if rgba is None:
            return QImage()
        region = rgba[y0:y1:step, x0:x1:step].astype(np.uint16)
        alpha = region[..., 3:]
        out = np.empty(region.shape, np.uint8)
        out[..., :3] = (region[..., 2::-1] * alpha // 255).astype(np.uint8)  # BGR, premultiplied
        out[..., 3] = alpha[..., 0]
        return _argb(out)

    return render
