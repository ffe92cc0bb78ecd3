"""Opening without blocking, drag-and-drop, paste, importing a pack and the settings
dialog, driven through the real window (modal dialogs answered by a timer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from diffusion_graphs import eps_pack
from engine.images import load_image
from gui.models_dialog import CardPreview
from gui.settings import Settings, load_settings, settings_store
from gui.settings_dialog import SettingsDialog

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def answer_dialogs(handle):
    """Call ``handle(dialog)`` for every modal dialog that opens, until stopped."""
    timer = QTimer()
    timer.setInterval(20)

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is not None and dialog.isVisible():
            handle(dialog)

    timer.timeout.connect(poll)
    timer.start()
    return timer


def test_opening_a_photo_does_not_block_the_window(window, qtbot):
    path = SAMPLES / "old_EveningGlow.jpg"
    window.open_path(path)
    assert window.context.document is None  # returned at once; read on a worker thread
    assert "Opening old_EveningGlow.jpg" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.context.document is not None, timeout=10000)
    document = window.context.document
    assert np.array_equal(document.photo, load_image(path).pixels)
    assert window.settings.recent_files[0] == str(path)
    assert QGuiApplication.overrideCursor() is None  # the busy cursor is gone


def test_a_later_open_replaces_a_pending_one_and_errors_are_sentences(
    window, qtbot, tmp_path, monkeypatch
):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, title, text: warnings.append(text))
    window.open_path(SAMPLES / "old_EveningGlow.jpg")
    window.open_path(SAMPLES / "old_LadyBird.jpg")  # changed her mind before it loaded
    qtbot.waitUntil(lambda: window.context.document is not None, timeout=10000)
    qtbot.wait(300)  # the first load may finish later: it must not replace the second
    assert window.context.document.source == SAMPLES / "old_LadyBird.jpg"

    broken = tmp_path / "scan.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    window.open_path(broken)
    qtbot.waitUntil(lambda: bool(warnings), timeout=10000)
    assert "scan.jpg" in warnings[0] and "\n" not in warnings[0].strip()
    assert window.context.document.source == SAMPLES / "old_LadyBird.jpg"  # kept
    assert QGuiApplication.overrideCursor() is None


def _drop(window, mime: QMimeData) -> bool:
    pos = window.rect().center()
    enter = QDragEnterEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(
        QPointF(pos),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier(0),
    )
    QApplication.sendEvent(window, drop)
    return True


def test_dropping_a_photo_file_or_image_data_opens_it(window, qtbot, tmp_path):
    text = QMimeData()
    text.setUrls([QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    assert not _drop(window, text)  # not something Heirloom opens: refused at the door

    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(SAMPLES / "old_grace_hopper.jpg"))])
    assert _drop(window, files)
    qtbot.waitUntil(lambda: window.context.document is not None, timeout=10000)
    assert window.context.document.source == SAMPLES / "old_grace_hopper.jpg"

    image = QImage(120, 80, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkCyan)
    raw = QMimeData()
    raw.setImageData(image)
    assert _drop(window, raw)
    document = window.context.document
    assert (document.width, document.height) == (120, 80) and document.source is None


def test_paste_opens_the_clipboard_image_or_says_there_is_none(window, qtbot):
    clipboard = QGuiApplication.clipboard()
    clipboard.clear()
    window.paste_action.trigger()
    assert window.context.document is None
    assert "no image" in window.statusBar().currentMessage()
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    clipboard.setImage(image)
    window.paste_action.trigger()
    document = window.context.document
    assert (document.width, document.height) == (64, 48)
    assert np.allclose(document.photo[10, 10], (1.0, 0.0, 0.0), atol=1 / 255)


def test_importing_a_pack_shows_its_card_then_installs_it(window, qtbot, tmp_path, monkeypatch):
    incoming = eps_pack(tmp_path / "downloads").path
    manifest = str(incoming / "manifest.json")  # a pack folder is chosen by its manifest
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (manifest, ""))
    seen: list[str] = []

    def handle(dialog) -> None:
        if isinstance(dialog, CardPreview):
            seen.append("card: " + dialog.windowTitle())
            dialog.accept()  # "Import"
        else:
            seen.append("message: " + getattr(dialog, "text", lambda: "?")())
            dialog.accept()

    timer = answer_dialogs(handle)
    window.import_action.trigger()
    timer.stop()
    assert seen[0] == "card: Import eps-exact?"
    assert "eps-exact is installed" in seen[1]
    assert any(p.name == "eps-exact" for p in window.context.registry.packs())
    window.tabs.setCurrentIndex(2)
    window.diffuse.mode.setCurrentIndex(window.diffuse.mode.findData("generate"))
    assert window.diffuse.run.isEnabled()  # the panel sees the new pack

    # a folder that is not a pack: a sentence, nothing installed
    nothing = str(tmp_path / "manifest.json")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (nothing, ""))
    seen.clear()
    timer = answer_dialogs(handle)
    window.import_action.trigger()
    timer.stop()
    assert len(seen) == 1 and seen[0].startswith("message: ")
    assert len([p for p in window.context.registry.packs() if p.name == "eps-exact"]) == 1


def test_settings_dialog_applies_persists_and_restores_defaults(window, qtbot):
    def change(dialog) -> None:
        if isinstance(dialog, SettingsDialog):
            dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
            dialog.tile.setValue(768)
            dialog.live.setChecked(False)
            dialog.steps.setValue(30)
        dialog.accept()

    timer = answer_dialogs(change)
    window.settings_action.trigger()
    timer.stop()
    settings = window.settings
    assert (settings.device, settings.tile_size, settings.live_mode) == ("cpu", 768, False)
    assert settings.diffusion_steps == 30
    assert load_settings(settings_store()) == settings  # written to settings.ini
    assert window.device.wanted == "cpu"  # the status bar follows the device chosen

    shown: list[tuple[int, bool]] = []

    def reset_then_cancel(dialog) -> None:
        if isinstance(dialog, SettingsDialog):
            dialog._defaults()
            shown.append((dialog.tile.value(), dialog.live.isChecked()))
        dialog.reject()  # Cancel: nothing changes

    timer = answer_dialogs(reset_then_cancel)
    window.settings_action.trigger()
    timer.stop()
    assert shown == [(Settings().tile_size, Settings().live_mode)]  # the defaults, shown
    assert window.settings.tile_size == 768  # but cancelled
