"""Sketch: trace or draw black-on-white edges, and turn them into a photo with pix2pix,
or draw into a region of a photo and have only that region redrawn.

Two modes share the lines (the sketch layer) and the colour hints (the colour-stroke
layer, the one Diffuse's Edit paints):

- **Sketch to photo**: the lines on the whole canvas become a new photo
  (``sketch_to_photo``, a ``sketch2photo`` pack); with colour hints painted, a
  ``sketch-into`` pack draws the whole frame from the lines and the colours.
- **Draw into photo**: the user paints the region to redraw (the document's one mask,
  shared with Restore and Diffuse, drawn as its outline here), draws lines in it (Trace
  edges into region offers the photo's own edges there) and dabs colour hints;
  ``sketch_into_photo`` redraws the region only, and every pixel outside it stays the
  photo's. The live result is a preview on the canvas, inside the region; Apply makes
  it the result layer, one undo step.

Live mode follows krita-ai-diffusion's idea: after a stroke ends the panel waits a
short pause (``LIVE_DELAY_MS``); a stroke inside the pause restarts the wait, and the
job then goes to the runner with ``replace=True``, so a job still running is cancelled
and nothing stale ever queues behind the pen.

A live result follows the lines and is no undo step of its own (Ctrl+Z undoes the last
stroke, and the photo follows the lines again); "Generate photo" and "Apply" are user
actions and are one. Over a result the lines are drawn without their paper, so the
photo shows; L hides and shows them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtGui import QBitmap, QImage
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine.cancel import CancelToken
from engine.errors import PackError
from engine.images import ImageMeta, LoadedImage
from engine.jobs import Emitter, Result
from engine.limits import DETAIL
from engine.pipelines.sketch import (
    PREVIEW_SIDE,
    IntoOptions,
    SketchOptions,
    sketch_into_photo,
    sketch_to_photo,
    trace_edges,
)
from gui.document import Document, Layer
from gui.qimages import resize_to
from gui.workspaces.base import (
    AppContext,
    BrushBox,
    ElidedCombo,
    Workspace,
    colour_icon,
    percent_slider,
    pick_colour,
    slider,
    use_brush,
)
from gui.workspaces.diffuse import region_bitmap
from gui.workspaces.restore import share_text

LIVE_DELAY_MS = 150
BLANK_SIZE = (512, 512)  # a new page's size when no photo suggests one
PAGE_STEP = 64  # pix2pix packs take sizes in multiples of 64
HINT_ALPHA = 128  # colour strokes at least this opaque are hints (soft brush edges are not)

WHOLE, INTO = "photo", "into"
MODES = ((WHOLE, "Sketch to photo"), (INTO, "Draw into photo"))
TARGETS = (  # what the brush paints: (layer, button text, brush box title, tooltip)
    (Layer.SKETCH, "Lines", "Pen", "Draw black lines (P; E erases)"),
    (Layer.PAINT, "Colour", "Colour brush", "Dab colour hints (K; E erases them)"),
    (Layer.MASK, "Region", "Region brush", "Paint the region to redraw (R; E erases it)"),
)
DEFAULT_RADIUS = {Layer.PAINT: 8.0, Layer.MASK: 24.0}  # the pen keeps the canvas's size


def blank_document(width: int, height: int) -> Document:
    """A new untitled document: white paper of ``width`` x ``height``, no lines yet."""
    paper = np.ones((height, width, 3), np.float32)
    return Document(LoadedImage(paper, None, ImageMeta()))


def has_hints(document: Document) -> bool:
    """Colour hints are painted (drawing never allocates the colour layer)."""
    paint = document.paint_if_any
    return paint is not None and bool((paint[..., 3] >= HINT_ALPHA).any())


def colour_hints(paint: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """An RGBA colour layer as the engine's hints: (HxWx3 colours, HxW 1/0 where a hint
    is), or None without any. Made in the job, off the GUI thread: a big photo's float
    copies take a while."""
    if paint is None:
        return None
    dabs = paint[..., 3] >= HINT_ALPHA
    if not dabs.any():
        return None
    return paint[..., :3].astype(np.float32) / 255.0, dabs.astype(np.float32)


def ran_on(info: dict) -> str:
    """The pack and the device that ran, for the status line: the device's short name
    (the status bar's device box says why CUDA was not used, with details)."""
    device = str(info.get("device", "?")).split(" (")[0]
    return f"{info.get('model', '?')} on {device}"


def layers_of(document: Document, mode: str, copy: bool = True) -> tuple[np.ndarray | None, ...]:
    """The layers a run in ``mode`` reads: lines, colour strokes (None when never
    painted) and, drawing into a photo, the region; copies unless ``copy`` is False."""
    planes = (document.sketch, document.paint_if_any)
    if mode == INTO:
        planes = (*planes, document.mask)
    return tuple(p.copy() if copy and p is not None else p for p in planes)


def same_layers(a: tuple[np.ndarray | None, ...], b: tuple[np.ndarray | None, ...]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            if x is not y:
                return False
        elif not np.array_equal(x, y):
            return False
    return True


@dataclass
class IntoRun:
    """One Draw into photo job: what it was given, and what it made."""

    document: Document
    base: np.ndarray  # the picture drawn into (the result, else the photo)
    layers: tuple[np.ndarray | None, ...]
    region: np.ndarray  # HxW bool
    bits: QBitmap  # the region as the preview's clip
    live: bool
    started: float = field(default_factory=time.perf_counter)
    photo: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    latency_ms: float = 0.0  # submit to result on the canvas, as the user waits


class BlankPageDialog(QDialog):
    """Asks the size of a new blank page."""

    def __init__(self, width: int, height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Blank page")
        form = QFormLayout(self)
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box, value in ((self.width_box, width), (self.height_box, height)):
            box.setRange(PAGE_STEP, 4096)
            box.setSingleStep(PAGE_STEP)
            box.setSuffix(" px")
            box.setValue(value)
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def chosen(self) -> tuple[int, int]:
        return self.width_box.value(), self.height_box.value()


def _hint_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setObjectName("panelHint")
    return label


class SketchWorkspace(Workspace):
    title = "Sketch"
    hint = (
        "Trace a photo's edges or start on a blank page, then draw black lines with the "
        "pen (E erases). With Live on, the photo follows every stroke; L shows or hides "
        "the lines over it. Draw into photo redraws only a region you paint (R), "
        "along your lines (P) and colours (K)."
    )
    paint_layer = Layer.SKETCH

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.trace_edges = trace_edges
        self.sketch_to_photo = sketch_to_photo  # an attribute: tests time a slow stand-in
        self.sketch_into_photo = sketch_into_photo

        mode_row = QHBoxLayout()
        self.mode = ElidedCombo()
        for mode, label in MODES:
            self.mode.addItem(label, mode)
        self.mode.setToolTip(
            "Sketch to photo: the lines on the whole canvas become a new photo. Draw into "
            "photo: only a region you paint is redrawn, along your lines and colours; the "
            "rest stays the photo, pixel for pixel"
        )
        mode_label = QLabel("Mode")
        mode_label.setObjectName("modeLabel")
        mode_row.addWidget(mode_label)
        mode_row.addWidget(self.mode, 1)

        self.region_box = QGroupBox("1  Region to redraw")
        region_form = QFormLayout(self.region_box)
        self.region_info = _hint_label()
        region_form.addRow(self.region_info)
        region_row = QHBoxLayout()
        self.paint_region = QPushButton("Paint region")
        self.paint_region.setToolTip("The brush paints the region to redraw (E erases it)")
        self.clear_region = QPushButton("Clear region")
        region_row.addWidget(self.paint_region, 1)
        region_row.addWidget(self.clear_region)
        region_form.addRow(region_row)

        self.lines_box = QGroupBox("1  Lines")
        form = QFormLayout(self.lines_box)
        row = QHBoxLayout()
        self.blank = QPushButton("Blank page")
        self.blank.setToolTip("Start a new drawing on white paper of a size you choose")
        self.trace = QPushButton("Trace edges")
        self.trace.setToolTip(
            "Draw the outlines of the photo (of the result, when there is one) as an "
            "editable line layer"
        )
        self.trace_region = QPushButton("Trace edges into region")
        self.trace_region.setToolTip(
            "Put the photo's own edges inside the region, as lines to start from "
            "(lines outside the region are not used, and are left as they are)"
        )
        row.addWidget(self.blank)
        row.addWidget(self.trace)
        row.addWidget(self.trace_region)
        form.addRow(row)
        self.detail = percent_slider(DETAIL.low, DETAIL.high, 0.5)
        self.detail.setToolTip("More detail: more and shorter lines")
        form.addRow("Detail", self.detail)
        self.opacity = slider(10, 100, 100)
        form.addRow("Sketch opacity", self.opacity)

        self.brush = BrushBox(context.canvas, "Pen")
        brush_form = self.brush.layout()
        assert isinstance(brush_form, QFormLayout)
        targets = QHBoxLayout()
        self.targets = QButtonGroup(self)
        self.target_buttons: dict[Layer, QPushButton] = {}
        for layer, text, _title, tip in TARGETS:
            button = QPushButton(text)
            button.setCheckable(True)
            button.setToolTip(tip)
            self.targets.addButton(button)
            self.target_buttons[layer] = button
            targets.addWidget(button)
        self.target_buttons[Layer.SKETCH].setChecked(True)
        brush_form.insertRow(0, "Paints", targets)
        colour_row = QHBoxLayout()
        self.colour = QPushButton("Colour…")
        self.colour.setToolTip("Choose the colour of the hints; the brush then dabs colour")
        self.clear_hints = QPushButton("Clear colours")
        colour_row.addWidget(self.colour, 1)
        colour_row.addWidget(self.clear_hints)
        brush_form.insertRow(1, colour_row)
        self.hint_info = _hint_label()
        brush_form.insertRow(2, self.hint_info)
        self._radii: dict[Layer, float] = {}

        self.photo_box = QGroupBox("2  Photo")
        self.photo_form = QFormLayout(self.photo_box)
        self.model = ElidedCombo()
        self.model.setToolTip("sketch2photo model packs (Models ▸ Import… adds more)")
        self.photo_form.addRow("Model", self.model)
        self.into_model = ElidedCombo()
        self.into_model.setToolTip(
            "sketch-into model packs: they draw into a region, and follow colour hints"
        )
        self.into_label = QLabel("With colours")
        self.photo_form.addRow(self.into_label, self.into_model)
        self.live = QCheckBox("Live: update after every stroke")
        self.live.setChecked(context.settings.live_mode)
        self.generate_button = QPushButton("Generate photo")
        self.generate_button.setObjectName("primary")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("primary")
        self.apply_button.setToolTip(
            "Keep the redrawn region as the result (one undo step); outside the region "
            "the photo stays exactly as it is. C compares before | after"
        )
        self.photo_form.addRow(self.live)
        self.photo_form.addRow(self.generate_button)
        self.photo_form.addRow(self.apply_button)

        # the run's button and what it said above the brush: in reach without scrolling
        self.layout_.addLayout(mode_row)
        for widget in (self.region_box, self.lines_box, self.photo_box):
            self.layout_.addWidget(widget)
        self.layout_.addWidget(self.status)
        self.layout_.addWidget(self.brush)
        self.layout_.addStretch(1)
        self.blank_dialog: BlankPageDialog | None = None
        self.replace_box: QMessageBox | None = None
        self._sketched: tuple[np.ndarray | None, ...] | None = None  # layers the last run read
        self._job: IntoRun | None = None  # the Draw into photo job at work (or last done)
        self.live_run: IntoRun | None = None  # the last live redraw, shown as the preview
        self.latencies_ms: list[float] = []  # live redraws: job submitted to preview shown
        self.engine_ms: list[float] = []  # ... of which the pipeline itself
        self._asked: object = None  # the last job the user asked for (not a live one)

        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(LIVE_DELAY_MS)
        self.debounce.timeout.connect(lambda: self.generate(live=True))
        self.mode.currentIndexChanged.connect(lambda _i: self._mode_changed())
        self.blank.clicked.connect(self.blank_page)
        self.trace.clicked.connect(self.trace_photo)
        self.trace_region.clicked.connect(self.trace_into_region)
        self.paint_region.clicked.connect(lambda: self.paint_on(Layer.MASK))
        self.clear_region.clicked.connect(self.clear_the_region)
        self.targets.buttonClicked.connect(self._target_clicked)
        self.colour.clicked.connect(self.choose_colour)
        self.clear_hints.clicked.connect(self.clear_colours)
        self.generate_button.clicked.connect(lambda: self.generate(live=False))
        self.apply_button.clicked.connect(self.apply)
        self.opacity.valueChanged.connect(
            lambda v: context.canvas.set_layer_opacity(Layer.SKETCH, v / 100)
        )
        self.live.toggled.connect(self._live_toggled)
        context.canvas.stroke_finished.connect(self._on_stroke)
        self._show_colour()
        self.refresh_models()
        self._show_mode()
        self.on_document()

    # --- models, modes, targets -----------------------------------------------------

    @property
    def into_mode(self) -> bool:
        return self.mode.currentData() == INTO

    def refresh_models(self) -> None:
        """Fill both model lists (the chosen packs stay chosen when still installed)."""
        try:
            packs = list(self.context.registry.packs())
        except PackError:
            packs = []
        for combo, task in ((self.model, "sketch2photo"), (self.into_model, "sketch-into")):
            chosen = combo.currentData()
            combo.clear()
            for pack in (p for p in packs if p.manifest.task == task):
                combo.addItem(pack.manifest.title or pack.name, pack.name)
            if combo.count() == 0:
                combo.addItem(f"no {task} pack installed", None)
            elif chosen is not None and combo.findData(chosen) >= 0:
                combo.setCurrentIndex(combo.findData(chosen))

    def _mode_changed(self) -> None:
        self.debounce.stop()
        self.live_run = None
        self.context.canvas.show_preview(None)
        self.status.setText("")
        if self.into_mode and self.context.document is not None:
            if self.context.document.mask.max() < 128:  # the first thing to do
                self.paint_on(Layer.MASK)
        elif self.paint_layer == Layer.MASK:
            self.paint_on(Layer.SKETCH)
        self._show_mode()
        self._sketched = None
        self._enable()
        if self.isVisible():
            self.activate()  # into the photo with Live on: the preview of the region

    def _show_mode(self) -> None:
        into = self.into_mode
        self.region_box.setVisible(into)
        self.blank.setVisible(not into)
        self.trace.setVisible(not into)
        self.trace_region.setVisible(into)
        self.target_buttons[Layer.MASK].setVisible(into)
        self.lines_box.setTitle("2  Lines in the region" if into else "1  Lines")
        self.photo_box.setTitle("3  Redraw" if into else "2  Photo")
        self.photo_form.setRowVisible(self.model, not into)
        self.into_label.setText("Model" if into else "With colours")
        self.generate_button.setVisible(not into)
        self.apply_button.setVisible(into)

    def paint_on(self, layer: Layer) -> None:
        """The brush paints ``layer``: lines, colour hints or the region (each keeps its
        own brush size)."""
        canvas = self.context.canvas
        self._radii[self.paint_layer] = canvas.radius
        self.paint_layer = layer
        self.target_buttons[layer].setChecked(True)
        self.brush.setTitle(next(title for lay, _t, title, _tip in TARGETS if lay == layer))
        radius = self._radii.get(layer, DEFAULT_RADIUS.get(layer))
        if radius is not None:
            canvas.set_brush(radius=radius)
        if self.isVisible():
            canvas.paint_layer = layer
            canvas.set_layer_visible(layer, True)
            use_brush(canvas)

    def _target_clicked(self, button: QPushButton) -> None:
        layer = next(lay for lay, b in self.target_buttons.items() if b is button)
        self.paint_on(layer)

    def _show_colour(self) -> None:
        self.colour.setIcon(colour_icon(self.context.canvas.paint_colour))

    def choose_colour(self) -> None:
        chosen = pick_colour(self, self.context.canvas.paint_colour, "Colour hint")
        if chosen is not None:
            self.set_colour(chosen)

    def set_colour(self, rgb: tuple[int, int, int]) -> None:
        """The colour brush's colour (the picker sets it); the brush then paints hints."""
        self.context.canvas.paint_colour = rgb
        self._show_colour()
        self.paint_on(Layer.PAINT)

    def clear_colours(self) -> None:
        document = self.context.document
        if document is not None and document.has_paint:
            document.edit_plane(Layer.PAINT, np.zeros_like(document.paint), "Clear colour hints")

    def clear_the_region(self) -> None:
        document = self.context.document
        if document is not None and document.mask.any():
            document.edit_plane(Layer.MASK, np.zeros_like(document.mask), "Clear region")

    # --- the panel follows the canvas and the document ------------------------------

    def activate(self) -> None:
        super().activate()
        canvas = self.context.canvas
        into = self.into_mode
        canvas.paint_layer = self.paint_layer
        canvas.set_layer_visible(Layer.PAINT, True)
        canvas.set_layer_visible(Layer.SKETCH, True)
        canvas.set_layer_visible(Layer.MASK, into)
        canvas.set_region_mode(into)
        canvas.set_layer_opacity(Layer.SKETCH, self.opacity.value() / 100)
        use_brush(canvas)
        if not into:
            canvas.show_preview(None)
        self.refresh_models()
        self._enable()
        document = self.context.document
        has_region = document is not None and document.mask.max() >= 128
        if into and has_region and self.live.isChecked() and self.live_run is None:
            self.debounce.start()  # back in the workspace: the preview comes back

    def deactivate(self) -> None:
        """Another workspace is shown: the region's look and the live preview go."""
        self.debounce.stop()
        canvas = self.context.canvas
        canvas.set_region_mode(False)
        if self.live_run is not None:
            canvas.show_preview(None)
            self.live_run = None

    def on_document(self) -> None:
        document = self.context.document
        self._sketched = None
        self.live_run = None
        self._job = None
        if document is not None:  # undo and redo of strokes: the live photo follows
            document.undo.indexChanged.connect(self._lines_may_have_changed)
        self._enable()

    def _enable(self) -> None:
        document = self.context.document
        has = document is not None
        self.trace.setEnabled(has)
        self.trace_region.setEnabled(has)
        self.clear_region.setEnabled(has)
        self.paint_region.setEnabled(has)
        self.clear_hints.setEnabled(has)
        whole, into = self.model.currentData(), self.into_model.currentData()
        self.generate_button.setEnabled(has and whole is not None)
        self.generate_button.setToolTip(
            "" if whole else "Import a sketch2photo pack (Models ▸ Import…)"
        )
        self.apply_button.setEnabled(has and into is not None)
        self._show_layers_info()

    def _show_layers_info(self) -> None:
        """Say which region and which colours a run uses: the mask and colour strokes are
        the document's own, shared with the other workspaces."""
        document = self.context.document
        if document is None or document.mask.max() < 128:
            region = "No region yet: press Paint region and paint over what to redraw."
        else:
            region = (
                f"Region: {share_text(document.mask >= 128)} of the photo, inside the red "
                "outline (the mask, shared with Restore and Diffuse). Only the lines and "
                "colours inside it count; outside it the photo stays as it is."
            )
        self.region_info.setText(region)
        paint = None if document is None else document.paint_if_any
        if paint is None or not has_hints(document):
            text = "No colour hints: choose Colour and dab where you want a colour."
        else:
            text = f"Colour hints on {share_text(paint[..., 3] >= HINT_ALPHA)} of the photo."
        self.hint_info.setText(text + " (Shared with Diffuse's colour strokes.)")

    def _live_toggled(self, on: bool) -> None:
        self.context.settings.live_mode = on
        if on:
            self.debounce.start()
        else:
            self.debounce.stop()  # a pause already started runs nothing now

    def _on_stroke(self, layer: str) -> None:
        if not self.isVisible():
            return
        self._show_layers_info()
        used = (Layer.SKETCH, Layer.PAINT, Layer.MASK) if self.into_mode else (Layer.SKETCH,)
        if layer == Layer.PAINT and not self.into_mode:
            used = (Layer.PAINT,) if self.into_model.currentData() is not None else ()
        if layer in used and self.live.isChecked():
            self.debounce.start()  # restarts: only the pause after the last stroke counts

    def _lines_may_have_changed(self) -> None:
        """An undo step was done, undone or redone: in live mode a photo made from other
        lines than these is made again."""
        document = self.context.document
        if document is None or not self.isVisible():
            return
        self._show_layers_info()
        if self._sketched is None or not self.live.isChecked():
            return
        if not same_layers(layers_of(document, self.mode.currentData(), False), self._sketched):
            self.debounce.start()

    # --- lines ----------------------------------------------------------------------

    def blank_page(self) -> None:
        """Ask a size (the open photo's by default) and start a new document on white paper."""
        document = self.context.document
        width, height = (document.width, document.height) if document else BLANK_SIZE
        dialog = BlankPageDialog(width, height, self)
        dialog.accepted.connect(
            lambda: self.context.when_safe(
                lambda: self.context.replace_document(blank_document(*dialog.chosen()))
            )
        )
        dialog.open()
        self.blank_dialog = dialog

    def trace_photo(self) -> None:
        """Trace the result (or the photo); lines the user has drawn are replaced only
        after asking."""
        document = self.context.document
        if document is None:
            return
        if int(document.sketch.min()) == 255:
            self._trace_now()
            return
        buttons = QMessageBox.StandardButton
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Replace your lines?",
            "Tracing replaces the lines on the sketch layer (Ctrl+Z brings them back).",
            buttons.Cancel,
            self,
        )
        box.setObjectName("replaceLines")
        replace = box.addButton("Replace Lines", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(buttons.Cancel)
        box.finished.connect(lambda _r: box.clickedButton() is replace and self._trace_now())
        box.open()
        self.replace_box = box

    def _trace_now(self, region: np.ndarray | None = None) -> None:
        document, trace = self.context.document, self.trace_edges
        if document is None:
            return
        source = document.photo if document.result is None else document.result
        image, detail = source, self.detail.value() / 100

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            emit.progress(0.0, "Tracing edges")
            edges = trace(image, detail)
            cancel.check()
            return Result(
                {"edges": np.asarray(edges, np.float32)}, {"stage": "trace", "region": region}
            )

        what = "photo" if document.result is None else "result"
        where = "" if region is None else " inside the region"
        self.status.setText(f"Tracing the {what}'s edges{where}…")
        self.submit("Trace edges", job)

    def trace_into_region(self) -> None:
        """The photo's own edges inside the region, as lines to start from (one undo
        step; the lines outside the region are left alone)."""
        document = self.context.document
        if document is None:
            return
        region = document.mask >= 128
        if not region.any():
            self.status.setText("Paint the region to redraw first (Paint region), then trace.")
            return
        self._trace_now(region)

    # --- runs -----------------------------------------------------------------------

    def generate(self, live: bool = False) -> None:
        if live and self._asked_job_running():
            self.debounce.start()  # after the trace (or Apply) the user is waiting for
            return
        if self.into_mode:
            self.draw_into(live)
            return
        document, run = self.context.document, self.sketch_to_photo
        if document is None:
            return
        previous, self._sketched = self._sketched, layers_of(document, WHOLE)
        into_pack = self.into_model.currentData()
        coloured = into_pack is not None and has_hints(document)
        no_lines = document.sketch.min() == 255
        if live and no_lines and not coloured:  # no lines (all undone or erased)
            if previous is not None and (
                previous[0].min() < 255
                or (previous[1] is not None and (previous[1][..., 3] >= HINT_ALPHA).any())
            ):
                document.follow_result(None)  # the photo made from lines goes with them
            self.status.setText("Live: the photo appears after the first line.")
            return
        edges = (document.sketch.astype(np.float32) / 255.0)[..., None]
        settings = self.context.settings
        registry = self.context.registry
        if coloured:
            photo, paint = document.photo, self._sketched[1]
            into = IntoOptions(model=into_pack, device=settings.device)  # type: ignore[arg-type]
            draw = self.sketch_into_photo

            def job(emit: Emitter, cancel: CancelToken) -> Result:
                frame = np.ones(edges.shape[:2], np.float32)
                tints, dabs = colour_hints(paint) or (None, None)
                result = draw(
                    photo, frame, edges[..., 0], tints, dabs, into, emit, cancel, registry
                )
                info = {**result.info, "stage": "photo", "live": live, "colours": True}
                return Result(result.images, info)

        else:
            options = SketchOptions(model=self.model.currentData(), device=settings.device)  # type: ignore[arg-type]

            def job(emit: Emitter, cancel: CancelToken) -> Result:
                result = run(edges, options, emit, cancel, registry)
                return Result(result.images, {**result.info, "stage": "photo", "live": live})

        self.status.setText("Generating…" if not live else "Live: following the pen…")
        self.submit("Sketch to photo", job, replace=live)

    def draw_into(self, live: bool) -> None:
        """Redraw the region of the picture (the result, else the photo) along the lines
        and colours inside it; live, the redraw is a preview, else it is applied."""
        document = self.context.document
        pack = self.into_model.currentData()
        if document is None:
            return
        if pack is None:
            self.status.setText(
                "Draw into photo needs a sketch-into pack (Models ▸ Import…, or make models)."
            )
            return
        layers = layers_of(document, INTO)
        self._sketched = layers
        region = document.mask >= 128
        if not region.any():
            self.live_run = None
            self.context.canvas.show_preview(None)
            self.status.setText("Paint the region to redraw (Paint region), then draw in it.")
            return
        base = document.photo if document.result is None else document.result
        side = PREVIEW_SIDE if live else IntoOptions.max_side  # live: a quick, smaller redraw
        device = self.context.settings.device
        options = IntoOptions(model=pack, device=device, max_side=side)  # type: ignore[arg-type]
        registry, draw = self.context.registry, self.sketch_into_photo
        run = IntoRun(document, base, layers, region, region_bitmap(region), live)
        lines, paint, _mask = layers  # copies: the pen goes on while the job runs

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            start = time.perf_counter()
            edges = lines.astype(np.float32) / 255.0
            tints, dabs = colour_hints(paint) or (None, None)
            area = region.astype(np.float32)
            result = draw(base, area, edges, tints, dabs, options, emit, cancel, registry)
            photo = result.images["photo"]
            emit.preview(photo, 1, 1)  # its QImage is made here, off the GUI thread
            info = {**result.info, "stage": "into", "seconds": time.perf_counter() - start}
            return Result({"photo": photo}, info)

        self._job = run
        if not live:
            self.status.setText("Redrawing the region…")
        self.submit("Draw into photo", job, replace=live)

    def submit(self, name: str, fn, replace: bool = False) -> None:  # noqa: ANN001
        """As every panel does, except that a redraw into the photo keeps the last preview
        on the canvas until the next one replaces it (no flicker while drawing). A job
        the user asked for (``replace`` False: a trace, Generate, Apply) is remembered:
        live runs wait for it rather than cancel it."""
        if not (self.into_mode and name == "Draw into photo"):
            self.context.canvas.show_preview(None)
        job = self.context.bridge.submit(name, fn, replace=replace, owner=self)
        self._asked = None if replace else job

    def _asked_job_running(self) -> bool:
        return self._asked is not None and self.context.bridge.active is self._asked

    def apply(self) -> None:
        """Keep the redrawn region as the result, one undo step: a full-size redraw made
        from the layers as they are now, else a redraw first (the live preview is made
        smaller, for speed, so Apply redraws at full size)."""
        document = self.context.document
        if document is None:
            return
        if self._asked_job_running():
            self.status.setText("Busy with what you asked for; Apply again when it is done.")
            return
        run = self.live_run
        if (
            run is not None
            and not run.live
            and run.document is document
            and run.photo is not None
            and same_layers(layers_of(document, INTO, False), run.layers)
        ):
            if document.result is run.photo:
                self.status.setText("Already applied: draw more, or Ctrl+Z to undo it.")
                return
            base = document.photo if document.result is None else document.result
            if run.base is base:
                self._keep(run)
                return
        self.draw_into(live=False)

    def _keep(self, run: IntoRun) -> None:
        document = run.document
        assert run.photo is not None
        self.context.canvas.show_preview(None)
        document.set_result(run.photo, "Draw into photo")
        self.context.canvas.set_layer_visible(Layer.RESULT, True)
        self.status.setText(
            f"Applied: the region redrawn by {ran_on(run.info)}. Ctrl+Z undoes it; C "
            "compares before | after."
        )

    def on_preview(self, image: object, step: int, total: int) -> None:
        """A Draw into photo run's picture, shown inside its region (the job at work is
        the latest: the bridge drops the events of jobs it replaced)."""
        run = self._job
        if not (
            isinstance(image, QImage)
            and run is not None
            and run.live
            and self.into_mode
            and self.isVisible()
            and self.context.document is run.document
        ):
            return
        self.context.canvas.show_preview(image, run.bits)

    def on_finished(self, result: object) -> None:
        document = self.context.document
        assert isinstance(result, Result)
        if document is None:
            return
        stage = result.info.get("stage")
        if stage == "trace":
            self._traced(document, result)
            return
        if stage == "into":
            self._drawn_into(document, result)
            return
        image = result.images["photo"]
        if image.shape[:2] != (document.height, document.width):
            image = resize_to(image, document.width, document.height)
        if result.info.get("live"):
            document.follow_result(image)  # follows the strokes: no undo step of its own
        else:
            document.set_result(image, "Sketch to photo")
        self.context.canvas.set_layer_visible(Layer.RESULT, True)
        colours = ", in your colours" if result.info.get("colours") else ""
        if not colours and has_hints(document):
            colours = " (colour hints need a sketch-into pack: Models ▸ Import…)"
        self.status.setText(
            f"Photo generated by {ran_on(result.info)}{colours}. L hides or shows the lines."
        )

    def _traced(self, document: Document, result: Result) -> None:
        edges = np.clip(result.images["edges"], 0.0, 1.0)
        if edges.ndim == 3:
            edges = edges[..., 0]
        plane = (edges * 255.0 + 0.5).astype(np.uint8)
        region = result.info.get("region")
        if region is None:
            document.edit_plane(Layer.SKETCH, plane, "Trace edges")
            self.status.setText("Edges traced: erase what you do not want, draw what you do.")
            return
        lines = document.sketch.copy()
        lines[region] = plane[region]
        document.edit_plane(Layer.SKETCH, lines, "Trace edges into region")
        self.status.setText(
            "The photo's edges are in the region: erase the lines you want gone, draw new "
            "ones (Ctrl+Z takes the tracing back)."
        )
        if self.live.isChecked():
            self.debounce.start()

    def _drawn_into(self, document: Document, result: Result) -> None:
        run = self._job
        if run is None or run.document is not document:
            return
        run.photo = result.images["photo"]
        run.info = result.info
        run.latency_ms = (time.perf_counter() - run.started) * 1000
        if not run.live:
            self.live_run = run
            self._keep(run)
            return
        if not (self.isVisible() and self.into_mode):
            return  # the preview was not shown: back in the workspace, it is made again
        self.live_run = run
        self.latencies_ms.append(run.latency_ms)
        self.engine_ms.append(float(result.info.get("seconds", 0.0)) * 1000)
        self.status.setText(
            f"Live: region redrawn by {ran_on(result.info)} in {run.latency_ms:.0f} ms. "
            "Apply keeps it."
        )

    def on_failed(self, message: str, detail: str) -> None:
        self.live_run = None  # the preview goes with the failed run
        super().on_failed(message, detail)

    def on_cancelled(self) -> None:
        self.live_run = None
        super().on_cancelled()
