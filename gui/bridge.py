"""Engine jobs in, typed Qt signals out: the only place the GUI meets the job runner.

The runner calls its listener on its worker thread. The listener does the costly
part there (a Preview's numpy array becomes a QImage off the GUI thread) and hands
the event to the GUI thread through a queued signal. Only the job submitted last is
"active": events of jobs it replaced are dropped, so a live sketch never shows a
stale frame, and ``cancelled`` fires once per cancelled active job.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage

from engine.jobs import (
    Event,
    Failed,
    Job,
    JobCancelled,
    JobFn,
    JobRunner,
    Preview,
    Progress,
    Result,
)
from gui.qimages import to_qimage


class EngineBridge(QObject):
    """Runs engine jobs on the runner's thread; re-emits their events as signals."""

    progress = Signal(float, str)  # fraction 0..1, "stage: message"
    steps = Signal(str, object)  # stage, engine.jobs.StepCount: for jobs counted in steps
    preview = Signal(QImage, int, int)  # image, step, total
    finished = Signal(object)  # engine.jobs.Result
    failed = Signal(str, str)  # sentence for the user, details (traceback or "")
    cancelled = Signal()
    busy_changed = Signal(bool)
    _delivered = Signal(int, object)  # worker thread -> GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._active: Job | None = None
        self._owner: object = None
        self._runner = JobRunner(self._on_event)
        self._delivered.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)

    @property
    def active(self) -> Job | None:
        """The job whose events are shown, until it ends."""
        return self._active

    @property
    def owner(self) -> object:
        """Who submitted the latest job (kept after it ends): panels check it is them."""
        return self._owner

    @property
    def busy(self) -> bool:
        return self._active is not None

    def submit(self, name: str, fn: JobFn, replace: bool = False, owner: object = None) -> Job:
        """Run ``fn(emit, cancel)`` as the active job; ``replace`` cancels the running one."""
        job = Job(name, fn)
        was_busy = self.busy
        self._active, self._owner = job, owner
        self._runner.submit(job, replace=replace)
        if not was_busy:
            self.busy_changed.emit(True)
        return job

    def cancel(self) -> None:
        """Ask the active job to stop; ``cancelled`` follows when it has."""
        if self._active is not None:
            self._runner.cancel(self._active.id)

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self._runner.wait_idle(timeout)

    def shutdown(self) -> None:
        """Cancel everything and stop the worker (the window is closing)."""
        self._active = None
        self._runner.shutdown()

    def _on_event(self, job: Job, event: Event) -> None:
        # worker thread: make the QImage here so the GUI thread only swaps pixmaps
        if isinstance(event, Preview):
            self._delivered.emit(job.id, (to_qimage(event.image), event.step, event.total))
        else:
            self._delivered.emit(job.id, event)

    @Slot(int, object)
    def _dispatch(self, job_id: int, payload: object) -> None:
        if self._active is None or job_id != self._active.id:
            return  # a replaced or shut-down job: its events are stale
        if isinstance(payload, tuple):
            image, step, total = payload
            self.preview.emit(image, step, total)
        elif isinstance(payload, Progress):
            text = f"{payload.stage}: {payload.message}" if payload.message else payload.stage
            self.progress.emit(payload.fraction, text)
            if payload.count is not None:
                self.steps.emit(payload.stage, payload.count)
        else:
            self._active = None
            if isinstance(payload, Result):
                self.finished.emit(payload)
            elif isinstance(payload, Failed):
                self.failed.emit(payload.message, payload.detail)
            elif isinstance(payload, JobCancelled):
                self.cancelled.emit()
            if self._active is None:  # a handler may already have started the next job
                self.busy_changed.emit(False)
