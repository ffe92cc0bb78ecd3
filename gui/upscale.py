"""Tools › Upscale: enlarge the picture shown (the result if there is one, else the photo)
with the preferred installed upscale pack, off the GUI thread through the bridge.

The upscaled image becomes the result layer (one undo step): the canvas shows it over
the photo, C compares before | after, and Export writes it at its full size. Without
an upscale pack the action is disabled and its tooltip says how to get one.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QStatusBar

from engine.cancel import CancelToken
from engine.errors import PackError
from engine.jobs import Emitter, Result
from engine.pipelines.upscale import TASK, UpscaleOptions, upscale_image
from gui.workspaces.base import AppContext

NO_PACK = (
    "No upscale model installed: import a Real-ESRGAN, SwinIR or SPAN checkpoint with "
    "Models ▸ Import… (or 'heirloom models import FILE.pth')"
)


def upscale_pack_names(context: AppContext) -> list[str]:
    """Installed upscale packs, preferred first (the user's before bundled ones)."""
    try:
        packs = [p for p in context.registry.packs() if p.manifest.task == TASK]
    except PackError:
        return []
    return [p.name for p in sorted(packs, key=lambda p: (p.origin != "user", p.name))]


class UpscaleTool(QObject):
    """The Tools › Upscale action and the job behind it."""

    def __init__(self, context: AppContext, status: QStatusBar, parent: QObject) -> None:
        super().__init__(parent)
        self.context = context
        self.status = status
        self.action = QAction("&Upscale", parent)
        self.action.triggered.connect(self.upscale)
        context.bridge.finished.connect(self._if_mine(self._finished))
        self.refresh()

    def _if_mine(self, handler):  # noqa: ANN001, ANN202 - wraps a slot
        def slot(*args: object) -> None:
            if self.context.bridge.owner is self:
                handler(*args)

        return slot

    def refresh(self) -> None:
        """Enable the action when a photo is open and an upscale pack is installed."""
        names = upscale_pack_names(self.context)
        document = self.context.document
        self.action.setEnabled(bool(names) and document is not None)
        if not names:
            self.action.setToolTip(NO_PACK)
        else:
            what = (
                "the result"
                if document is not None and document.result is not None
                else "the photo"
            )
            self.action.setToolTip(f"Enlarge {what} with {names[0]}")

    def upscale(self) -> None:
        document = self.context.document
        names = upscale_pack_names(self.context)
        if document is None or not names:
            self.status.showMessage(NO_PACK if not names else "Open a photo first", 6000)
            return
        source = document.result if document.result is not None else document.photo
        options = UpscaleOptions(
            model=names[0],
            device=self.context.settings.device,  # type: ignore[arg-type]
            tile=self.context.settings.tile_size,
        )
        registry = self.context.registry

        def job(emit: Emitter, cancel: CancelToken) -> Result:
            return upscale_image(source, options, emit, cancel, registry)

        self.context.bridge.submit("Upscale", job, owner=self)

    def _finished(self, result: object) -> None:
        document = self.context.document
        if document is None or not isinstance(result, Result):
            return
        upscaled = result.images["upscaled"]
        document.set_result(upscaled, "Upscale")
        self.status.showMessage(
            f"Upscaled x{result.info['scale']} to {upscaled.shape[1]}x{upscaled.shape[0]} with "
            f"{result.info['model']} on {result.info['device']}; C compares, Export saves it",
            10000,
        )
