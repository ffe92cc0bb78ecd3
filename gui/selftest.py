"""The GUI half of the self-test: open the main window offscreen, then close it.

``heirloom --self-test`` runs this as ``python -m gui.selftest`` (the engine may not
import Qt); the packaged app calls :func:`open_window` in process. The window gets a
throwaway ``HEIRLOOM_HOME``, so the test never touches the user's settings or autosaves.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QTimer

from gui.app import exit_now, make_application
from gui.settings import load_settings, settings_store
from gui.window import MainWindow

SHOW_S = 2.0  # how long the window stays open: long enough for queued start-up work
GUARD_S = 30.0  # the event loop is stopped after this even if the window will not close


def process_age() -> float | None:
    """Seconds since this process started (Linux's /proc), so the self-test run first
    in a fresh process measures the app's cold start; None where there is no /proc."""
    try:
        stat = Path("/proc/self/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return None
    started_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
    return uptime - started_ticks / os.sysconf("SC_CLK_TCK")


def open_window(seconds: float = SHOW_S) -> str:
    """Show the main window offscreen for ``seconds``, close it; raises if either fails."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    previous = os.environ.get("HEIRLOOM_HOME")
    with tempfile.TemporaryDirectory(prefix="heirloom-selftest-") as home:
        os.environ["HEIRLOOM_HOME"] = home
        try:
            started = time.monotonic()
            app = make_application()
            window = MainWindow(load_settings(settings_store()), offer_recovery=False)
            window.show()
            app.processEvents()
            shown = time.monotonic() - started
            age = process_age()
            if not window.isVisible():
                raise RuntimeError("the main window did not show")
            QTimer.singleShot(round(seconds * 1000), window.close)
            QTimer.singleShot(round(GUARD_S * 1000), app.quit)
            app.exec()
            if window.isVisible():
                raise RuntimeError(f"the main window did not close within {GUARD_S:.0f} s")
        finally:
            if previous is None:
                os.environ.pop("HEIRLOOM_HOME", None)
            else:
                os.environ["HEIRLOOM_HOME"] = previous
    since_start = f"{age:.2f} s after the process started, " if age is not None else ""
    return f"window shown {since_start}{shown:.2f} s after Qt, closed after {seconds:.0f} s"


def main() -> None:
    """Print the result line; exit 0, or 1 with the reason."""
    try:
        print(open_window(), flush=True)
    except Exception as exc:  # noqa: BLE001 - the parent reports this line as the failure
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        exit_now(1)
    exit_now(0)


if __name__ == "__main__":
    main()
