"""Restore: find the damage, let the user correct the mask, then restore the photo.

The detected mask is only a proposal: it lands on the mask layer as one undoable
step, the user paints and erases on it, and Restore sends exactly that mask
(``RestoreOptions.mask``) so the pipeline does not detect again.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QPushButton,
    QWidget,
)

from engine.cancel import CancelToken
from engine.jobs import Emitter, Result
from engine.limits import SMOOTHING
from engine.pipelines.restore import RestoreOptions, detect_scratches, restore_photo
from gui.canvas import mask_ops
from gui.document import Layer
from gui.settings import RANGES
from gui.workspaces.base import (
    AppContext,
    BrushBox,
    Workspace,
    percent_slider,
    slider,
    use_brush,
)


class RestoreWorkspace(Workspace):
    title = "Restore"
    paint_layer = Layer.MASK

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        damage = QGroupBox("1  Damage")
        form = QFormLayout(damage)
        self.find = QPushButton("Find damage")
        self.find.setToolTip("Detect scratches, dust and tears; the mask stays editable")
        self.threshold = percent_slider(
            *RANGES["scratch_threshold"], context.settings.scratch_threshold
        )
        self.threshold.setToolTip("Lower marks more of the photo as damaged")
        self.show_mask = QCheckBox("Show mask")
        self.show_mask.setChecked(True)
        self.opacity = slider(10, 100, 60)
        form.addRow(self.find)
        form.addRow("Sensitivity", self.threshold)
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
        self.run = QPushButton("Restore")
        self.run.setObjectName("primary")
        restore_form.addRow(self.faces)
        restore_form.addRow(self.colour)
        restore_form.addRow("Smoothing", self.smoothing)
        restore_form.addRow(self.run)

        self.brush = BrushBox(context.canvas)
        for widget in (damage, self.brush, restore, self.status):
            self.layout_.addWidget(widget)
        self.layout_.addStretch(1)

        self.find.clicked.connect(self.find_damage)
        self.run.clicked.connect(self.restore)
        self.show_mask.toggled.connect(lambda on: context.canvas.set_layer_visible(Layer.MASK, on))
        self.opacity.valueChanged.connect(
            lambda v: context.canvas.set_layer_opacity(Layer.MASK, v / 100)
        )
        self.grow.clicked.connect(lambda: self._mask_op(mask_ops.grow, "Grow mask", 2))
        self.shrink.clicked.connect(lambda: self._mask_op(mask_ops.shrink, "Shrink mask", 2))
        self.invert.clicked.connect(lambda: self._mask_op(mask_ops.invert, "Invert mask"))
        self.clear.clicked.connect(lambda: self._mask_op(mask_ops.cleared, "Clear mask"))
        self.on_document()

    def activate(self) -> None:
        super().activate()
        canvas = self.context.canvas
        canvas.set_layer_visible(Layer.PAINT, False)
        canvas.set_layer_visible(Layer.MASK, self.show_mask.isChecked())
        canvas.set_layer_visible(Layer.SKETCH, False)
        use_brush(canvas)

    def on_document(self) -> None:
        has = self.context.document is not None
        for widget in (self.find, self.run, self.grow, self.shrink, self.invert, self.clear):
            widget.setEnabled(has)

    def _options(self, mask: np.ndarray | None = None) -> RestoreOptions:
        settings = self.context.settings
        return RestoreOptions(
            mask=mask,
            threshold=self.threshold.value() / 100,
            faces=self.faces.isChecked(),
            colour=self.colour.isChecked(),
            smoothing=self.smoothing.value() / 100,
            device=settings.device,  # type: ignore[arg-type]
            tile=settings.tile_size,
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
        self.context.settings.scratch_threshold = self.threshold.value() / 100
        self.status.setText("Looking for scratches, dust and tears…")

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            found = detect_scratches(image, options, emit, cancel, registry)
            return Result({"mask": found.images["mask"]}, {**found.info, "stage": "detect"})

        self.submit("Find damage", job)

    def restore(self) -> None:
        document = self.context.document
        if document is None:
            return
        mask = document.mask >= 128
        image, options, registry = document.photo, self._options(mask), self.context.registry
        self.context.settings.restore_smoothing = options.smoothing  # batches use it too
        self.status.setText("Restoring…")
        self.context.canvas.show_faces([])

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            result = restore_photo(image, options, emit, cancel, registry)
            return Result(result.images, {**result.info, "stage": "restore"})

        self.submit("Restore", job)

    def on_finished(self, result: object) -> None:
        document = self.context.document
        assert isinstance(result, Result)
        self.context.canvas.show_preview(None)
        if document is None:
            return
        if result.info.get("stage") == "detect":
            mask = result.images["mask"]
            document.edit_plane(Layer.MASK, np.where(mask, 255, 0).astype(np.uint8), "Find damage")
            self.show_mask.setChecked(True)
            share = float(np.mean(mask)) * 100
            self.status.setText(
                f"{share:.1f}% of the photo marked as damage ({result.info.get('device', '')}). "
                "Paint to add, erase to remove, then Restore."
            )
            return
        document.faces = [tuple(map(float, box[:4])) for box in result.info.get("faces", [])]
        document.set_result(result.images["restored"], "Restore")
        self.show_mask.setChecked(False)
        self.context.canvas.show_faces(document.faces)
        faces = len(document.faces)
        self.status.setText(
            f"Restored on {result.info.get('device', '?')}; {faces} face(s) refined. "
            "Press C to compare before | after."
        )
