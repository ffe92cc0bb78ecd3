"""The journeys of docs (WALKTHROUGHS.md), end to end through the real widgets.

Each test opens or makes a document, paints with real mouse events, presses the
panel's buttons and keys, runs real ONNX packs, and checks pixels: the document's
layers and what the canvas draws.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QFileDialog, QGraphicsItem, QStyleOptionGraphicsItem

from diffusion_graphs import eps_pack
from engine.jobs import silent
from engine.limits import STEPS
from engine.pipelines.diffusion import GenerateOptions, InpaintOptions, generate, inpaint
from engine.pipelines.sketch import trace_edges
from gui.canvas.view import Tool
from gui.document import Layer
from gui.qimages import from_qimage

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
LEFT = Qt.MouseButton.LeftButton


def drag(window, qtbot, points: list[tuple[float, float]]) -> None:
    """One brush stroke through ``points`` (image pixels), with real mouse events."""
    canvas = window.canvas
    view = canvas.viewport()
    at = [canvas.mapFromScene(QPointF(x, y)) for x, y in points]
    qtbot.mousePress(view, LEFT, pos=at[0])
    for a, b in zip(at, at[1:], strict=False):
        for t in np.linspace(0, 1, 6)[1:]:
            qtbot.mouseMove(
                view, QPoint(int(a.x() + (b.x() - a.x()) * t), int(a.y() + (b.y() - a.y()) * t))
            )
    qtbot.mouseRelease(view, LEFT, pos=at[-1])


def on_screen(window, x: float, y: float) -> tuple[int, int, int]:
    """The colour the canvas shows at image pixel (x, y)."""
    canvas = window.canvas
    canvas.viewport().repaint()
    colour = canvas.viewport().grab().toImage().pixelColor(canvas.mapFromScene(QPointF(x, y)))
    return colour.red(), colour.green(), colour.blue()


def drawn(item: QGraphicsItem, width: int, height: int) -> np.ndarray:
    """What a canvas item paints, at scale 1, as an HxWx4 uint8 RGBA array."""
    image = QImage(width, height, QImage.Format.Format_RGBA8888)
    image.fill(0)
    option = QStyleOptionGraphicsItem()
    option.exposedRect = item.boundingRect()
    painter = QPainter(image)
    try:
        item.paint(painter, option, None)
    finally:
        painter.end()
    return np.frombuffer(image.constBits(), np.uint8).reshape(height, width, 4).copy()


def answer_modal(action) -> None:  # noqa: ANN001 - called with the active modal dialog
    """Run ``action`` on the next modal dialog once it is open (exec blocks the test)."""

    def later() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, later)
        else:
            action(dialog)

    QTimer.singleShot(20, later)


def install_sketch_pack(window) -> None:
    """The bundled pix2pix pack (trained here), installed as the user's."""
    shutil.copytree(
        ROOT / "resources" / "models" / "heirloom-sketch",
        window.context.registry.user / "heirloom-sketch",
    )
    window.sketch.refresh_models()
    window.sketch.on_document()


# --- 1. Maria restores a scan --------------------------------------------------------


def test_journey_restore_a_scan(window, qtbot, tmp_path, monkeypatch, press):
    window.open_now(SAMPLES / "old_grace_hopper.jpg")
    document, panel, canvas = window.context.document, window.restore, window.canvas
    with qtbot.waitSignal(window.bridge.finished, timeout=20000):
        qtbot.mouseClick(panel.find, LEFT)
    found = document.mask.copy()

    canvas.tool = Tool.BRUSH
    radius = canvas.radius
    press(window, Qt.Key.Key_BracketRight)  # `]` grows the brush
    assert canvas.radius > radius and panel.brush.size.value() == int(canvas.radius * 2)
    drag(window, qtbot, [(60, 520), (220, 520)])
    assert document.mask[520, 140] == 255
    press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(document.mask, found)  # Ctrl+Z took the stroke back
    drag(window, qtbot, [(60, 520), (220, 520)])

    # M hides the mask; the panel's box and the View menu follow it
    press(window, Qt.Key.Key_M)
    assert not canvas.layer_visible(Layer.MASK)
    assert not panel.show_mask.isChecked() and not window.mask_action.isChecked()
    panel.show_mask.click()
    assert canvas.layer_visible(Layer.MASK) and window.mask_action.isChecked()

    with qtbot.waitSignal(window.bridge.finished, timeout=30000):
        qtbot.mouseClick(panel.run, LEFT)
    painted = document.mask >= 128
    changed = np.abs(document.result - document.photo).max(axis=2) > 2 / 255
    assert changed[painted].mean() > 0.5  # the damage was repaired...
    shown = np.array(on_screen(window, 140, 520))
    assert np.abs(shown - document.result_rgb8[520, 140]).max() <= 12  # ...and is on screen
    assert not panel.show_mask.isChecked() and not window.mask_action.isChecked()

    # export: the dialog opens in the last folder used, the status bar says where it went
    out = tmp_path / "exports"
    out.mkdir()
    asked: list[str] = []

    def save_as(_parent, _title, suggestion, *_args, **_kw):
        asked.append(suggestion)
        return str(out / "restored.png"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    answer_modal(lambda dialog: dialog.choose_and_save())
    window.export_action.trigger()
    written = np.asarray(Image.open(out / "restored.png"))
    assert np.abs(written.astype(int) - document.result_rgb8).max() <= 1
    assert window.statusBar().currentMessage() == f"Exported restored.png to {out}"
    assert Path(asked[0]).parent == SAMPLES  # the first time: beside the photo
    answer_modal(lambda dialog: dialog.choose_and_save())
    window.export_action.trigger()
    assert Path(asked[1]).parent == out  # then where the last export went
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda _p, _t, suggestion, *_a: (suggestion, "")
    )
    press(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # save the project
    saved = out / "old_grace_hopper.heirloom"
    assert saved.exists() and window.statusBar().currentMessage() == f"Saved {saved.name}"

    # another photo: the old photo's messages go with it
    assert panel.status.text()
    document.undo.setClean()
    window.open_now(SAMPLES / "old_LadyBird.jpg")
    assert panel.status.text() == "" and window.statusBar().currentMessage() == ""


# --- 2. Ken sketches from a blank page -------------------------------------------------


def test_journey_sketch_from_a_blank_page(window, qtbot, press):
    install_sketch_pack(window)
    panel, canvas = window.sketch, window.canvas
    window.tabs.setCurrentIndex(1)
    assert window.context.document is None and panel.blank.isEnabled()
    panel.blank.click()
    panel.blank_dialog.width_box.setValue(256)
    panel.blank_dialog.height_box.setValue(192)
    panel.blank_dialog.accept()
    window.activateWindow()  # as the window manager does when a dialog closes
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    document = window.context.document
    assert (document.width, document.height) == (256, 192) and document.photo.min() == 1.0

    assert panel.live.isChecked()
    canvas.set_brush(radius=2, hardness=1.0)
    with qtbot.waitSignal(window.bridge.finished, timeout=30000):
        drag(window, qtbot, [(40, 150), (128, 40), (216, 150), (40, 150)])  # a roof
    assert document.sketch[150, 128] == 0 and document.result is not None
    assert document.undo.count() == 1  # the stroke; the live photo is no step of its own

    # the photo is visible at the default sketch opacity: lines over it, no white veil
    assert panel.opacity.value() == 100
    result = document.result_rgb8[100, 128].astype(int)
    veiled = 0.28 * result + 0.72 * 255
    shown = np.array(on_screen(window, 128, 100))
    assert np.abs(shown - result).max() <= 12 < np.abs(veiled - result).max()
    assert on_screen(window, 128, 150) == (0, 0, 0)  # the line is drawn over it...
    press(window, Qt.Key.Key_L)  # ...and L hides the lines
    assert not window.lines_action.isChecked()
    assert (
        np.abs(np.array(on_screen(window, 128, 150)) - document.result_rgb8[150, 128]).max() <= 12
    )
    press(window, Qt.Key.Key_L)

    with qtbot.waitSignal(window.bridge.finished, timeout=30000):
        drag(window, qtbot, [(110, 150), (110, 110), (146, 110), (146, 150)])  # a door
    with_door = document.result.copy()
    assert document.undo.count() == 2

    # the first Ctrl+Z undoes the door, not the photo; the live photo follows the lines
    with qtbot.waitSignal(window.bridge.finished, timeout=30000):
        press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert document.sketch[110, 128] == 255 and document.sketch[150, 60] == 0
    assert document.undo.index() == 1 and not np.array_equal(document.result, with_door)
    press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: document.result is None)  # no lines: no photo
    assert document.sketch.min() == 255 and not window.bridge.busy


def test_blank_page_asks_about_unsaved_work_first(window, qtbot):
    window.open_now(SAMPLES / "old_LadyBird.jpg")
    document = window.context.document
    window.tabs.setCurrentIndex(1)
    window.sketch.live.setChecked(False)
    drag(window, qtbot, [(100, 100), (200, 100)])
    window.sketch.blank.click()
    window.sketch.blank_dialog.accept()
    assert window.unsaved_box.isVisible() and window.context.document is document
    window.unsaved_box.button(window.unsaved_box.StandardButton.Cancel).click()
    assert window.context.document is document


def test_live_mode_on_a_page_without_lines_leaves_a_result_alone(window, qtbot):
    from gui.workspaces.sketch import LIVE_DELAY_MS

    window.open_now(SAMPLES / "old_LadyBird.jpg")
    document, panel = window.context.document, window.sketch
    restored = np.ascontiguousarray(document.photo[::-1])
    document.set_result(restored, "Restore")
    window.tabs.setCurrentIndex(1)
    panel.live.setChecked(False)
    panel.live.setChecked(True)  # a live run now: there are no lines to make a photo from
    qtbot.wait(LIVE_DELAY_MS * 3)
    assert document.result is restored and not window.bridge.busy
    assert panel.status.text() == "Live: the photo appears after the first line."


# --- 3. Ken sketches over a traced photo ----------------------------------------------


def test_journey_sketch_over_a_traced_photo(window, qtbot):
    install_sketch_pack(window)
    window.open_now(SAMPLES / "old_LadyBird.jpg")
    document, panel = window.context.document, window.sketch
    window.tabs.setCurrentIndex(1)
    panel.live.setChecked(False)
    with qtbot.waitSignal(window.bridge.finished, timeout=20000):
        panel.trace.click()  # nothing drawn yet: no question
    assert (document.sketch < 128).mean() > 0.01 and document.undo.count() == 1
    # over the photo the paper is translucent: the photo shows faintly
    paper = np.argwhere(document.sketch == 255)[5000]
    y, x = int(paper[0]), int(paper[1])
    faint = 0.28 * document.photo_rgb8[y, x].astype(float) + 0.72 * 255
    assert np.abs(np.array(on_screen(window, x, y)) - faint).max() <= 12

    window.canvas.set_brush(radius=3, hardness=1.0)
    drag(window, qtbot, [(20, 620), (300, 620)])
    with_stroke = document.sketch.copy()
    assert with_stroke[620, 160] == 0

    panel.trace.click()  # lines are drawn: it asks first
    assert panel.replace_box.isVisible()
    panel.replace_box.button(panel.replace_box.StandardButton.Cancel).click()
    assert np.array_equal(document.sketch, with_stroke) and not window.bridge.busy

    # with a result, the result is traced (here the photo mirrored), after asking
    mirrored = np.ascontiguousarray(document.photo[:, ::-1])
    document.set_result(mirrored, "Mirror")
    panel.trace.click()
    with qtbot.waitSignal(window.bridge.finished, timeout=20000):
        panel.replace_box.buttons()[0].click()  # Replace Lines
    traced = np.clip(np.asarray(trace_edges(mirrored, panel.detail.value() / 100)), 0, 1)
    traced = traced[..., 0] if traced.ndim == 3 else traced
    expected = (traced * 255.0 + 0.5).astype(np.uint8)
    assert np.array_equal(document.sketch, expected)

    # Generate photo is a user action: one undo step, undone first
    steps = document.undo.count()
    with qtbot.waitSignal(window.bridge.finished, timeout=60000):
        panel.generate_button.click()
    assert document.undo.count() == steps + 1
    generated = document.result
    assert generated.shape == mirrored.shape and not np.array_equal(generated, mirrored)
    window.undo_action.trigger()
    assert document.result is mirrored and np.array_equal(document.sketch, expected)


# --- 4. Ana fills holes, cancels, stops early -----------------------------------------


def open_diffuse(window, mode: str):
    eps_pack(window.context.registry.user, kind="conv")
    window.open_now(SAMPLES / "old_EveningGlow.jpg")
    window.tabs.setCurrentIndex(2)
    panel = window.diffuse
    panel.mode.setCurrentIndex(panel.mode.findData(mode))
    return window.context.document, panel


def test_journey_inpaint_holes_with_cancel_and_stop(window, qtbot):
    document, panel = open_diffuse(window, "inpaint")
    canvas = window.canvas
    photo = document.photo.copy()
    assert "No mask painted" in panel.mask_info.text()
    assert "shared with the Restore tab" in panel.mask_info.text()
    canvas.tool = Tool.BRUSH
    canvas.set_brush(radius=3, hardness=1.0)  # thin holes: windows fill them directly
    drag(window, qtbot, [(300, 200), (340, 200)])
    drag(window, qtbot, [(700, 400), (700, 440)])
    holes = document.mask >= 128
    assert holes[200, 320] and holes[420, 700] and "%" in panel.mask_info.text()

    panel.steps.setValue(400)  # long enough to watch and cancel
    panel.draws.setValue(1)
    qtbot.mouseClick(panel.run, LEFT)
    qtbot.waitUntil(lambda: panel.last_preview is not None, timeout=20000)
    # the preview sits on the photo at scale 1, drawn only inside the holes
    preview = drawn(canvas._preview, document.width, document.height)
    assert canvas._preview.scale() == 1.0
    assert preview[200, 320, 3] == 255 and preview[420, 700, 3] == 255
    assert preview[..., 3][~holes].max() == 0
    # the mask is an outline while the job runs: its inside shows the preview
    mask = drawn(canvas.layers[Layer.MASK], document.width, document.height)
    top = int(np.nonzero(holes[:, 320])[0].min())
    assert mask[200, 320, 3] == 0 and mask[top, 320, 3] > 0

    with qtbot.waitSignal(window.bridge.cancelled, timeout=20000):
        qtbot.mouseClick(window.cancel_button, LEFT)  # Cancel: the photo as it was
    assert document.result is None and document.undo.count() == 2
    assert np.array_equal(document.photo, photo) and not canvas.preview_shown
    assert panel.status.text() == "Stopped; nothing was changed."
    mask = drawn(canvas.layers[Layer.MASK], document.width, document.height)
    assert mask[200, 320, 3] > 0  # the whole mask again

    qtbot.mouseClick(panel.run, LEFT)
    qtbot.waitUntil(lambda: panel.last_preview is not None, timeout=20000)
    with qtbot.waitSignal(window.bridge.cancelled, timeout=20000):
        qtbot.mouseClick(panel.stop, LEFT)  # Stop & keep: the step, inside the holes only
    kept = document.result
    assert kept is not None and np.array_equal(kept[~holes], photo[~holes])
    seen = from_qimage(panel.last_preview)
    assert np.abs(kept[holes] - seen[holes]).max() < 1e-6
    assert np.abs(kept[holes] - photo[holes]).mean() > 0.01
    assert panel.status.text().startswith("Stopped at step")
    window.undo_action.trigger()
    assert document.result is None
    panel.mode.setCurrentIndex(panel.mode.findData("edit"))  # the stop was another mode's
    assert panel.status.text() == "" and panel.counter.text() == ""


def test_an_inpaint_in_the_app_is_the_engines_own_fill(window, qtbot):
    """What the app shows is the pipeline's output bit for bit (the CLI's too): the app
    adds no blending of its own at the hole's edge."""
    document, panel = open_diffuse(window, "inpaint")
    window.canvas.tool = Tool.BRUSH
    window.canvas.set_brush(radius=5, hardness=0.8)  # a soft brush edge
    drag(window, qtbot, [(200, 300), (230, 300)])
    panel.steps.setValue(3)
    panel.draws.setValue(2)
    with qtbot.waitSignal(window.bridge.finished, timeout=60000):
        qtbot.mouseClick(panel.run, LEFT)
    mask = (document.mask >= 128).astype(np.float32)
    device = window.context.settings.device
    options = InpaintOptions(steps=3, seed=panel.seed.value(), device=device, draws=2)
    engine = inpaint(document.photo, mask, options, silent(), registry=window.context.registry)
    assert np.array_equal(document.result, engine.images["image"])


# --- 5. Generate from noise ----------------------------------------------------------


def test_journey_generate_goes_to_a_new_page(window, qtbot):
    document, panel = open_diffuse(window, "generate")
    photo = document.photo.copy()
    panel.steps.setValue(STEPS.high)
    assert window.cancel_action.shortcut().toString() == "Esc"
    seen: list[tuple] = []

    def at_first_preview(*_args: object) -> None:
        """Cancel (Esc's action) as the first preview shows: the tiny model runs its
        steps in about a second, so waiting for a key press could miss the job."""
        if not seen:
            page = window.context.document
            seen.append((page, page.width, page.height, window.windowTitle()))
            window.cancel_action.trigger()  # the photo comes back

    window.bridge.preview.connect(at_first_preview)
    with qtbot.waitSignal(window.bridge.cancelled, timeout=20000):
        qtbot.mouseClick(panel.run, LEFT)
    window.bridge.preview.disconnect(at_first_preview)
    page, width, height, title = seen[0]
    assert page is not document and (width, height) == (16, 16)
    assert title.startswith("Untitled (16x16)")
    assert window.context.document is document and np.array_equal(document.photo, photo)
    assert document.undo.count() == 0 and document.result is None

    panel.steps.setValue(5)
    with qtbot.waitSignal(window.bridge.finished, timeout=30000):
        qtbot.mouseClick(panel.run, LEFT)
    sample = window.context.document
    assert sample is not document and sample.photo.shape == (16, 16, 3)
    device = window.context.settings.device
    options = GenerateOptions(steps=5, seed=panel.seed.value(), device=device)
    expected = generate(options, silent(), registry=window.context.registry).images["image"]
    assert np.array_equal(sample.photo, expected)
    assert not sample.undo.isClean()  # new, unsaved work: closing asks


def test_generate_asks_before_leaving_unsaved_work(window, qtbot):
    document, panel = open_diffuse(window, "generate")
    panel.mode.setCurrentIndex(panel.mode.findData("inpaint"))
    drag(window, qtbot, [(100, 100), (150, 100)])
    panel.mode.setCurrentIndex(panel.mode.findData("generate"))
    qtbot.mouseClick(panel.run, LEFT)
    assert window.unsaved_box.isVisible() and not window.bridge.busy
    window.unsaved_box.button(window.unsaved_box.StandardButton.Cancel).click()
    assert window.context.document is document and not window.bridge.busy
