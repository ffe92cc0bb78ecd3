"""Where files run: a pool of processes on this machine, or a pool of Ray actors.

Both pools are made of long-lived :class:`TaskWorker` objects, one per process, so a
worker opens its ONNX sessions once (engine.runtime caches them per process) and
reuses them for every file it gets. Workers read sources and write outputs
themselves (a cluster shares the output folder), so only paths cross the wire.

A runner takes :class:`WorkItem` s and hands back ``(item, Outcome)`` pairs. A worker
that dies (killed, out of memory, its node lost) is replaced, and each file it held
comes back as a ``died`` outcome; the driver decides from the ledger whether that
file's output already landed or must run again. Ray is imported only here, and only
when the Ray runner is built, so the engine works without it.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol

import cv2

from engine.batch.tasks import TASKS, Settings
from engine.errors import HeirloomError
from engine.files import os_error_reason
from engine.models import Registry

IN_FLIGHT = 2  # files queued per worker: the next one is ready when a worker finishes
PR_SET_PDEATHSIG = 1  # linux/prctl.h
START_TIMEOUT_S = 120.0  # for Ray to place and start a worker (an autoscaler may add a node)
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class WorkItem:
    """One source file and where its output goes (absolute paths, as every node sees them)."""

    rel: str
    source: str
    target: str
    output: str  # the target relative to the output folder, as the ledger names it
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Outcome:
    """What became of one file: done, failed (with the reason), or died with its worker."""

    status: str
    error: str = ""
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    output_stat: list[int] | None = None


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, picklable, so every engine builds identical workers."""

    task: str
    options: dict[str, Any]
    settings: Settings
    threads: int
    home: str | None  # the driver's HEIRLOOM_HOME, so workers see the same model packs


class TaskWorker:
    """One long-lived worker: runs a task file after file, never raising for a file."""

    def __init__(self, spec: WorkerSpec) -> None:
        if spec.home:
            os.environ["HEIRLOOM_HOME"] = spec.home
        os.environ["HEIRLOOM_THREADS"] = str(spec.threads)  # read when sessions open
        cv2.setNumThreads(spec.threads)  # the pre-pass and resizes: no more than our share
        self.spec = spec
        self.task = TASKS[spec.task]
        self.registry = Registry()

    def ready(self) -> str:
        """Where this worker runs; answering at all means it was placed and has started."""
        return socket.gethostname()

    def process(self, item: WorkItem) -> Outcome:
        """Run the task on one file; a bad file is a ``failed`` outcome, not an exception."""
        start = time.perf_counter()
        target = Path(item.target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            info = self.task.run(
                Path(item.source), target, self.spec.options, self.spec.settings, self.registry
            )
            stat = target.stat()
        except HeirloomError as exc:
            return Outcome("failed", str(exc), time.perf_counter() - start)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            return Outcome("failed", f"{where}{os_error_reason(exc)}", time.perf_counter() - start)
        except MemoryError:
            reason = "out of memory; give each worker less work with a smaller --memory"
            return Outcome("failed", reason, time.perf_counter() - start)
        except Exception as exc:  # noqa: BLE001 - one photo that trips a bug must not stop the rest
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            reason = f"internal error: {type(exc).__name__}: {first}"
            return Outcome("failed", reason, time.perf_counter() - start)
        return Outcome(
            "done",
            seconds=time.perf_counter() - start,
            info=info,
            output_stat=[stat.st_size, stat.st_mtime_ns],
        )


class Runner(Protocol):
    """What the driver needs from an engine."""

    @property
    def slots(self) -> int:
        """Files that may be in flight at once."""

    def submit(self, item: WorkItem) -> None: ...

    def wait(self, timeout: float) -> list[tuple[WorkItem, Outcome]]: ...

    def close(self) -> None: ...


# --- this machine: one process per worker ------------------------------------------


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwind, so a half-written temporary file is removed


def _die_with_parent() -> None:
    """Linux: end this worker when the driver dies, even by SIGKILL. An orphan would
    finish its photo and could rename it into place while a rerun writes it too."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _serve(spec: WorkerSpec, conn: Connection) -> None:
    """A worker process: build the worker once, then answer one item at a time."""
    _die_with_parent()
    signal.signal(signal.SIGTERM, _terminated)
    try:  # a stop can come while the worker is still being built (imports, sessions)
        worker = TaskWorker(spec)
        while (item := conn.recv()) is not None:
            conn.send(worker.process(item))
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        return


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start workers with Ctrl+C ignored (the setting survives the spawn): a terminal's
    Ctrl+C reaches the whole process group, and a worker still importing would print a
    traceback. The driver stops workers itself, with SIGTERM, in :meth:`LocalRunner.close`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


@contextlib.contextmanager
def _blas_threads(threads: int) -> Iterator[None]:
    """Give a process started inside the same math-library thread count as Ray gives an
    actor (numpy's BLAS reads it once, at import): N workers of T threads, not N x cores."""
    saved = {name: os.environ.get(name) for name in BLAS_THREADS}
    os.environ.update(dict.fromkeys(BLAS_THREADS, str(threads)))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    queue: deque[WorkItem] = field(default_factory=deque)


class LocalRunner:
    """Worker processes on this machine (spawned: the same start on every platform)."""

    def __init__(self, spec: WorkerSpec, workers: int) -> None:
        self.spec = spec
        self.slots = workers * IN_FLIGHT
        self._context = multiprocessing.get_context("spawn")
        self.workers = [self._start() for _ in range(workers)]

    def _start(self) -> _Slot:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(self.spec, theirs), daemon=True)
        with _blas_threads(self.spec.threads), _sigint_ignored():
            process.start()
        theirs.close()
        return _Slot(process, ours)

    def submit(self, item: WorkItem) -> None:
        slot = min(self.workers, key=lambda s: len(s.queue))
        slot.queue.append(item)
        with contextlib.suppress(OSError):  # a gone worker: wait() reports its items as died
            slot.conn.send(item)

    def wait(self, timeout: float) -> list[tuple[WorkItem, Outcome]]:
        busy = [s for s in self.workers if s.queue]
        ready = set(wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout))
        results: list[tuple[WorkItem, Outcome]] = []
        for index, slot in enumerate(self.workers):
            if not slot.queue:
                continue
            try:
                while slot.queue and slot.conn in ready and slot.conn.poll():
                    outcome = slot.conn.recv()  # before taking the item: a dead worker's EOF
                    results.append((slot.queue.popleft(), outcome))  # must leave it queued
            except (EOFError, OSError):
                pass
            if slot.queue and slot.process.sentinel in ready:
                died = Outcome("died", f"its worker process ended (exit {slot.process.exitcode})")
                results += [(item, died) for item in slot.queue]
                slot.conn.close()
                self.workers[index] = self._start()
        return results

    def pids(self) -> list[int]:
        """Worker process ids (tests kill one mid-job)."""
        return [s.process.pid or 0 for s in self.workers]

    def close(self) -> None:
        """Stop every worker; one in the middle of a file unwinds and leaves no partial file."""
        for slot in self.workers:
            if slot.process.is_alive():
                slot.process.terminate()
        for slot in self.workers:
            slot.process.join(5)
            if slot.process.is_alive():
                slot.process.kill()
            slot.conn.close()


# --- a Ray cluster: one actor per worker ---------------------------------------------


def import_ray() -> Any:
    """Ray, or one line saying how to get it (it is an optional extra)."""
    try:
        import ray
    except ImportError:
        raise HeirloomError(
            "--engine ray needs Ray; install it with pip install 'heirloom[cluster]'"
        ) from None
    return ray


def connect(address: str | None) -> bool:
    """Join the cluster at ``address`` (or start a local one); True when we started Ray."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address and address != "auto":
        _reachable(address)
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
        )
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise HeirloomError(f"cannot reach the Ray cluster at {address}: {first}") from None
    return True


def _reachable(address: str) -> None:
    """A quick TCP look at ``host:port`` first: Ray itself retries a dead address for
    minutes, printing warnings, before it gives up."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise HeirloomError(f"--address {address}: give auto, host:port or ray://host:port")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        reason = os_error_reason(exc) if exc.errno else "no answer"
        raise HeirloomError(f"cannot reach the Ray cluster at {address}: {reason}") from None


def disconnect(started: bool) -> None:
    """Stop the local Ray that :func:`connect` started; a cluster we joined keeps running."""
    if started:
        import_ray().shutdown()


def cluster_resources() -> dict[str, float]:
    """CPUs, GPUs and memory (bytes) the connected cluster offers in all."""
    return dict(import_ray().cluster_resources())


class RayRunner:
    """A pool of Ray actors, each a :class:`TaskWorker`; a dead actor is replaced.

    Files go only to actors that have started: one Ray cannot place (the cluster lacks
    the CPUs, GPUs or memory asked for) would otherwise hold its files for ever.
    """

    def __init__(
        self, spec: WorkerSpec, workers: int, gpus: float, memory_bytes: int, started: bool
    ) -> None:
        self._ray = import_ray()
        self.spec = spec
        self._started = started
        resources: dict[str, Any] = {"num_cpus": spec.threads, "num_gpus": gpus}
        if memory_bytes:
            resources["memory"] = memory_bytes  # Ray places workers where this much is free
        self._actor = self._ray.remote(TaskWorker).options(max_restarts=0, **resources)
        self._asked = f"{spec.threads} CPU, {gpus:g} GPU, {memory_bytes >> 20} MB each"
        self.actors: list[Any] = []  # started, taking files
        self._starting: dict[Any, Any] = {}  # ready() ref -> actor
        self._flight: dict[Any, tuple[Any, WorkItem]] = {}  # ref -> (actor, item)
        self._waiting_since = time.monotonic()
        for _ in range(workers):
            self._spawn()
        try:
            self._start(workers)
        except BaseException:
            self.close()
            raise

    @property
    def slots(self) -> int:
        return len(self.actors) * IN_FLIGHT

    def _spawn(self) -> None:
        actor = self._actor.remote(self.spec)
        self._starting[actor.ready.remote()] = actor

    def _start(self, workers: int) -> None:
        """Wait for the first workers; give up on those Ray cannot place in time."""
        ray = self._ray
        ready, pending = ray.wait(
            list(self._starting), num_returns=workers, timeout=START_TIMEOUT_S
        )
        self._take(ready)
        if not self.actors:
            raise HeirloomError(
                f"no Ray worker started within {START_TIMEOUT_S:.0f} s; the cluster lacks "
                f"what each one asks for ({self._asked}): use fewer --workers or less --memory"
            )
        for ref in pending:
            ray.kill(self._starting.pop(ref))
        if pending:
            print(
                f"heirloom: warning: {len(pending)} of {workers} Ray workers could not be "
                f"placed ({self._asked}); running with {len(self.actors)}",
                file=sys.stderr,
            )

    def _take(self, refs: list[Any]) -> None:
        for ref in refs:
            actor = self._starting.pop(ref)
            try:
                self._ray.get(ref)
            except self._ray.exceptions.RayError:
                continue  # died while starting: its replacement is not worth a loop
            self.actors.append(actor)

    def submit(self, item: WorkItem) -> None:
        load = {id(actor): 0 for actor in self.actors}
        for actor, _ in self._flight.values():
            if id(actor) in load:
                load[id(actor)] += 1
        actor = min(self.actors, key=lambda a: load[id(a)])
        self._flight[actor.process.remote(item)] = (actor, item)

    def wait(self, timeout: float) -> list[tuple[WorkItem, Outcome]]:
        ray = self._ray
        if self._starting:  # replacements that have started join the pool
            started, _ = ray.wait(list(self._starting), num_returns=len(self._starting), timeout=0)
            self._take(started)
        if not self._flight:
            if self.actors:
                self._waiting_since = time.monotonic()
            elif time.monotonic() - self._waiting_since > START_TIMEOUT_S:
                raise HeirloomError(
                    f"every Ray worker died and none could be restarted within "
                    f"{START_TIMEOUT_S:.0f} s ({self._asked})"
                )
            time.sleep(min(timeout, 0.1))
            return []
        ready, _ = ray.wait(list(self._flight), num_returns=1, timeout=timeout)
        if ready:  # take everything else that is finished too
            ready, _ = ray.wait(list(self._flight), num_returns=len(self._flight), timeout=0)
        results: list[tuple[WorkItem, Outcome]] = []
        for ref in ready:
            actor, item = self._flight.pop(ref)
            try:
                results.append((item, ray.get(ref)))
            except ray.exceptions.RayError as exc:
                reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                results.append((item, Outcome("died", f"its Ray worker died ({reason})")))
                if actor in self.actors:
                    self.actors.remove(actor)
                    self._spawn()
        return results

    def close(self) -> None:
        """Stop the actors (and the local Ray this runner started, if it did)."""
        for actor in self.actors + list(self._starting.values()):
            self._ray.kill(actor)
        if self._flight:  # wait for the kills to land, so nothing is written after we return
            self._ray.wait(list(self._flight), num_returns=len(self._flight), timeout=30)
        disconnect(self._started)
