"""`heirloom-gui`: the desktop app's entry point.

    heirloom-gui [PHOTO_OR_PROJECT] [--no-recovery]

Sets up the QApplication (Fusion style, a dark palette that keeps photos the
brightest thing on screen), reads the settings, opens the main window and, when a
path is given, the photo or project.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from gui.icons import ICONS
from gui.settings import load_settings, settings_store
from gui.window import MainWindow

STYLE = """
QWidget { font-size: 10pt; }
QGroupBox { font-weight: 600; border: 1px solid #3a3d43; border-radius: 6px;
            margin-top: 14px; padding: 10px 8px 8px 8px; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; color: #c9ced6; }
QPushButton { padding: 5px 12px; border-radius: 4px; border: 1px solid #4a4e56;
              background: #33363c; }
QPushButton:hover { background: #3d4148; }
QPushButton:disabled { color: #777; }
QPushButton:checked { background: #4a5b70; border-color: #7f9bbd; color: #f0f3f7; }
QPushButton#primary { background: #c8873a; border-color: #d9995a; color: #1c1c1c;
                      font-weight: 600; }
QPushButton#primary:hover { background: #d9995a; }
QPushButton#primary:disabled { background: #5a4a38; color: #999; }
QLabel#welcomeTitle { font-size: 30pt; font-weight: 300; color: #e8d9c4; }
QLabel#welcomeHint { color: #a9aeb6; font-size: 11pt; }
QLabel#panelStatus { color: #b9bec6; }
QLabel#panelHint { color: #969ba3; }
QLabel#stepCounter { font-size: 13pt; font-weight: 600; color: #e8d9c4; }
QTabWidget#workspaces::pane { border: none; }
QTabBar::tab { padding: 7px 16px; }
QToolBar#tools { spacing: 4px; padding: 3px; border: none; }
QStatusBar QLabel { padding: 0 6px; }
"""


def dark_palette() -> QPalette:
    palette = QPalette()
    base, window, text = QColor(30, 32, 36), QColor(43, 45, 50), QColor(222, 224, 228)
    for role, colour in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, window),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, window),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.ToolTipBase, base),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Highlight, QColor(200, 135, 58)),
        (QPalette.ColorRole.HighlightedText, QColor(20, 20, 20)),
        (QPalette.ColorRole.Link, QColor(230, 170, 100)),
    ):
        palette.setColor(role, colour)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(120, 120, 120))
    palette.setColor(
        QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(120, 120, 120)
    )
    return palette


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with Heirloom's look (reused when one exists, as in tests)."""
    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("Heirloom")
    app.setOrganizationName("Heirloom")
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(STYLE)
    app.setWindowIcon(QIcon(str(ICONS / "heirloom.svg")))
    return app


def exit_now(code: int) -> None:
    """Leave without Python's final garbage collection of Qt objects.

    With PySide6 6.12 on Python 3.11 a process that made a QApplication aborts during
    interpreter finalisation ("bool_dealloc", exit status 134) even when it did nothing
    else, which would turn every clean exit into a crash report. Everything worth
    keeping (settings, autosave removal) is done before this point.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heirloom-gui", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, help="a photo or .heirloom project")
    parser.add_argument(
        "--no-recovery", action="store_true", help="do not offer to recover autosaves"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    app = make_application()
    window = MainWindow(load_settings(settings_store()), offer_recovery=not args.no_recovery)
    window.show()
    if args.path:
        window.open_path(args.path)
    code = app.exec()
    exit_now(code)
    return code


if __name__ == "__main__":
    main()
