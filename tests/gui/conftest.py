"""GUI fixtures: an isolated user folder and settings, tiny real packs, a main window."""

from __future__ import annotations

from pathlib import Path

import pytest

import graphs
from engine.models import Registry


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
    from gui.app import make_application
    from gui.settings import load_settings, settings_store
    from gui.window import MainWindow

    make_application()
    win = MainWindow(load_settings(settings_store()), offer_recovery=False)
    win.context.registry = Registry(
        tmp_path / "no-bundled", graphs.restore_packs(tmp_path / "packs")
    )
    qtbot.addWidget(win)
    win.resize(1100, 760)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


@pytest.fixture
def helpers():
    """tests/graphs.py: builders of tiny real ONNX graphs and packs."""
    return graphs
