"""Restore: find the damage, let the user correct the mask, then restore the photo.

Restore sends the painted mask exactly (``RestoreOptions.mask``), so the pipeline does
not detect again. With nothing painted it detects the damage itself, as batch restore
and the CLI do (``scratches="auto"``), and the mask it found lands on the mask layer as
one undoable step: the user touches it up and presses Restore again. Find damage shows
that proposal before any restoring. The panel says beforehand which of the two happens.

Sensitivity is the detector threshold read the way the word sounds: higher finds more
(sensitivity = 1 - threshold; settings keep the threshold, as batch restore uses it).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QWidget,
)

from engine.cancel import CancelToken
from engine.errors import PackError
from engine.jobs import Emitter, Result
from engine.limits import SMOOTHING
from engine.pipelines.restore import (
    FACE_TASKS,
    RestoreOptions,
    detect_scratches,
    restore_photo,
)
from engine.pipelines.upscale import TASK
from gui.canvas import mask_ops
from gui.document import Layer
from gui.settings import RANGES
from gui.upscale import NO_PACK
from gui.workspaces.base import (
    AppContext,
    BrushBox,
    ElidedCombo,
    Workspace,
    percent_slider,
    slider,
    use_brush,
)

NO_FACE_PACK = (
    "No face restorer installed: import a GFPGAN, CodeFormer or RestoreFormer checkpoint "
    "with Models ▸ Import… to refine faces with it"
)


def sensitivity_of(threshold: float) -> int:
    """The Sensitivity slider's percent for a detector threshold (higher finds more)."""
    return round((1.0 - threshold) * 100)


def threshold_of(sensitivity: int) -> float:
    """The detector threshold a Sensitivity percent stands for (what settings store)."""
    return round(1.0 - sensitivity / 100, 2)


def _fill(combo: ElidedCombo, items: list[tuple[str, str | None]]) -> None:
    """Replace a combo's items, keeping the chosen one when it is still offered."""
    chosen = combo.currentData()
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    if chosen is not None and combo.findData(chosen) >= 0:
        combo.setCurrentIndex(combo.findData(chosen))


def share_text(mask: np.ndarray) -> str:
    """A mask's share of the photo, the way the panel writes it (a few specks are not 0 %)."""
    share = float(np.mean(mask)) * 100
    return f"{share:.1f} %" if share >= 0.05 else "under 0.1 %"


class RestoreWorkspace(Workspace):
    title = "Restore"
    hint = (
        "Find damage marks scratches in red; paint what it missed with the brush ([ ] "
        "size, E erases, M hides the mask), then Restore. C compares before | after."
    )
    paint_layer = Layer.MASK
    shows_faces = True

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        damage = QGroupBox("1  Damage")
        form = QFormLayout(damage)
        self.find = QPushButton("Find damage")
        self.find.setToolTip(
            "Detect scratches, dust and tears and show them on the mask layer, "
            "where they stay editable"
        )
        low, high = RANGES["scratch_threshold"]
        self.sensitivity = slider(
            sensitivity_of(high),
            sensitivity_of(low),
            sensitivity_of(context.settings.scratch_threshold),
        )
        self.sensitivity.setToolTip(
            "Higher finds more damage, fainter scratches and dust too; used by Find damage "
            "and by Restore when no mask is painted"
        )
        self.sensitivity_label = QLabel()
        self.show_mask = QCheckBox("Show mask")
        self.show_mask.setChecked(True)
        self.opacity = slider(10, 100, 60)
        form.addRow(self.find)
        form.addRow(self.sensitivity_label, self.sensitivity)
        form.addRow(self.show_mask)
        form.addRow("Opacity", self.opacity)
        tools = QGridLayout()
        self.grow = QPushButton("Grow")
        self.shrink = QPushButton("Shrink")
        self.invert = QPushButton("Invert")
        self.clear = QPushButton("Clear")
        for i, button in enumerate((self.grow, self.shrink, self.invert, self.clear)):
            tools.addWidget(button, i // 2, i % 2)
        form.addRow(tools)

        restore = QGroupBox("2  Restore")
        restore_form = QFormLayout(restore)
        self.faces = QCheckBox("Refine faces")
        self.faces.setChecked(True)
        self.colour = QCheckBox("Keep colour of gray scans")
        self.smoothing = percent_slider(
            SMOOTHING.low, SMOOTHING.high, context.settings.restore_smoothing
        )
        self.smoothing.setToolTip(
            "How much noise and grain the restoration smooths away outside the damage; "
            "lower keeps more of the photo's own grain"
        )
        self.network = ElidedCombo()
        self.face_model = ElidedCombo()
        self.upscale = ElidedCombo()
        self.run = QPushButton("Restore")
        self.run.setObjectName("primary")
        self.plan = QLabel()
        self.plan.setWordWrap(True)
        self.plan.setObjectName("panelHint")
        restore_form.addRow(self.faces)
        restore_form.addRow(self.colour)
        restore_form.addRow("Smoothing", self.smoothing)
        restore_form.addRow("Network", self.network)
        restore_form.addRow("Faces with", self.face_model)
        restore_form.addRow("Upscale", self.upscale)
        restore_form.addRow(self.run)
        restore_form.addRow(self.plan)

        self.brush = BrushBox(context.canvas)
        for widget in (damage, self.brush, restore, self.status):
            self.layout_.addWidget(widget)
        self.layout_.addStretch(1)

        self.find.clicked.connect(self.find_damage)
        self.run.clicked.connect(self.restore)
        self.faces.toggled.connect(self.refresh_models)  # Faces with follows Refine faces
        self.sensitivity.valueChanged.connect(self._show_sensitivity)
        self.show_mask.toggled.connect(lambda on: context.canvas.set_layer_visible(Layer.MASK, on))
        context.canvas.layer_shown.connect(self._mask_shown)
        self.opacity.valueChanged.connect(
            lambda v: context.canvas.set_layer_opacity(Layer.MASK, v / 100)
        )
        self.grow.clicked.connect(lambda: self._mask_op(mask_ops.grow, "Grow mask", 2))
        self.shrink.clicked.connect(lambda: self._mask_op(mask_ops.shrink, "Shrink mask", 2))
        self.invert.clicked.connect(lambda: self._mask_op(mask_ops.invert, "Invert mask"))
        self.clear.clicked.connect(lambda: self._mask_op(mask_ops.cleared, "Clear mask"))
        self._show_sensitivity()
        self.refresh_models()
        self.on_document()

    def refresh_models(self) -> None:
        """Fill Network (restore packs, then imported denoisers) and Upscale (Off, then
        upscale packs); a choice stays chosen while its pack is installed."""
        try:
            packs = list(self.context.registry.packs())
        except PackError:
            packs = []
        restorers = [p for p in packs if p.manifest.task == "restore"]
        restorers.sort(key=lambda p: (p.origin != "user", p.name))  # the pipeline's default first
        restorers += [p for p in packs if p.manifest.task == "denoise"]
        upscalers = [p.name for p in packs if p.manifest.task == TASK]
        _fill(self.network, [(p.manifest.title or p.name, p.name) for p in restorers])
        self.network.setToolTip(
            "The network of the restore stage: Heirloom's restorer, or an imported denoiser "
            "(SCUNet, NAFNet: Models ▸ Import)"
        )
        face_models = [p.name for p in packs if p.manifest.task in FACE_TASKS]
        _fill(self.face_model, [("Built-in", None), *((name, name) for name in face_models)])
        self.face_model.setEnabled(bool(face_models) and self.faces.isChecked())
        self.face_model.setToolTip(
            "The network that refines each face: Heirloom's own pass, or an imported "
            "GFPGAN, CodeFormer or RestoreFormer"
            if face_models
            else NO_FACE_PACK
        )
        _fill(self.upscale, [("Off", None), *((name, name) for name in upscalers)])
        self.upscale.setEnabled(bool(upscalers))
        self.upscale.setToolTip(
            "Enlarge the restored photo last with this upscale model" if upscalers else NO_PACK
        )

    def activate(self) -> None:
        super().activate()
        self.refresh_models()
        canvas = self.context.canvas
        canvas.set_layer_visible(Layer.PAINT, False)
        canvas.set_layer_visible(Layer.MASK, self.show_mask.isChecked())
        canvas.set_layer_visible(Layer.SKETCH, False)
        use_brush(canvas)

    def _mask_shown(self, layer: str, visible: bool) -> None:
        """The checkbox follows the mask layer, whoever showed or hid it (M, a brush
        stroke) while this panel is shown; other workspaces hide it without unticking it."""
        if layer == Layer.MASK and self.isVisible():
            self.show_mask.blockSignals(True)
            self.show_mask.setChecked(visible)
            self.show_mask.blockSignals(False)

    def on_document(self) -> None:
        document = self.context.document
        has = document is not None
        for widget in (self.find, self.run, self.grow, self.shrink, self.invert, self.clear):
            widget.setEnabled(has)
        if document is not None:  # every mask change (stroke, tool, undo) is an undo step
            document.undo.indexChanged.connect(self._show_plan)
        self._show_plan()

    def follow_settings(self) -> None:
        """The Settings dialog changed the stored threshold: show it as sensitivity."""
        self.sensitivity.setValue(sensitivity_of(self.context.settings.scratch_threshold))

    def threshold(self) -> float:
        """The detector threshold the Sensitivity slider stands for."""
        return threshold_of(self.sensitivity.value())

    def painted_mask(self) -> np.ndarray | None:
        """The mask Restore sends (HxW bool), or None when nothing is painted."""
        document = self.context.document
        if document is None:
            return None
        if document.mask.max() < 128:  # cheap on a big scan: no array is made
            return None
        return document.mask >= 128

    def _show_sensitivity(self) -> None:
        self.sensitivity_label.setText(f"Sensitivity: {self.sensitivity.value()} %")
        self._show_plan()

    def _show_plan(self) -> None:
        """Say before the run whether Restore uses the painted mask or detects damage."""
        document = self.context.document
        if document is None:
            text = "Open a photo to restore it."
        elif document.mask.max() >= 128:  # as painted_mask decides, without its array
            text = (
                "Using your painted mask: Restore repairs exactly the red areas, found or "
                "painted (Clear it to have the damage detected again)."
            )
        else:
            text = (
                "No mask painted: damage will be detected automatically "
                f"(sensitivity {self.sensitivity.value()} %)."
            )
        self.plan.setText(text)
        self.run.setToolTip(text)

    def _options(self, mask: np.ndarray | None = None) -> RestoreOptions:
        settings = self.context.settings
        return RestoreOptions(
            scratches="auto",
            mask=mask,
            threshold=self.threshold(),
            faces=self.faces.isChecked(),
            colour=self.colour.isChecked(),
            smoothing=self.smoothing.value() / 100,
            device=settings.device,  # type: ignore[arg-type]
            tile=settings.tile_size,
            restorer=self.network.currentData(),
            face_model=self.face_model.currentData() if self.face_model.isEnabled() else None,
            upscale=self.upscale.currentData() if self.upscale.isEnabled() else None,
        )

    def _mask_op(self, op, text: str, *args: int) -> None:  # noqa: ANN001
        document = self.context.document
        if document is not None:
            document.edit_plane(Layer.MASK, op(document.mask, *args), text)

    def find_damage(self) -> None:
        document = self.context.document
        if document is None:
            return
        image, options, registry = document.photo, self._options(), self.context.registry
        self.context.settings.scratch_threshold = options.threshold  # batches use it too
        self.status.setText("Looking for scratches, dust and tears…")

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            found = detect_scratches(image, options, emit, cancel, registry)
            return Result({"mask": found.images["mask"]}, {**found.info, "stage": "detect"})

        self.submit("Find damage", job)

    def restore(self) -> None:
        document = self.context.document
        if document is None:
            return
        mask = self.painted_mask()
        image, options, registry = document.photo, self._options(mask), self.context.registry
        settings = self.context.settings
        settings.restore_smoothing = options.smoothing  # batches use it too
        if mask is None:
            settings.scratch_threshold = options.threshold
            self.status.setText("No mask painted: finding the damage, then restoring…")
        else:
            self.status.setText("Restoring with your painted mask…")
        self.context.canvas.show_faces([])

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            result = restore_photo(image, options, emit, cancel, registry)
            info = {**result.info, "stage": "restore"}
            if mask is None:  # the pack restore_photo detected with, for the panel to name
                info["detector"] = registry.for_task("scratch-detect", options.detector).name
            return Result(result.images, info)

        self.submit("Restore", job)

    def on_finished(self, result: object) -> None:
        document = self.context.document
        assert isinstance(result, Result)
        self.context.canvas.show_preview(None)
        if document is None:
            return
        if result.info.get("stage") == "detect":  # a new proposal replaces the mask
            found = result.images["mask"]
            self._put_found_mask(found, "Find damage", keep_strokes=False)
            self.show_mask.setChecked(True)
            source = f"{result.info['model']} on {result.info.get('device', '?')}"
            self.status.setText(
                f"{self._found_text(found, source)}. Paint to add, erase to remove, then Restore."
            )
            return
        found_text = ""
        if "detector" in result.info:
            found = result.images["mask"]
            self._put_found_mask(found, "Found damage", keep_strokes=True)
            found_text = (
                f"{self._found_text(found, result.info['detector'])}; it is on the mask layer "
                "(Show mask): paint to add, erase to remove, then Restore again. "
            )
        elif result.info.get("mask") == "given":
            found_text = "Used your painted mask. "
        document.faces = [tuple(map(float, box[:4])) for box in result.info.get("faces", [])]
        document.set_result(result.images["restored"], "Restore")
        self.show_mask.setChecked(False)
        self.context.canvas.show_faces(document.faces)
        faces = len(document.faces)
        upscaled = f" Upscaled {result.info['upscaled']}." if "upscaled" in result.info else ""
        self.status.setText(
            f"{found_text}Restored on {result.info.get('device', '?')}; "
            f"{faces} face(s) refined.{upscaled} Press C to compare before | after."
        )

    def _put_found_mask(self, found: np.ndarray, text: str, keep_strokes: bool) -> None:
        """Lay a detected mask on the mask layer as one undoable step; ``keep_strokes``
        keeps what was painted meanwhile (Restore detects only when nothing was)."""
        document = self.context.document
        assert document is not None
        marked = np.where(found, 255, 0).astype(np.uint8)
        if keep_strokes:
            np.maximum(marked, document.mask, out=marked)
        document.edit_plane(Layer.MASK, marked, text)

    def _found_text(self, found: np.ndarray, source: str) -> str:
        if not found.any():
            return (
                f"Found no damage ({source}, sensitivity {self.sensitivity.value()} %); "
                "raise Sensitivity or paint the damage"
            )
        return f"Found damage on {share_text(found)} of the photo ({source})"
