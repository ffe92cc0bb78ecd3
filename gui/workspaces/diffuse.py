"""Diffuse: generate, inpaint the painted mask, or re-imagine strokes, step by step.

The pipeline emits its current x0 estimate as Preview events; the panel shows each
one with a step counter, on the photo and only inside the area the job may change
(the mask is drawn as an outline meanwhile, so the denoising can be watched). A
preview that is not the photo's shape (a hole planned in a shrunk window) cannot be
placed on it and is not drawn. The mask is the document's one mask layer, the same
the Restore workspace paints, and the panel says so.

Cancel (Esc, the status bar) leaves the photo as it was. "Stop & keep" stops and keeps
the last placed preview, inside the job's area only, as an undoable result: watching
the image emerge and stopping when it looks right is the point of this workspace.
Generate makes a new document of the model's size (after asking about unsaved work);
cancelled, the photo that was open comes back.
"""

from __future__ import annotations

import random

import numpy as np
from PySide6.QtGui import QBitmap, QImage
from PySide6.QtWidgets import (
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
from engine.pipelines.fill import TASK as FILL_TASK
from engine.pipelines.fill import FillOptions, fill_photo
from gui.document import Document, Layer
from gui.qimages import from_qimage, gray8_to_qimage, resize_to
from gui.workspaces.base import (
    AppContext,
    BrushBox,
    ElidedCombo,
    Workspace,
    colour_icon,
    pick_colour,
    slider,
    use_brush,
)
from gui.workspaces.restore import share_text

DDPM_FILL = "DDPM (watch it denoise)"
NO_FILL_PACK = (
    "Inpaint with the diffusion model, step by step; import a LaMa checkpoint "
    "(Models ▸ Import…) to fill in one pass instead"
)
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
STRENGTH_TIPS = {
    "inpaint": "Inpaint: how far up the noise chain the holes start (100 % = from pure "
    "noise, below = from a smooth fill noised this far)",
    "edit": "Edit: how far from your strokes the result may move",
}


def region_bitmap(region: np.ndarray) -> QBitmap:
    """A bitmap that is opaque where ``region`` (HxW bool) is true: a preview's clip."""
    return QBitmap.fromImage(gray8_to_qimage(np.where(region, 0, 255).astype(np.uint8)))


def kept_preview(photo: np.ndarray, preview: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``photo`` with ``preview`` (HxWx3) inside ``region`` only, in the photo's channels."""
    inside = arrays.luma(preview)[..., None] if photo.shape[2] == 1 else preview
    out = photo.copy()
    out[region] = inside[region]
    return out


def blank_page(width: int, height: int) -> Document:
    """A new untitled mid-gray document for a sample generated from noise."""
    gray = np.full((height, width, 3), 0.5, np.float32)
    return Document(LoadedImage(gray, None, ImageMeta()))


class DiffuseWorkspace(Workspace):
    title = "Diffuse"
    hint = (
        "Paint what may change (the mask, shared with Restore), choose Inpaint, Edit or "
        "Generate, and press Run: the area denoises step by step. Stop & keep keeps the "
        "current step; Esc cancels and leaves the photo as it was."
    )
    paint_layer = Layer.MASK

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        box = QGroupBox("Diffusion")
        form = QFormLayout(box)
        self.mode = ElidedCombo()
        for mode, label in MODES:
            self.mode.addItem(label, mode)
        form.addRow("Mode", self.mode)
        self.fill_with = ElidedCombo()
        form.addRow("Fill with", self.fill_with)
        self.steps = QSpinBox()
        self.steps.setRange(STEPS.low, STEPS.high)
        self.steps.setValue(context.settings.diffusion_steps)
        form.addRow("Steps", self.steps)
        self.strength = slider(5, 100, round(InpaintOptions.strength * 100))
        form.addRow("Strength", self.strength)
        # each mode keeps its own steps and strength, starting from the engine's defaults
        # (chosen on validation holes for inpaint): one shared field ran inpaint at 50
        # steps, three times the work of the command line for the same fill
        self._steps = {
            "inpaint": InpaintOptions.steps,
            "edit": context.settings.diffusion_steps,
            "generate": context.settings.diffusion_steps,
        }
        self._strength = {"inpaint": InpaintOptions.strength, "edit": EditOptions.strength}
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
        self.stop.setToolTip(
            "Stop now and keep the image at this step, inside the painted area only "
            "(Esc cancels and keeps nothing)"
        )
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
        self.target = ElidedCombo()
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
        self.mask_info = QLabel()
        self.mask_info.setWordWrap(True)
        self.mask_info.setObjectName("panelHint")
        brush_form.insertRow(2, self.mask_info)
        for widget in (box, self.brush, self.status):
            self.layout_.addWidget(widget)
        self.layout_.addStretch(1)
        self.last_preview: QImage | None = None  # the last preview placed on the photo
        self._region: np.ndarray | None = None  # what the running job may change
        self._region_bits: QBitmap | None = None
        self._keep = False  # Stop & keep (not Cancel) ended the job
        self._filling: str | None = None  # the fill pack of a one-pass inpaint job
        self._unplaced = False  # the latest preview could not be placed on the photo
        self._job_document: Document | None = None  # the document the job works on
        self._before: Document | None = None  # generate: the document open before
        self._page: Document | None = None  # generate: the page its previews are shown on

        self.run.clicked.connect(self.start)
        self.vary.clicked.connect(self.vary_seed)
        self.stop.clicked.connect(self.stop_and_keep)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.fill_with.currentIndexChanged.connect(lambda _i: self.on_document())
        self.steps.valueChanged.connect(self._remember_steps)
        self.strength.valueChanged.connect(self._remember_strength)
        self._show_mode_settings(self.mode.currentData())
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
        self.counter.setText("")  # the last run's count and words belong to the last mode
        self.status.setText("")
        self._show_mode_settings(mode)
        if mode in ("edit", "inpaint"):
            wanted = Layer.PAINT if mode == "edit" else Layer.MASK
            self.target.setCurrentIndex(self.target.findData(wanted))
        self.on_document()

    def _show_mode_settings(self, mode: str) -> None:
        """Steps and strength as this mode last had them (on_document disables the
        fields a mode does not read, so nobody tunes what has no effect)."""
        self.steps.blockSignals(True)
        self.steps.setValue(self._steps[mode])
        self.steps.blockSignals(False)
        if mode in self._strength:
            self.strength.blockSignals(True)
            self.strength.setValue(round(self._strength[mode] * 100))
            self.strength.blockSignals(False)
        self.strength.setToolTip(STRENGTH_TIPS.get(mode, "Not used when generating"))

    def _remember_steps(self, value: int) -> None:
        self._steps[self.mode.currentData()] = value

    def _remember_strength(self, value: int) -> None:
        mode = self.mode.currentData()
        if mode in self._strength:
            self._strength[mode] = value / 100

    def _paint_on(self, layer: Layer) -> None:
        self.paint_layer = layer
        if self.isVisible():
            self.context.canvas.paint_layer = layer
            self.context.canvas.set_layer_visible(layer, True)
        self.colour.setEnabled(layer == Layer.PAINT)

    def _show_colour(self) -> None:
        self.colour.setIcon(colour_icon(self.context.canvas.paint_colour))

    def choose_colour(self) -> None:
        chosen = pick_colour(self, self.context.canvas.paint_colour, "Stroke colour")
        if chosen is not None:
            self.set_colour(chosen)

    def set_colour(self, rgb: tuple[int, int, int]) -> None:
        self.context.canvas.paint_colour = rgb
        self._show_colour()

    def clear_strokes(self) -> None:
        document = self.context.document
        if document is not None and document.has_paint:
            document.edit_plane(Layer.PAINT, np.zeros_like(document.paint), "Clear colour strokes")

    def on_document(self) -> None:
        document = self.context.document
        if document is not None:
            document.undo.indexChanged.connect(self._show_mask_info)
        self._show_mask_info()
        mode = self.mode.currentData()
        self._list_fill_packs(mode)
        one_pass = self._one_pass_fill() is not None
        has_pack = one_pass or any(
            p.manifest.task == "ddpm-eps" for p in self.context.registry.packs()
        )
        self.run.setEnabled(has_pack and (self.context.document is not None or mode == "generate"))
        self.steps.setEnabled(not one_pass)
        self.seed.setEnabled(not one_pass)
        self.strength.setEnabled(mode in self._strength and not one_pass)
        self.draws.setEnabled(mode == "inpaint" and not one_pass)
        self.clear_paint.setEnabled(self.context.document is not None)
        if not has_pack:
            self.status.setText("Import a diffusion (ddpm-eps) pack: Models ▸ Import…")

    def _list_fill_packs(self, mode: str) -> None:
        """Fill with: the DDPM (this tab's step-by-step inpainting) or an imported fill
        pack (LaMa), for Inpaint only; a choice stays chosen while its pack is installed."""
        names = [p.name for p in self.context.registry.packs() if p.manifest.task == FILL_TASK]
        chosen = self.fill_with.currentData()
        self.fill_with.blockSignals(True)
        self.fill_with.clear()
        self.fill_with.addItem(DDPM_FILL, None)
        for name in names:
            self.fill_with.addItem(name, name)
        if chosen in names:
            self.fill_with.setCurrentIndex(self.fill_with.findData(chosen))
        self.fill_with.blockSignals(False)
        self.fill_with.setEnabled(mode == "inpaint" and bool(names))
        self.fill_with.setToolTip(
            "Fill the mask with the diffusion model step by step, or in one pass with an "
            "imported inpainting model"
            if names
            else NO_FILL_PACK
        )

    def _one_pass_fill(self) -> str | None:
        """The fill pack chosen for Inpaint, or None for the DDPM."""
        if self.mode.currentData() != "inpaint" or not self.fill_with.isEnabled():
            return None
        return self.fill_with.currentData()

    def _show_mask_info(self) -> None:
        """Say which mask Inpaint uses: the document's one mask, which Restore paints too."""
        document = self.context.document
        if document is None or document.mask.max() < 128:
            text = "No mask painted yet"
        else:
            text = f"Mask: {share_text(document.mask >= 128)} of the photo"
        self.mask_info.setText(f"{text} (one mask, shared with the Restore tab).")

    def vary_seed(self) -> None:
        self.seed.setValue(random.randint(self.seed.minimum(), self.seed.maximum()))
        if self.run.isEnabled():
            self.start()

    def start(self) -> None:
        mode = self.mode.currentData()
        if mode == "generate":  # into a new document: ask about unsaved work first
            self.context.when_safe(self._start_job)
        elif self.context.document is not None:
            self._start_job()

    def _start_job(self) -> None:
        mode = self.mode.currentData()
        document = self.context.document
        settings = self.context.settings
        if mode != "inpaint":  # inpaint's steps start from the engine's default each time
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
        self._job_document, self._before, self._page = document, document, None
        self._region = None
        if mode != "generate" and image is not None:
            region = mask > 0.5 if mask is not None and mask.any() else None
            self._region = np.ones(image.shape[:2], bool) if region is None else region
            self._region_bits = region_bitmap(self._region)
            self.context.canvas.set_layer_visible(Layer.PAINT, False)  # the preview shows

        one_pass = self._filling = self._one_pass_fill()

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            if one_pass is not None:
                options = FillOptions(model=one_pass, device=settings.device)  # type: ignore[arg-type]
                done = fill_photo(image, mask, options, emit, cancel, registry)
                return Result(images={"image": done.images["filled"]}, info=done.info)
            if mode == "generate":
                return generate(GenerateOptions(**common), emit, cancel, registry)
            if mode == "inpaint":
                options = InpaintOptions(**common, draws=draws, strength=strength)
                return inpaint(image, mask, options, emit, cancel, registry)
            region = mask if mask is not None and mask.any() else None
            options = EditOptions(**common, strength=strength)
            return edit(image, options, region, emit, cancel, registry)

        self.last_preview = None
        self._keep = self._unplaced = False
        self.counter.setText("" if one_pass else f"Step 0/{self.steps.value()}")
        self.status.setText(f"Filling with {one_pass}…" if one_pass else "Denoising…")
        self.submit(f"Fill ({one_pass})" if one_pass else f"Diffusion ({mode})", job)

    def stop_and_keep(self) -> None:
        self._keep = True
        self.context.bridge.cancel()

    def on_preview(self, image: object, step: int, total: int) -> None:
        """Draw the preview on the photo, inside the job's area; a generated sample first
        gets a new document of its own size."""
        assert isinstance(image, QImage)
        canvas = self.context.canvas
        if self._region is None:  # generate
            if self._page is None:
                self._page = blank_page(image.width(), image.height())
                self.context.documents.set(self._page)
            elif self.context.document is not self._page:
                return  # another document was opened meanwhile
            placed = canvas.show_preview(image)
        elif self.context.document is self._job_document:
            placed = canvas.show_preview(image, self._region_bits)
        else:
            return  # another document was opened meanwhile
        self._unplaced = not placed
        if placed:
            self.last_preview = image

    def on_steps(self, stage: str, count: StepCount) -> None:
        """Show "Step 7/45 of part 2/4": the steps of the windows at work, not the model
        calls of the whole job."""
        text = f"Step {count.step}/{count.steps}"
        if count.parts > 1:
            text += f" of part {count.part}/{count.parts}"
        self.counter.setText(text)
        note = " (shown on the photo once it is placed)" if self._unplaced else ""
        self.status.setText(stage[0].upper() + stage[1:] + "…" + note)

    def _keep_generated(self, pixels: np.ndarray) -> None:
        """A sample from noise becomes a new, unsaved document of its own size."""
        generated = Document(LoadedImage(pixels, None, ImageMeta()))
        generated.undo.resetClean()  # new work, never saved: closing asks
        self.context.documents.set(generated)

    def _keep_result(self, pixels: np.ndarray, text: str) -> None:
        """An inpaint or edit result, as an undoable result layer over the photo."""
        document = self.context.document
        assert document is not None
        if pixels.shape[:2] != (document.height, document.width):
            pixels = resize_to(pixels, document.width, document.height)
        self.context.canvas.show_preview(None)
        self.context.canvas.set_layer_visible(Layer.MASK, False)  # let the filled area show
        document.set_result(pixels, text)

    def on_finished(self, result: object) -> None:
        assert isinstance(result, Result)
        pixels = result.images["image"]
        if self._region is None:
            self._keep_generated(pixels)
        elif self.context.document is self._job_document:
            kept = f"Fill with {self._filling}" if self._filling else "Diffusion"
            self._keep_result(pixels, kept)
        if self._filling:
            self.status.setText(f"Filled with {self._filling} on {result.info['device']}.")
            return
        text = f"Done on {result.info.get('device', '?')}; seed {self.seed.value()}"
        draws = int(result.info.get("draws", 1))
        self.status.setText(text + (f"; mean of {draws} fills." if draws > 1 else "."))

    def on_failed(self, message: str, detail: str) -> None:
        self._put_back()
        super().on_failed(message, detail)

    def on_cancelled(self) -> None:
        """Stop & keep keeps the last placed preview (inside the job's area); Cancel, or a
        stop before any preview was placed, leaves the photo as it was."""
        step = self.counter.text().lower()
        if not (self._keep and self.last_preview is not None):
            self._put_back()
            super().on_cancelled()
            if self._keep:
                self.status.setText(
                    f"Stopped at {step}, before a preview was placed; nothing kept."
                )
            return
        pixels = from_qimage(self.last_preview)
        if self._region is None:
            self._keep_generated(pixels)
        elif self.context.document is self._job_document:
            document = self._job_document
            assert document is not None
            self._keep_result(
                kept_preview(document.photo, pixels, self._region), "Diffusion (stopped)"
            )
        self.status.setText(f"Stopped at {step}; the preview was kept inside the painted area.")

    def _put_back(self) -> None:
        """Undo what the run showed: a generate's page gives way to the document open
        before; an inpaint's hidden colour strokes show again."""
        if self._region is None:
            if self._page is not None and self.context.document is self._page:
                self.context.documents.set(self._before)
        elif self.context.document is self._job_document:
            self.context.canvas.set_layer_visible(Layer.PAINT, self.paint_layer == Layer.PAINT)
