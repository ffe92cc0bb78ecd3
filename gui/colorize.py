"""Tools › Colorize: colour for the picture shown (the result if there is one, else the
photo) with the preferred installed colorize pack, off the GUI thread through the bridge.

The colorized image becomes the result layer (one undo step): C compares before | after,
Export writes it. Its luminance is the picture's own (engine.pipelines.colorize). Without
a colorize pack the action is disabled and its tooltip says how to get one.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QStatusBar

from engine.cancel import CancelToken
from engine.errors import PackError
from engine.jobs import Emitter, Result
from engine.pipelines.colorize import TASK, ColorizeOptions, colorize_photo
from gui.workspaces.base import AppContext

NO_PACK = (
    "No colorize model installed: import a DDColor checkpoint with Models ▸ Import… "
    "(or 'heirloom models import FILE.pth')"
)


def colorize_pack_names(context: AppContext) -> list[str]:
    """Installed colorize packs, preferred first (the user's before bundled ones)."""
    try:
        packs = [p for p in context.registry.packs() if p.manifest.task == TASK]
    except PackError:
        return []
    return [p.name for p in sorted(packs, key=lambda p: (p.origin != "user", p.name))]


class ColorizeTool(QObject):
    """The Tools › Colorize action and the job behind it."""

    def __init__(self, context: AppContext, status: QStatusBar, parent: QObject) -> None:
        super().__init__(parent)
        self.context = context
        self.status = status
        self.action = QAction("&Colorize", parent)
        self.action.triggered.connect(self.colorize)
        context.bridge.finished.connect(self._finished)
        self.refresh()

    def refresh(self) -> None:
        """Enable the action when a photo is open and a colorize pack is installed."""
        names = colorize_pack_names(self.context)
        document = self.context.document
        self.action.setEnabled(bool(names) and document is not None)
        self.action.setToolTip(
            f"Colour for the picture with {names[0]}, keeping its light and dark"
            if names
            else NO_PACK
        )

    def colorize(self) -> None:
        document = self.context.document
        names = colorize_pack_names(self.context)
        if document is None or not names:
            self.status.showMessage(NO_PACK if not names else "Open a photo first", 6000)
            return
        source = document.result if document.result is not None else document.photo
        options = ColorizeOptions(model=names[0], device=self.context.settings.device)  # type: ignore[arg-type]
        registry = self.context.registry

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            return colorize_photo(source, options, emit, cancel, registry)

        self.context.bridge.submit("Colorize", job, owner=self)

    def _finished(self, result: object) -> None:
        document = self.context.document
        if self.context.bridge.owner is not self or document is None:
            return
        if not isinstance(result, Result):
            return
        document.set_result(result.images["colorized"], "Colorize")
        self.status.showMessage(
            f"Colorized with {result.info['model']} on {result.info['device']}; "
            "C compares, Export saves it",
            10000,
        )
