"""Defect 3: no command may write over one of its inputs, whatever ``--overwrite`` says.

Each case names an output that is an input (directly, through a link, or through
``..``) and checks three things: exit 2 with one line, the input's bytes unchanged,
and that the refusal came before any work (loading the photo is made to fail loudly).
"""

from __future__ import annotations

import shutil

import pytest

from engine.cli import detect_scratches, diffuse, restore, sketch
from fault_tools import MASK, PHOTO, digest, one_line_error, run

CASES = {
    "detect -o IN --overwrite": ["detect-scratches", "{in}", "-o", "{in}", "--overwrite"],
    "detect --prob IN": ["detect-scratches", "{in}", "-o", "{out}", "--prob", "{in}"],
    "detect -o and --prob the same": [
        "detect-scratches", "{in}", "-o", "{out}", "--prob", "{out}", "--overwrite",
    ],
    "restore -o IN": ["restore", "{in}", "-o", "{in}", "--overwrite"],
    "restore --save-mask IN": [
        "restore", "{in}", "-o", "{out}", "--save-mask", "{in}", "--overwrite",
    ],
    "restore --save-mask MASK": [
        "restore", "{in}", "-o", "{out}", "--scratches", "{mask}", "--save-mask", "{mask}",
        "--overwrite",
    ],
    "restore -o via ..": ["restore", "{in}", "-o", "{dotdot}", "--overwrite"],
    "restore -o via a link": ["restore", "{in}", "-o", "{link}", "--overwrite"],
    "edges -o IN": ["edges", "{in}", "-o", "{in}", "--overwrite"],
    "sketch -o IN": ["sketch", "{mask}", "-o", "{mask}", "--overwrite"],
    "inpaint -o MASK": ["diffuse", "inpaint", "{in}", "--mask", "{mask}", "-o", "{mask}"],
    "inpaint -o IN": [
        "diffuse", "inpaint", "{in}", "--mask", "{mask}", "-o", "{in}", "--overwrite",
    ],
    "edit -o MASK": ["diffuse", "edit", "{in}", "--mask", "{mask}", "-o", "{mask}", "--overwrite"],
    "inpaint --previews beside IN": [
        "diffuse", "inpaint", "{in}", "--mask", "{mask}", "-o", "{out}", "--previews", "{dir}",
    ],
}  # fmt: skip


@pytest.fixture
def files(tmp_path, monkeypatch):
    """Copies of a real photo and mask, a link to the photo, and loud loaders."""
    folder = tmp_path / "scans"
    folder.mkdir()
    photo, mask = folder / "photo.png", folder / "frame_0001.png"
    shutil.copyfile(PHOTO, folder / "photo.jpg")
    shutil.copyfile(MASK, mask)
    # a PNG input, so outputs with the same suffix are valid image targets
    from engine.images import load_image, save_image

    save_image(photo, load_image(folder / "photo.jpg").pixels)
    (tmp_path / "link.png").symlink_to(photo)
    (folder / "sub").mkdir()

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the paths were checked")

    for module in (detect_scratches, restore, sketch, diffuse):
        monkeypatch.setattr(module, "load_image", no_work)
    monkeypatch.setenv("HEIRLOOM_HOME", str(tmp_path / "home"))
    return {
        "in": photo,
        "mask": mask,
        "out": tmp_path / "out.png",
        "dotdot": folder / "sub" / ".." / "photo.png",
        "link": tmp_path / "link.png",
        "dir": folder,
    }


@pytest.mark.parametrize("case", list(CASES))
def test_an_output_that_is_an_input_is_refused_before_any_work(case, files, capsys):
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in CASES[case]]
    before = {name: digest(files[name]) for name in ("in", "mask")}
    code, _, err = run(capsys, *args)
    one_line_error(code, err)
    assert "input" in err or "same file" in err, err
    assert {name: digest(files[name]) for name in ("in", "mask")} == before
    assert not files["out"].exists()


def test_a_folder_restore_into_itself_is_refused(files, capsys):
    code, _, err = run(capsys, "restore", files["dir"], "-o", files["dir"] / "sub" / "..")
    one_line_error(code, err, "must differ from the input folder")
