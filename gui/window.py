"""The main window: menus, tool bar, the shared canvas, workspace panels, status bar.

The window owns the app-wide pieces (document, job bridge, settings, autosave) and
the actions with their shortcuts; the workspace panels build and read jobs. Long
work always goes through the bridge, so the window only ever shows progress.

Unsaved work is never dropped without asking: closing the window, Quit, and every way
of opening another document (Open, recent files, drag and drop, paste, recovering an
autosave) go through :meth:`MainWindow.when_work_is_safe`, which asks Save / Discard /
Cancel (a window-modal box, answered asynchronously) whenever the document's undo
stack is not at its clean (saved) state. ``open_now`` is for scripts and replaces
without asking.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QMimeData, QSize, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from engine import runtime
from engine.checkpoints import pack_name_for
from engine.errors import HeirloomError
from engine.images import ImageMeta, LoadedImage
from engine.models import MANIFEST_FILE, ModelPack
from gui.autosave import Autosaver, Orphan, orphaned_autosaves
from gui.bridge import EngineBridge
from gui.canvas.view import CanvasView, Tool
from gui.checkpoint_import import CheckpointImporter, imported_message
from gui.colorize import ColorizeTool
from gui.device_status import DeviceStatus
from gui.document import Document, Layer
from gui.icons import icon
from gui.loader import FileLoader, OpenedPhoto, read_for_display
from gui.project import (
    SUFFIX,
    ProjectLayers,
    load_project,
    project_document,
    save_project,
)
from gui.qimages import from_qimage
from gui.settings import Settings, save_settings, settings_store
from gui.upscale import UpscaleTool
from gui.workspaces.base import AppContext, Workspace, fit_narrow
from gui.workspaces.diffuse import DiffuseWorkspace
from gui.workspaces.restore import RestoreWorkspace
from gui.workspaces.sketch import SketchWorkspace

if TYPE_CHECKING:
    from gui.models_dialog import ModelsDialog

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp);;Projects (*.heirloom)"
OPENABLE = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", SUFFIX)


def apply_thread_setting(settings: Settings) -> None:
    """Settings.threads caps engine threads through the variable the engine reads."""
    if settings.threads > 0:
        os.environ["HEIRLOOM_THREADS"] = str(settings.threads)
    runtime.clear_cache()


class Welcome(QWidget):
    """The empty state: what to do first, in one glance."""

    def __init__(self, open_action: QAction) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        title = QLabel("Heirloom")
        title.setObjectName("welcomeTitle")
        hint = QLabel(
            "Drop an old photo here, paste one (Ctrl+V), or open a file.\n"
            "Restore scratched prints, turn sketches into photos, watch diffusion denoise."
        )
        hint.setObjectName("welcomeHint")
        button = QPushButton(icon("open"), "  Open a photo…")
        button.setObjectName("primary")
        button.clicked.connect(open_action.trigger)
        for widget in (title, hint):
            widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(widget)
        layout.addSpacing(12)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(2)


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings, offer_recovery: bool = True) -> None:
        super().__init__()
        self.settings = settings
        apply_thread_setting(settings)
        self.setAcceptDrops(True)
        self.setWindowTitle("Heirloom")
        self.resize(1280, 820)
        self.canvas = CanvasView()
        self.bridge = EngineBridge(self)
        self.loader = FileLoader(self)
        self.loader.loaded.connect(self._loader_done)
        self.loader.failed.connect(self._loader_done)
        self.context = AppContext(self.canvas, self.bridge, settings)
        self.context.when_safe = self.when_work_is_safe
        self.checkpoints = CheckpointImporter(self)
        self.checkpoints.imported.connect(self._checkpoint_imported)
        self.checkpoints.failed.connect(self._checkpoint_failed)
        self.models_dialog: ModelsDialog | None = None  # while open, it follows imports
        self._build_actions()
        self.upscale_tool = UpscaleTool(self.context, self.statusBar(), self)
        self.colorize_tool = ColorizeTool(self.context, self.statusBar(), self)
        self.restore = RestoreWorkspace(self.context)
        self.sketch = SketchWorkspace(self.context)
        self.diffuse = DiffuseWorkspace(self.context)
        self.workspaces: list[Workspace] = [self.restore, self.sketch, self.diffuse]
        self._build_layout()
        self._build_menus()
        self._build_status()
        self.autosaver = Autosaver(lambda: self.context.document, settings.autosave_minutes, self)
        self.autosaver.failed.connect(self._autosave_failed)
        self.unsaved_box: QMessageBox | None = None
        self.recovery_box: RecoveryBox | None = None
        self.damaged_box: QMessageBox | None = None
        self._may_close = False
        self.context.documents.replaced.connect(self._on_document)
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.canvas.layer_shown.connect(self._layer_shown)
        self.bridge.busy_changed.connect(self.canvas.set_mask_outline)  # watch inside it
        self._on_document()
        if settings.reset:
            self.statusBar().showMessage(
                "Some settings in settings.ini were not valid and were reset to their "
                f"defaults: {', '.join(settings.reset)}",
                20_000,
            )
            settings.reset.clear()
        if offer_recovery:
            QTimer.singleShot(0, self.offer_recovery)

    # --- construction ---------------------------------------------------------------

    def _action(
        self,
        text: str,
        slot,
        shortcut: str | QKeySequence | None = None,  # noqa: ANN001
        icon_name: str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.open_action = a(
            "&Open…",
            self.choose_file,
            QKeySequence.StandardKey.Open,
            "open",
            "Open a photo or project",
        )
        self.save_action = a(
            "&Save Project",
            self.save_project,
            QKeySequence.StandardKey.Save,
            "save",
            "Save photo, mask, sketch and result as one file",
        )
        self.save_as_action = a(
            "Save Project &As…", lambda: self.save_project(ask=True), "Ctrl+Shift+S"
        )
        self.export_action = a(
            "&Export…",
            self.export,
            "Ctrl+E",
            "export",
            "Export the result or a layer as PNG, JPEG or TIFF",
        )
        self.batch_action = a("&Batch Restore…", self.batch, "Ctrl+B")
        self.paste_action = a("&Paste Image", self.paste, QKeySequence.StandardKey.Paste)
        self.quit_action = a("&Quit", self.close, QKeySequence.StandardKey.Quit)  # asks first
        self.undo_action = a("&Undo", self._undo, QKeySequence.StandardKey.Undo, "undo", "Undo")
        self.redo_action = a("&Redo", self._redo, QKeySequence.StandardKey.Redo, "redo", "Redo")
        self.settings_action = a("Se&ttings…", self.edit_settings, "Ctrl+,")
        self.fit_action = a("&Fit to Window", self.canvas.fit, "Ctrl+0", "fit", "Fit")
        self.actual_action = a(
            "&Actual Size (100%)", self.canvas.actual_size, "Ctrl+1", "actual", "100%"
        )
        self.zoom_in_action = a(
            "Zoom &In", lambda: self._zoom(1.25), QKeySequence.StandardKey.ZoomIn
        )
        self.zoom_out_action = a(
            "Zoom &Out", lambda: self._zoom(0.8), QKeySequence.StandardKey.ZoomOut
        )
        self.compare_action = a(
            "&Compare Before | After", self._compare, "C", "compare", "Before | after split"
        )
        self.compare_action.setCheckable(True)
        self.before_action = a("Show &Before (toggle)", self._toggle_before, "\\")
        self.mask_action = a("Show &Mask", self._toggle_mask, "M")
        self.mask_action.setCheckable(True)
        self.mask_action.setChecked(True)
        self.lines_action = a("Show Sketch &Lines", self._toggle_lines, "L")
        self.lines_action.setCheckable(True)
        tools = QActionGroup(self)
        self.brush_action = a("&Brush", lambda: self._tool(Tool.BRUSH), "B", "brush", "Brush")
        self.eraser_action = a("&Eraser", lambda: self._tool(Tool.ERASER), "E", "eraser", "Eraser")
        self.pan_action = a("&Hand (pan)", lambda: self._tool(Tool.NONE), "H", "hand", "Hand")
        for action in (self.brush_action, self.eraser_action, self.pan_action):
            action.setCheckable(True)
            tools.addAction(action)
        self.bigger_action = a("Bigger Brush", lambda: self._brush(1.25), "]")
        self.smaller_action = a("Smaller Brush", lambda: self._brush(0.8), "[")
        self.cancel_action = a("Cancel Job", self.bridge.cancel, "Esc")
        # what the Sketch workspace's brush paints (its Paints buttons)
        self.pen_target_action = a("Sketch: Pen (Lines)", lambda: self._paint(Layer.SKETCH), "P")
        self.colour_target_action = a(
            "Sketch: Colour Hint Brush", lambda: self._paint(Layer.PAINT), "K"
        )
        self.region_target_action = a(
            "Sketch: Region Brush (Draw into Photo)", lambda: self._paint(Layer.MASK), "R"
        )
        self.models_action = a("&Installed Models…", self.show_models)
        self.import_action = a("&Import Model…", lambda: self.import_pack())
        self.import_action.setToolTip(
            "Import a checkpoint (.pth, .safetensors, .ckpt) or a model pack folder"
        )
        self.about_action = a("&About Heirloom", self.show_about)
        self.shortcuts_action = a("&Keyboard Shortcuts", self.show_shortcuts, "?")

    def _build_layout(self) -> None:
        bar = QToolBar("Tools")
        bar.setObjectName("tools")
        bar.setIconSize(QSize(20, 20))
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for item in (
            self.open_action,
            self.save_action,
            self.export_action,
            None,
            self.undo_action,
            self.redo_action,
            None,
            self.brush_action,
            self.eraser_action,
            self.pan_action,
            None,
            self.fit_action,
            self.actual_action,
            self.compare_action,
        ):
            if item is None:
                bar.addSeparator()
            else:
                bar.addAction(item)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

        self.stack = QStackedWidget()
        self.stack.addWidget(Welcome(self.open_action))
        self.stack.addWidget(self.canvas)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("workspaces")
        needed = max(fit_narrow(workspace) for workspace in self.workspaces)
        for workspace in self.workspaces:
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setWidget(workspace)
            self.tabs.addTab(scroll, workspace.title)
        self._shown = 0  # the workspace shown: it is told when another one is
        self.tabs.currentChanged.connect(self._switch_workspace)
        # the widest panel fits beside a vertical scroll bar: nothing is ever cut off
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.tabs.setMinimumWidth(max(330, needed + scrollbar + 8))
        splitter = QSplitter()
        splitter.addWidget(self.stack)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([950, 340])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)

    def _switch_workspace(self, index: int) -> None:
        if self._shown != index:
            self.workspaces[self._shown].deactivate()
        self._shown = index
        self.workspaces[index].activate()

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file = menus.addMenu("&File")
        file.addAction(self.open_action)
        self.recent_menu = file.addMenu("Open &Recent")
        file.addSeparator()
        for action in (self.save_action, self.save_as_action, self.export_action):
            file.addAction(action)
        file.addSeparator()
        file.addAction(self.batch_action)
        file.addSeparator()
        file.addAction(self.quit_action)
        edit = menus.addMenu("&Edit")
        for action in (
            self.undo_action,
            self.redo_action,
            None,
            self.paste_action,
            None,
            self.settings_action,
        ):
            edit.addSeparator() if action is None else edit.addAction(action)
        view = menus.addMenu("&View")
        for action in (
            self.fit_action,
            self.actual_action,
            self.zoom_in_action,
            self.zoom_out_action,
            None,
            self.compare_action,
            self.before_action,
            self.mask_action,
            self.lines_action,
        ):
            view.addSeparator() if action is None else view.addAction(action)
        tools = menus.addMenu("&Tools")
        for action in (
            self.brush_action,
            self.eraser_action,
            self.pan_action,
            None,
            self.bigger_action,
            self.smaller_action,
            None,
            self.pen_target_action,
            self.colour_target_action,
            self.region_target_action,
            None,
            self.upscale_tool.action,
            self.colorize_tool.action,
            None,
            self.cancel_action,
        ):
            tools.addSeparator() if action is None else tools.addAction(action)
        tools.setToolTipsVisible(True)  # a disabled Upscale says why
        tools.aboutToShow.connect(self.upscale_tool.refresh)  # packs imported meanwhile
        tools.aboutToShow.connect(self.colorize_tool.refresh)
        models = menus.addMenu("&Models")
        models.addAction(self.models_action)
        models.addAction(self.import_action)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)
        self._fill_recent()

    def _build_status(self) -> None:
        status = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        self.stage = QLabel("")
        self.stage.setMinimumWidth(240)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.bridge.cancel)
        self.zoom_label = QLabel("")
        self.device = DeviceStatus(self.settings.device)
        for widget in (self.stage, self.progress, self.cancel_button):
            status.addWidget(widget)
        self.import_label = QLabel("")  # a checkpoint import runs beside any job
        self.import_progress = QProgressBar()
        self.import_progress.setRange(0, 0)  # the converter reports no fraction
        self.import_progress.setFixedWidth(120)
        for widget in (self.import_label, self.import_progress):
            widget.setVisible(False)
            status.addPermanentWidget(widget)
        self.checkpoints.busy_changed.connect(self._show_importing)
        status.addPermanentWidget(self.zoom_label)
        status.addPermanentWidget(self.device)
        self._show_busy(False)
        self.bridge.busy_changed.connect(self._show_busy)
        self.bridge.progress.connect(self._on_progress)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.cancelled.connect(lambda: self.statusBar().showMessage("Cancelled", 4000))

    # --- documents --------------------------------------------------------------------

    def _on_document(self) -> None:
        document = self.context.document
        has = document is not None
        self.upscale_tool.refresh()
        self.colorize_tool.refresh()
        self.stack.setCurrentIndex(1 if has else 0)
        for action in (
            self.save_action,
            self.save_as_action,
            self.export_action,
            self.fit_action,
            self.actual_action,
            self.compare_action,
        ):
            action.setEnabled(has)
        self.statusBar().clearMessage()  # a message belongs to the photo it was about
        if document is None:
            self.setWindowTitle("Heirloom")
            return
        self.canvas.set_document(document)
        self.canvas.setFocus()  # the keys (M, L, [ ], C) act on the canvas from the start
        self.canvas.show_faces(document.faces)
        document.undo.cleanChanged.connect(self._show_title)
        self._show_title()
        self.workspaces[self.tabs.currentIndex()].activate()
        self.brush_action.setChecked(self.canvas.tool == Tool.BRUSH)
        self.pan_action.setChecked(self.canvas.tool == Tool.NONE)

    def _show_title(self) -> None:
        """The document's name, with the platform's unsaved-changes marker ("*")."""
        document = self.context.document
        if document is None:
            self.setWindowTitle("Heirloom")
            self.setWindowModified(False)
            return
        try:
            clean = document.undo.isClean()
        except RuntimeError:  # the stack is being destroyed with its document (app exit)
            return
        self.setWindowTitle(f"{document.title}[*] — Heirloom")
        self.setWindowModified(not clean)

    def set_document(self, document: Document) -> None:
        """Replace the document without asking (callers ask first, through
        :meth:`when_work_is_safe`)."""
        self.context.replace_document(document)

    # --- unsaved changes ----------------------------------------------------------------

    def has_unsaved_changes(self) -> bool:
        """The document changed since it was opened or last saved."""
        document = self.context.document
        return document is not None and not document.undo.isClean()

    def when_work_is_safe(self, proceed: Callable[[], None]) -> None:
        """Run ``proceed`` (which replaces or drops the document) at once when nothing is
        unsaved; else ask Save / Discard / Cancel and run it after a save or a discard.

        The box is window-modal but not blocking (``open``), so the answer arrives as a
        signal; a second request while one is asked is dropped.
        """
        if not self.has_unsaved_changes():
            proceed()
            return
        if self.unsaved_box is not None:
            if self.unsaved_box.isVisible():
                return
            self.unsaved_box.deleteLater()  # answered already: do not pile them up
        document = self.context.document
        assert document is not None
        name = (document.project_path or document.source or Path("Untitled")).name
        buttons = QMessageBox.StandardButton
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Unsaved changes",
            f"Save the changes to {name} first?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            self,
        )
        box.setObjectName("unsaved")
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setDefaultButton(buttons.Save)
        box.setEscapeButton(buttons.Cancel)

        def answered() -> None:
            clicked = box.clickedButton()
            choice = box.standardButton(clicked) if clicked is not None else buttons.Cancel
            if choice == buttons.Discard or (choice == buttons.Save and self.save_project()):
                proceed()

        box.finished.connect(answered)
        box.open()
        self.unsaved_box = box

    def open_path(self, path: str | Path) -> None:
        """Open a photo or a project on a worker thread (after asking about unsaved
        changes); the window stays responsive and the document appears when it is read
        (errors become a sentence in a message box)."""
        self.when_work_is_safe(lambda: self._start_open(Path(path)))

    def _start_open(self, path: Path) -> None:
        self.statusBar().showMessage(f"Opening {path.name}…")
        if not self.loader.busy:  # one busy cursor however many opens replace each other
            QGuiApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self.loader.open(path)

    def _loader_done(self, path: Path, data: object) -> None:
        QGuiApplication.restoreOverrideCursor()
        self.statusBar().clearMessage()
        if isinstance(data, str):
            QMessageBox.warning(self, "Cannot open", data)
        else:
            self._opened(path, data)

    def open_now(self, path: str | Path) -> bool:
        """Open synchronously, replacing the document without asking (scripts and
        screenshots); False after telling the user why."""
        path = Path(path)
        try:
            data = read_for_display(path)
        except (HeirloomError, OSError) as exc:
            QMessageBox.warning(self, "Cannot open", str(exc))
            return False
        self._opened(path, data)
        return True

    def _opened(self, path: Path, data: object) -> None:
        if isinstance(data, ProjectLayers):
            document = project_document(data)
        else:
            assert isinstance(data, OpenedPhoto)
            document = Document(data.image, rgb8=data.rgb8)
        self.set_document(document)
        self.settings.remember(path)
        self._fill_recent()

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open", self.settings.last_folder, IMAGE_FILTER)
        if path:
            self.open_path(path)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for text in self.settings.recent_files:
            action = self.recent_menu.addAction(Path(text).name)
            action.setToolTip(text)
            action.triggered.connect(lambda _=False, t=text: self.open_path(t))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def paste(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.statusBar().showMessage("The clipboard holds no image", 4000)
            return
        self._open_pixels(from_qimage(image))

    def _open_pixels(self, pixels: np.ndarray) -> None:
        """A pasted or dropped image becomes the document (after asking)."""
        self.when_work_is_safe(
            lambda: self.set_document(Document(LoadedImage(pixels, None, ImageMeta())))
        )

    def _openable(self, mime: QMimeData) -> list[Path]:
        return [
            Path(u.toLocalFile())
            for u in mime.urls()
            if u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in OPENABLE
        ]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if self._openable(event.mimeData()) or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = self._openable(event.mimeData())
        if paths:
            self.open_path(paths[0])
        elif event.mimeData().hasImage():
            self._open_pixels(from_qimage(event.mimeData().imageData()))
        event.acceptProposedAction()

    def save_project(self, ask: bool = False) -> bool:
        document = self.context.document
        if document is None:
            return False
        path = document.project_path
        if ask or path is None:
            base = (document.source or Path("Untitled")).with_suffix(SUFFIX)
            if self.settings.last_folder:
                base = Path(self.settings.last_folder) / base.name
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Save Project", str(base), "Heirloom projects (*.heirloom)"
            )
            if not chosen:
                return False
            path = Path(chosen).with_suffix(SUFFIX)
        try:
            save_project(document, path)
        except (HeirloomError, OSError) as exc:
            QMessageBox.warning(self, "Cannot save", str(exc))
            return False
        document.project_path = path
        document.undo.setClean()
        self.settings.remember(path)
        self._fill_recent()
        self._show_title()
        self.statusBar().showMessage(f"Saved {path.name}", 4000)
        return True

    def export(self) -> None:
        from gui.export_dialog import ExportDialog

        if self.context.document is None:
            return
        folder = Path(self.settings.last_folder) if self.settings.last_folder else None
        dialog = ExportDialog(self.context.document, self, folder)
        dialog.exec()
        if dialog.written is not None:
            self.settings.last_folder = str(dialog.written.parent)
            self.statusBar().showMessage(
                f"Exported {dialog.written.name} to {dialog.written.parent}", 8000
            )

    def batch(self) -> None:
        from gui.batch import BatchDialog

        BatchDialog(self.context, self).exec()

    def offer_recovery(self) -> None:
        """After a crash: list every orphaned autosave; recover one, discard the ones the
        user picks, or keep them all for later. Nothing is deleted unless discarded."""
        found = orphaned_autosaves()
        if not found:
            return
        box = RecoveryBox(found, self)
        box.finished.connect(lambda _result: self._recovery_answered(box))
        box.open()
        self.recovery_box = box

    def _recovery_answered(self, box: RecoveryBox) -> None:
        chosen = box.chosen()
        if box.clickedButton() is box.discard_button:
            for orphan in chosen:
                orphan.path.unlink(missing_ok=True)
            if chosen:
                QTimer.singleShot(0, self.offer_recovery)  # the ones left, if any
        elif box.clickedButton() is box.recover_button and chosen:
            self.when_work_is_safe(lambda: self.recover(chosen[0]))

    def recover(self, orphan: Orphan) -> bool:
        """Open an autosave as unsaved work; a damaged one is reported in one line with
        the choice to discard it or keep it for later."""
        try:
            document = load_project(orphan.path)
        except HeirloomError as exc:
            self._report_damaged(orphan, str(exc))
            return False
        document.project_path = None
        document.undo.resetClean()  # never saved as a project: closing asks
        self.set_document(document)
        with contextlib.suppress(OSError):  # else it stays, and is offered again next time
            self.autosaver.adopt(orphan.path)
        self.statusBar().showMessage("Recovered the autosaved session", 6000)
        return True

    def _report_damaged(self, orphan: Orphan, reason: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Cannot recover",
            f"This autosave cannot be recovered: {reason}",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("damaged")
        discard = box.addButton("Discard It", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep It for Later", QMessageBox.ButtonRole.RejectRole)

        def answered() -> None:
            if box.clickedButton() is discard:
                orphan.path.unlink(missing_ok=True)

        box.finished.connect(answered)
        box.open()
        self.damaged_box = box

    def _autosave_failed(self, message: str) -> None:
        self.statusBar().showMessage(
            f"Autosave failed ({message}); Heirloom keeps trying. Save your work to be safe.",
            20_000,
        )

    # --- actions ------------------------------------------------------------------------

    def _undo(self) -> None:
        if self.context.document is not None:
            self.context.document.undo.undo()

    def _redo(self) -> None:
        if self.context.document is not None:
            self.context.document.undo.redo()

    def _zoom(self, factor: float) -> None:
        self.canvas.zoom_at(factor, self.canvas.viewport().rect().center().toPointF())

    def _tool(self, tool: Tool) -> None:
        self.canvas.tool = tool

    def _paint(self, layer: Layer) -> None:
        """P, K, R: what the Sketch brush paints (the region only in Draw into photo)."""
        if not self.sketch.isVisible():
            self.statusBar().showMessage(
                "P, K and R choose the brush of the Sketch workspace", 4000
            )
            return
        if layer == Layer.MASK and not self.sketch.into_mode:
            self.statusBar().showMessage("The region brush is for Draw into photo (Mode)", 4000)
            return
        self.sketch.paint_on(layer)

    def _brush(self, factor: float) -> None:
        self.canvas.set_brush(radius=self.canvas.radius * factor)

    def _compare(self, on: bool) -> None:
        document = self.context.document
        if on and (document is None or document.result is None):
            self.statusBar().showMessage("Nothing to compare yet: run a job first", 4000)
            self.compare_action.setChecked(False)
            return
        self.canvas.set_layer_visible(Layer.RESULT, True)
        self.canvas.set_compare(on)

    def _toggle_before(self) -> None:
        item = self.canvas.layers.get(Layer.RESULT)
        if (
            item is not None
            and self.context.document is not None
            and self.context.document.result is not None
        ):
            item.setVisible(not item.isVisible())

    def _toggle_mask(self, on: bool) -> None:
        self.canvas.set_layer_visible(Layer.MASK, on)

    def _toggle_lines(self, on: bool) -> None:
        self.canvas.set_layer_visible(Layer.SKETCH, on)

    def _layer_shown(self, layer: str, visible: bool) -> None:
        """The View menu's checks follow the canvas, whoever showed or hid the layer."""
        action = {Layer.MASK: self.mask_action, Layer.SKETCH: self.lines_action}.get(Layer(layer))
        if action is not None:
            action.setChecked(visible)

    def _show_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_action.setEnabled(busy)
        if busy:
            self.progress.setValue(0)
            self.stage.setText("Starting…")
        else:
            self.stage.setText("")

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.stage.setText(text)

    def _on_failed(self, message: str, detail: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Heirloom", message, QMessageBox.StandardButton.Ok, self
        )
        if detail:
            box.setDetailedText(detail)
        box.open()

    def edit_settings(self) -> None:
        from gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            apply_thread_setting(self.settings)
            self.restore.follow_settings()
            self.device.set_wanted(self.settings.device)
            self.autosaver.set_minutes(self.settings.autosave_minutes)
            save_settings(self.settings, settings_store())

    def show_models(self) -> None:
        from gui.models_dialog import ModelsDialog

        self.models_dialog = ModelsDialog(self.context.registry, self.import_pack, self)
        self.models_dialog.exec()
        self.models_dialog.deleteLater()
        self.models_dialog = None
        self._packs_changed()

    def import_pack(self, path: str | Path | None = None) -> None:
        """Models ▸ Import: a checkpoint file is converted on a worker thread (the window
        stays usable); a pack folder, chosen by its manifest, is installed after its card
        is shown. ``path`` skips the file dialog (scripts and tests)."""
        from gui.models_dialog import choose_model_source, import_pack_folder

        if self.checkpoints.busy:
            assert self.checkpoints.current is not None
            self.statusBar().showMessage(
                f"Still importing {self.checkpoints.current.name}: one import at a time", 6000
            )
            return
        chosen = Path(path) if path else choose_model_source(self, self.settings.last_folder)
        if chosen is None:
            return
        if chosen.is_dir() or chosen.name == MANIFEST_FILE:
            folder = chosen if chosen.is_dir() else chosen.parent
            if import_pack_folder(self.context.registry, folder, self):
                self._packs_changed()
            return
        self._import_checkpoint(chosen)

    def _import_checkpoint(self, checkpoint: Path) -> None:
        """Start the conversion; a pack of the same name is replaced only when the user
        says so (the CLI's --overwrite)."""
        try:
            name = pack_name_for(checkpoint)
        except HeirloomError as exc:
            QMessageBox.warning(self, "Cannot import the checkpoint", str(exc))
            return
        registry = self.context.registry
        replace = (registry.user / name).exists()
        if replace:
            buttons = QMessageBox.StandardButton
            answer = QMessageBox.question(
                self,
                "Replace the model?",
                f"A model pack named '{name}' is already installed. "
                f"Replace it with the one converted from {checkpoint.name}?",
                buttons.Yes | buttons.No,
                buttons.No,
            )
            if answer != buttons.Yes:
                return
        self.checkpoints.start(checkpoint, registry, overwrite=replace)

    def _show_importing(self, busy: bool) -> None:
        current = self.checkpoints.current
        self.import_label.setText(f"Importing {current.name}…" if busy and current else "")
        self.import_label.setVisible(busy)
        self.import_progress.setVisible(busy)
        self.import_action.setEnabled(not busy)

    def _checkpoint_imported(self, pack: ModelPack) -> None:
        self._packs_changed()
        self.statusBar().showMessage(imported_message(pack), 15_000)

    def _checkpoint_failed(self, message: str) -> None:
        QMessageBox.warning(self, "Cannot import the checkpoint", message)

    def _packs_changed(self) -> None:
        """Choices that list installed packs follow an import or a removal."""
        self.upscale_tool.refresh()
        self.colorize_tool.refresh()
        self.restore.refresh_models()
        if self.models_dialog is not None:
            self.models_dialog.packs.reload()

    def show_shortcuts(self) -> None:
        from gui.shortcuts import ShortcutsDialog

        ShortcutsDialog(self.actions(), self).exec()

    def show_about(self) -> None:
        from gui.models_dialog import AboutDialog

        AboutDialog(self.context.registry, self).exec()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Ask about unsaved changes first; then cancel any job, keep the settings, and
        remove the autosave, since nothing unsaved is left behind."""
        if not self._may_close and self.has_unsaved_changes():
            event.ignore()
            self.when_work_is_safe(self._close_anyway)
            return
        self.bridge.shutdown()
        save_settings(self.settings, settings_store())
        self.autosaver.discard()
        event.accept()

    def _close_anyway(self) -> None:
        self._may_close = True
        if not self.close():
            self._may_close = False


class RecoveryBox(QMessageBox):
    """Every orphaned autosave in a list (name, date, size, or why it is damaged):
    Recover the selected one, Discard the selected ones, or decide Later."""

    def __init__(self, orphans: list[Orphan], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.orphans = orphans
        self.setObjectName("recovery")
        self.setWindowTitle("Recover your work?")
        self.setIcon(QMessageBox.Icon.Question)
        self.setText("Heirloom did not close properly last time.")
        count = "An autosaved session was" if len(orphans) == 1 else "Autosaved sessions were"
        self.setInformativeText(
            f"{count} found. Recover one, discard the ones you do not need, or keep them for later."
        )
        self.recover_button = self.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        self.discard_button = self.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        self.later_button = self.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        self.setEscapeButton(self.later_button)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        for orphan in orphans:
            QListWidgetItem(orphan.describe(), self.list)
        self.list.setCurrentRow(0)
        self.list.setMinimumWidth(460)
        self._insert_above_buttons(self.list)

    def _insert_above_buttons(self, widget: QWidget) -> None:
        """QMessageBox has no slot for a list: put it in its grid, above the buttons."""
        grid = self.layout()
        buttons = self.findChild(QDialogButtonBox)
        assert isinstance(grid, QGridLayout) and buttons is not None
        grid.removeWidget(buttons)
        row = grid.rowCount()
        grid.addWidget(widget, row, 0, 1, grid.columnCount())
        grid.addWidget(buttons, row + 1, 0, 1, grid.columnCount())

    def chosen(self) -> list[Orphan]:
        """The selected autosaves, newest first."""
        rows = sorted(index.row() for index in self.list.selectedIndexes())
        return [self.orphans[row] for row in rows]
