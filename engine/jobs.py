"""Jobs, the events they emit, and a Qt-free worker that runs one job at a time.

A job is a function of ``(emit, cancel)`` returning a :class:`Result`. It reports
through ``emit`` (an :class:`Emitter`) and checks ``cancel`` between tiles and steps.
The runner turns every outcome into an event for its listener: a result, a user
error (:class:`Failed` with the error's sentence), a bug (:class:`Failed` with the
traceback as detail) or a cancel (:class:`JobCancelled`), and then keeps going.
Live jobs (sketch mode) are submitted with ``replace=True``: the running job is
cancelled and anything queued is dropped, so edits never pile up stale work.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.cancel import CancelToken
from engine.errors import Cancelled, HeirloomError


@dataclass(frozen=True)
class StepCount:
    """Where a step-by-step job is, as a person counts: step of the current part
    (a batch of windows), and which part of how many."""

    step: int
    steps: int
    part: int = 1
    parts: int = 1


@dataclass(frozen=True)
class Progress:
    fraction: float  # 0..1 over the whole job
    stage: str
    message: str = ""
    count: StepCount | None = None  # for jobs counted in model steps (diffusion)


@dataclass(frozen=True)
class Preview:
    image: np.ndarray  # HxWxC float32 in [0, 1]
    step: int
    total: int
    label: str = ""


@dataclass(frozen=True)
class Result:
    images: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    message: str  # one sentence for the user
    detail: str = ""  # traceback for a "details" button, empty for user errors


@dataclass(frozen=True)
class JobCancelled:
    pass


Event = Progress | Preview | Result | Failed | JobCancelled


class Emitter:
    """What a job reports through; throttles previews by time.

    ``preview`` accepts an array or a zero-argument function making one, so a job
    pays for building a preview only when it will actually be sent.
    """

    def __init__(self, sink: Callable[[Event], None], preview_interval: float = 0.1) -> None:
        self._sink = sink
        self._interval = preview_interval
        self._last_preview = -float("inf")
        self.previews_sent = 0

    def progress(
        self, fraction: float, stage: str, message: str = "", count: StepCount | None = None
    ) -> None:
        self._sink(Progress(min(1.0, max(0.0, float(fraction))), stage, message, count))

    def wants_preview(self, step: int, total: int) -> bool:
        return step >= total or time.monotonic() - self._last_preview >= self._interval

    def preview(
        self,
        image: np.ndarray | Callable[[], np.ndarray],
        step: int,
        total: int,
        label: str = "",
    ) -> None:
        if not self.wants_preview(step, total):
            return
        pixels = image() if callable(image) else image
        self._last_preview = time.monotonic()
        self.previews_sent += 1
        self._sink(Preview(pixels, step, total, label))


def silent() -> Emitter:
    """An emitter that drops everything (library calls without a listener)."""
    return Emitter(lambda event: None, preview_interval=float("inf"))


JobFn = Callable[[Emitter, CancelToken], Result]
_ids = itertools.count(1)


@dataclass
class Job:
    name: str
    fn: JobFn
    preview_interval: float = 0.1
    id: int = field(default_factory=lambda: next(_ids))
    token: CancelToken = field(default_factory=CancelToken)


def run_job(job: Job, listener: Callable[[Job, Event], None]) -> Event:
    """Run ``job`` in this thread; every event, and the final one, goes to ``listener``."""
    emitter = Emitter(lambda event: listener(job, event), job.preview_interval)
    final: Event
    try:
        job.token.check()
        final = job.fn(emitter, job.token)
        if not isinstance(final, Result):
            raise TypeError(f"job '{job.name}' returned {type(final).__name__}, not Result")
    except Cancelled:
        final = JobCancelled()
    except HeirloomError as exc:
        final = Failed(str(exc))
    except MemoryError:
        final = Failed(
            f"{job.name} ran out of memory; lower the tile size in Settings or close other apps"
        )
    except Exception as exc:  # noqa: BLE001 - any bug becomes a report, the app goes on
        final = Failed(f"{job.name} failed unexpectedly: {exc}", traceback.format_exc())
    if job.token.cancelled and isinstance(final, Result):
        final = JobCancelled()  # cancelled after the last check: the result is stale
    listener(job, final)
    return final


class JobRunner:
    """One worker thread, a queue, and cancel-and-replace for live jobs."""

    def __init__(self, listener: Callable[[Job, Event], None]) -> None:
        self._listener = listener
        self._queue: deque[Job] = deque()
        self._lock = threading.Condition()
        self._current: Job | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="heirloom-jobs", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._current is not None or bool(self._queue)

    @property
    def current(self) -> Job | None:
        with self._lock:
            return self._current

    def submit(self, job: Job, replace: bool = False) -> Job:
        """Queue ``job``; with ``replace`` cancel what runs and drop what waits."""
        with self._lock:
            if self._stopping:
                raise RuntimeError("the job runner has been shut down")
            dropped: list[Job] = []
            if replace:
                dropped = list(self._queue)
                self._queue.clear()
                if self._current is not None:
                    self._current.token.cancel()
            self._queue.append(job)
            self._lock.notify()
        for old in dropped:
            self._listener(old, JobCancelled())
        return job

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job (running or queued), or every job when ``job_id`` is None."""
        with self._lock:
            dropped = [j for j in self._queue if job_id in (None, j.id)]
            for job in dropped:
                self._queue.remove(job)
            if self._current is not None and job_id in (None, self._current.id):
                self._current.token.cancel()
        for job in dropped:
            self._listener(job, JobCancelled())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing runs or waits (tests, shutdown); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._current is not None or self._queue:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything and stop the worker (closing the window calls this)."""
        self.cancel()
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._lock.wait()
                if self._stopping and not self._queue:
                    return
                job = self._queue.popleft()
                self._current = job
            try:
                run_job(job, self._listener)
            finally:
                with self._lock:
                    self._current = None
                    self._lock.notify_all()
