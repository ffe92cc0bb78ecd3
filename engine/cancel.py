"""Cooperative cancellation shared by jobs, pipelines and the runtime."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.errors import Cancelled


class CancelToken:
    """Set once by whoever wants a job to stop; checked between tiles and steps.

    Long single ONNX runs register a callback (which sets ``RunOptions.terminate``)
    so that even one big inference call stops promptly.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled()

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on cancel (now, if already cancelled); returns an undo."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)

                def remove() -> None:
                    with self._lock:
                        if callback in self._callbacks:
                            self._callbacks.remove(callback)

                return remove
        callback()
        return lambda: None


NEVER = CancelToken()
"""A token nobody cancels, for callers that do not need cancellation."""
