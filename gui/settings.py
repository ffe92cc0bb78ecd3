"""The app's settings: one typed object with a schema version, stored in QSettings.

Defaults live in :class:`Settings` and nowhere else, so a first start, a reset and a
test all agree. QSettings is only the storage: values are read back through the
dataclass field types, numbers are kept within the ranges in :data:`RANGES` (the
engine's :mod:`engine.limits`, which the CLI and the spin boxes use too), and a bad
value (``tile_size=huge`` after a hand edit) falls back to its default instead of
breaking start-up; its key lands in ``Settings.reset`` so the window can say so once.
The ini file lives under ``$HEIRLOOM_HOME`` when set (tests, a portable install), else
in the platform's config folder.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QSettings

from engine.limits import SMOOTHING, STEPS, THREADS, TILE

SCHEMA_VERSION = 1
DEVICES = ("auto", "cuda", "cpu")
RECENT_LIMIT = 10
RANGES: dict[str, tuple[float, float]] = {
    "tile_size": (TILE.low, TILE.high),
    "threads": (THREADS.low, THREADS.high),
    "diffusion_steps": (STEPS.low, STEPS.high),
    # engine THRESHOLD is (0, 1]; a closed range in 0.01 steps that never marks all or none
    "scratch_threshold": (0.01, 0.99),
    "restore_smoothing": (SMOOTHING.low, SMOOTHING.high),
    "autosave_minutes": (0.5, 60.0),
}
"""Valid range of each numeric setting: spin boxes, sliders and load_settings share it."""


@dataclass
class Settings:
    """Everything the user can change; the defaults suit a laptop without a GPU."""

    device: str = "auto"  # auto | cuda | cpu
    tile_size: int = 512  # pixels per side; smaller uses less memory
    threads: int = 0  # 0 = every core (engine.runtime.default_threads)
    diffusion_steps: int = 50
    # probability above which a pixel is damage; by default the detector's own operating
    # point (chosen for precision when it was trained), so the app and the CLI agree
    scratch_threshold: float = field(default_factory=lambda: model_threshold())
    restore_smoothing: float = 1.0  # share of the pre-pass's denoising kept (0: grain)
    live_mode: bool = True  # sketch: regenerate after every stroke
    autosave_minutes: float = 3.0
    recent_files: list[str] = field(default_factory=list)
    last_folder: str = ""  # where the last file was opened, saved or exported
    hints_seen: list[str] = field(default_factory=list)  # workspaces whose hint was closed
    schema: int = SCHEMA_VERSION
    # not stored: the keys load_settings had to reset, for a one-time notice
    reset: list[str] = field(default_factory=list, compare=False, metadata={"stored": False})

    def remember(self, path: Path) -> None:
        """Put ``path`` first in the recent files, without duplicates; its folder is
        where the next file dialog opens."""
        text = str(Path(path).resolve())
        self.last_folder = str(Path(text).parent)
        self.recent_files = [text] + [p for p in self.recent_files if p != text]
        del self.recent_files[RECENT_LIMIT:]


def model_threshold(fallback: float = 0.5) -> float:
    """The preferred scratch detector's threshold from its manifest (2 decimals, as the
    Sensitivity slider shows percent), or ``fallback`` when no detector is installed."""
    from engine.errors import HeirloomError
    from engine.models import Registry

    try:
        pack = Registry().for_task("scratch-detect")
        value = float(pack.manifest.options.get("threshold", fallback))
    except (HeirloomError, TypeError, ValueError):
        return fallback
    low, high = RANGES["scratch_threshold"]
    return round(min(high, max(low, value)), 2)


def user_folder() -> Path:
    """Per-user folder for settings and autosaves (``$HEIRLOOM_HOME`` wins)."""
    home = os.environ.get("HEIRLOOM_HOME")
    if home:
        return Path(home)
    import platformdirs

    return Path(platformdirs.user_data_dir("Heirloom", appauthor=False))


def settings_store() -> QSettings:
    """The ini-backed store; never the registry, so tests can isolate it by folder."""
    return QSettings(str(user_folder() / "settings.ini"), QSettings.Format.IniFormat)


def _coerce(value: object, default: object) -> object:
    """``value`` as the type of ``default``; raises ValueError or TypeError when it is not."""
    if isinstance(default, bool):
        text = str(value).lower()
        if text not in ("true", "false", "1", "0"):
            raise ValueError(value)
        return text in ("true", "1")
    if isinstance(default, int):
        return int(str(value))
    if isinstance(default, float):
        number = float(str(value))
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    if isinstance(default, list):
        if value is None or value == "":
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return str(value)


def _stored_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(Settings) if f.metadata.get("stored", True)]


def load_settings(store: QSettings | None = None) -> Settings:
    """Read the stored settings; unknown, invalid or newer-schema values become defaults.

    Never raises for what is in the file: a value that is not of its type or out of its
    range is reset (numbers are clamped into :data:`RANGES`) and named in ``reset``.
    """
    store = store or settings_store()
    settings = Settings()
    reset: list[str] = []
    try:
        stored_schema = int(str(store.value("schema", SCHEMA_VERSION)))
    except ValueError:
        stored_schema = SCHEMA_VERSION
        reset.append("schema")
    if stored_schema > SCHEMA_VERSION:
        return settings  # written by a newer Heirloom: do not guess at its meaning
    for spec in _stored_fields():
        if spec.name == "schema" or not store.contains(spec.name):
            continue
        default = getattr(settings, spec.name)
        try:
            setattr(settings, spec.name, _coerce(store.value(spec.name), default))
        except (TypeError, ValueError):
            reset.append(spec.name)
    if settings.device not in DEVICES:
        settings.device = Settings.device
        reset.append("device")
    for name, (low, high) in RANGES.items():
        value = getattr(settings, name)
        if not low <= value <= high:
            setattr(settings, name, type(value)(min(high, max(low, value))))
            reset.append(name)
    settings.reset = reset
    return settings


def save_settings(settings: Settings, store: QSettings | None = None) -> None:
    """Store every setting (not the ``reset`` notice) and flush, so a crash keeps them."""
    store = store or settings_store()
    for spec in _stored_fields():
        store.setValue(spec.name, getattr(settings, spec.name))
    store.sync()
