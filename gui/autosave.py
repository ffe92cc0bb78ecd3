"""Autosave every few minutes, and recovery after a crash.

Each running Heirloom writes ``autosave/<pid>.heirloom`` in the user folder when the
document changed since the last autosave; a clean exit deletes it. So at start, any
autosave whose process is no longer alive is a session that ended without closing:
that is what we offer to recover. ``HEIRLOOM_AUTOSAVE_SECONDS`` shortens the
interval (tests, and users who want it).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from gui.document import Document
from gui.project import save_project
from gui.settings import user_folder


def autosave_folder() -> Path:
    return user_folder() / "autosave"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned_autosaves() -> list[Path]:
    """Autosaves left by Heirloom processes that are gone (newest first)."""
    folder = autosave_folder()
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob("*.heirloom") if p.stem.isdigit() and not _alive(int(p.stem))]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def interval_ms(minutes: float) -> int:
    override = os.environ.get("HEIRLOOM_AUTOSAVE_SECONDS")
    if override:
        return max(100, int(float(override) * 1000))
    return max(10_000, int(minutes * 60_000))


class Autosaver(QObject):
    """Saves the current document on a timer when it changed; removed on clean exit."""

    saved = Signal(str)

    def __init__(self, document_getter, minutes: float, parent: QObject | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self._document = document_getter
        self._last: tuple[int, int] | None = None  # (document id, undo index) saved
        self.path = autosave_folder() / f"{os.getpid()}.heirloom"
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms(minutes))
        self._timer.timeout.connect(self.save_now)
        self._timer.start()

    def set_minutes(self, minutes: float) -> None:
        self._timer.setInterval(interval_ms(minutes))

    def save_now(self) -> bool:
        """Autosave if the document changed since the last autosave; True when written."""
        document: Document | None = self._document()
        if document is None:
            return False
        state = (id(document), document.undo.index())
        if state == self._last:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save_project(document, self.path)
        self._last = state
        self.saved.emit(str(self.path))
        return True

    def discard(self) -> None:
        """A clean exit: nothing to recover."""
        self._timer.stop()
        self.path.unlink(missing_ok=True)
