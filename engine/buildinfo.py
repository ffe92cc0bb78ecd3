"""Which Heirloom this is: version, commit, build date and variant.

A packaged app cannot ask git, so ``make package`` writes these facts into
``engine/build_info.json`` inside the build (:func:`write_build_info`, called from the
PyInstaller spec) and the frozen app reads them back. A source checkout has no such
file: there the facts come from git, and from which onnxruntime wheel is installed.
A bug report that quotes ``heirloom --version`` then says exactly what ran.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path

BUILD_INFO_FILE = Path(__file__).resolve().parent / "build_info.json"
SOURCE_ROOT = Path(__file__).resolve().parent.parent
UNKNOWN = "unknown"


@dataclass(frozen=True)
class BuildInfo:
    version: str
    commit: str  # short hash, "+dirty" when the tree had changes; "unknown" without git
    date: str  # ISO date of the build (a source checkout: of its last commit)
    variant: str  # "cpu" or "gpu" (which onnxruntime wheel), "+source" from a checkout

    def line(self) -> str:
        """One line for ``--version``, the About box and the self-test report."""
        return f"Heirloom {self.version} ({self.variant}, commit {self.commit}, built {self.date})"


def _git(*args: str) -> str | None:
    """Output of a git command in the source tree, or None (no git, not a checkout)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(SOURCE_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def installed_variant() -> str:
    """ "gpu" when the onnxruntime-gpu wheel provides onnxruntime, else "cpu"."""
    try:
        distribution("onnxruntime-gpu")
    except PackageNotFoundError:
        return "cpu"
    return "gpu"


def _package_version() -> str:
    try:
        return version("heirloom")
    except PackageNotFoundError:
        return UNKNOWN


def from_source(now: datetime | None = None) -> BuildInfo:
    """What git and the installed wheels say; ``now`` stamps a build (None: commit date)."""
    commit = _git("rev-parse", "--short=10", "HEAD")
    if commit and _git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    if now is not None:
        date = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    else:
        date = (_git("log", "-1", "--format=%cs") or UNKNOWN) if commit else UNKNOWN
    return BuildInfo(_package_version(), commit or UNKNOWN, date, installed_variant())


def write_build_info(path: Path, variant: str) -> BuildInfo:
    """Stamp a package build: the source's facts, the variant built and the time now."""
    info = from_source(datetime.now(UTC))
    info = BuildInfo(info.version, info.commit, info.date, variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
    return info


def build_info(path: Path = BUILD_INFO_FILE) -> BuildInfo:
    """The stamped facts of a packaged app, else the source checkout's."""
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        return BuildInfo(**{key: str(data.get(key, UNKNOWN)) for key in BuildInfo.__annotations__})
    source = from_source()
    return BuildInfo(source.version, source.commit, source.date, f"{source.variant}+source")
