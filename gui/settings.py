"""The app's settings: one typed object with a schema version, stored in QSettings.

Defaults live in :class:`Settings` and nowhere else, so a first start, a reset and a
test all agree. QSettings is only the storage: values are read back through the
dataclass field types and a bad or missing value falls back to its default instead of
breaking start-up. The ini file lives under ``$HEIRLOOM_HOME`` when set (tests, a
portable install), else in the platform's config folder.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QSettings

SCHEMA_VERSION = 1
DEVICES = ("auto", "cuda", "cpu")
RECENT_LIMIT = 10


@dataclass
class Settings:
    """Everything the user can change; the defaults suit a laptop without a GPU."""

    device: str = "auto"  # auto | cuda | cpu
    tile_size: int = 512  # pixels per side; smaller uses less memory
    threads: int = 0  # 0 = every core (engine.runtime.default_threads)
    diffusion_steps: int = 50
    scratch_threshold: float = 0.5  # probability above which a pixel is damage
    restore_smoothing: float = 1.0  # share of the pre-pass's denoising kept (0: grain)
    live_mode: bool = True  # sketch: regenerate after every stroke
    autosave_minutes: float = 3.0
    recent_files: list[str] = field(default_factory=list)
    schema: int = SCHEMA_VERSION

    def remember(self, path: Path) -> None:
        """Put ``path`` first in the recent files, without duplicates."""
        text = str(Path(path).resolve())
        self.recent_files = [text] + [p for p in self.recent_files if p != text]
        del self.recent_files[RECENT_LIMIT:]


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
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
    if isinstance(default, int):
        return int(value)  # type: ignore[arg-type]
    if isinstance(default, float):
        return float(value)  # type: ignore[arg-type]
    if isinstance(default, list):
        if value is None or value == "":
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return str(value)


def load_settings(store: QSettings | None = None) -> Settings:
    """Read the stored settings; unknown, invalid or newer-schema values become defaults."""
    store = store or settings_store()
    settings = Settings()
    stored_schema = int(store.value("schema", SCHEMA_VERSION) or SCHEMA_VERSION)
    if stored_schema > SCHEMA_VERSION:
        return settings  # written by a newer Heirloom: do not guess at its meaning
    for spec in dataclasses.fields(Settings):
        if spec.name == "schema" or not store.contains(spec.name):
            continue
        default = getattr(settings, spec.name)
        try:
            setattr(settings, spec.name, _coerce(store.value(spec.name), default))
        except (TypeError, ValueError):
            continue
    if settings.device not in DEVICES:
        settings.device = "auto"
    settings.tile_size = min(4096, max(64, settings.tile_size))
    settings.diffusion_steps = min(1000, max(1, settings.diffusion_steps))
    settings.scratch_threshold = min(0.99, max(0.01, settings.scratch_threshold))
    settings.restore_smoothing = min(1.0, max(0.0, settings.restore_smoothing))
    return settings


def save_settings(settings: Settings, store: QSettings | None = None) -> None:
    store = store or settings_store()
    for key, value in dataclasses.asdict(settings).items():
        store.setValue(key, value)
    store.sync()
