"""The app's icons: small SVGs in ``resources/icons``, tinted for a dark theme."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtGui import QIcon

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


@functools.cache
def icon(name: str) -> QIcon:
    """``resources/icons/<name>.svg`` (an empty icon when missing, never an error)."""
    path = ICONS / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()
