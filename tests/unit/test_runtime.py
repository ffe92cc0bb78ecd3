import threading
import time

import numpy as np
import onnxruntime as ort
import pytest

from engine import runtime
from engine.cancel import CancelToken
from engine.errors import Cancelled
from graphs import build_conv_model


def test_session_reports_the_provider_that_really_runs(conv_model):
    session = runtime.open_session(conv_model, device="cuda")
    used = session.session.get_providers()
    assert session.device == ("cuda" if "CUDAExecutionProvider" in used else "cpu")
    if session.device == "cpu":
        # asked for CUDA, got the CPU: the session must say why, in one line
        assert session.fallback_reason and "\n" not in session.fallback_reason
        assert session.describe().startswith("CPU (CUDA not usable: ")


@pytest.mark.skipif(
    "CUDAExecutionProvider" not in ort.get_available_providers(),
    reason="needs an onnxruntime build that lists CUDA (onnxruntime-gpu)",
)
def test_listed_but_unloadable_cuda_is_reported_not_hidden():
    report = runtime.device_report()
    assert report.cuda_listed
    if not report.cuda_usable:
        assert "CUDA not usable" in report.summary("auto")
        assert report.cuda_reason and len(report.cuda_reason) < 200


def test_cpu_request_never_mentions_cuda(conv_model):
    session = runtime.open_session(conv_model, device="cpu")
    assert session.device == "cpu" and session.describe() == "CPU"
    assert session.session.get_providers() == ["CPUExecutionProvider"]


def test_session_cache_is_keyed_by_model_and_options(tmp_path):
    model = build_conv_model(tmp_path / "a.onnx")
    first = runtime.open_session(model, "cpu", threads=1)
    assert runtime.open_session(model, "cpu", threads=1) is first
    assert runtime.open_session(model, "cpu", threads=2) is not first
    build_conv_model(model, seed=5)  # same path, new content
    assert runtime.open_session(model, "cpu", threads=1) is not first


def test_run_computes_the_graph(conv_model):
    session = runtime.open_session(conv_model, "cpu")
    x = np.random.default_rng(0).random((2, 3, 16, 20), dtype=np.float32)
    (y,) = session.run({"image": x})
    assert y.shape == (2, 3, 16, 20) and y.min() > 0 and y.max() < 1


def test_terminate_stops_a_long_run(tmp_path):
    model = build_conv_model(tmp_path / "wide.onnx", layers=12, width=48)
    session = runtime.open_session(model, "cpu")
    x = np.random.default_rng(0).random((1, 3, 768, 768), dtype=np.float32)
    start = time.monotonic()
    session.run({"image": x[:, :, :256, :256]})
    small = time.monotonic() - start
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        session.run({"image": x}, cancel=token)
    stopped_after = time.monotonic() - start
    # the full 768x768 run costs ~9x the 256x256 one; terminate must cut it short
    assert stopped_after < max(1.5, 4 * small)


def test_cancelled_token_refuses_to_start(conv_model):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        runtime.open_session(conv_model, "cpu").run(
            {"image": np.zeros((1, 3, 8, 8), np.float32)}, cancel=token
        )


@pytest.mark.parametrize(
    ("frozen", "remedy"),
    [(False, "install onnxruntime-gpu"), (True, "use Heirloom's GPU download")],
)
def test_a_cpu_only_build_says_what_to_get(monkeypatch, frozen, remedy):
    """From source the fix is a pip install; inside the frozen CPU app it is the other
    download (its users have no pip)."""
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(runtime.sys, "frozen", frozen, raising=False)
    runtime.cuda_problem.cache_clear()
    try:
        assert runtime.cuda_problem() == f"this onnxruntime build has no CUDA support ({remedy})"
    finally:
        runtime.cuda_problem.cache_clear()
