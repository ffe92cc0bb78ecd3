"""Opening files off the GUI thread, so a 24-megapixel scan never freezes the window.

Decoding a big JPEG or TIFF (and unzipping a project) takes a second or more; the
loader does it on a worker thread and hands plain arrays back through a queued
signal. The Qt objects (the Document and its undo stack) are made on the GUI thread.
Only the latest request counts: opening another file while one loads drops the first.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

from engine.errors import HeirloomError
from engine.images import load_image
from gui.project import SUFFIX, read_project


class FileLoader(QObject):
    """``open(path)`` starts a load; ``loaded`` or ``failed`` follows on the GUI thread."""

    loaded = Signal(object, object)  # path, LoadedImage or ProjectLayers
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
            data = read_project(path) if path.suffix.lower() == SUFFIX else load_image(path)
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
