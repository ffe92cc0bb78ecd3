"""What the window tells and shows between jobs: the brush outline, fitting, previews
that cannot be placed, the shortcuts sheet, first-run hints, settings fields, combo texts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QPushButton

from gui.canvas.tiles import border
from gui.canvas.view import Tool

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"


def on_screen(window) -> QImage:
    """What the window last put on screen (the backing store: partial repaints included)."""
    return QGuiApplication.primaryScreen().grabWindow(window.winId()).toImage()


def test_changing_the_brush_size_leaves_no_outline_behind(window, qtbot, press):
    window.open_now(SAMPLES / "clean_EveningGlow.jpg")
    canvas = window.canvas
    canvas.tool = Tool.BRUSH
    canvas.set_brush(radius=60)
    centre = canvas.viewport().rect().center()
    qtbot.mouseMove(canvas.viewport(), centre)
    qtbot.wait(50)
    ring = int(60 * canvas.zoom)
    for _ in range(4):
        press(window, Qt.Key.Key_BracketLeft)  # `[` shrinks it
        qtbot.wait(30)
    assert canvas.radius < 30
    shown = on_screen(window)
    canvas.viewport().repaint()  # a full repaint: what should be there
    fresh = canvas.viewport().grab().toImage()
    offset = canvas.viewport().mapTo(window, QPoint(0, 0))
    ghosts = 0
    for angle in np.linspace(0, 2 * np.pi, 64, endpoint=False):
        p = centre + QPoint(int(ring * np.cos(angle)), int(ring * np.sin(angle)))
        a, b = shown.pixelColor(p + offset), fresh.pixelColor(p)
        ghosts += abs(a.red() - b.red()) + abs(a.green() - b.green()) > 30
    assert ghosts == 0


def test_the_canvas_refits_as_the_window_grows_until_the_user_zooms(window, qtbot):
    window.open_now(SAMPLES / "old_EveningGlow.jpg")
    canvas = window.canvas
    fitted = canvas.zoom
    window.resize(1500, 1000)
    qtbot.waitUntil(lambda: canvas.zoom > fitted * 1.2)
    whole = canvas.mapFromScene(0, 0), canvas.mapFromScene(1024, 640)
    view = canvas.viewport().rect()
    assert view.contains(whole[0]) and view.contains(whole[1] - QPoint(1, 1))
    window.zoom_in_action.trigger()  # the user zooms: the view stays as they left it
    zoom = canvas.zoom
    window.resize(1200, 800)
    qtbot.wait(50)
    assert canvas.zoom == zoom
    window.fit_action.trigger()  # Fit: fitting again, and following the window
    fitted = canvas.zoom
    window.resize(1500, 1000)
    qtbot.waitUntil(lambda: canvas.zoom > fitted * 1.1)


def test_a_preview_of_another_shape_is_not_drawn_over_the_photo(window):
    window.open_now(SAMPLES / "old_EveningGlow.jpg")
    canvas = window.canvas
    square = QImage(64, 64, QImage.Format.Format_RGB888)
    square.fill(0)
    assert not canvas.show_preview(square) and not canvas.preview_shown
    half = QImage(512, 320, QImage.Format.Format_RGB888)  # the photo's shape, smaller
    half.fill(0)
    assert canvas.show_preview(half) and canvas.preview_shown


def test_the_mask_outline_is_its_border_only():
    mask = np.zeros((12, 12), np.uint8)
    mask[2:10, 3:11] = 255
    edge = border(mask, width=2)
    assert edge[2, 5] == 255 and edge[3, 5] == 255  # two pixels thick
    assert edge[5, 6] == 0 and edge[0, 0] == 0  # not inside, not outside
    whole = np.full((6, 6), 255, np.uint8)  # a tile inside a big mask has no border
    assert not border(whole).any()


def test_question_mark_opens_the_shortcuts_sheet(window, qtbot, press):
    seen: list[list[tuple[str, str]]] = []

    def read_and_close() -> None:
        dialog = QApplication.activeModalWidget()
        table = dialog.table
        rows = [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]
        seen.append(rows)
        dialog.reject()

    QTimer.singleShot(50, read_and_close)
    press(window, "?")
    qtbot.waitUntil(lambda: bool(seen))
    rows = dict(seen[0])
    assert rows["M"] == "Show Mask" and rows["L"] == "Show Sketch Lines"
    assert rows["]"] == "Bigger Brush" and rows["Ctrl+Z"] == "Undo" and "Wheel" in rows
    assert window.shortcuts_action in window.menuBar().actions()[-1].menu().actions()


def test_each_workspace_shows_its_hint_until_it_is_closed(window, qtbot, tmp_path):
    from app_window import make_window

    for panel in window.workspaces:
        assert panel.hint_box.isVisibleTo(panel)
        assert panel.hint_box.findChild(QLabel).text() == panel.hint != ""
    window.sketch.hint_box.findChild(QPushButton).click()  # Got it
    assert not window.sketch.hint_box.isVisibleTo(window.sketch)
    assert window.context.settings.hints_seen == ["Sketch"]
    window.close()  # the settings are stored on close
    again = make_window(qtbot, tmp_path / "again")
    assert not again.sketch.hint_box.isVisibleTo(again.sketch)
    assert again.diffuse.hint_box.isVisibleTo(again.diffuse)
    again.close()


def test_the_autosave_field_corrects_a_value_below_its_range(window, qtbot):
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    field = dialog.autosave
    field.selectAll()
    qtbot.keyClicks(field, "0.2")
    field.interpretText()
    dialog.accept()
    assert window.settings.autosave_minutes == 0.5  # the minimum, as the field showed
    assert field.text() == "0.5 min"


def test_a_long_model_name_is_shortened_in_the_middle_with_the_whole_name_as_tooltip(window, qtbot):
    folder = window.context.registry.user / "heirloom-sketch"
    shutil.copytree(ROOT / "resources" / "models" / "heirloom-sketch", folder)
    window.sketch.refresh_models()
    window.tabs.setCurrentIndex(1)
    combo = window.sketch.model
    qtbot.waitUntil(lambda: combo.isVisible())
    title = combo.currentText()
    assert len(title) > 30
    assert combo.toolTip().startswith(title + "\n")  # the whole name, then what it is
    assert combo.width() < combo.fontMetrics().horizontalAdvance(title)
    plain = QComboBox()  # cut off at the right, as before
    plain.addItem(title)
    plain.resize(combo.size())
    assert combo.grab().toImage() != plain.grab().toImage()
