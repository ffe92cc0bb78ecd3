"""The real main window for GUI tests, with tiny scratch-detect and restore packs
installed (shared by tests/gui and the fault suite)."""

from __future__ import annotations

from pathlib import Path

import graphs
from engine.models import Registry


def make_window(qtbot, tmp_path: Path):  # qtbot: pytest-qt; returns the MainWindow
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
    return win
