"""ONNX Runtime sessions, and honesty about which device really runs them.

ONNX Runtime silently falls back to the CPU when the CUDA provider is listed but
cannot load (no driver, a missing CUDA or cuDNN library). We never report what is
merely *available*: a session's device is read back from ``get_providers()`` after
creation, and the reason CUDA was not used is found by loading the provider library
ourselves, which names the missing dependency in one line.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import onnxruntime as ort

from engine.cancel import NEVER, CancelToken
from engine.errors import Cancelled, PackError

if TYPE_CHECKING:
    from engine.models import ModelPack

Device = Literal["auto", "cuda", "cpu"]
DEVICES: tuple[str, ...] = ("auto", "cuda", "cpu")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
}

ort.set_default_logger_severity(3)  # our own reports replace ORT's warnings


@dataclass(frozen=True)
class DeviceReport:
    """What the machine offers and what works: the basis of every device message."""

    ort_version: str
    available: tuple[str, ...]
    cuda_listed: bool
    cuda_usable: bool
    cuda_reason: str | None

    def summary(self, wanted: Device = "auto") -> str:
        """One line for a status bar: the device used and, if relevant, why not CUDA."""
        if self.cuda_usable and wanted != "cpu":
            return "CUDA"
        if wanted == "cpu":
            return "CPU"
        if self.cuda_listed or wanted == "cuda":
            return f"CPU (CUDA not usable: {self.cuda_reason})"
        return "CPU"


def _provider_library() -> Path | None:
    capi = Path(ort.__file__).resolve().parent / "capi"
    names = (
        ["onnxruntime_providers_cuda.dll"]
        if sys.platform == "win32"
        else ["libonnxruntime_providers_cuda.so"]
    )
    for name in names:
        if (capi / name).exists():
            return capi / name
    return None


def _short_dlopen_error(exc: OSError) -> str:
    text = str(exc)
    # "libcudnn.so.9: cannot open shared object file: No such file or directory"
    for line in text.splitlines():
        if "cannot open shared object file" in line:
            return f"{line.split(':')[0].strip().split('/')[-1]} is missing"
    return text.splitlines()[0] if text else type(exc).__name__


@functools.cache
def cuda_problem() -> str | None:
    """Why the CUDA provider cannot run here, in one line, or None if it loads."""
    if CUDA not in ort.get_available_providers():
        # a frozen app cannot pip install: its users need the other download
        frozen = getattr(sys, "frozen", False)
        remedy = "use Heirloom's GPU download" if frozen else "install onnxruntime-gpu"
        return f"this onnxruntime build has no CUDA support ({remedy})"
    if sys.platform != "win32":
        try:
            ctypes.CDLL("libcuda.so.1")
        except OSError:
            return "no NVIDIA driver found (libcuda.so.1 is missing)"
    if hasattr(ort, "preload_dlls"):
        # picks up CUDA/cuDNN installed as nvidia-* pip packages; a failure changes nothing
        with contextlib.suppress(Exception):
            ort.preload_dlls()
    library = _provider_library()
    if library is None:
        return "the CUDA provider library is not part of this onnxruntime install"
    try:
        ctypes.CDLL(str(library))
    except OSError as exc:
        return f"cannot load the CUDA provider: {_short_dlopen_error(exc)}"
    return None


@functools.cache
def device_report() -> DeviceReport:
    available = tuple(ort.get_available_providers())
    problem = cuda_problem()
    return DeviceReport(
        ort_version=ort.__version__,
        available=available,
        cuda_listed=CUDA in available,
        cuda_usable=problem is None,
        cuda_reason=problem,
    )


@dataclass(frozen=True)
class GraphInfo:
    """Names -> (dtype, shape) of a graph's inputs and outputs; dims may be str."""

    inputs: dict[str, tuple[str, list[int | str]]]
    outputs: dict[str, tuple[str, list[int | str]]]


def _args_io(args: list) -> dict[str, tuple[str, list[int | str]]]:
    return {
        a.name: (_ORT_DTYPES.get(a.type, a.type), [d if d is not None else "?" for d in a.shape])
        for a in args
    }


def _does_not_load(pack: str, exc: Exception) -> PackError:
    """ORT's reason, cut to its first line, for a graph that will not load."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return PackError(f"model pack '{pack}': model.onnx does not load ({first[:200]})")


def describe_graph(path: Path, pack: str = "?") -> GraphInfo:
    """Load a graph on the CPU and list its I/O; a graph that will not load is a PackError."""
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4
        session = ort.InferenceSession(str(path), options, providers=[CPU])
    except Exception as exc:  # noqa: BLE001 - ORT raises many types for bad graphs
        raise _does_not_load(pack, exc) from None
    return GraphInfo(_args_io(session.get_inputs()), _args_io(session.get_outputs()))


@dataclass
class Session:
    """An ONNX Runtime session plus the truth about where it runs."""

    session: ort.InferenceSession
    device: str  # "cuda" or "cpu": what get_providers() says, not what was asked
    wanted: Device
    fallback_reason: str | None
    input_names: tuple[str, ...] = field(default=())
    output_names: tuple[str, ...] = field(default=())
    checked_for: object = None  # the manifest this graph's I/O was last checked against

    def describe(self) -> str:
        if self.device == "cuda":
            return "CUDA"
        if self.fallback_reason and self.wanted != "cpu":
            return f"CPU (CUDA not usable: {self.fallback_reason})"
        return "CPU"

    def run(
        self,
        feeds: dict[str, np.ndarray],
        cancel: CancelToken = NEVER,
        outputs: list[str] | None = None,
    ) -> list[np.ndarray]:
        """Run the graph; a cancel during the call terminates it and raises Cancelled."""
        cancel.check()
        options = ort.RunOptions()
        undo = cancel.on_cancel(lambda: setattr(options, "terminate", True))
        try:
            return self.session.run(outputs, feeds, options)
        except Exception:
            if cancel.cancelled:
                raise Cancelled() from None
            raise
        finally:
            undo()


def default_threads() -> int:
    """Intra-op threads: ``HEIRLOOM_THREADS`` or all cores this process may use."""
    env = os.environ.get("HEIRLOOM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_cache: dict[tuple, Session] = {}
_cache_lock = threading.Lock()


def open_session(
    model: Path, device: Device = "auto", threads: int | None = None, optimize: bool = True
) -> Session:
    """A cached session for ``model``; keyed by file identity and every option.

    ``device='cuda'`` falls back to the CPU rather than failing, but the returned
    session says so (``device`` and ``fallback_reason``) and callers show it.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
    model = Path(model).resolve()
    stat = model.stat()
    threads = threads or default_threads()
    key = (str(model), stat.st_mtime_ns, stat.st_size, device, threads, optimize)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        problem = cuda_problem() if device != "cpu" else None
        providers = [CPU] if device == "cpu" or problem else [CUDA, CPU]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if optimize
            else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        )
        session = ort.InferenceSession(str(model), options, providers=providers)
        used = session.get_providers()
        on_cuda = CUDA in used
        if device != "cpu" and not on_cuda and problem is None:
            problem = "the CUDA provider did not initialise for this model"
        result = Session(
            session=session,
            device="cuda" if on_cuda else "cpu",
            wanted=device,
            fallback_reason=None if on_cuda else problem,
            input_names=tuple(i.name for i in session.get_inputs()),
            output_names=tuple(o.name for o in session.get_outputs()),
        )
        _cache[key] = result
        return result


def open_pack(pack: ModelPack, device: Device = "auto") -> Session:
    """A session for a pack's graph, after checking the graph still is what the manifest
    (and so the task) says: a graph swapped after import fails here with one line
    instead of breaking the pipeline that feeds it."""
    from engine.models import compare_io

    if not pack.model_path.is_file():
        raise PackError(f"model pack '{pack.name}' is missing model.onnx; reinstall it")
    try:
        session = open_session(pack.model_path, device)
    except PackError:
        raise
    except Exception as exc:  # noqa: BLE001 - ORT raises many types for bad graphs
        raise _does_not_load(pack.name, exc) from None
    if session.checked_for != pack.manifest:
        io = _args_io(session.session.get_inputs()), _args_io(session.session.get_outputs())
        for kind, specs, found in zip(
            ("input", "output"), (pack.manifest.inputs, pack.manifest.outputs), io, strict=True
        ):
            compare_io(pack.name, kind, specs, found)
        session.checked_for = pack.manifest
    return session


def clear_cache() -> None:
    """Drop cached sessions (e.g. after the user changes device or thread settings)."""
    with _cache_lock:
        _cache.clear()
