"""GUI fixtures: an isolated user folder and settings, tiny real packs, a main window."""

from __future__ import annotations

from pathlib import Path

import pytest

import graphs
from app_window import make_window


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HEIRLOOM_HOME: settings.ini, autosaves and user packs live here, per test."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HEIRLOOM_HOME", str(folder))
    monkeypatch.setenv("HEIRLOOM_THREADS", "1")
    return folder


@pytest.fixture
def window(qtbot, home: Path, tmp_path: Path):
    """The real main window with tiny scratch-detect and restore packs installed."""
    win = make_window(qtbot, tmp_path)
    yield win
    win.close()


@pytest.fixture
def helpers():
    """tests/graphs.py: builders of tiny real ONNX graphs and packs."""
    return graphs
