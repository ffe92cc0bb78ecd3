"""The Restore panel with the bundled packs on real samples: Restore detects the damage
when no mask is painted and leaves it editable, Sensitivity reads the way it sounds, and
the face outlines are Restore's overlay only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.images import load_image
from engine.models import Registry
from gui.canvas.view import Tool
from gui.export_dialog import export_layer
from gui.qimages import to_rgb8

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
FACE_COLOUR = (90, 200, 255)  # the canvas's face outline


@pytest.fixture
def bundled(window, tmp_path):
    """The window using the bundled model packs (no user packs)."""
    window.context.registry = Registry(user=tmp_path / "no-user-packs")
    return window


def _press(window, qtbot, button, timeout=60000):
    with qtbot.waitSignal(window.bridge.finished, timeout=timeout) as finished:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return finished.args[0]


def test_restore_without_a_mask_detects_damage_and_leaves_it_editable(bundled, qtbot):
    window = bundled
    assert window.open_now(SAMPLES / "old_grace_hopper.jpg")
    document, panel = window.context.document, window.restore
    assert "No mask painted: damage will be detected automatically" in panel.plan.text()
    assert panel.run.toolTip() == panel.plan.text()

    result = _press(window, qtbot, panel.run)
    found = result.images["mask"]
    assert result.info["mask"].startswith("detected by heirloom-scratch")
    assert found.any(), "the old print's scratches are found, not only denoised"
    assert np.array_equal(document.mask == 255, found)  # on the mask layer as it was found
    assert [document.undo.text(i) for i in range(document.undo.count())] == [
        "Found damage",
        "Restore",
    ]
    share = f"{found.mean() * 100:.1f} %"
    assert f"Found damage on {share} of the photo (heirloom-scratch)" in panel.status.text()
    assert "Using your painted mask" in panel.plan.text()

    # touch it up with the brush where nothing was found, and Restore again
    canvas = window.canvas
    canvas.tool = Tool.BRUSH
    canvas.set_brush(radius=6, hardness=1.0)
    assert not found[20:40, 20:60].any()
    start, end = canvas.mapFromScene(QPointF(25, 30)), canvas.mapFromScene(QPointF(55, 30))
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas.viewport(), end)
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=end)
    painted = document.mask >= 128
    assert painted[30, 30:50].all() and painted.sum() > found.sum()

    again = _press(window, qtbot, panel.run)
    assert again.info["mask"] == "given" and "detector" not in again.info
    assert np.array_equal(again.images["mask"], painted)  # the painted mask, not a new one
    assert np.array_equal(document.mask >= 128, painted)
    assert panel.status.text().startswith("Used your painted mask.")
    assert document.undo.count() == 4  # found damage, restore, stroke, restore

    for _ in range(4):
        window.undo_action.trigger()
    assert not document.mask.any() and document.result is None
    assert "No mask painted" in panel.plan.text()


def test_higher_sensitivity_finds_more_damage_on_the_same_photo(bundled, qtbot):
    window = bundled
    assert window.open_now(SAMPLES / "old_LadyBird.jpg")
    document, panel = window.context.document, window.restore
    marked = []
    for sensitivity in (20, 80):
        qtbot.mouseClick(panel.clear, Qt.MouseButton.LeftButton)  # Restore would detect
        panel.sensitivity.setValue(sensitivity)
        assert panel.sensitivity_label.text() == f"Sensitivity: {sensitivity} %"
        assert f"(sensitivity {sensitivity} %)" in panel.plan.text()
        result = _press(window, qtbot, panel.find)
        assert result.info["threshold"] == pytest.approx(1 - sensitivity / 100)
        assert window.settings.scratch_threshold == pytest.approx(1 - sensitivity / 100)
        marked.append(int((document.mask == 255).sum()))
    assert marked[1] > marked[0] > 0

    window.settings.scratch_threshold = 0.7  # the Settings dialog stores the threshold
    panel.follow_settings()
    assert panel.sensitivity.value() == 30 and panel.threshold() == pytest.approx(0.7)


def _face_pixels(window, box) -> int:
    """Pixels of the face outline's colour along the left edge of ``box`` on screen."""
    canvas = window.canvas
    image = canvas.viewport().grab().toImage()
    x0, y0, _x1, y1 = box
    count = 0
    for t in np.linspace(0.2, 0.8, 7):
        centre = canvas.mapFromScene(QPointF(x0, y0 + (y1 - y0) * t))
        for dx in range(-2, 3):
            colour = image.pixelColor(centre.x() + dx, centre.y())
            rgb = (colour.red(), colour.green(), colour.blue())
            count += max(abs(a - b) for a, b in zip(rgb, FACE_COLOUR, strict=True)) < 30
    return count


def test_face_outlines_show_in_restore_only_and_never_reach_an_export(bundled, qtbot, tmp_path):
    window = bundled
    assert window.open_now(SAMPLES / "old_grace_hopper.jpg")
    document = window.context.document
    result = _press(window, qtbot, window.restore.run)
    assert len(result.info["faces"]) == 1 and len(document.faces) == 1
    box = document.faces[0]
    qtbot.wait(20)
    assert window.canvas.faces_shown == 1 and _face_pixels(window, box) >= 5

    for index in (1, 2):  # Sketch, Diffuse
        window.tabs.setCurrentIndex(index)
        qtbot.wait(20)
        assert window.canvas.faces_shown == 0, window.tabs.tabText(index)
        assert _face_pixels(window, box) == 0, window.tabs.tabText(index)
    window.tabs.setCurrentIndex(0)
    qtbot.wait(20)
    assert window.canvas.faces_shown == 1 and _face_pixels(window, box) >= 5

    # an export writes the document's pixels, never the scene with its overlays
    written = export_layer(document, "result", tmp_path / "restored.png", 8, 95)
    exported = (load_image(written).pixels * 255 + 0.5).astype(np.int16)
    expected = to_rgb8(document.result).astype(np.int16)
    assert np.abs(exported.reshape(expected.shape) - expected).max() <= 1
