"""Diffuse: generate, inpaint the painted mask, or re-imagine strokes, step by step.

The pipeline emits its current x0 estimate as Preview events; the panel shows each
one with a step counter. The brush paints either the mask (what may change) or colour
strokes: in edit mode rough colour blobs over the photo are what SDEdit turns into a
plausible region, and only the strokes (with a margin) and the painted mask change.

Stop cancels the job but keeps the last preview as the result, because watching the
image emerge and stopping when it looks right is the point of this workspace.
"""

from __future__ import annotations

import random

import numpy as np
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine import arrays
from engine.cancel import CancelToken
from engine.images import ImageMeta, LoadedImage
from engine.jobs import Emitter, Result, StepCount
from engine.limits import DRAWS, SEED, STEPS
from engine.pipelines.diffusion import (
    EditOptions,
    GenerateOptions,
    InpaintOptions,
    edit,
    generate,
    inpaint,
)
from gui.document import Document, Layer
from gui.qimages import from_qimage, resize_to
from gui.workspaces.base import AppContext, BrushBox, Workspace, slider, use_brush

SPIN_MAX = 2**31 - 1  # a QSpinBox holds a C int: seeds above it are CLI-only
STROKE_MARGIN = 8  # px around colour strokes that SDEdit may also change, to blend them in
PAINT_TARGETS = (
    (Layer.MASK, "Mask: what may change"),
    (Layer.PAINT, "Colour strokes"),
)
MODES = (
    ("inpaint", "Inpaint the painted mask"),
    ("edit", "Edit: re-imagine strokes"),
    ("generate", "Generate from noise"),
)


class DiffuseWorkspace(Workspace):
    title = "Diffuse"
    paint_layer = Layer.MASK

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        box = QGroupBox("Diffusion")
        form = QFormLayout(box)
        self.mode = QComboBox()
        for mode, label in MODES:
            self.mode.addItem(label, mode)
        form.addRow("Mode", self.mode)
        self.steps = QSpinBox()
        self.steps.setRange(STEPS.low, STEPS.high)
        self.steps.setValue(context.settings.diffusion_steps)
        form.addRow("Steps", self.steps)
        self.strength = slider(5, 100, 50)
        self.strength.setToolTip("Edit: how far from your strokes the result may move")
        form.addRow("Strength", self.strength)
        self.draws = QSpinBox()
        # inpaint also needs draws <= max_batch: the draws of a window share one model call
        self.draws.setRange(DRAWS.low, min(DRAWS.high, InpaintOptions.max_batch))
        self.draws.setValue(InpaintOptions.draws)
        self.draws.setToolTip(
            "Inpaint: fills drawn per window and averaged. More is closer to what was there "
            "and slower; 1 keeps the most grain"
        )
        form.addRow("Fills averaged", self.draws)
        seed_row = QHBoxLayout()
        self.seed = QSpinBox()
        self.seed.setRange(SEED.low, min(SEED.high, SPIN_MAX))
        self.seed.setValue(1952)
        self.vary = QPushButton("Vary seed")
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.vary)
        form.addRow("Seed", seed_row)
        run_row = QHBoxLayout()
        self.run = QPushButton("Run")
        self.run.setObjectName("primary")
        self.stop = QPushButton("Stop && keep")
        self.stop.setToolTip("Stop now and keep the image as it is at this step")
        self.stop.setEnabled(False)
        run_row.addWidget(self.run, 1)
        run_row.addWidget(self.stop)
        form.addRow(run_row)
        self.counter = QLabel("")
        self.counter.setObjectName("stepCounter")
        context.bridge.steps.connect(self._if_mine(self.on_steps))
        form.addRow(self.counter)

        self.brush = BrushBox(context.canvas, "Brush")
        brush_form = self.brush.layout()
        assert isinstance(brush_form, QFormLayout)
        self.target = QComboBox()
        for layer, label in PAINT_TARGETS:
            self.target.addItem(label, layer)
        brush_form.insertRow(0, "Paints", self.target)
        colour_row = QHBoxLayout()
        self.colour = QPushButton("Colour…")
        self.colour.setToolTip("The colour of the strokes (edit mode turns them into a photo)")
        self.clear_paint = QPushButton("Clear strokes")
        colour_row.addWidget(self.colour, 1)
        colour_row.addWidget(self.clear_paint)
        brush_form.insertRow(1, colour_row)
        for widget in (box, self.brush, self.status):
            self.layout_.addWidget(widget)
        self.layout_.addStretch(1)
        self.last_preview: QImage | None = None

        self.run.clicked.connect(self.start)
        self.vary.clicked.connect(self.vary_seed)
        self.stop.clicked.connect(self.stop_and_keep)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.target.currentIndexChanged.connect(
            lambda _i: self._paint_on(self.target.currentData())
        )
        self.colour.clicked.connect(self.choose_colour)
        self.clear_paint.clicked.connect(self.clear_strokes)
        self._show_colour()
        context.bridge.busy_changed.connect(
            lambda busy: self.stop.setEnabled(busy and context.bridge.owner is self)
        )
        self.on_document()

    def activate(self) -> None:
        super().activate()
        canvas = self.context.canvas
        canvas.set_layer_visible(Layer.MASK, True)
        canvas.set_layer_visible(Layer.SKETCH, False)
        canvas.set_layer_visible(Layer.PAINT, True)
        canvas.paint_layer = self.target.currentData()
        use_brush(canvas)
        self.on_document()  # a pack may have been imported meanwhile

    def _mode_changed(self) -> None:
        """Edit mode paints colour by default, inpaint paints the mask."""
        mode = self.mode.currentData()
        self.counter.setText("")  # the last run's count belongs to the last mode
        if mode in ("edit", "inpaint"):
            wanted = Layer.PAINT if mode == "edit" else Layer.MASK
            self.target.setCurrentIndex(self.target.findData(wanted))
        self.on_document()

    def _paint_on(self, layer: Layer) -> None:
        self.paint_layer = layer
        if self.isVisible():
            self.context.canvas.paint_layer = layer
            self.context.canvas.set_layer_visible(layer, True)
        self.colour.setEnabled(layer == Layer.PAINT)

    def _show_colour(self) -> None:
        swatch = QPixmap(14, 14)
        swatch.fill(QColor(*self.context.canvas.paint_colour))
        self.colour.setIcon(QIcon(swatch))

    def choose_colour(self) -> None:
        chosen = QColorDialog.getColor(
            QColor(*self.context.canvas.paint_colour), self, "Stroke colour"
        )
        if chosen.isValid():
            self.set_colour((chosen.red(), chosen.green(), chosen.blue()))

    def set_colour(self, rgb: tuple[int, int, int]) -> None:
        self.context.canvas.paint_colour = rgb
        self._show_colour()

    def clear_strokes(self) -> None:
        document = self.context.document
        if document is not None and document.has_paint:
            document.edit_plane(Layer.PAINT, np.zeros_like(document.paint), "Clear colour strokes")

    def on_document(self) -> None:
        mode = self.mode.currentData()
        has_pack = any(p.manifest.task == "ddpm-eps" for p in self.context.registry.packs())
        self.run.setEnabled(has_pack and (self.context.document is not None or mode == "generate"))
        self.strength.setEnabled(mode == "edit")
        self.draws.setEnabled(mode == "inpaint")
        self.clear_paint.setEnabled(self.context.document is not None)
        if not has_pack:
            self.status.setText("Import a diffusion (ddpm-eps) pack: Models ▸ Import…")

    def vary_seed(self) -> None:
        self.seed.setValue(random.randint(self.seed.minimum(), self.seed.maximum()))
        if self.run.isEnabled():
            self.start()

    def start(self) -> None:
        mode = self.mode.currentData()
        document = self.context.document
        self.context.canvas.set_layer_visible(Layer.MASK, True)
        if document is None and mode != "generate":
            return
        settings = self.context.settings
        settings.diffusion_steps = self.steps.value()
        strength = self.strength.value() / 100  # read here: the job runs off the GUI thread
        draws = self.draws.value()
        common = {"steps": self.steps.value(), "seed": self.seed.value(), "device": settings.device}
        registry = self.context.registry
        image = None if document is None else document.photo
        mask = None if document is None else (document.mask >= 128).astype(np.float32)
        painted = None if document is None or mode != "edit" else document.painted_over()
        if painted is not None:  # the strokes over the photo, changed with a margin
            image, opacity = painted
            grown = arrays.dilate(opacity > 0.02, STROKE_MARGIN)
            mask = np.maximum(mask, grown.astype(np.float32)) if mask is not None else None
        self.context.canvas.set_layer_visible(Layer.PAINT, False)  # the preview shows instead

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            if mode == "generate":
                return generate(GenerateOptions(**common), emit, cancel, registry)
            if mode == "inpaint":
                options = InpaintOptions(**common, draws=draws)
                return inpaint(image, mask, options, emit, cancel, registry)
            region = mask if mask is not None and mask.any() else None
            options = EditOptions(**common, strength=strength)
            return edit(image, options, region, emit, cancel, registry)

        self.last_preview = None
        self.counter.setText(f"Step 0/{self.steps.value()}")
        self.status.setText("Denoising…")
        self.submit(f"Diffusion ({mode})", job)

    def stop_and_keep(self) -> None:
        self.context.bridge.cancel()

    def on_preview(self, image: object, step: int, total: int) -> None:
        assert isinstance(image, QImage)
        self.last_preview = image
        self.context.canvas.show_preview(image)

    def on_steps(self, stage: str, count: StepCount) -> None:
        """Show "Step 7/45 of part 2/4": the steps of the windows at work, not the model
        calls of the whole job."""
        text = f"Step {count.step}/{count.steps}"
        if count.parts > 1:
            text += f" of part {count.part}/{count.parts}"
        self.counter.setText(text)
        self.status.setText(stage[0].upper() + stage[1:] + "…")

    def _show(self, pixels: np.ndarray, text: str) -> None:
        document = self.context.document
        if document is None:  # generated from nothing: the sample becomes the photo
            generated = Document(LoadedImage(pixels, None, ImageMeta()))
            generated.undo.resetClean()  # new work, never saved: closing asks
            self.context.documents.set(generated)
            return
        if pixels.shape[:2] != (document.height, document.width):
            pixels = resize_to(pixels, document.width, document.height)
        self.context.canvas.show_preview(None)
        self.context.canvas.set_layer_visible(Layer.MASK, False)  # let the filled area show
        document.set_result(pixels, text)

    def on_finished(self, result: object) -> None:
        assert isinstance(result, Result)
        pixels = result.images["image"]
        self._show(pixels, f"Diffusion ({self.mode.currentData()})")
        text = f"Done on {result.info.get('device', '?')}; seed {self.seed.value()}"
        draws = int(result.info.get("draws", 1))
        self.status.setText(text + (f"; mean of {draws} fills." if draws > 1 else "."))

    def on_cancelled(self) -> None:
        if self.last_preview is None:
            super().on_cancelled()
            return
        self._show(from_qimage(self.last_preview), "Diffusion (stopped early)")
        self.status.setText(f"Stopped at {self.counter.text().lower()}; the preview was kept.")
