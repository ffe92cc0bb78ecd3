"""Jobs from the buttons: restore with progress and previews, cancel, live sketch."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from engine.jobs import Result
from engine.runtime import open_session

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_find_damage_then_restore_runs_from_the_buttons_to_the_result(window, qtbot):
    window.open_now(SAMPLES / "old_grace_hopper.jpg")
    document, panel = window.context.document, window.restore
    with qtbot.waitSignal(window.bridge.finished, timeout=20000):
        qtbot.mouseClick(panel.find, Qt.MouseButton.LeftButton)
    detected = int((document.mask == 255).sum())
    assert document.undo.count() == 1  # the detected mask is one undoable step
    assert "(tiny-scratch on " in panel.status.text()  # what was found, and by which pack

    document.mask[:40, :40] = 255  # the user's own correction travels with the job
    progress: list[float] = []
    previews: list[tuple[int, int]] = []
    window.bridge.progress.connect(lambda f, _t: progress.append(f))
    window.bridge.preview.connect(lambda image, step, total: previews.append((step, total)))
    with qtbot.waitSignal(window.bridge.finished, timeout=30000) as finished:
        qtbot.mouseClick(panel.run, Qt.MouseButton.LeftButton)
        assert window.progress.isVisible() and window.cancel_button.isVisible()
    result = finished.args[0]
    assert result.info["mask"] == "given"
    assert progress and progress[-1] == 1.0 and progress == sorted(progress)
    assert previews, "per-stage previews reach the GUI"
    assert document.result is not None and document.result.shape[:2] == document.photo.shape[:2]
    assert window.canvas.layers["result"].isVisible()
    assert not window.progress.isVisible()
    window.undo_action.trigger()
    assert document.result is None and int((document.mask == 255).sum()) >= detected


def test_cancel_stops_a_restore_and_the_canvas_stays_usable(window, qtbot):
    window.open_now(SAMPLES / "old_EveningGlow.jpg")
    document = window.context.document
    window.context.settings.tile_size = 64  # many tiles: time to cancel in between
    with qtbot.waitSignal(window.bridge.cancelled, timeout=30000):
        qtbot.mouseClick(window.restore.run, Qt.MouseButton.LeftButton)
        qtbot.waitSignal(window.bridge.progress, timeout=10000).wait()
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    assert document.result is None and document.undo.count() == 0
    assert not window.cancel_button.isVisible()
    assert window.bridge.wait_idle(5)
    # still usable: a stroke lands and a new job runs
    window.canvas.tool = window.canvas.tool.BRUSH
    centre = window.canvas.viewport().rect().center()
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert document.undo.count() == 1
    with qtbot.waitSignal(window.bridge.finished, timeout=20000):
        qtbot.mouseClick(window.restore.find, Qt.MouseButton.LeftButton)


def slow_sketch_model(helpers, tmp_path: Path, started: list, cancelled: list):
    """A real ONNX graph run many times per job, so a live job is still running when
    the next stroke comes; it records which jobs started and which were cancelled."""
    session = open_session(helpers.build_conv_model(tmp_path / "sketch.onnx"), "cpu", 1)

    def sketch_to_photo(edges, options, emit, cancel, registry=None):
        started.append(time.monotonic())
        rgb = np.repeat(edges[:32, :32].transpose(2, 0, 1)[None], 3, axis=1)
        try:
            for step in range(60):
                cancel.check()
                out = session.run({"image": rgb.astype(np.float32)}, cancel)[0]
                emit.progress((step + 1) / 60, "Sketch to photo")
                time.sleep(0.01)
        except BaseException:
            cancelled.append(len(started))
            raise
        photo = np.broadcast_to(out[0].mean(axis=(1, 2)), edges.shape[:2] + (3,)).copy()
        return Result({"photo": photo.astype(np.float32)}, {"device": session.describe()})

    return sketch_to_photo


def test_live_sketch_replaces_the_running_job_instead_of_queueing(window, qtbot, tmp_path, helpers):
    window.open_now(SAMPLES / "old_LadyBird.jpg")
    window.tabs.setCurrentIndex(1)
    panel, canvas = window.sketch, window.canvas
    started, cancelled = [], []
    panel.sketch_to_photo = slow_sketch_model(helpers, tmp_path, started, cancelled)
    panel.live.setChecked(True)
    view = canvas.viewport()
    finished = []
    window.bridge.finished.connect(finished.append)

    def stroke(y: int) -> None:
        start = view.rect().center()
        start.setY(y)
        qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(view, start + start.__class__(80, 0))
        qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start + start.__class__(80, 0))

    stroke(200)
    qtbot.waitUntil(lambda: len(started) == 1, timeout=5000)
    stroke(260)  # while job 1 runs: it is cancelled, not queued behind
    stroke(320)  # inside the debounce pause: no job of its own
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=20000)
    assert window.bridge.wait_idle(10)
    qtbot.wait(50)
    assert len(started) == 2 and cancelled == [1]
    assert len(finished) == 1 and window.context.document.result is not None
    assert (window.context.document.sketch[200:330] == 0).any()  # the pen drew lines


def test_the_smoothing_slider_reaches_the_restore_options_and_is_remembered(window, qtbot):
    panel = window.restore
    assert panel.smoothing.value() == 100 and panel._options().smoothing == 1.0
    panel.smoothing.setValue(40)
    assert panel._options().smoothing == 0.4
    window.open_now(SAMPLES / "old_grace_hopper.jpg")
    with qtbot.waitSignal(window.bridge.finished, timeout=20000):
        qtbot.mouseClick(panel.run, Qt.MouseButton.LeftButton)
    assert window.context.settings.restore_smoothing == 0.4  # batches use it too
