"""Defects 8 and 11: option values out of range, and the small things a careful tool gets
right (folder mode's empty folders and honest interrupts, ``-q`` everywhere)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engine.cli import restore as restore_cli
from engine.errors import HeirloomError
from engine.limits import TILE
from engine.models import Registry
from engine.pipelines.restore import RestoreOptions, restore_photo
from fault_tools import PHOTO, one_line_error, run
from graphs import restore_packs

OUT_OF_RANGE = [
    (["restore", "{in}", "-o", "{out}", "--tile", "1"], "--tile: must be between 64 and 8192"),
    (["restore", "{in}", "-o", "{out}", "--tile", "16"], "--tile: must be between 64"),
    (["restore", "{in}", "-o", "{out}", "--tile", "32"], "--tile: must be between 64"),
    (["restore", "{in}", "-o", "{out}", "--tile", "-5"], "--tile: must be between 64"),
    (["restore", "{in}", "-o", "{out}", "--tile", "big"], "'big' is not a whole number"),
    (["restore", "{in}", "-o", "{out}", "--threshold", "1.5"], "greater than 0 and at most 1"),
    (["restore", "{in}", "-o", "{out}", "--threshold", "nan"], "--threshold: must be a number"),
    (["restore", "{in}", "-o", "{out}", "--smoothing", "-1"], "--smoothing: must be between"),
    (["restore", "{in}", "-o", "{out}", "--quality", "0"], "--quality: must be between 1 and 100"),
    (["restore", "{in}", "-o", "{out}", "--quality", "101"], "between 1 and 100, not 101"),
    (["detect-scratches", "{in}", "-o", "{out}", "--threshold", "0"], "greater than 0"),
    (["edges", "{in}", "-o", "{out}", "--detail", "inf"], "--detail: must be a number"),
    (["diffuse", "generate", "-o", "{out}", "--steps", "0"], "--steps: must be between 1"),
    (["diffuse", "generate", "-o", "{out}", "--eta", "2"], "--eta: must be between 0 and 1"),
    (["diffuse", "generate", "-o", "{out}", "--seed", "-1"], "--seed: must be between 0"),
    (["diffuse", "generate", "-o", "{out}", "--count", "0"], "--count: must be between 1 and 64"),
    (["diffuse", "inpaint", "{in}", "--mask", "{in}", "-o", "{out}", "--draws", "17"], "--draws"),
    (["diffuse", "inpaint", "{in}", "--mask", "{in}", "-o", "{out}", "--jump-length", "0"], "1"),
    (["diffuse", "inpaint", "{in}", "--mask", "{in}", "-o", "{out}", "--context", "-1"], "0"),
    (["diffuse", "edit", "{in}", "-o", "{out}", "--strength", "0"], "greater than 0"),
]


@pytest.mark.parametrize(("args", "message"), OUT_OF_RANGE, ids=lambda v: str(v)[:60])
def test_out_of_range_options_name_the_valid_range(args, message, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, _, err = run(capsys, *[a.format(**{"in": PHOTO, "out": out}) for a in args])
    one_line_error(code, err, message)
    assert not out.exists()


def test_a_tile_too_small_for_the_pack_is_refused_not_black(tmp_path):
    """--tile 16 used to return an all-black photo with exit 0."""
    registry = Registry(bundled=tmp_path / "none", user=restore_packs(tmp_path / "home"))
    photo = np.random.default_rng(1).random((300, 300, 3), dtype=np.float32)
    for tile in (1, 16, 32, TILE.low - 1):
        with pytest.raises(HeirloomError, match="tile size"):
            restore_photo(photo, RestoreOptions(scratches="off", faces=False, tile=tile), None)
    result = restore_photo(
        photo, RestoreOptions(scratches="off", faces=False, tile=96), registry=registry
    )
    restored = result.images["restored"]
    assert restored.shape == photo.shape and restored.mean() > 0.05
    manifest = registry.user / "tiny-restore" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["tiling"]["overlap"] = 200  # a pack that needs wide margins needs bigger tiles
    manifest.write_text(json.dumps(data))
    with pytest.raises(HeirloomError, match="too small for the model pack 'tiny-restore'.*201"):
        restore_photo(
            photo, RestoreOptions(scratches="off", faces=False, tile=150), registry=registry
        )


def test_a_folder_without_photos_creates_no_output_folder(tmp_path, capsys):
    empty, out = tmp_path / "empty", tmp_path / "restored"
    empty.mkdir()
    code, _, err = run(capsys, "restore", empty, "-o", out)
    one_line_error(code, err, "no photos")
    assert not out.exists()


def test_an_interrupted_folder_restore_says_what_it_kept(tmp_path, capsys, monkeypatch):
    scans, out = tmp_path / "scans", tmp_path / "restored"
    scans.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copyfile(PHOTO, scans / name)
    calls = []

    def restore_one(photo, output, args, quiet):
        calls.append(output.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        output.write_bytes(b"restored")
        return {"faces": []}

    monkeypatch.setattr(restore_cli, "_restore_one", restore_one)
    code, _, err = run(capsys, "restore", scans, "-o", out)
    assert code == 130
    assert "1 of 3 photos were restored" in err and "no output was written" not in err
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg"]


@pytest.mark.parametrize("command", ["edges", "sketch"])
def test_edges_and_sketch_are_quiet_with_q(command, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HEIRLOOM_HOME", str(tmp_path / "home"))
    drawing = tmp_path / "drawing.png"
    run(capsys, "edges", PHOTO, "-o", drawing, "-q")
    source = PHOTO if command == "edges" else drawing
    code, out, err = run(capsys, command, source, "-o", tmp_path / "out.png", "-q")
    assert code == 0 and err == "" and "wrote" in out


def test_a_reader_that_stops_early_ends_the_command_quietly(heirloom_home):
    """`heirloom models list | head` printed "heirloom: error: Broken pipe" and exit 2:
    the reader had enough, nothing went wrong. Quiet, and the shell's SIGPIPE status."""
    import os
    import subprocess
    import sys

    from engine.cli import BROKEN_PIPE

    command = [sys.executable, "-m", "engine.cli", "models", "list"]
    env = {**os.environ, "HEIRLOOM_HOME": str(heirloom_home)}
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    done = subprocess.run(command, stdout=write, stderr=subprocess.PIPE, env=env, text=True)
    os.close(write)
    assert done.returncode == BROKEN_PIPE and done.stderr == ""
