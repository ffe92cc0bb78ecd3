"""Batch restore: every photo of a folder into another folder, one job per file.

Each file is its own job (load, detect, restore, save), so one corrupt scan fails
alone: its row says why and the next file starts. Results keep the source's name,
format and metadata; the source folder is never written to: an output folder that is
the input folder (after following links and ``..``) is refused before any job starts,
and each job refuses, before any work, a target that is its own source (a link).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.cancel import CancelToken
from engine.files import check_outputs, os_error_reason, same_file
from engine.images import FORMATS, load_image, save_image
from engine.jobs import Emitter, Result
from engine.pipelines.restore import RestoreOptions, restore_photo
from gui.workspaces.base import AppContext


def photos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)


def restore_file(source: Path, target_dir: Path, options: RestoreOptions, registry):  # noqa: ANN001, ANN201
    """The job for one file: returns its function for the runner."""

    def job(emit: Emitter, cancel: CancelToken) -> Result:
        target = target_dir / source.name
        check_outputs([source], [target])
        image = load_image(source)
        result = restore_photo(image.pixels, options, emit, cancel, registry)
        save_image(
            target, result.images["restored"], meta=image.meta, alpha=image.alpha, overwrite=True
        )
        return Result({}, {**result.info, "saved": str(target)})

    return job


class BatchDialog(QDialog):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch restore")
        self.resize(760, 520)
        self.context = context
        self.source = QLineEdit()
        self.target = QLineEdit()
        form = QFormLayout()
        for label, edit in (("Photos in", self.source), ("Restored into", self.target)):
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            browse = QPushButton("Choose…")
            browse.clicked.connect(lambda _=False, e=edit: self._choose(e))
            row.addWidget(browse)
            form.addRow(label, row)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["File", "Status"])
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primary")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.start_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        bridge = context.bridge
        bridge.progress.connect(self._progress)
        bridge.finished.connect(self._done)
        bridge.failed.connect(lambda message, _detail: self._done(None, message))
        bridge.cancelled.connect(self._cancelled)
        self.files: list[Path] = []
        self.index = -1
        self.counts = {"done": 0, "skipped": 0}

    def _choose(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)

    def _mine(self) -> bool:
        return self.context.bridge.owner is self and self.index >= 0

    def start(self) -> None:
        source, target = Path(self.source.text()), Path(self.target.text())
        if not source.is_dir() or not self.target.text():
            self.summary.setText("Choose a folder of photos and a folder for the results.")
            return
        if same_file(source, target):
            self.summary.setText(
                "The results need their own folder; the originals stay as they are."
            )
            return
        try:
            target.mkdir(parents=True, exist_ok=True)
            files = photos_in(source)
        except OSError as exc:
            self.summary.setText(f"Cannot use {exc.filename}: {os_error_reason(exc)}.")
            return
        self.files = files
        self.table.setRowCount(len(self.files))
        for row, path in enumerate(self.files):
            self.table.setItem(row, 0, QTableWidgetItem(path.name))
            self.table.setItem(row, 1, QTableWidgetItem("waiting"))
        self.counts = {"done": 0, "skipped": 0}
        self.index = -1
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._next()

    def _next(self) -> None:
        self.index += 1
        if self.index >= len(self.files):
            self._finish()
            return
        settings = self.context.settings
        options = RestoreOptions(
            threshold=settings.scratch_threshold,
            smoothing=settings.restore_smoothing,
            device=settings.device,  # type: ignore[arg-type]
            tile=settings.tile_size,
        )
        path = self.files[self.index]
        self._status("working…")
        job = restore_file(path, Path(self.target.text()), options, self.context.registry)
        self.context.bridge.submit(f"Restore {path.name}", job, owner=self)

    def _status(self, text: str) -> None:
        self.table.setItem(self.index, 1, QTableWidgetItem(text))
        self.table.scrollToItem(self.table.item(self.index, 1))

    def _progress(self, fraction: float, text: str) -> None:
        if self._mine():
            self._status(f"{fraction * 100:.0f}% — {text}")

    def _done(self, result: object, error: str | None = None) -> None:
        if not self._mine():
            return
        if error is None:
            assert isinstance(result, Result)
            self.counts["done"] += 1
            self._status(f"restored ({result.info.get('device', '?')})")
        else:
            self.counts["skipped"] += 1
            self._status(f"skipped: {error}")
        self._next()

    def _cancelled(self) -> None:
        if self._mine():
            self._status("stopped")
            self.files = self.files[: self.index + 1]
            self._finish()

    def stop(self) -> None:
        self.context.bridge.cancel()

    def _finish(self) -> None:
        total = len(self.files)
        self.summary.setText(
            f"{self.counts['done']} of {total} restored, {self.counts['skipped']} skipped"
            + (" (see the reasons above)." if self.counts["skipped"] else ".")
        )
        self.index = -1
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
