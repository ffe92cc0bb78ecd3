"""Defects 4 and 9: a full disk, a read-only folder, a killed process.

A save either completes and reads back whole, or fails with one line (exit 2) and
leaves neither a truncated file nor a temporary one. Where the tests run as root a
real 64 KiB tmpfs is filled; elsewhere ENOSPC is injected into the writer.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine import files as engine_files
from engine.errors import WriteError
from engine.files import HOST_TAG, PART_SUFFIX, atomic_write, clean_stale_parts
from engine.images import load_image, save_image
from fault_tools import PHOTO, one_line_error, run, tmpfs

ROOT = Path(__file__).resolve().parents[2]


def noisy(height: int = 400, width: int = 400, channels: int = 3) -> np.ndarray:
    """Incompressible pixels: no format squeezes them into a 16 KiB disk."""
    return np.random.default_rng(0).random((height, width, channels), dtype=np.float32)


@pytest.fixture
def full_disk(tmp_path, monkeypatch):
    """A folder whose disk fills up after 16 KiB: a real tmpfs, or injected ENOSPC."""
    folder = tmp_path / "small"
    with tmpfs(folder, size="16k") as mounted:
        if not mounted:
            real_open = open

            class Filling:
                def __init__(self, handle):
                    self.handle, self.written = handle, 0

                def write(self, data):
                    self.written += len(data)
                    if self.written > 16 * 1024:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    return self.handle.write(data)

                def fileno(self):  # encoders then write through write(), not the raw fd
                    raise io.UnsupportedOperation("fileno")

                def __getattr__(self, name):
                    return getattr(self.handle, name)

                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    return self.handle.__exit__(*exc)

            monkeypatch.setattr(
                engine_files, "open", lambda *a, **k: Filling(real_open(*a, **k)), raising=False
            )
        yield folder


@pytest.mark.parametrize(
    ("name", "depth", "channels"),
    [
        ("out.jpg", 8, 3),
        ("out.png", 8, 3),
        ("out.tif", 8, 3),
        ("out.webp", 8, 3),
        ("out.bmp", 8, 3),
        ("out16.png", 16, 3),
        ("out16.tif", 16, 3),
        ("gray16.png", 16, 1),
    ],
)
def test_every_format_fails_cleanly_on_a_full_disk(full_disk, name, depth, channels):
    with pytest.raises(WriteError, match=f"cannot write .*{name}: no space left on the disk"):
        save_image(full_disk / name, noisy(channels=channels), bit_depth=depth)
    assert list(full_disk.iterdir()) == []  # no truncated photo, no temporary file


def test_a_full_disk_is_one_line_and_exit_2_on_the_command_line(full_disk, tmp_path, capsys):
    target = full_disk / "edges.png"  # about 21 KiB of lines at detail 1
    code, _, err = run(capsys, "edges", PHOTO, "-o", target, "--detail", "1", "-q")
    one_line_error(code, err, "no space left on the disk")
    assert list(full_disk.iterdir()) == []


def test_a_jpeg_cut_short_without_an_error_is_not_reported_as_saved(tmp_path, monkeypatch):
    """The original defect: the encoder's writes failed silently and exit was 0."""
    real_save = Image.Image.save

    def truncating(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        fp.truncate(fp.tell() // 2)  # the tail never reached the disk, and nobody said so

    monkeypatch.setattr(Image.Image, "save", truncating)
    target = tmp_path / "restored.jpg"
    target.write_bytes(b"an earlier export the user keeps")
    with pytest.raises(WriteError, match="did not read back complete"):
        save_image(target, noisy(), overwrite=True)
    assert target.read_bytes() == b"an earlier export the user keeps"
    assert [p.name for p in tmp_path.iterdir()] == ["restored.jpg"]


def test_a_read_only_folder_is_a_user_error_not_an_internal_one(tmp_path, capsys):
    folder = tmp_path / "readonly"
    with tmpfs(folder, read_only=True) as mounted:
        if not mounted:
            pytest.skip("needs root to mount a read-only tmpfs (root ignores chmod)")
        code, _, err = run(capsys, "edges", PHOTO, "-o", folder / "edges.png", "-q")
    one_line_error(code, err)
    assert "read-only" in err or "permission denied" in err
    assert "internal error" not in err


def test_the_error_handler_survives_an_unwritable_log(tmp_path, capsys, monkeypatch):
    from engine import cli

    def broken(args):
        raise RuntimeError("a bug in a command")

    monkeypatch.setattr(cli.command("info"), "run", broken)
    monkeypatch.setattr(cli.tempfile, "gettempdir", lambda: str(tmp_path / "missing"))
    monkeypatch.setattr(cli.Path, "home", lambda: tmp_path / "also-missing")
    code, _, err = run(capsys, "info")
    assert code == 1 and "Traceback" not in err
    assert err.strip().count("\n") == 0
    assert "internal error: a bug in a command" in err and "could not be written" in err


SLOW_SAVE = textwrap.dedent(
    """
    import sys, time
    from PIL import Image
    from engine import cli

    real = Image.Image.save
    def slow(self, fp, *args, **kwargs):
        fp.write(b"partial bytes")
        fp.flush()
        print("WRITING", flush=True)
        time.sleep(60)
    Image.Image.save = slow
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def _start_slow_save(tmp_path: Path, target: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE, "edges", str(PHOTO), "-o", str(target)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HEIRLOOM_HOME": str(tmp_path / "home")},
    )
    assert process.stdout.readline().strip() == "WRITING"
    assert len(list(target.parent.glob(f"*{PART_SUFFIX}"))) == 1
    return process


def test_sigterm_mid_save_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    process = _start_slow_save(tmp_path, out / "edges.png")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_a_part_file_left_by_sigkill_is_cleaned_by_the_next_save(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    process = _start_slow_save(tmp_path, out / "edges.png")
    process.kill()
    process.wait(timeout=30)
    left = list(out.glob(f"*{PART_SUFFIX}"))
    assert len(left) == 1  # SIGKILL cannot be caught ...
    save_image(out / "next.png", noisy(32, 32))  # ... so the next write into the folder cleans
    assert sorted(p.name for p in out.iterdir()) == ["next.png"]


def test_stale_part_cleaning_spares_live_processes_and_other_files(tmp_path):
    mine = tmp_path / f".photo.png.{os.getpid()}.abcd{PART_SUFFIX}"
    other = tmp_path / ".notes.part"
    for path in (mine, other):
        path.write_bytes(b"x")
    assert clean_stale_parts(tmp_path) == []
    assert mine.exists() and other.exists()


def test_stale_part_cleaning_leaves_other_machines_parts_alone(tmp_path):
    """A folder shared by a cluster: a process id from another machine says nothing here."""
    dead = 2**22 + 12345  # above Linux's pid_max: no such process here
    theirs = tmp_path / f".scan.jpg.{dead}.{'0' * 8 if HOST_TAG != '0' * 8 else '1' * 8}beef0001"
    ours = tmp_path / f".scan.jpg.{dead}.{HOST_TAG}beef0002"
    for path in (theirs, ours):
        path.with_name(path.name + PART_SUFFIX).write_bytes(b"x")
    assert [p.name for p in clean_stale_parts(tmp_path)] == [ours.name + PART_SUFFIX]
    assert theirs.with_name(theirs.name + PART_SUFFIX).exists()


def test_a_failed_verification_keeps_the_earlier_file(tmp_path):
    target = tmp_path / "project.heirloom"
    target.write_bytes(b"the earlier save")

    def refuse(path: Path) -> None:
        raise WriteError("cannot write: check failed")

    with pytest.raises(WriteError), atomic_write(target, refuse) as handle:
        handle.write(b"new bytes")
    assert target.read_bytes() == b"the earlier save"
    assert [p.name for p in tmp_path.iterdir()] == ["project.heirloom"]


def test_saved_files_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        path = save_image(tmp_path / "out.png", noisy(16, 16))
    finally:
        os.umask(previous)
    assert (path.stat().st_mode & 0o777) == 0o644
    assert load_image(path).width == 16
