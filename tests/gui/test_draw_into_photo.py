"""Journey 4 of docs (WALKTHROUGHS.md): Ken redraws a region of a real photo.

Real widgets, real mouse events on the canvas, a tiny real ONNX ``sketch-into`` pack
(tests/graphs.py): paint the region, trace the photo's edges into it, dab a colour
hint, watch the live preview, Apply, compare, export, undo; and the whole-canvas mode
with colour hints, which draws the whole frame with the same pack.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QFileDialog
from test_journeys import answer_modal, drag, drawn, install_sketch_pack, on_screen

from engine.images import load_image
from engine.jobs import silent
from engine.pipelines.sketch import IntoOptions, sketch_into_photo
from graphs import sketch_into_pack
from gui.canvas.view import Tool
from gui.document import Layer
from gui.qimages import to_rgb8
from gui.workspaces.sketch import INTO, WHOLE, layers_of, same_layers

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
PHOTO = SAMPLES / "clean_LadyBird.jpg"  # 1024x640


def sketch_panel(window, mode: str):
    """The Sketch workspace with the tiny sketch-into pack installed, in ``mode``."""
    sketch_into_pack(window.context.registry.user.parent)
    window.tabs.setCurrentIndex(window.workspaces.index(window.sketch))
    panel = window.sketch
    panel.refresh_models()
    panel.mode.setCurrentIndex(panel.mode.findData(mode))
    panel.live.setChecked(True)
    return panel


def live_caught_up(panel, document) -> bool:
    """The last live redraw was made from the layers as they are now."""
    run = panel.live_run
    return (
        run is not None
        and run.photo is not None
        and same_layers(layers_of(document, INTO, copy=False), run.layers)
    )


def test_journey_draw_into_a_photo(window, qtbot, tmp_path, monkeypatch, press):
    window.open_now(PHOTO)
    panel = sketch_panel(window, INTO)
    document, canvas = window.context.document, window.canvas
    photo = document.photo.copy()
    assert panel.apply_button.isVisible() and not panel.generate_button.isVisible()
    assert panel.trace_region.isVisible() and not panel.trace.isVisible()
    assert "No region yet" in panel.region_info.text()

    # the region: with no region yet, the brush paints it; real strokes on the canvas
    assert panel.paint_layer == Layer.MASK and canvas.paint_layer == Layer.MASK
    canvas.tool = Tool.BRUSH
    canvas.set_brush(radius=24, hardness=1.0)
    for y in (150, 190, 230):
        drag(window, qtbot, [(360, y), (620, y)])
    region = document.mask >= 128
    assert region[190, 500] and not region[400, 500] and not region[190, 100]
    assert 0.02 < region.mean() < 0.1
    assert "of the photo, inside the red outline" in panel.region_info.text()
    assert "shared with Restore and Diffuse" in panel.region_info.text()
    # the region is drawn as its outline: the photo shows inside it
    mask = drawn(canvas.layers[Layer.MASK], document.width, document.height)
    assert mask[190, 500, 3] == 0 and mask[int(np.nonzero(region[:, 500])[0].min()), 500, 3] > 0

    # the photo's own edges inside the region, as lines to start from
    with qtbot.waitSignal(window.bridge.finished, timeout=20000):
        qtbot.mouseClick(panel.trace_region, Qt.MouseButton.LeftButton)
    lines = document.sketch < 128
    assert lines[region].mean() > 0.003 and not lines[~region].any()
    assert document.undo.redoText() == "" and document.undo.undoText() == (
        "Trace edges into region"
    )

    # a line of the user's own, across the region, with the pen (P)
    press(window, Qt.Key.Key_P)
    assert canvas.paint_layer == Layer.SKETCH and panel.target_buttons[Layer.SKETCH].isChecked()
    canvas.set_brush(radius=2, hardness=1.0)
    drag(window, qtbot, [(380, 210), (600, 160)])
    assert document.sketch[185, 490] == 0

    # a colour hint: the picker's colour, then a dab with the colour brush
    panel.set_colour((170, 30, 30))
    assert panel.paint_layer == Layer.PAINT and canvas.paint_colour == (170, 30, 30)
    canvas.set_brush(radius=6, hardness=1.0)
    drag(window, qtbot, [(450, 180), (470, 180)])
    assert tuple(document.paint[180, 460]) == (170, 30, 30, 255)
    assert "Colour hints on" in panel.hint_info.text()

    # the live preview catches up with the last stroke, on the canvas inside the region
    qtbot.waitUntil(lambda: live_caught_up(panel, document), timeout=30000)
    qtbot.waitUntil(lambda: not window.bridge.busy, timeout=10000)
    assert document.result is None  # a preview changes nothing yet
    preview = drawn(canvas._preview, document.width, document.height)
    assert preview[190, 500, 3] == 255 and preview[..., 3][~region].max() == 0
    assert "Live: region redrawn by tiny-sketch-into on CPU" in panel.status.text()
    assert panel.latencies_ms and all(ms > 0 for ms in panel.latencies_ms)
    print(f"live redraws (submit to preview): {[round(ms) for ms in panel.latencies_ms]} ms")

    # Apply: one undo step, redrawn at full size (the live preview is made smaller);
    # outside the region the photo, bit for bit; inside redrawn
    steps = document.undo.count()
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: document.result is not None, timeout=30000)
    result = document.result
    assert result is not None and document.undo.count() == steps + 1
    assert document.undo.undoText() == "Draw into photo"
    assert np.array_equal(result[~region], photo[~region])
    assert np.abs(result[region] - photo[region]).mean() > 0.02
    assert not canvas.preview_shown
    assert panel.status.text().startswith("Applied: the region redrawn by tiny-sketch-into on CPU")
    # what the app kept is the engine's own redraw of these layers
    edges = document.sketch.astype(np.float32) / 255.0
    hints = document.paint[..., :3].astype(np.float32) / 255.0
    dabs = (document.paint[..., 3] >= 128).astype(np.float32)
    engine = sketch_into_photo(
        photo,
        region.astype(np.float32),
        edges,
        hints,
        dabs,
        IntoOptions(device=window.context.settings.device),
        silent(),
        registry=window.context.registry,
    )
    assert np.array_equal(result, engine.images["photo"])
    # on screen at 100 %: the redraw inside the region, the photo outside
    x, y = 500, 230
    press(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    canvas.centerOn(QPointF(x, y))
    assert np.abs(np.array(on_screen(window, 420, 300)) - document.photo_rgb8[300, 420]).max() <= 12
    press(window, Qt.Key.Key_L)  # lines hidden: the redrawn pixels themselves
    assert np.abs(np.array(on_screen(window, x, y)) - document.result_rgb8[y, x]).max() <= 12
    press(window, Qt.Key.Key_L)

    # compare before | after with the split
    press(window, Qt.Key.Key_C)
    assert window.compare_action.isChecked() and canvas.compare
    canvas.set_split(document.width)  # all "before": the photo
    press(window, Qt.Key.Key_L)
    assert np.abs(np.array(on_screen(window, x, y)) - document.photo_rgb8[y, x]).max() <= 12
    press(window, Qt.Key.Key_L)
    press(window, Qt.Key.Key_C)
    assert not canvas.compare

    # export the result: outside the region the file holds the source's pixels exactly
    out = tmp_path / "redrawn.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(out), ""))
    answer_modal(lambda dialog: dialog.choose_and_save())
    window.export_action.trigger()
    written = np.asarray(Image.open(out).convert("RGB"))
    source = to_rgb8(load_image(PHOTO).pixels)
    assert np.array_equal(written[~region], source[~region])
    assert (written[region] != source[region]).any()

    # Ctrl+Z: the photo exactly as it was, on screen too; no live run comes back
    press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert document.result is None and np.array_equal(document.photo, photo)
    assert not canvas.preview_shown
    assert np.abs(np.array(on_screen(window, 200, 500)) - document.photo_rgb8[500, 200]).max() <= 12
    qtbot.wait(300)
    assert not window.bridge.busy and document.result is None
    # Apply again keeps the same redraw at once (the layers did not change)
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert np.array_equal(document.result, engine.images["photo"])


def test_lines_outside_the_region_are_drawn_faint_and_not_used(window, qtbot):
    window.open_now(PHOTO)
    panel = sketch_panel(window, INTO)
    panel.live.setChecked(False)
    document, canvas = window.context.document, window.canvas
    canvas.tool = Tool.BRUSH
    canvas.set_brush(radius=30, hardness=1.0)
    drag(window, qtbot, [(300, 300), (400, 300)])
    region = document.mask >= 128
    panel.target_buttons[Layer.SKETCH].click()
    canvas.set_brush(radius=2, hardness=1.0)
    drag(window, qtbot, [(280, 300), (420, 300)])  # into the region and out again
    drag(window, qtbot, [(600, 500), (800, 500)])  # far outside
    lines = drawn(canvas.layers[Layer.SKETCH], document.width, document.height)
    assert lines[300, 350, 3] == 255 and 0 < lines[500, 700, 3] < 128

    with qtbot.waitSignal(window.bridge.finished, timeout=30000):
        qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    with_far_line = document.result.copy()
    assert np.array_equal(with_far_line[~region], document.photo[~region])
    window.undo_action.trigger()
    window.undo_action.trigger()  # the far line goes; the redraw is the same
    assert document.sketch[500, 700] == 255
    with qtbot.waitSignal(window.bridge.finished, timeout=30000):
        qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert np.array_equal(document.result, with_far_line)

    # back in the whole-canvas mode the lines look as they always did, and other
    # workspaces see the mask filled again
    panel.mode.setCurrentIndex(panel.mode.findData(WHOLE))
    assert not canvas.region_mode and not canvas.layer_visible(Layer.MASK)
    panel.mode.setCurrentIndex(panel.mode.findData(INTO))
    assert canvas.region_mode
    window.tabs.setCurrentIndex(window.workspaces.index(window.restore))
    assert not canvas.region_mode
    mask = drawn(canvas.layers[Layer.MASK], document.width, document.height)
    assert mask[300, 350, 3] > 0


def test_without_a_region_nothing_runs_and_the_panel_says_what_to_do(window, qtbot):
    window.open_now(PHOTO)
    panel = sketch_panel(window, INTO)
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert not window.bridge.busy and window.context.document.result is None
    assert panel.status.text().startswith("Paint the region to redraw")
    qtbot.mouseClick(panel.trace_region, Qt.MouseButton.LeftButton)
    assert not window.bridge.busy
    assert panel.status.text().startswith("Paint the region to redraw first")


def test_whole_canvas_mode_with_colour_hints_draws_the_whole_frame(window, qtbot):
    install_sketch_pack(window)
    window.open_now(PHOTO)
    panel = sketch_panel(window, WHOLE)
    panel.live.setChecked(False)
    document, canvas = window.context.document, window.canvas
    assert panel.generate_button.isVisible() and not panel.apply_button.isVisible()
    assert not panel.target_buttons[Layer.MASK].isVisible()
    canvas.tool = Tool.BRUSH
    canvas.set_brush(radius=2, hardness=1.0)
    drag(window, qtbot, [(100, 100), (900, 500)])
    # lines only: the sketch2photo pack, as before
    with qtbot.waitSignal(window.bridge.finished, timeout=60000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert "by heirloom-sketch on" in panel.status.text()
    assert "colours" not in panel.status.text()

    panel.set_colour((40, 90, 200))
    canvas.set_brush(radius=8, hardness=1.0)
    drag(window, qtbot, [(200, 400), (260, 400)])
    with qtbot.waitSignal(window.bridge.finished, timeout=30000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert "by tiny-sketch-into on CPU" in panel.status.text()
    assert "in your colours" in panel.status.text()
    everything = np.ones(document.sketch.shape, np.float32)
    expected = sketch_into_photo(
        document.photo,
        everything,
        document.sketch.astype(np.float32) / 255.0,
        document.paint[..., :3].astype(np.float32) / 255.0,
        (document.paint[..., 3] >= 128).astype(np.float32),
        IntoOptions(device=window.context.settings.device),
        silent(),
        registry=window.context.registry,
    )
    assert np.array_equal(document.result, expected.images["photo"])


def test_p_k_r_choose_what_the_sketch_brush_paints(window, qtbot, press):
    from gui.shortcuts import action_keys

    window.open_now(PHOTO)
    panel = sketch_panel(window, WHOLE)
    canvas = window.canvas
    press(window, Qt.Key.Key_K)
    assert canvas.paint_layer == Layer.PAINT and panel.brush.title() == "Colour brush"
    press(window, Qt.Key.Key_R)  # no region in the whole-canvas mode: it says so
    assert canvas.paint_layer == Layer.PAINT
    assert "Draw into photo" in window.statusBar().currentMessage()
    panel.mode.setCurrentIndex(panel.mode.findData(INTO))
    press(window, Qt.Key.Key_P)
    assert canvas.paint_layer == Layer.SKETCH and panel.brush.title() == "Pen"
    press(window, Qt.Key.Key_R)
    assert canvas.paint_layer == Layer.MASK and panel.brush.title() == "Region brush"
    # each keeps its own brush size
    canvas.set_brush(radius=40)
    press(window, Qt.Key.Key_P)
    canvas.set_brush(radius=2)
    press(window, Qt.Key.Key_R)
    assert canvas.radius == 40
    # elsewhere the keys leave the brush alone, and say where they work
    window.tabs.setCurrentIndex(window.workspaces.index(window.restore))
    press(window, Qt.Key.Key_P)
    assert canvas.paint_layer == Layer.MASK
    assert "Sketch workspace" in window.statusBar().currentMessage()
    keys = dict(action_keys(window.actions()))
    assert keys["P"] == "Sketch: Pen (Lines)" and keys["K"] == "Sketch: Colour Hint Brush"
    assert keys["R"] == "Sketch: Region Brush (Draw into Photo)"


def test_the_preview_belongs_to_the_sketch_workspace(window, qtbot):
    window.open_now(PHOTO)
    panel = sketch_panel(window, INTO)
    document, canvas = window.context.document, window.canvas
    canvas.tool = Tool.BRUSH
    canvas.set_brush(radius=30, hardness=1.0)
    drag(window, qtbot, [(500, 300), (600, 300)])
    qtbot.waitUntil(lambda: live_caught_up(panel, document) and canvas.preview_shown, timeout=30000)
    window.tabs.setCurrentIndex(window.workspaces.index(window.diffuse))
    assert not canvas.preview_shown and not canvas.region_mode
    assert document.result is None
    window.tabs.setCurrentIndex(window.workspaces.index(panel))  # it comes back, live
    qtbot.waitUntil(lambda: canvas.preview_shown, timeout=30000)
    assert canvas.region_mode and document.result is None
    # the whole-canvas mode shows no preview and starts no run of its own
    panel.mode.setCurrentIndex(panel.mode.findData(WHOLE))
    assert not canvas.preview_shown
    qtbot.wait(400)
    assert not window.bridge.busy and document.result is None
