"""Projects, export and crash recovery, through the real window and a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from engine.images import load_image
from gui.export_dialog import export_layer
from gui.project import load_project, save_project

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"


def test_a_project_saves_and_reopens_with_identical_layers(window, qtbot, tmp_path):
    window.open_now(SAMPLES / "old_grace_hopper.jpg")
    document = window.context.document
    rng = np.random.default_rng(0)
    document.mask[...] = (rng.random(document.mask.shape) > 0.9) * 255
    document.sketch[100:120, :] = 0
    document.set_result(rng.random(document.photo.shape).astype(np.float32))
    document.faces = [(10.0, 20.0, 110.0, 140.0)]
    document.paint[50:90, 60:200] = (200, 120, 40, 180)  # colour strokes for Diffuse
    path = tmp_path / "wedding.heirloom"
    save_project(document, path)
    assert not list(tmp_path.glob(".wedding*"))  # no temporary file left behind

    assert window.open_now(path)
    reopened = window.context.document
    assert reopened is not document and reopened.project_path == path
    assert np.array_equal(reopened.photo, document.photo)
    assert np.array_equal(reopened.mask, document.mask)
    assert np.array_equal(reopened.sketch, document.sketch)
    assert np.array_equal(reopened.paint, document.paint)
    assert np.abs(reopened.result - document.result).max() <= 1 / 65535 + 1e-7
    assert reopened.faces == document.faces
    assert reopened.source == SAMPLES / "old_grace_hopper.jpg"
    assert "wedding.heirloom" in window.windowTitle()


def test_export_keeps_metadata_and_never_writes_the_original(home, tmp_path):
    document = load_project(_project_from_sample(tmp_path))
    out = export_layer(document, "result", tmp_path / "restored.tif", 16, 95)
    saved = load_image(out)
    assert saved.meta.bit_depth == 16 and saved.pixels.shape[:2] == document.photo.shape[:2]
    with pytest.raises(Exception, match="original"):
        export_layer(document, "result", document.source, 8, 95)


def _project_from_sample(tmp_path: Path) -> Path:
    from gui.document import Document

    document = Document(load_image(SAMPLES / "old_grace_hopper.jpg"))
    document.set_result(document.photo * 0.5)
    return save_project(document, tmp_path / "sample.heirloom")


def test_autosave_is_offered_for_recovery_after_the_app_is_killed(window, qtbot, home):
    env = dict(
        os.environ,
        HEIRLOOM_HOME=str(home),
        HEIRLOOM_AUTOSAVE_SECONDS="0.3",
        QT_QPA_PLATFORM="offscreen",
        HEIRLOOM_THREADS="1",
        OMP_NUM_THREADS="1",
    )
    app = subprocess.Popen(
        [sys.executable, "-m", "gui.app", "--no-recovery", str(SAMPLES / "old_LadyBird.jpg")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    autosave = home / "autosave" / f"{app.pid}.heirloom"
    try:
        deadline = time.monotonic() + 30
        while not autosave.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert autosave.exists(), "the running app autosaved"
    finally:
        app.send_signal(signal.SIGKILL)  # a crash: no clean exit removes the autosave
        app.wait(10)
    assert autosave.exists()

    window.offer_recovery()
    box = window.recovery_box
    assert box.isVisible() and "did not close properly" in box.text()
    recover = next(b for b in box.buttons() if b.text() == "Recover")
    recover.click()
    qtbot.waitUntil(lambda: window.context.document is not None, timeout=5000)
    document = window.context.document
    assert document.photo.shape[:2] == (640, 1024)
    assert not autosave.exists()  # recovered once, not offered again
    assert isinstance(box, QMessageBox)


def test_a_clean_exit_removes_the_autosave(window, qtbot, home):
    window.open_now(SAMPLES / "old_grace_hopper.jpg")
    assert window.autosaver.save_now()
    assert window.autosaver.path.exists()
    assert not window.autosaver.save_now()  # nothing changed since
    window.close()
    assert not window.autosaver.path.exists()
