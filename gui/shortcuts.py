"""Help › Keyboard Shortcuts (also `?`): every key the window and the canvas answer to.

The menu keys are read from the window's own actions, so the sheet cannot disagree
with them; the canvas's mouse and key gestures, which are no actions, are listed here.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

CANVAS_GESTURES = (
    ("Wheel", "Zoom around the cursor"),
    ("Space + drag, middle drag", "Pan"),
    ("Drag the white line (compare)", "Move the before | after split"),
)


def action_keys(actions: list[QAction]) -> list[tuple[str, str]]:
    """(key, what it does) for each action with a shortcut, as the menus show them."""
    rows = []
    for action in actions:
        key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if key:
            rows.append((key, action.text().replace("&", "")))
    return rows


class ShortcutsDialog(QDialog):
    """A two-column sheet: key, then what it does."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        rows = action_keys(actions) + list(CANVAS_GESTURES)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Key", "Does"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (key, text) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(key))
            self.table.setItem(row, 1, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(460, 760)
