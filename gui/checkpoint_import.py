"""Models ▸ Import of a checkpoint file, off the GUI thread.

Converting a checkpoint (export to ONNX, parity check at two sizes) takes seconds for
an upscaler and minutes for CodeFormer, so :func:`engine.checkpoints.import_checkpoint`
(the same call ``heirloom models import`` makes) runs on a worker thread and its
outcome comes back through a queued signal. One import at a time: the converter
loads torch, and two of them would only compete for the same cores.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

from engine.checkpoints import import_checkpoint
from engine.errors import HeirloomError
from engine.models import ModelPack, Registry

# where the app offers a pack of each task the converter writes (the status bar says it)
OFFERED_IN = {
    "upscale": "Tools ▸ Upscale and Restore's Upscale",
    "denoise": "Restore's Network",
    "face-restore": "Restore's Faces with",
    "fill": "Diffuse ▸ Inpaint's Fill with",
    "colorize": "Tools ▸ Colorize",
}


def imported_message(pack: ModelPack) -> str:
    """The status bar's line after an import: which pack, for what, and where it is."""
    task = pack.manifest.task
    where = OFFERED_IN.get(task)
    return f"Imported {pack.name} for {task}" + (f": now in {where}" if where else "")


class CheckpointImporter(QObject):
    """``start(path)`` begins an import; ``imported`` or ``failed`` follows on the GUI
    thread, then ``busy_changed(False)``."""

    imported = Signal(object)  # the installed ModelPack
    failed = Signal(str)  # the converter's one line
    busy_changed = Signal(bool)
    _done = Signal(object, str)  # pack or None, error (worker thread -> GUI thread)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current: Path | None = None
        self._done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        return self.current is not None

    def start(self, checkpoint: Path, registry: Registry, overwrite: bool = False) -> bool:
        """Begin importing ``checkpoint`` into ``registry``'s user folder (``overwrite``
        replaces a pack of its name); False (nothing started) while one runs."""
        if self.busy:
            return False
        self.current = Path(checkpoint)
        job = (self.current, registry, overwrite)
        threading.Thread(target=self._work, args=job, daemon=True).start()
        self.busy_changed.emit(True)
        return True

    def _work(self, checkpoint: Path, registry: Registry, overwrite: bool) -> None:
        try:
            pack, _report = import_checkpoint(checkpoint, registry, overwrite=overwrite)
        except HeirloomError as exc:
            self._done.emit(None, str(exc))
            return
        except OSError as exc:  # the converter could not be started at all
            self._done.emit(None, f"the checkpoint converter could not start ({exc})")
            return
        self._done.emit(pack, "")

    def _deliver(self, pack: ModelPack | None, error: str) -> None:
        self.current = None
        if pack is None:
            self.failed.emit(error)
        else:
            self.imported.emit(pack)
        self.busy_changed.emit(False)
