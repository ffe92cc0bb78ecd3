"""Export: the result or a layer to PNG, JPEG or TIFF, through engine.images.save_image.

save_image keeps the source's ICC profile and EXIF and writes atomically; before that,
:func:`export_layer` refuses (``check_outputs``: links and ``..`` resolved) a target
that is the photo the document came from or its project file, so exporting can never
damage the scan the user started from or the work saved so far.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from engine.errors import HeirloomError
from engine.files import check_outputs
from engine.images import save_image
from engine.limits import QUALITY
from gui.document import Document, Layer

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif"}


def layer_pixels(document: Document, layer: Layer) -> np.ndarray:
    """What an export of ``layer`` writes (float [0, 1], HxW or HxWxC)."""
    if layer == Layer.RESULT and document.result is not None:
        return document.result
    if layer in (Layer.MASK, Layer.SKETCH):
        return document.plane(layer) / np.float32(255.0)
    return document.photo


def export_layer(
    document: Document, layer: Layer, path: Path, bit_depth: int, quality: int
) -> Path:
    """Write ``layer`` to ``path`` (replacing an earlier export, never an input)."""
    check_outputs([document.source, document.project_path], [path], what="export")
    meta = document.meta
    if layer in (Layer.MASK, Layer.SKETCH):
        meta = replace(meta, icc_profile=None, exif=None)  # a mask is not a photograph
    return save_image(
        path,
        layer_pixels(document, layer),
        meta=meta,
        bit_depth=bit_depth,
        quality=quality,
        overwrite=True,
    )


class ExportDialog(QDialog):
    """Choose a layer, format and file; ``written`` is the file saved once accepted.
    The file dialog opens in ``folder`` (the last one used) or beside the photo."""

    def __init__(
        self, document: Document, parent: QWidget | None = None, folder: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.document = document
        self.folder = folder
        self.written: Path | None = None
        form = QFormLayout(self)
        self.layer = QComboBox()
        if document.result is not None:
            self.layer.addItem("Result", Layer.RESULT)
        self.layer.addItem("Damage mask", Layer.MASK)
        self.layer.addItem("Sketch (edges)", Layer.SKETCH)
        self.layer.addItem("Photo", Layer.PHOTO)
        self.format = QComboBox()
        self.format.addItems(list(FORMATS))
        self.depth = QComboBox()
        self.depth.addItem("8 bits per channel", 8)
        self.depth.addItem("16 bits per channel", 16)
        if document.meta.bit_depth == 16:
            self.depth.setCurrentIndex(1)
        self.quality = QSpinBox()
        self.quality.setRange(QUALITY.low, QUALITY.high)
        self.quality.setValue(95)
        for label, widget in (
            ("Layer", self.layer),
            ("Format", self.format),
            ("Bit depth", self.depth),
            ("JPEG quality", self.quality),
        ):
            form.addRow(label, widget)
        self.format.currentTextChanged.connect(self._format_changed)
        self._format_changed(self.format.currentText())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.choose_and_save)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _format_changed(self, fmt: str) -> None:
        self.quality.setEnabled(fmt == "JPEG")
        self.depth.setEnabled(fmt != "JPEG")

    def choose_and_save(self) -> None:
        suffix = FORMATS[self.format.currentText()]
        base = self.document.source or Path("Untitled")
        layer = self.layer.currentData()
        suggestion = (self.folder or base.parent) / f"{base.stem}-{layer}{suffix}"
        chosen, _ = QFileDialog.getSaveFileName(self, "Export", str(suggestion))
        if not chosen:
            return
        path = Path(chosen)
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
            path = path.with_suffix(suffix)
        try:
            self.written = export_layer(
                self.document, layer, path, self.depth.currentData(), self.quality.value()
            )
        except (HeirloomError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot export", str(exc))
            return
        self.accept()
