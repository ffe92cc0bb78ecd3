"""The Diffuse panel knows whether it can run before the user presses anything."""

from pathlib import Path

from diffusion_graphs import eps_pack

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def open_in_diffuse(window, mode: str):
    """A sample photo open in the Diffuse panel in ``mode``, with a tiny eps pack
    installed; returns the document and the panel."""
    eps_pack(window.context.registry.user, kind="conv")
    assert window.open_now(SAMPLES / "old_EveningGlow.jpg")
    panel = window.diffuse
    window.tabs.setCurrentIndex(2)
    panel.mode.setCurrentIndex(panel.mode.findData(mode))
    return window.context.document, panel


def test_run_waits_for_a_diffusion_pack(window, qtbot, tmp_path):
    panel = window.diffuse
    window.tabs.setCurrentIndex(2)
    panel.mode.setCurrentIndex(panel.mode.findData("generate"))
    assert not panel.run.isEnabled()
    assert "Import a diffusion (ddpm-eps) pack" in panel.status.text()
    eps_pack(window.context.registry.user)  # the user imports one...
    window.tabs.setCurrentIndex(0)
    window.tabs.setCurrentIndex(2)  # ...and comes back to the panel
    assert panel.run.isEnabled()


def test_colour_strokes_are_undoable_and_only_their_area_is_edited(window, qtbot, tmp_path):
    import re

    import numpy as np
    from PySide6.QtCore import QPoint, QPointF, Qt

    from gui.canvas.view import Tool
    from gui.document import Layer

    document, panel = open_in_diffuse(window, "edit")
    assert panel.target.currentData() == Layer.PAINT  # edit mode paints colour
    canvas = window.canvas
    canvas.tool = Tool.BRUSH
    canvas.set_brush(radius=6, hardness=1.0)
    panel.set_colour((250, 250, 255))

    def at(x: float, y: float) -> QPoint:
        return canvas.mapFromScene(QPointF(x, y))

    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at(100, 80))
    qtbot.mouseMove(canvas.viewport(), at(160, 80))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at(160, 80))
    assert tuple(document.paint[80, 130]) == (250, 250, 255, 255)
    assert document.paint[120, 130, 3] == 0 and not document.mask.any()  # mask untouched
    window.undo_action.trigger()
    assert not document.has_paint
    window.redo_action.trigger()
    assert document.has_paint

    panel.steps.setValue(4)
    panel.strength.setValue(60)
    panel.run.click()
    qtbot.waitUntil(lambda: document.result is not None, timeout=60000)
    # 60% of 4 steps = 2 SDEdit steps per window batch, not the job's model calls
    assert re.fullmatch(r"Step 2/2( of part (\d+)/\2)?", panel.counter.text())
    changed = np.abs(document.result - document.photo).max(axis=2) > 1e-6
    assert changed[80, 130]  # the stroke was re-imagined...
    assert not changed[140:, :].any() and not changed[:, 200:].any()  # ...nothing far away
    assert np.abs(document.photo - document.result)[80, 100:160].mean() > 0.01


def test_inpaint_averages_as_many_fills_as_the_panel_says(window, qtbot):
    """The "Fills averaged" box only means something for Inpaint, and reaches the job."""
    import numpy as np

    document, panel = open_in_diffuse(window, "edit")
    assert not panel.draws.isEnabled()
    panel.mode.setCurrentIndex(panel.mode.findData("inpaint"))
    assert panel.draws.isEnabled() and panel.draws.value() == 4
    document.mask[40:60, 50:120] = 255
    panel.steps.setValue(3)
    panel.draws.setValue(2)
    panel.run.click()
    qtbot.waitUntil(lambda: document.result is not None, timeout=60000)
    assert panel.status.text().endswith("mean of 2 fills.")
    changed = np.abs(document.result - document.photo).max(axis=2) > 1e-6
    assert changed[50, 80] and not changed[100:, :].any()


def test_each_mode_keeps_its_own_steps_and_strength(window):
    """Inpaint starts from the engine's defaults (the command line's work, not 3x it);
    edit keeps what the user set when they come back to it; generate has no strength."""
    from engine.pipelines.diffusion import EditOptions, InpaintOptions

    _, panel = open_in_diffuse(window, "edit")
    assert panel.strength.value() == round(EditOptions.strength * 100)
    panel.steps.setValue(30)
    panel.strength.setValue(70)
    panel.mode.setCurrentIndex(panel.mode.findData("inpaint"))
    assert panel.steps.value() == InpaintOptions.steps
    assert panel.strength.value() == round(InpaintOptions.strength * 100)
    assert panel.draws.isEnabled() and panel.strength.isEnabled()
    panel.mode.setCurrentIndex(panel.mode.findData("generate"))
    assert not panel.strength.isEnabled() and not panel.draws.isEnabled()
    panel.mode.setCurrentIndex(panel.mode.findData("edit"))
    assert (panel.steps.value(), panel.strength.value()) == (30, 70)
