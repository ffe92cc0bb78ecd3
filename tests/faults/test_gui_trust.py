"""The app never loses or damages the user's work: unsaved changes are asked about,
originals are never export or batch targets, autosaves are all offered and only deleted
when discarded, a failing autosave is reported once, bad settings never stop the app,
and every number the GUI accepts is within the engine's limits.

Real widgets (offscreen), real files in tmp_path, HEIRLOOM_HOME in tmp_path.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app_window import make_window
from engine.limits import DRAWS, QUALITY, SEED, SMOOTHING, STEPS, THREADS, TILE
from gui.document import Layer
from gui.project import save_project

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
Button = QMessageBox.StandardButton


def scan(tmp_path: Path, name: str = "old_LadyBird.jpg") -> Path:
    """A copy of a real sample, so no test can ever touch the repository's file."""
    copy = tmp_path / name
    shutil.copyfile(SAMPLES / name, copy)
    return copy


def edited(window, path: Path):
    """Open ``path`` and paint on its mask: a document with unsaved changes."""
    assert window.open_now(path)
    document = window.context.document
    mask = document.mask.copy()
    mask[10:40, 10:60] = 255
    document.edit_plane(Layer.MASK, mask, "Brush")
    assert window.has_unsaved_changes()
    return document


def answer(qtbot, window, choice: QMessageBox.StandardButton) -> None:
    """Click ``choice`` in the unsaved-changes box, which must be showing."""
    qtbot.waitUntil(lambda: window.unsaved_box is not None and window.unsaved_box.isVisible())
    box = window.unsaved_box
    assert "Save the changes" in box.text()
    box.button(choice).click()
    qtbot.waitUntil(lambda: not box.isVisible())


def dead_pid() -> int:
    """The id of a process that has ended: its autosave is an orphan."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --- (5) unsaved work is never discarded silently ------------------------------------


def test_closing_with_unsaved_changes_asks_and_cancel_keeps_everything(window, qtbot, tmp_path):
    document = edited(window, scan(tmp_path))
    assert window.autosaver.save_now()
    assert window.isWindowModified() and "[*]" in window.windowTitle()  # shown as "*"
    assert not window.close()
    answer(qtbot, window, Button.Cancel)
    assert window.isVisible() and window.context.document is document
    assert window.has_unsaved_changes() and window.autosaver.path.exists()

    window.quit_action.trigger()  # Ctrl+Q asks the same question
    assert window.quit_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Quit)
    answer(qtbot, window, Button.Cancel)
    assert window.isVisible() and window.autosaver.path.exists()


def test_discard_closes_and_only_then_removes_the_autosave(window, qtbot, tmp_path):
    edited(window, scan(tmp_path))
    assert window.autosaver.save_now()
    window.quit_action.trigger()
    answer(qtbot, window, Button.Discard)
    qtbot.waitUntil(lambda: not window.isVisible())
    assert not window.autosaver.path.exists()


def test_save_runs_save_as_and_a_cancelled_save_dialog_cancels_the_close(
    window, qtbot, tmp_path, monkeypatch
):
    edited(window, scan(tmp_path))
    assert window.autosaver.save_now()
    chosen = [""]
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (chosen[0], ""))
    window.close()
    answer(qtbot, window, Button.Save)  # the Save As dialog is cancelled
    assert window.isVisible() and window.has_unsaved_changes()
    assert window.autosaver.path.exists()

    chosen[0] = str(tmp_path / "kept")
    window.close()
    answer(qtbot, window, Button.Save)
    qtbot.waitUntil(lambda: not window.isVisible())
    assert (tmp_path / "kept.heirloom").is_file()
    assert not window.autosaver.path.exists()


def test_a_clean_document_closes_and_opens_without_asking(window, qtbot, tmp_path):
    window.open_path(scan(tmp_path))
    qtbot.waitUntil(lambda: window.context.document is not None, timeout=10_000)
    assert not window.has_unsaved_changes() and not window.isWindowModified()
    assert window.autosaver.save_now()
    window.open_path(scan(tmp_path, "old_EveningGlow.jpg"))
    qtbot.waitUntil(lambda: window.context.document.source.name == "old_EveningGlow.jpg")
    assert window.unsaved_box is None
    assert window.close()
    assert not window.autosaver.path.exists()


def _drop(window, mime: QMimeData) -> None:
    pos = window.rect().center()
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(
        window, QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, buttons, mods)
    )


@pytest.mark.parametrize(
    "gesture", ["open dialog", "recent file", "drop file", "drop image", "paste"]
)
def test_every_way_of_opening_another_document_asks_first(
    window, qtbot, tmp_path, monkeypatch, gesture
):
    other = scan(tmp_path, "old_EveningGlow.jpg")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (str(other), ""))
    window.settings.remember(other)
    window._fill_recent()
    image = QImage(120, 80, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkCyan)

    def open_other() -> None:
        if gesture == "open dialog":
            window.open_action.trigger()
        elif gesture == "recent file":
            window.recent_menu.actions()[0].trigger()
        elif gesture in ("drop file", "drop image"):
            mime = QMimeData()
            if gesture == "drop file":
                mime.setUrls([QUrl.fromLocalFile(str(other))])
            else:
                mime.setImageData(image)
            _drop(window, mime)
        else:
            QGuiApplication.clipboard().setImage(image)
            window.paste()

    document = edited(window, scan(tmp_path))
    open_other()
    answer(qtbot, window, Button.Cancel)
    qtbot.wait(200)  # nothing is loading behind the question
    assert window.context.document is document and window.has_unsaved_changes()

    open_other()
    answer(qtbot, window, Button.Discard)
    qtbot.waitUntil(lambda: window.context.document is not document, timeout=10_000)
    assert not window.has_unsaved_changes()


def test_a_pasted_then_edited_or_recovered_document_counts_as_unsaved(window, qtbot):
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.gray)
    QGuiApplication.clipboard().setImage(image)
    window.paste()
    assert not window.has_unsaved_changes()  # nothing done to it yet
    document = window.context.document
    document.set_result(document.photo * 0.5)
    assert window.has_unsaved_changes() and window.isWindowModified()
    document.undo.undo()
    assert not window.isWindowModified()


# --- (3) originals are never export or batch targets -----------------------------------


def test_export_refuses_the_source_photo_its_links_and_the_project(
    window, qtbot, tmp_path, monkeypatch
):
    from gui.export_dialog import ExportDialog, export_layer

    photo = scan(tmp_path)
    original = photo.read_bytes()
    edited(window, photo)
    document = window.context.document
    (tmp_path / "link.jpg").symlink_to(photo)
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: warnings.append(text))
    for target in (photo, tmp_path / "sub" / ".." / photo.name, tmp_path / "link.jpg"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, t=target: (str(t), ""))
        dialog = ExportDialog(document, window)
        qtbot.addWidget(dialog)
        dialog.layer.setCurrentIndex(dialog.layer.findData(Layer.MASK))
        dialog.choose_and_save()
        assert dialog.result() != dialog.DialogCode.Accepted
    assert len(warnings) == 3
    assert all("refusing" in text and "\n" not in text for text in warnings)
    assert photo.read_bytes() == original and (tmp_path / "link.jpg").is_symlink()

    project = save_project(document, tmp_path / "work.heirloom")
    document.project_path = project
    saved = project.read_bytes()
    with pytest.raises(Exception, match="refusing"):
        export_layer(document, Layer.RESULT, project, 8, 95)
    assert project.read_bytes() == saved


def test_exports_and_projects_follow_the_umask(window, tmp_path):
    from gui.export_dialog import export_layer

    document = edited(window, scan(tmp_path))
    previous = os.umask(0o022)
    try:
        written = [
            export_layer(document, Layer.MASK, tmp_path / "mask.png", 8, 95),
            export_layer(document, Layer.PHOTO, tmp_path / "photo.jpg", 8, 90),
            save_project(document, tmp_path / "work.heirloom"),
        ]
    finally:
        os.umask(previous)
    assert [stat.S_IMODE(p.stat().st_mode) for p in written] == [0o644] * 3


def _batch(window, qtbot, source: str, target: str):
    from gui.batch import BatchDialog

    dialog = BatchDialog(window.context, window)
    qtbot.addWidget(dialog)
    dialog.source.setText(source)
    dialog.target.setText(target)
    return dialog


def test_batch_refuses_the_input_folder_however_it_is_spelled(window, qtbot, tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    photo = scan(scans)
    before = photo.read_bytes(), photo.stat().st_mtime_ns
    (tmp_path / "alias").symlink_to(scans)
    for target in (scans, tmp_path / "other" / ".." / "scans", tmp_path / "alias"):
        dialog = _batch(window, qtbot, str(scans), str(target))
        dialog.start()
        assert "their own folder" in dialog.summary.text()
        assert dialog.table.rowCount() == 0 and not window.bridge.busy
    assert (photo.read_bytes(), photo.stat().st_mtime_ns) == before
    assert sorted(p.name for p in scans.iterdir()) == [photo.name]


def test_batch_never_writes_a_target_that_is_its_source(window, qtbot, tmp_path):
    scans, results = tmp_path / "scans", tmp_path / "results"
    scans.mkdir()
    results.mkdir()
    photo = scan(scans)
    before = photo.read_bytes()
    (results / photo.name).symlink_to(photo)  # the "result" is the original itself
    dialog = _batch(window, qtbot, str(scans), str(results))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.summary.text() != "", timeout=30_000)
    assert dialog.summary.text().startswith("0 of 1 restored, 1 skipped")
    assert "refusing" in dialog.table.item(0, 1).text()
    assert photo.read_bytes() == before and (results / photo.name).is_symlink()


# --- (6) a bad project reaches the user as one line -------------------------------------


def test_a_bad_project_opened_on_the_worker_thread_is_one_line(
    window, qtbot, tmp_path, monkeypatch
):
    warnings: list[tuple[str, str]] = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda _p, title, text: warnings.append((title, text))
    )
    bad = tmp_path / "letter.heirloom"
    bad.write_bytes(b"PK\x03\x04" + os.urandom(200))
    window.open_path(bad)
    qtbot.waitUntil(lambda: bool(warnings), timeout=10_000)
    title, text = warnings[0]
    assert title == "Cannot open" and "letter.heirloom" in text
    assert "\n" not in text and "Traceback" not in text
    assert window.context.document is None


# --- (7) autosave and recovery ------------------------------------------------------------


def _orphan(home: Path, tmp_path: Path, sample: str, mtime: float) -> Path:
    from engine.images import load_image
    from gui.document import Document

    folder = home / "autosave"
    folder.mkdir(exist_ok=True)
    path = save_project(
        Document(load_image(scan(tmp_path, sample))), folder / f"{dead_pid()}.heirloom"
    )
    os.utime(path, (mtime, mtime))
    return path


def _recovery(window, qtbot):
    window.offer_recovery()
    qtbot.waitUntil(lambda: window.recovery_box is not None and window.recovery_box.isVisible())
    return window.recovery_box


def test_recovery_lists_every_orphan_and_deletes_only_what_is_discarded(
    window, qtbot, home, tmp_path
):
    older = _orphan(home, tmp_path, "old_EveningGlow.jpg", 1_700_000_000)
    newer = _orphan(home, tmp_path, "old_LadyBird.jpg", 1_700_050_000)
    box = _recovery(window, qtbot)
    rows = [box.list.item(i).text() for i in range(box.list.count())]
    assert len(rows) == 2 and rows[0].startswith("old_LadyBird.jpg (1024x640), autosaved 20")
    assert rows[1].startswith("old_EveningGlow.jpg") and " MB" in rows[1]
    box.later_button.click()
    assert older.exists() and newer.exists()  # Later keeps them all

    box = _recovery(window, qtbot)
    box.list.setCurrentRow(1)  # the older one, and only it
    box.discard_button.click()
    assert not older.exists() and newer.exists()
    qtbot.waitUntil(lambda: window.recovery_box is not box and window.recovery_box.isVisible())
    box = window.recovery_box
    assert box.list.count() == 1
    box.recover_button.click()
    qtbot.waitUntil(lambda: window.context.document is not None)
    assert window.context.document.source.name == "old_LadyBird.jpg"
    assert window.has_unsaved_changes() and window.context.document.project_path is None
    assert not newer.exists() and window.autosaver.path.exists()  # now this session's


def test_a_damaged_autosave_is_reported_in_one_line_and_kept_until_discarded(
    window, qtbot, home, tmp_path
):
    damaged = home / "autosave" / f"{dead_pid()}.heirloom"
    damaged.parent.mkdir()
    damaged.write_bytes(b"PK\x03\x04 cut short by the crash")
    box = _recovery(window, qtbot)
    assert "damaged:" in box.list.item(0).text()
    for keep in (True, False):
        box.recover_button.click()
        qtbot.waitUntil(lambda: window.damaged_box is not None and window.damaged_box.isVisible())
        report = window.damaged_box
        assert "cannot be recovered" in report.text() and "\n" not in report.text()
        label = "Keep It for Later" if keep else "Discard It"
        next(b for b in report.buttons() if b.text() == label).click()
        assert damaged.exists() == keep
        if keep:
            box = _recovery(window, qtbot)  # told again next time, never silently
    assert window.context.document is None


def test_recovering_over_unsaved_work_asks_first(window, qtbot, home, tmp_path):
    orphan = _orphan(home, tmp_path, "old_EveningGlow.jpg", 1_700_000_000)
    document = edited(window, scan(tmp_path))
    _recovery(window, qtbot).recover_button.click()
    answer(qtbot, window, Button.Cancel)
    assert window.context.document is document and orphan.exists()


def test_an_autosave_that_cannot_be_written_is_reported_once(window, qtbot, home, tmp_path):
    document = edited(window, scan(tmp_path))
    (home / "autosave").write_text("a file where the folder should be")
    failures: list[str] = []
    window.autosaver.failed.connect(failures.append)
    assert not window.autosaver.save_now()  # the timer's slot: it must not raise
    assert "Autosave failed" in window.statusBar().currentMessage()
    window.statusBar().clearMessage()
    assert not window.autosaver.save_now()
    assert len(failures) == 1 and window.statusBar().currentMessage() == ""

    (home / "autosave").unlink()
    assert window.autosaver.save_now()  # works again: the next failure is told again
    window.autosaver.path.unlink()
    window.autosaver.path.mkdir()  # now the file itself cannot be replaced
    document.undo.undo()
    assert not window.autosaver.save_now()
    assert len(failures) == 2 and "cannot write" in failures[1]
    assert [p.name for p in window.autosaver.path.parent.iterdir()] == [
        window.autosaver.path.name
    ]  # no stray temporary file


# --- (7, 8) settings: bad values never stop the app, ranges are the engine's --------------


def test_bad_settings_fall_back_with_one_notice(qtbot, home, tmp_path):
    from gui.settings import Settings, load_settings

    (home / "settings.ini").write_text(
        "[General]\nschema=abc\ntile_size=huge\nthreads=-5\nscratch_threshold=0\n"
        "live_mode=maybe\ndevice=quantum\ndiffusion_steps=100000\nautosave_minutes=nan\n"
    )
    settings = load_settings()
    defaults = Settings()
    assert settings.tile_size == defaults.tile_size and settings.device == "auto"
    assert settings.threads == THREADS.low and settings.diffusion_steps == STEPS.high
    assert settings.scratch_threshold == 0.01 and settings.live_mode == defaults.live_mode
    assert settings.autosave_minutes == defaults.autosave_minutes
    assert set(settings.reset) == {
        "schema",
        "tile_size",
        "threads",
        "scratch_threshold",
        "live_mode",
        "device",
        "diffusion_steps",
        "autosave_minutes",
    }
    window = make_window(qtbot, tmp_path)
    message = window.statusBar().currentMessage()
    assert "reset to their defaults" in message and "tile_size" in message
    assert window.settings.reset == []  # told once
    window.close()
    assert load_settings().reset == []  # the corrected values were stored


def test_every_numeric_control_takes_its_range_from_the_engine_limits(window, qtbot):
    from gui.export_dialog import ExportDialog
    from gui.settings import RANGES, Settings, load_settings, save_settings
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    spins = {
        "tile_size": dialog.tile,
        "threads": dialog.threads,
        "diffusion_steps": dialog.steps,
        "scratch_threshold": dialog.threshold,
        "autosave_minutes": dialog.autosave,
    }
    for name, spin in spins.items():
        assert (spin.minimum(), spin.maximum()) == RANGES[name], name
    assert RANGES["tile_size"] == (TILE.low, TILE.high)
    assert RANGES["threads"] == (THREADS.low, THREADS.high)
    assert RANGES["diffusion_steps"] == (STEPS.low, STEPS.high)
    diffuse, restore = window.diffuse, window.restore
    assert (diffuse.steps.minimum(), diffuse.steps.maximum()) == (STEPS.low, STEPS.high)
    assert (diffuse.draws.minimum(), diffuse.draws.maximum()) == (DRAWS.low, DRAWS.high)
    assert diffuse.seed.minimum() == SEED.low and diffuse.seed.maximum() <= SEED.high
    assert (restore.sensitivity.minimum(), restore.sensitivity.maximum()) == (1, 99)
    assert (restore.smoothing.minimum(), restore.smoothing.maximum()) == (
        SMOOTHING.low * 100,
        SMOOTHING.high * 100,
    )
    assert window.open_now(SAMPLES / "old_LadyBird.jpg")
    export = ExportDialog(window.context.document, window)
    qtbot.addWidget(export)
    assert (export.quality.minimum(), export.quality.maximum()) == (QUALITY.low, QUALITY.high)

    for end in ("minimum", "maximum"):  # whatever the dialog accepts survives a restart
        for spin in spins.values():
            spin.setValue(getattr(spin, end)())
        dialog.accept()
        save_settings(window.settings)
        loaded = load_settings()
        assert loaded.reset == [] and loaded == window.settings
    too_big = Settings(tile_size=10**6, diffusion_steps=0, threads=10**4, restore_smoothing=-1)
    save_settings(too_big)
    loaded = load_settings()
    assert (loaded.tile_size, loaded.diffusion_steps) == (TILE.high, STEPS.low)
    assert (loaded.threads, loaded.restore_smoothing) == (THREADS.high, SMOOTHING.low)
    assert np.isclose(loaded.scratch_threshold, Settings().scratch_threshold)
