"""Sketch: trace or draw black-on-white edges, and turn them into a photo with pix2pix.

Live mode follows krita-ai-diffusion's idea: after a stroke ends the panel waits a
short pause (``LIVE_DELAY_MS``); a stroke inside the pause restarts the wait, and the
job then goes to the runner with ``replace=True``, so a job still running is cancelled
and nothing stale ever queues behind the pen.

A live result follows the lines and is no undo step of its own (Ctrl+Z undoes the last
stroke, and the photo follows the lines again); "Generate photo" is a user action and
is one. Over a result the lines are drawn without their paper, so the photo shows; L
hides and shows them.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
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
from engine.pipelines.sketch import SketchOptions, sketch_to_photo, trace_edges
from gui.document import Document, Layer
from gui.qimages import resize_to
from gui.workspaces.base import (
    AppContext,
    BrushBox,
    ElidedCombo,
    Workspace,
    percent_slider,
    slider,
    use_brush,
)

LIVE_DELAY_MS = 150
BLANK_SIZE = (512, 512)  # a new page's size when no photo suggests one
PAGE_STEP = 64  # pix2pix packs take sizes in multiples of 64


def blank_document(width: int, height: int) -> Document:
    """A new untitled document: white paper of ``width`` x ``height``, no lines yet."""
    paper = np.ones((height, width, 3), np.float32)
    return Document(LoadedImage(paper, None, ImageMeta()))


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


class SketchWorkspace(Workspace):
    title = "Sketch"
    hint = (
        "Trace a photo's edges or start on a blank page, then draw black lines with the "
        "pen (E erases). With Live on, the photo follows every stroke; L shows or hides "
        "the lines over it."
    )
    paint_layer = Layer.SKETCH

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.trace_edges = trace_edges
        self.sketch_to_photo = sketch_to_photo  # an attribute: tests time a slow stand-in

        lines = QGroupBox("1  Lines")
        form = QFormLayout(lines)
        row = QHBoxLayout()
        self.blank = QPushButton("Blank page")
        self.blank.setToolTip("Start a new drawing on white paper of a size you choose")
        self.trace = QPushButton("Trace edges")
        self.trace.setToolTip(
            "Draw the outlines of the photo (of the result, when there is one) as an "
            "editable line layer"
        )
        row.addWidget(self.blank)
        row.addWidget(self.trace)
        form.addRow(row)
        self.detail = percent_slider(DETAIL.low, DETAIL.high, 0.5)
        self.detail.setToolTip("More detail: more and shorter lines")
        form.addRow("Detail", self.detail)
        self.opacity = slider(10, 100, 100)
        form.addRow("Sketch opacity", self.opacity)

        photo = QGroupBox("2  Photo")
        photo_form = QFormLayout(photo)
        self.model = ElidedCombo()
        self.model.setToolTip("sketch2photo model packs (Models ▸ Import… adds more)")
        photo_form.addRow("Model", self.model)
        self.live = QCheckBox("Live: update after every stroke")
        self.live.setChecked(context.settings.live_mode)
        self.generate_button = QPushButton("Generate photo")
        self.generate_button.setObjectName("primary")
        photo_form.addRow(self.live)
        photo_form.addRow(self.generate_button)

        self.brush = BrushBox(context.canvas, "Pen")
        for widget in (lines, self.brush, photo, self.status):
            self.layout_.addWidget(widget)
        self.layout_.addStretch(1)
        self.blank_dialog: BlankPageDialog | None = None
        self.replace_box: QMessageBox | None = None
        self._sketched: np.ndarray | None = None  # the lines the last photo was made from

        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(LIVE_DELAY_MS)
        self.debounce.timeout.connect(lambda: self.generate(live=True))
        self.blank.clicked.connect(self.blank_page)
        self.trace.clicked.connect(self.trace_photo)
        self.generate_button.clicked.connect(lambda: self.generate(live=False))
        self.opacity.valueChanged.connect(
            lambda v: context.canvas.set_layer_opacity(Layer.SKETCH, v / 100)
        )
        self.live.toggled.connect(self._live_toggled)
        context.canvas.stroke_finished.connect(self._on_stroke)
        self.refresh_models()
        self.on_document()

    def refresh_models(self) -> None:
        self.model.clear()
        try:
            packs = [p for p in self.context.registry.packs() if p.manifest.task == "sketch2photo"]
        except PackError:
            packs = []
        for pack in packs:
            self.model.addItem(pack.manifest.title or pack.name, pack.name)
        if not packs:
            self.model.addItem("no sketch2photo pack installed", None)

    def activate(self) -> None:
        super().activate()
        canvas = self.context.canvas
        canvas.set_layer_visible(Layer.PAINT, False)
        canvas.set_layer_visible(Layer.SKETCH, True)
        canvas.set_layer_visible(Layer.MASK, False)
        canvas.set_layer_opacity(Layer.SKETCH, self.opacity.value() / 100)
        use_brush(canvas)

    def on_document(self) -> None:
        document = self.context.document
        has = document is not None
        self.trace.setEnabled(has)
        self._sketched = None
        if document is not None:  # undo and redo of strokes: the live photo follows
            document.undo.indexChanged.connect(self._lines_may_have_changed)
        self.generate_button.setEnabled(has and self.model.currentData() is not None)
        self.generate_button.setToolTip(
            "" if self.model.currentData() else "Import a sketch2photo pack (Models ▸ Import…)"
        )

    def _live_toggled(self, on: bool) -> None:
        self.context.settings.live_mode = on
        if on:
            self.debounce.start()

    def _on_stroke(self, layer: str) -> None:
        if layer == Layer.SKETCH and self.live.isChecked() and self.isVisible():
            self.debounce.start()  # restarts: only the pause after the last stroke counts

    def _lines_may_have_changed(self) -> None:
        """An undo step was done, undone or redone: in live mode a photo made from other
        lines than these is made again."""
        document = self.context.document
        if (
            document is None
            or self._sketched is None
            or not (self.live.isChecked() and self.isVisible())
        ):
            return
        if not np.array_equal(document.sketch, self._sketched):
            self.debounce.start()

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

    def _trace_now(self) -> None:
        document, trace = self.context.document, self.trace_edges
        if document is None:
            return
        source = document.photo if document.result is None else document.result
        image, detail = source, self.detail.value() / 100

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            emit.progress(0.0, "Tracing edges")
            edges = trace(image, detail)
            cancel.check()
            return Result({"edges": np.asarray(edges, np.float32)}, {"stage": "trace"})

        what = "photo" if document.result is None else "result"
        self.status.setText(f"Tracing the {what}'s edges…")
        self.submit("Trace edges", job)

    def generate(self, live: bool = False) -> None:
        document, run = self.context.document, self.sketch_to_photo
        if document is None:
            return
        previous, self._sketched = self._sketched, document.sketch.copy()
        if live and self._sketched.min() == 255:  # no lines (all undone or erased)
            if previous is not None and previous.min() < 255:
                document.follow_result(None)  # the photo made from lines goes with them
            self.status.setText("Live: the photo appears after the first line.")
            return
        edges = (self._sketched.astype(np.float32) / 255.0)[..., None]
        settings = self.context.settings
        options = SketchOptions(model=self.model.currentData(), device=settings.device)  # type: ignore[arg-type]
        registry = self.context.registry

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            result = run(edges, options, emit, cancel, registry)
            return Result(result.images, {**result.info, "stage": "photo", "live": live})

        self.status.setText("Generating…" if not live else "Live: following the pen…")
        self.submit("Sketch to photo", job, replace=live)

    def on_preview(self, image: object, step: int, total: int) -> None:
        pass  # the result layer updates on finish; a live job is short

    def on_finished(self, result: object) -> None:
        document = self.context.document
        assert isinstance(result, Result)
        if document is None:
            return
        if result.info.get("stage") == "trace":
            edges = np.clip(result.images["edges"], 0.0, 1.0)
            if edges.ndim == 3:
                edges = edges[..., 0]
            plane = (edges * 255.0 + 0.5).astype(np.uint8)
            document.edit_plane(Layer.SKETCH, plane, "Trace edges")
            self.status.setText("Edges traced: erase what you do not want, draw what you do.")
            return
        image = result.images["photo"]
        if image.shape[:2] != (document.height, document.width):
            image = resize_to(image, document.width, document.height)
        if result.info.get("live"):
            document.follow_result(image)  # follows the strokes: no undo step of its own
        else:
            document.set_result(image, "Sketch to photo")
        self.context.canvas.set_layer_visible(Layer.RESULT, True)
        self.status.setText(
            f"Photo generated on {result.info.get('device', '?')}. L hides or shows the lines."
        )
