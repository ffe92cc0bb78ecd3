"""What every workspace panel shares: the app context and the brush controls.

A workspace is a side panel that builds engine jobs from the canvas and shows their
events. It never owns the document or the job runner; they live in
:class:`AppContext`, shared by all three panels, the window and the dialogs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPaintEvent, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QVBoxLayout,
    QWidget,
)

from engine.models import Registry
from gui.bridge import EngineBridge
from gui.canvas.view import CanvasView, Tool
from gui.document import Document, Layer
from gui.settings import Settings


class DocumentHolder(QObject):
    """The open document, with a signal when another one is opened."""

    replaced = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.current: Document | None = None

    def set(self, document: Document | None) -> None:
        self.current = document
        self.replaced.emit()


def at_once(proceed: Callable[[], None]) -> None:
    """``AppContext.when_safe`` without a window: nothing to ask, go ahead."""
    proceed()


@dataclass
class AppContext:
    canvas: CanvasView
    bridge: EngineBridge
    settings: Settings
    documents: DocumentHolder = field(default_factory=DocumentHolder)
    registry: Registry = field(default_factory=Registry)
    # runs a step that replaces the document once unsaved work is saved or discarded
    # (the window asks Save / Discard / Cancel; see MainWindow.when_work_is_safe)
    when_safe: Callable[[Callable[[], None]], None] = at_once

    @property
    def document(self) -> Document | None:
        return self.documents.current

    def replace_document(self, document: Document | None) -> None:
        """Show another document (callers ask first, through ``when_safe``); a job still
        working on the old one is cancelled."""
        self.bridge.cancel()
        self.documents.set(document)


class Workspace(QWidget):
    """A side panel; ``activate`` sets up the canvas the way this workspace paints."""

    title = ""
    hint = ""  # shown at the top of the panel until the user closes it, once per workspace
    paint_layer = Layer.MASK
    shows_faces = False  # the face outlines of a restore are Restore's overlay only

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(12, 12, 12, 12)
        self.layout_.setSpacing(10)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setObjectName("panelStatus")
        self.hint_box = self._hint_box()
        context.bridge.finished.connect(self._if_mine(self.on_finished))
        context.bridge.preview.connect(self._if_mine(self.on_preview))
        context.bridge.failed.connect(self._if_mine(self.on_failed))
        context.bridge.cancelled.connect(self._if_mine(self.on_cancelled))
        context.documents.replaced.connect(lambda: self.status.setText(""))  # the old photo's
        context.documents.replaced.connect(self.on_document)

    def _hint_box(self) -> QFrame:
        """The first-run hint: what this workspace is for and where to start, with a
        button that closes it for good (remembered in the settings)."""
        box = QFrame()
        box.setObjectName("firstRunHint")
        row = QHBoxLayout(box)
        row.setContentsMargins(8, 6, 6, 6)
        text = QLabel(self.hint)
        text.setWordWrap(True)
        close = QPushButton("Got it")
        close.setToolTip("Hide this hint (Help ▸ Keyboard Shortcuts lists every key)")
        close.clicked.connect(self.dismiss_hint)
        row.addWidget(text, 1)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        box.setVisible(bool(self.hint) and self.title not in self.context.settings.hints_seen)
        self.layout_.addWidget(box)
        return box

    def dismiss_hint(self) -> None:
        self.hint_box.hide()
        if self.title not in self.context.settings.hints_seen:
            self.context.settings.hints_seen.append(self.title)

    def _if_mine(self, handler):  # noqa: ANN001, ANN202 - wraps slots of any signature
        def slot(*args: object) -> None:
            if self.context.bridge.owner is self:
                handler(*args)

        return slot

    def activate(self) -> None:
        """This panel became visible: choose the paint layer and visible layers."""
        self.context.canvas.paint_layer = self.paint_layer
        self.context.canvas.set_faces_visible(self.shows_faces)

    def deactivate(self) -> None:
        """Another panel is shown now: undo what ``activate`` set up only for this one."""

    def submit(self, name: str, fn, replace: bool = False) -> None:  # noqa: ANN001
        self.context.canvas.show_preview(None)
        self.context.bridge.submit(name, fn, replace=replace, owner=self)

    # overridable reactions to the panel's own jobs
    def on_document(self) -> None: ...
    def on_finished(self, result: object) -> None: ...
    def on_preview(self, image: object, step: int, total: int) -> None:
        self.context.canvas.show_preview(image)  # type: ignore[arg-type]

    def on_failed(self, message: str, detail: str) -> None:
        self.context.canvas.show_preview(None)
        self.status.setText(message)

    def on_cancelled(self) -> None:
        self.context.canvas.show_preview(None)
        self.status.setText("Stopped; nothing was changed.")


COMBO_CHARS = 14  # a closed combo box shows this many characters; its list shows all


def fit_narrow(panel: QWidget) -> int:
    """Let the panel's combo boxes shrink to a few characters, so a long model title cannot
    widen the side panel (it was cut off on the right), and return the width the panel then
    needs, for the side area's minimum width. The open list still shows whole titles."""
    for combo in panel.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(COMBO_CHARS)
    return panel.minimumSizeHint().width()


class ElidedCombo(QComboBox):
    """A combo box that shortens a long closed text in the middle ("heirloom-…-v2"), keeps
    the whole text in its tooltip, and shows whole texts in its open list."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hint = ""
        self.currentIndexChanged.connect(self._show_tip)

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - Qt override
        """``tip`` follows the current item's whole text in the tooltip."""
        self._hint = tip
        self._show_tip()

    def _show_tip(self) -> None:
        parts = [self.currentText(), self._hint]
        super().setToolTip("\n".join(part for part in parts if part))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field_rect = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox,
            option,
            QStyle.SubControl.SC_ComboBoxEditField,
            self,
        )
        option.currentText = self.fontMetrics().elidedText(
            option.currentText, Qt.TextElideMode.ElideMiddle, field_rect.width()
        )
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


def slider(low: int, high: int, value: int) -> QSlider:
    widget = QSlider(Qt.Orientation.Horizontal)
    widget.setRange(low, high)
    widget.setValue(value)
    return widget


def percent_slider(low: float, high: float, value: float) -> QSlider:
    """A slider in hundredths over an option's range (``value() / 100`` is the option)."""
    return slider(round(low * 100), round(high * 100), round(value * 100))


class BrushBox(QGroupBox):
    """Brush size and hardness, kept in step with the canvas (``[``/``]`` change size)."""

    def __init__(self, canvas: CanvasView, title: str = "Brush") -> None:
        super().__init__(title)
        self.canvas = canvas
        form = QFormLayout(self)
        self.size = slider(1, 400, int(canvas.radius * 2))
        self.hardness = slider(0, 100, int(canvas.hardness * 100))
        self.size.setToolTip("Brush diameter in image pixels ([ and ] also change it)")
        self.hardness.setToolTip("Hard edge at 100, a soft fall-off below")
        form.addRow("Size", self.size)
        form.addRow("Hardness", self.hardness)
        self.size.valueChanged.connect(lambda v: canvas.set_brush(radius=v / 2))
        self.hardness.valueChanged.connect(lambda v: canvas.set_brush(hardness=v / 100))
        canvas.brush_changed.connect(self._follow)

    def _follow(self, radius: float, hardness: float) -> None:
        for widget, value in ((self.size, int(radius * 2)), (self.hardness, int(hardness * 100))):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)


def use_brush(canvas: CanvasView) -> None:
    """Panels that paint switch from the pointer to the brush when activated."""
    if canvas.tool == Tool.NONE:
        canvas.tool = Tool.BRUSH


def colour_icon(rgb: tuple[int, int, int]) -> QIcon:
    """A 14 px swatch of ``rgb``, for a colour button."""
    swatch = QPixmap(14, 14)
    swatch.fill(QColor(*rgb))
    return QIcon(swatch)


def pick_colour(
    parent: QWidget, rgb: tuple[int, int, int], title: str
) -> tuple[int, int, int] | None:
    """The colour dialog, starting at ``rgb``; None when the user cancels."""
    chosen = QColorDialog.getColor(QColor(*rgb), parent, title)
    return (chosen.red(), chosen.green(), chosen.blue()) if chosen.isValid() else None
