"""``heirloom`` run as a user runs it: a separate process, its own per-user folder.

The integration tests share this one helper, so every command they run sees the same
environment: ``HEIRLOOM_HOME`` isolated per test, one engine thread (the suite runs
beside other work on a 2-core machine), and a timeout that turns a hang into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def heirloom(*args: object, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m engine.cli ARGS`` with ``HEIRLOOM_HOME=home``; stdout and stderr as text."""
    env = {**os.environ, "HEIRLOOM_HOME": str(home), "HEIRLOOM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
