"""What the user is working on: the photo and the layers painted or computed over it.

Layers are numpy arrays at the photo's size, the same shapes the engine takes:
``mask`` (uint8, 255 = damaged / to fill), ``sketch`` (uint8, 0 = line on 255 =
paper, as pix2pix was trained), ``paint`` (uint8 RGBA colour strokes for Diffuse's
edit mode, allocated on the first stroke: 4 bytes a pixel is a lot on a big scan)
and ``result`` (float32 HxWxC in [0, 1]; an upscaled result is a whole multiple of the
photo's size, shown on the canvas through a copy shrunk to the photo's). Every change
goes through :meth:`Document.edit_plane` or :meth:`Document.set_result` (or a stroke
that pushes its own command), so it lands on the undo stack and in ``changed``.
"""

from __future__ import annotations

import zlib
from enum import StrEnum
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine import arrays
from engine.images import ImageMeta, LoadedImage
from gui.canvas.brush import Box
from gui.qimages import to_rgb8

UNDO_LIMIT = 60
"""Undo steps kept; with compressed regions a few MB for masks, even on big scans."""


class Layer(StrEnum):
    PHOTO = "photo"
    MASK = "mask"
    SKETCH = "sketch"
    PAINT = "paint"
    RESULT = "result"


class Document(QObject):
    """A photo, its mask / sketch / result layers and their undo history."""

    changed = Signal(str, QRect)  # layer, changed pixels (a null QRect: all of it)

    def __init__(
        self,
        image: LoadedImage,
        parent: QObject | None = None,
        *,
        rgb8: np.ndarray | None = None,
    ) -> None:
        """``rgb8``: the photo's display copy when a worker thread made it already."""
        super().__init__(parent)
        self.photo = image.pixels
        self.photo_rgb8 = to_rgb8(image.pixels) if rgb8 is None else rgb8
        self.meta: ImageMeta = image.meta
        self.alpha = image.alpha
        self.source: Path | None = image.meta.source
        self.project_path: Path | None = None
        height, width = self.photo.shape[:2]
        self.mask = np.zeros((height, width), np.uint8)
        self.sketch = np.full((height, width), 255, np.uint8)
        self._paint: np.ndarray | None = None
        self.result: np.ndarray | None = None
        self.result_rgb8: np.ndarray | None = None
        self.faces: list[tuple[float, float, float, float]] = []
        self.undo = QUndoStack(self)
        self.undo.setUndoLimit(UNDO_LIMIT)

    @property
    def width(self) -> int:
        return int(self.photo.shape[1])

    @property
    def height(self) -> int:
        return int(self.photo.shape[0])

    @property
    def title(self) -> str:
        name = (self.project_path or self.source or Path("Untitled")).name
        return f"{name} ({self.width}x{self.height})"

    @property
    def paint(self) -> np.ndarray:
        """The RGBA colour-stroke layer (transparent until painted)."""
        if self._paint is None:
            self._paint = np.zeros((self.height, self.width, 4), np.uint8)
        return self._paint

    @property
    def paint_if_any(self) -> np.ndarray | None:
        """The colour-stroke layer if it was ever painted (drawing never allocates it)."""
        return self._paint

    @property
    def has_paint(self) -> bool:
        return self._paint is not None and bool(self._paint[..., 3].any())

    def painted_over(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The photo with the colour strokes laid over it (RGB float) and their opacity
        (HxW float), or None when nothing is painted."""
        if not self.has_paint:
            return None
        alpha = self.paint[..., 3:].astype(np.float32) / 255.0
        photo = arrays.rgb(self.photo)
        colour = self.paint[..., :3].astype(np.float32) / 255.0
        return photo + alpha * (colour - photo), alpha[..., 0]

    def plane(self, layer: Layer) -> np.ndarray:
        """The editable uint8 plane of the mask, sketch or paint layer (edited in place)."""
        if layer == Layer.MASK:
            return self.mask
        if layer == Layer.SKETCH:
            return self.sketch
        if layer == Layer.PAINT:
            return self.paint
        raise ValueError(f"{layer} is not a paintable layer")

    def touched(self, layer: Layer, box: Box | None = None) -> None:
        """Tell views that pixels of ``layer`` changed (None: the whole layer)."""
        rect = QRect() if box is None else QRect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0)
        self.changed.emit(str(layer), rect)

    def edit_plane(self, layer: Layer, new: np.ndarray, text: str) -> None:
        """Replace a plane as one undoable step that stores only the pixels that differ."""
        old = self.plane(layer)
        differs = old != new
        diff = np.argwhere(differs.any(axis=2) if differs.ndim == 3 else differs)
        if diff.size == 0:
            return
        (y0, x0), (y1, x1) = diff.min(axis=0), diff.max(axis=0) + 1
        box = Box(int(x0), int(y0), int(x1), int(y1))
        before = old[box.slices()].copy()
        old[box.slices()] = new[box.slices()]
        self.undo.push(PlaneEdit(self, layer, box, before, text))

    def set_result(self, pixels: np.ndarray | None, text: str = "Result") -> None:
        """Show a computed image as the result layer, undoably."""
        self.undo.push(ResultChange(self, pixels, text))

    def follow_result(self, pixels: np.ndarray | None) -> None:
        """Show a result computed live from the layers (a live sketch) without an undo step
        of its own: undo walks back through the user's strokes, and the result follows."""
        self._put_result(pixels)

    def _put_result(self, pixels: np.ndarray | None, rgb8: np.ndarray | None = None) -> None:
        self.result = pixels
        if rgb8 is None and pixels is not None:
            rgb8 = to_rgb8(display_copy(pixels, self.width, self.height))
        self.result_rgb8 = rgb8
        self.touched(Layer.RESULT)


def display_copy(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """``pixels`` at the photo's size, for the canvas: an upscaled result is shrunk so it
    lies over the photo and compares with it; export and projects keep the full size."""
    if pixels.shape[:2] == (height, width):
        return pixels
    return arrays.resize(pixels if pixels.ndim == 3 else pixels[..., None], width, height)


class PlaneEdit(QUndoCommand):
    """One stroke or mask operation: the changed box before and after, zlib-compressed.

    The command is pushed after the pixels already changed, so its first ``redo`` (which
    QUndoStack calls on push) only records the after-state.
    """

    def __init__(
        self, document: Document, layer: Layer, box: Box, before: np.ndarray, text: str
    ) -> None:
        super().__init__(text)
        self._document, self._layer, self._box = document, layer, box
        self._shape = before.shape
        self._before = zlib.compress(before.tobytes(), 1)
        self._after: bytes | None = None

    def _write(self, data: bytes) -> None:
        plane = self._document.plane(self._layer)
        plane[self._box.slices()] = np.frombuffer(zlib.decompress(data), np.uint8).reshape(
            self._shape
        )
        self._document.touched(self._layer, self._box)

    def redo(self) -> None:
        if self._after is None:
            region = self._document.plane(self._layer)[self._box.slices()]
            self._after = zlib.compress(region.tobytes(), 1)
            self._document.touched(self._layer, self._box)
        else:
            self._write(self._after)

    def undo(self) -> None:
        self._write(self._before)

    def stored_bytes(self) -> int:
        """Memory this step keeps (what bounds the history)."""
        return len(self._before) + len(self._after or b"")


class ResultChange(QUndoCommand):
    """Swapping the result layer; both arrays are kept by reference, never copied."""

    def __init__(self, document: Document, pixels: np.ndarray | None, text: str) -> None:
        super().__init__(text)
        self._document = document
        self._before, self._after = document.result, pixels

    def redo(self) -> None:
        self._document._put_result(self._after)

    def undo(self) -> None:
        self._document._put_result(self._before)
