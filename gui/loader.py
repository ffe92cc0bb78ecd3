"""Opening files off the GUI thread, so a 24-megapixel scan never freezes the window.

Decoding a big JPEG or TIFF (and unzipping a project) takes a second or more, and
making the 8-bit display copy of a 24-megapixel photo another half second; the loader
does both on a worker thread and hands plain arrays back through a queued signal. The
Qt objects (the Document and its undo stack) are made on the GUI thread.
Only the latest request counts: opening another file while one loads drops the first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from engine.errors import HeirloomError
from engine.images import LoadedImage, load_image
from gui.document import display_copy
from gui.project import SUFFIX, ProjectLayers, read_project
from gui.qimages import to_rgb8


@dataclass(frozen=True)
class OpenedPhoto:
    """A decoded photo and its display copy, ready for ``Document(image, rgb8=...)``."""

    image: LoadedImage
    rgb8: np.ndarray


def read_for_display(path: Path) -> OpenedPhoto | ProjectLayers:
    """Everything an open needs that is not a Qt object (runs on the worker thread)."""
    if path.suffix.lower() == SUFFIX:
        layers = read_project(path)
        layers.photo_rgb8 = to_rgb8(layers.photo.pixels)
        if layers.result is not None:
            width, height = layers.photo.width, layers.photo.height
            layers.result_rgb8 = to_rgb8(display_copy(layers.result, width, height))
        return layers
    image = load_image(path)
    return OpenedPhoto(image, to_rgb8(image.pixels))


class FileLoader(QObject):
    """``open(path)`` starts a load; ``loaded`` or ``failed`` follows on the GUI thread."""

    loaded = Signal(object, object)  # path, OpenedPhoto or ProjectLayers
    failed = Signal(object, str)  # path, a sentence for the user
    _done = Signal(int, object, object, str)  # ticket, path, data, error (worker thread)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ticket = 0
        self._pending: Path | None = None
        self._done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def open(self, path: Path) -> None:
        self._ticket += 1
        self._pending = Path(path)
        ticket, path = self._ticket, Path(path)
        threading.Thread(target=self._work, args=(ticket, path), daemon=True).start()

    def _work(self, ticket: int, path: Path) -> None:
        try:
            data = read_for_display(path)
        except (HeirloomError, OSError) as exc:
            self._done.emit(ticket, path, None, str(exc) or type(exc).__name__)
            return
        except Exception as exc:  # noqa: BLE001 - any decoder failure is "cannot open"
            self._done.emit(ticket, path, None, f"{path.name} could not be read ({exc})")
            return
        self._done.emit(ticket, path, data, "")

    def _deliver(self, ticket: int, path: Path, data: object, error: str) -> None:
        if ticket != self._ticket:
            return  # a later open replaced this one
        self._pending = None
        if error:
            self.failed.emit(path, error)
        else:
            self.loaded.emit(path, data)
