"""Test data taken from published wheels: fetched once into ``.cache/`` and reused.

Tests that use it are marked ``network``: they need the package registry the first
time, and skip with the reason when it cannot be reached (or when ``HEIRLOOM_OFFLINE``
is set) and nothing is cached; ``pytest -m "not network"`` leaves them out altogether.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

CACHE = Path(__file__).resolve().parents[1] / ".cache"


def cached_or_skip(what: str, cached: Path, fetch: Callable[[], Path]) -> Path:
    """``cached`` if it exists, else ``fetch()`` (which downloads and returns it); skips the
    test, saying why, when offline or when the download fails."""
    if cached.exists():
        return cached
    if os.environ.get("HEIRLOOM_OFFLINE"):
        pytest.skip(f"offline (HEIRLOOM_OFFLINE is set) and {what} is not cached in {cached}")
    try:
        return fetch()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        pytest.skip(f"{what} is not cached and the package registry could not be reached: {exc}")
