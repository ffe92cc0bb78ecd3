"""The one guarded write path: outputs never replace inputs, saves are all or nothing.

Every file Heirloom writes for a user (images, masks, projects, autosaves) goes
through :func:`atomic_write`: the bytes go to a hidden temporary file in the target
folder, are flushed and fsynced, checked by the caller's ``verify`` (a JPEG that lost
its tail to a full disk is caught here, not reported as saved), get the permissions
the user's umask asks for, and only then replace the target by a rename. Any OS
error removes the temporary file and becomes one sentence (``WriteError``, exit 2).

Temporary files are named ``.<name>.<pid>.<host><random>.heirloom-part``; a process
killed mid-save (SIGKILL cannot be caught) leaves one behind, and the next write into
that folder removes those whose process is gone. Only this machine's are judged: on a
folder shared by a cluster (``heirloom batch --engine ray``) a process id from another
machine says nothing here, and removing a live writer's file would fail its save.

:func:`check_outputs` is the other half: every command calls it with all of its
inputs and outputs **before any work starts**, so an output that is, after resolving
links and ``..``, the same file as an input is refused whatever ``--overwrite`` says.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import socket
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from engine.errors import HeirloomError, WriteError

PART_SUFFIX = ".heirloom-part"
HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
LOW_SPACE = 1 << 20  # bytes free below which an unexplained write error means "disk full"

_REASONS = {
    errno.ENOSPC: "no space left on the disk",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EIO: "an input/output error (is the disk failing or unplugged?)",
    errno.EFBIG: "the file is too large for this disk",
}


def os_error_reason(exc: OSError) -> str:
    """A few words a photographer understands for an OS error."""
    return _REASONS.get(exc.errno or -1, exc.strerror or str(exc))


def write_error(path: Path, exc: OSError) -> WriteError:
    """The one-line error for an OS error while writing ``path``.

    Encoders report a failed write without an errno ("encoder error -2"); when the disk
    is then (nearly) full, that is what the user needs to hear.
    """
    reason = os_error_reason(exc)
    if exc.errno is None:
        with contextlib.suppress(OSError):
            if shutil.disk_usage(Path(path).parent).free < LOW_SPACE:
                reason = _REASONS[errno.ENOSPC]
    return WriteError(f"cannot write {path}: {reason}")


# --- outputs never replace inputs -------------------------------------------------


def _identity(path: Path) -> tuple:
    """What makes two paths the same file: (device, inode) when it exists, else the
    fully resolved path (links and ``..`` followed)."""
    resolved = Path(os.path.realpath(path))
    try:
        info = os.stat(resolved)
    except OSError:
        return ("path", str(resolved))
    return ("inode", info.st_dev, info.st_ino)


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file after following links and ``..``."""
    return _identity(Path(a)) == _identity(Path(b))


def check_outputs(
    inputs: Iterable[Path | None], outputs: Iterable[Path | None], what: str = "output"
) -> None:
    """Refuse, before any work, an output that is an input or another output.

    ``None`` entries (options not given) are skipped, so a command passes all of its
    file options unconditionally.
    """
    sources = [Path(p) for p in inputs if p is not None]
    targets = [Path(p) for p in outputs if p is not None]
    seen: dict[tuple, Path] = {}
    for target in targets:
        key = _identity(target)
        for source in sources:
            if key == _identity(source):
                raise HeirloomError(
                    f"refusing to write the {what} {target}: it is the input {source} "
                    "(originals are never overwritten); choose another name"
                )
        if key in seen:
            raise HeirloomError(
                f"{seen[key]} and {target} are the same file; give each output its own name"
            )
        seen[key] = target


# --- atomic writes ----------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether a process of this id still runs (ours counts): orphaned files are those
    whose writer is gone."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale_parts(folder: Path) -> list[Path]:
    """Remove temporary files of ours left by processes that died mid-save."""
    removed: list[Path] = []
    try:
        candidates = list(Path(folder).glob(f".*{PART_SUFFIX}"))
    except OSError:
        return removed
    for part in candidates:
        fields = part.name[: -len(PART_SUFFIX)].rsplit(".", 2)
        if len(fields) != 3 or not fields[1].isdigit() or pid_alive(int(fields[1])):
            continue
        if len(fields[2]) == 16 and fields[2][:8] != HOST_TAG:
            continue  # another machine's writer: its process id means nothing here
        with contextlib.suppress(OSError):
            part.unlink()
            removed.append(part)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def part_path(path: Path) -> Path:
    """A fresh temporary name beside ``path`` that :func:`clean_stale_parts` knows."""
    token = HOST_TAG + secrets.token_hex(4)
    return path.with_name(f".{path.name}.{os.getpid()}.{token}{PART_SUFFIX}")


@contextlib.contextmanager
def atomic_write(
    path: str | Path, verify: Callable[[Path], None] | None = None
) -> Iterator[BinaryIO]:
    """Yield a binary handle whose bytes replace ``path`` only if all went well.

    ``verify(temporary_path)`` runs after the data is on disk and may raise (an
    :class:`HeirloomError` or ``OSError``) to abandon the save. The target is never
    touched before the rename, so a failure leaves any earlier file intact.
    """
    path = Path(path)
    clean_stale_parts(path.parent)
    temporary = part_path(path)
    try:
        handle = open(temporary, "xb")  # noqa: SIM115 - closed below, before the rename
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if verify is not None:
            verify(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise write_error(path, exc) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
