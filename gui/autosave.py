"""Autosave every few minutes, and recovery after a crash.

Each running Heirloom writes ``autosave/<pid>.heirloom`` in the user folder when the
document changed since the last autosave. The window deletes it only when nothing
unsaved is left behind: the user saved, chose Discard, or had no changes. So at
start, any autosave whose process is no longer alive is a session that ended without
closing: all of them are listed for recovery (:func:`orphaned_autosaves`), and one is
only ever deleted when the user discards it. A damaged autosave is listed with its
reason, so it is never silently offered (or silently lost) again.

An autosave that cannot be written (a full disk, a read-only user folder) is reported
once through ``failed``; later ticks keep trying quietly, and a success re-arms the
report. ``HEIRLOOM_AUTOSAVE_SECONDS`` shortens the interval (tests, and users who
want it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from engine.errors import HeirloomError
from engine.files import pid_alive
from gui.document import Document
from gui.project import read_info, save_project
from gui.settings import user_folder


def autosave_folder() -> Path:
    return user_folder() / "autosave"


@dataclass(frozen=True)
class Orphan:
    """An autosave left by a session that ended without closing, as the user sees it."""

    path: Path
    title: str  # the photo's name and size, or the file's name when damaged
    modified: datetime
    size: int  # bytes
    problem: str | None  # why it cannot be recovered, or None

    def describe(self) -> str:
        """One line for the recovery list: what, when, how big, or why not."""
        when = self.modified.strftime("%Y-%m-%d %H:%M")
        text = f"{self.title}, autosaved {when}, {self.size / 1e6:.1f} MB"
        return f"{text} (damaged: {self.problem})" if self.problem else text


def describe_autosave(path: Path) -> Orphan:
    """Read what an autosave holds without decoding its layers."""
    info = path.stat()
    modified = datetime.fromtimestamp(info.st_mtime)
    try:
        project = read_info(path)
    except HeirloomError as exc:
        return Orphan(path, path.name, modified, info.st_size, str(exc))
    name = Path(project.source).name if project.source else "Untitled"
    return Orphan(path, f"{name} ({project.width}x{project.height})", modified, info.st_size, None)


def orphaned_autosaves() -> list[Orphan]:
    """Every autosave left by Heirloom processes that are gone (newest first)."""
    folder = autosave_folder()
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.heirloom"):
        if not path.stem.isdigit() or pid_alive(int(path.stem)):
            continue
        try:
            found.append(describe_autosave(path))
        except OSError:
            continue  # removed meanwhile (another Heirloom recovered it)
    return sorted(found, key=lambda orphan: orphan.modified, reverse=True)


def interval_ms(minutes: float) -> int:
    override = os.environ.get("HEIRLOOM_AUTOSAVE_SECONDS")
    if override:
        return max(100, int(float(override) * 1000))
    return max(10_000, int(minutes * 60_000))


class Autosaver(QObject):
    """Saves the current document on a timer when it changed; tells once when it cannot."""

    saved = Signal(str)
    failed = Signal(str)  # a sentence; emitted once per run of failures

    def __init__(
        self,
        document_getter: Callable[[], Document | None],
        minutes: float,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document_getter
        self._last: tuple[int, int] | None = None  # (document id, undo index) saved
        self._failing = False
        self.path = autosave_folder() / f"{os.getpid()}.heirloom"
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms(minutes))
        self._timer.timeout.connect(self.save_now)
        self._timer.start()

    def set_minutes(self, minutes: float) -> None:
        self._timer.setInterval(interval_ms(minutes))

    def save_now(self) -> bool:
        """Autosave if the document changed since the last autosave; True when written.

        Never raises: it runs from a timer, and the user is told once through ``failed``.
        """
        document = self._document()
        if document is None:
            return False
        state = (id(document), document.undo.index())
        if state == self._last:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            save_project(document, self.path)
        except (HeirloomError, OSError) as exc:
            if not self._failing:
                self._failing = True
                self.failed.emit(str(exc))
            return False
        self._failing = False
        self._last = state
        self.saved.emit(str(self.path))
        return True

    def adopt(self, orphan: Path) -> None:
        """Make a recovered autosave this session's own, so it is not offered twice and
        stays on disk until the user saves or discards the recovered work."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(orphan, self.path)
        self._last = None

    def discard(self) -> None:
        """Nothing unsaved is left (saved, discarded, or unchanged): nothing to recover."""
        self._timer.stop()
        with contextlib.suppress(OSError):  # closing must not fail over a leftover
            self.path.unlink(missing_ok=True)
