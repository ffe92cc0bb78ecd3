"""Helpers for the fault suite (tests/faults): run the CLI in-process, fingerprint
files, and make a really full (or read-only) disk when the tests run as root."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import cli

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
PHOTO = SAMPLES / "old_LadyBird.jpg"
MASK = SAMPLES / "old_LadyBird_mask.png"


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``heirloom ARGS`` in this process: (exit code, stdout, stderr).

    argparse usage errors exit through SystemExit; they count as a return code too.
    """
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, err: str, *fragments: str) -> None:
    """Exit 2, a single ``heirloom: error`` line on stderr naming ``fragments``."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "error" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its digest: compare before/after to see writes."""
    return {
        str(p.relative_to(root)): digest(p)
        for p in sorted(Path(root).rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "64k", read_only: bool = False) -> Iterator[bool]:
    """Mount a tiny tmpfs at ``path`` when running as root; yields whether it worked
    (callers fall back to injecting the OS error when it did not)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = (
        _can_mount()
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
