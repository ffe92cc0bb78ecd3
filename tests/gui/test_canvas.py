"""The canvas driven with real mouse and wheel events: brushes, undo, zoom, compare."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from gui.canvas.view import Tool

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def _open(window, qtbot, name="old_grace_hopper.jpg"):
    assert window.open_now(SAMPLES / name)
    qtbot.wait(10)
    return window.context.document


def _view_pos(canvas, x, y) -> QPoint:
    return canvas.mapFromScene(QPointF(x, y))


def test_a_brush_stroke_marks_the_mask_under_it_and_undo_restores_it(window, qtbot):
    document = _open(window, qtbot)
    canvas = window.canvas
    canvas.tool = Tool.BRUSH
    canvas.set_brush(radius=8, hardness=1.0)
    before = document.mask.copy()
    start, end = _view_pos(canvas, 100, 200), _view_pos(canvas, 300, 200)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for t in np.linspace(0, 1, 8):
        qtbot.mouseMove(
            canvas.viewport(), QPoint(int(start.x() + (end.x() - start.x()) * t), start.y())
        )
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=end)
    assert document.mask[200, 150:250].min() == 255  # under the stroke
    assert document.mask[260, :].max() == 0  # far from it
    assert document.undo.count() == 1

    window.undo_action.trigger()
    assert np.array_equal(document.mask, before)
    window.redo_action.trigger()
    assert document.mask[200, 200] == 255

    canvas.tool = Tool.ERASER
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=_view_pos(canvas, 200, 200))
    qtbot.mouseRelease(
        canvas.viewport(), Qt.MouseButton.LeftButton, pos=_view_pos(canvas, 200, 200)
    )
    assert document.mask[200, 200] == 0 and document.undo.count() == 2

    # the overlay on screen is red where the mask is
    image = canvas.viewport().grab().toImage()
    pixel = image.pixelColor(_view_pos(canvas, 150, 200))
    assert pixel.red() > pixel.green() + 60


def test_brush_keys_resize_and_mask_tools_are_undoable(window, qtbot):
    document = _open(window, qtbot)
    radius = window.canvas.radius
    window.bigger_action.trigger()
    assert window.canvas.radius > radius
    assert window.restore.brush.size.value() == int(window.canvas.radius * 2)
    document.mask[100:110, 100:110] = 255
    qtbot.mouseClick(window.restore.grow, Qt.MouseButton.LeftButton)
    assert document.mask[98, 98] == 255
    qtbot.mouseClick(window.restore.invert, Qt.MouseButton.LeftButton)
    assert document.mask[0, 0] == 255
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert document.mask[98, 98] == 0 and document.mask[105, 105] == 255


def _wheel(widget, pos: QPoint, clicks: int) -> None:
    event = QWheelEvent(
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        QPoint(),
        QPoint(0, 120 * clicks),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_wheel_zoom_keeps_the_point_under_the_cursor_fixed(window, qtbot):
    _open(window, qtbot, "old_EveningGlow.jpg")
    canvas = window.canvas
    cursor = _view_pos(canvas, 700, 200)
    anchor = canvas.mapToScene(cursor)
    zoom = canvas.zoom
    _wheel(canvas.viewport(), cursor, 3)
    assert canvas.zoom > zoom * 1.9
    after = canvas.mapToScene(cursor)
    assert abs(after.x() - anchor.x()) < 1.5 and abs(after.y() - anchor.y()) < 1.5
    _wheel(canvas.viewport(), cursor, -1)
    after = canvas.mapToScene(cursor)
    assert abs(after.x() - anchor.x()) < 1.5 and abs(after.y() - anchor.y()) < 1.5

    window.actual_action.trigger()
    assert canvas.zoom == 1.0
    window.fit_action.trigger()
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert visible.width() >= 1024 - 1 and visible.height() >= 640 - 1


def test_middle_button_drag_pans(window, qtbot):
    _open(window, qtbot, "old_EveningGlow.jpg")
    canvas = window.canvas
    canvas.actual_size()
    centre = canvas.viewport().rect().center()
    before = canvas.mapToScene(centre)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.MiddleButton, pos=centre)
    qtbot.mouseMove(canvas.viewport(), centre + QPoint(-100, -40))
    qtbot.mouseRelease(
        canvas.viewport(), Qt.MouseButton.MiddleButton, pos=centre + QPoint(-100, -40)
    )
    moved = canvas.mapToScene(centre) - before
    assert abs(moved.x() - 100) <= 2 and abs(moved.y() - 40) <= 2


def test_compare_shows_before_left_and_after_right_of_the_split(window, qtbot):
    document = _open(window, qtbot, "old_EveningGlow.jpg")
    document.set_result(np.zeros_like(document.photo), "black result")
    window.compare_action.trigger()
    canvas = window.canvas
    canvas.set_split(512)
    qtbot.wait(10)
    image = canvas.viewport().grab().toImage()
    left = image.pixelColor(_view_pos(canvas, 300, 320))
    right = image.pixelColor(_view_pos(canvas, 700, 320))
    assert right.value() < 10 and left.value() > 60
    # dragging the split line moves it
    start = _view_pos(canvas, 512, 320)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas.viewport(), _view_pos(canvas, 800, 320))
    qtbot.mouseRelease(
        canvas.viewport(), Qt.MouseButton.LeftButton, pos=_view_pos(canvas, 800, 320)
    )
    assert abs(canvas.compare_x - 800) < 3
