"""The job ledger: one JSON line per event, in the output folder, so a rerun resumes.

Each file's history is a run of records keyed by its path relative to the source
folder: ``started`` (written and fsynced *before* a worker gets the file), then
``done`` or ``failed``. The last record wins. Because ``started`` is durable before any
output can appear, and outputs only appear whole (engine.files renames them into
place), a driver killed at any moment leaves a ledger from which the next run knows
exactly which outputs are finished: ``done``, or ``started`` with an output that was
not there before (adopted, never rewritten).

The first ``run`` record pins the task, its options and the source folder: a rerun
with other options would mix two kinds of output in one folder, so it is refused.
A lock file keeps a second run (on this or another machine sharing the folder) out
while one is writing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from engine.errors import HeirloomError
from engine.files import write_error

LEDGER_NAME = "heirloom-batch.jsonl"
LOCK_NAME = "heirloom-batch.lock"
PINNED = ("task", "options", "source")


def options_id(task: str, options: dict[str, Any]) -> str:
    """A short fingerprint of what a run makes, stored with every file's record."""
    text = json.dumps({"task": task, "options": options}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class FileState:
    """What the ledger knows about one source file (the fold of its records)."""

    status: str  # started | done | failed
    size: int
    mtime_ns: int
    attempts: int  # started records since the file last changed
    error: str = ""
    before: list[int] | None = None  # the output's [size, mtime_ns] when last started


def _lock(handle: IO[str]) -> bool:
    """An exclusive, non-blocking lock on ``handle``; False when another process holds it.

    POSIX record locks (lockf) also work across machines on NFS with lockd."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class Ledger:
    """The ledger of one output folder, held under its lock while a run writes."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LEDGER_NAME
        self.files: dict[str, FileState] = {}
        self.first_run: dict[str, Any] | None = None
        self._lock_file: IO[str] | None = None
        self._out: IO[str] | None = None
        self._torn = False  # the file ends in a line a crash cut short
        self.options_id = ""  # stamped on every file record: which settings made it

    # --- opening ----------------------------------------------------------------

    def open(self) -> Ledger:
        """Take the folder's lock, then read what earlier runs recorded."""
        lock_path = self.folder / LOCK_NAME
        try:
            handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held until close
        except OSError as exc:
            raise write_error(lock_path, exc) from None
        if not _lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise HeirloomError(
                f"another batch ({holder}) is writing into {self.folder}; wait for it to "
                "finish or choose another output folder"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._lock_file = handle
        try:
            self._read()
            self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            self.close()
            raise write_error(self.path, exc) from None
        return self

    def _read(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            data = handle.read()
        self._torn = bool(data) and not data.endswith(b"\n")
        for line in data.splitlines():
            try:
                record = json.loads(line)
                if isinstance(record, dict):
                    self._fold(record)
            except (ValueError, TypeError, RecursionError):
                continue  # a line cut short by a crash (or mangled): that file runs again

    def _fold(self, record: dict[str, Any]) -> None:
        status = record.get("status")
        if status == "run":
            if self.first_run is None:
                self.first_run = record
            return
        rel = record.get("source")
        if status not in ("started", "done", "failed") or not isinstance(rel, str):
            return
        old = self.files.get(rel)
        same = old is not None and (old.size, old.mtime_ns) == (
            record.get("size"),
            record.get("mtime_ns"),
        )
        attempts = (old.attempts if same and old else 0) + (status == "started")
        self.files[rel] = FileState(
            status=status,
            size=int(record.get("size", -1)),
            mtime_ns=int(record.get("mtime_ns", -1)),
            attempts=attempts,
            error=str(record.get("error", "")),
            before=record.get("before"),
        )

    def check_run(self, run: dict[str, Any]) -> None:
        """Refuse to continue a folder that an earlier run filled with other settings."""
        first = self.first_run
        if first is None:
            return
        for key in PINNED:
            was, now = first.get(key), run.get(key)
            if was == now:
                continue
            if isinstance(was, dict) and isinstance(now, dict):
                changed = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
                was = ", ".join(f"{k} {json.dumps(was.get(k))}" for k in changed)
                now = ", ".join(f"{k} {json.dumps(now.get(k))}" for k in changed)
            raise HeirloomError(
                f"{self.folder} holds a batch made with another {key} ({_short(was)}, now "
                f"{_short(now)}); rerun with the same settings to continue it, or choose "
                "another output folder"
            )

    # --- writing ----------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably (flushed and fsynced) before anything depends on it."""
        if self._out is None:
            raise RuntimeError("the ledger is not open")
        record = {**record, "time": round(time.time(), 3)}
        if self.options_id and record.get("status") != "run":
            record["options"] = self.options_id
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        if self._torn:
            line = "\n" + line  # end a line a crash cut short, so this record stands alone
            self._torn = False
        try:
            self._out.write(line)
            self._out.flush()
            os.fsync(self._out.fileno())
        except OSError as exc:
            raise write_error(self.path, exc) from None
        self._fold(record)

    def close(self) -> None:
        """Release the lock; the ledger itself is already on disk."""
        for handle in (self._out, self._lock_file):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()
        self._out = self._lock_file = None

    def __enter__(self) -> Ledger:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _short(value: object) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
