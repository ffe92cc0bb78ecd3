"""Shared fixtures; the graph builders themselves live in tests/graphs.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app_window import make_window
from engine.models import write_pack
from graphs import build_conv_model, tiny_manifest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
GUI_TESTS = Path(__file__).resolve().parent / "gui"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in tests/gui, and any other that drives widgets (it asks for pytest-qt's
    ``qtbot``, as the GUI trust tests in tests/faults do), is a ``gui`` test:
    ``-m "not gui"`` runs the rest without Qt, with no list of files to keep up to date."""
    for item in items:
        if GUI_TESTS in item.path.parents or "qtbot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.gui)


@pytest.fixture
def conv_model(tmp_path: Path) -> Path:
    return build_conv_model(tmp_path / "conv.onnx")


@pytest.fixture
def tiny_pack(tmp_path: Path, conv_model: Path):
    """A valid pack folder (not installed anywhere)."""
    return write_pack(
        tmp_path / "packs" / "tiny", conv_model, tiny_manifest(), "# Tiny\nA test graph.\n"
    )


@pytest.fixture
def heirloom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated per-user folder (models, settings) for the test."""
    home = tmp_path / "home"
    monkeypatch.setenv("HEIRLOOM_HOME", str(home))
    return home


@pytest.fixture
def home(heirloom_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``heirloom_home`` created, with one engine thread (GUI and fault tests share it)."""
    heirloom_home.mkdir()
    monkeypatch.setenv("HEIRLOOM_THREADS", "1")
    return heirloom_home


@pytest.fixture
def window(qtbot, home: Path, tmp_path: Path):  # noqa: ANN001 - qtbot: pytest-qt
    """The real main window with tiny scratch-detect and restore packs installed;
    teardown discards what a test left unsaved, so closing asks nothing."""
    win = make_window(qtbot, tmp_path)
    yield win
    if win.context.document is not None:
        win.context.document.undo.setClean()
    win.close()
