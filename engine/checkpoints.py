"""Checkpoint files (``.pth``, ``.safetensors``, ``.ckpt``) become model packs through
the training-side converter (``python -m training.convert spandrel``), run as a child
process: it needs torch and spandrel, which the engine never imports (decision 0016).

``heirloom models import FILE`` and the app's Models › Import both call
:func:`import_checkpoint`, so the converter's command line and the way its one-line
errors become the engine's own are written once.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from engine.errors import HeirloomError
from engine.models import ModelPack, Registry, check_pack_name

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt")
TRAINING_INSTALL = "pip install 'heirloom[train]' (torch and spandrel)"


def is_checkpoint(path: Path) -> bool:
    """A checkpoint by its suffix, or any file (a pack is a folder)."""
    return path.suffix.lower() in CHECKPOINT_SUFFIXES or path.is_file()


def require_training_side(what: str) -> None:
    """Refuse in one line when the training side (torch, spandrel) is not installed;
    ``find_spec`` looks without importing, so the engine stays free of torch."""
    missing = [m for m in ("torch", "spandrel", "training") if importlib.util.find_spec(m) is None]
    if missing:
        raise HeirloomError(
            f"{what} needs {', '.join(missing)}, which this installation lacks; "
            f"install with: {TRAINING_INSTALL}"
        )


def run_training_module(*argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m ARGV`` in a process of its own, its output captured: the caller
    decides what a user sees (the CLI prints it, the app shows one line)."""
    return subprocess.run(
        [sys.executable, "-m", *argv], check=False, capture_output=True, text=True
    )


def converter_error(done: subprocess.CompletedProcess[str]) -> str:
    """The child's one-line ``error: ...`` without its prefix; an unexpected crash
    (a traceback) is reduced to its last line, so no caller ever shows a traceback."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    last = lines[-1] if lines else f"exit status {done.returncode}"
    return f"the checkpoint converter failed unexpectedly ({last})"


def pack_name_for(checkpoint: Path, name: str | None = None) -> str:
    """The given name, else one made from the file name (``My Compact x2.pth`` ->
    ``my-compact-x2``), checked against the pack-name rule."""
    stem = re.sub(r"[^a-z0-9._-]+", "-", checkpoint.stem.lower()).strip("-._")[:64]
    return check_pack_name(name or stem or "imported")


def import_checkpoint(
    checkpoint: Path, registry: Registry, name: str | None = None, overwrite: bool = False
) -> tuple[ModelPack, str]:
    """Convert ``checkpoint`` into the user's pack folder; return the installed pack and
    the converter's report. Every refusal is a one-line :class:`HeirloomError`, and
    the converter writes nothing when it refuses (it stages its output)."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise HeirloomError(f"checkpoint '{checkpoint}' does not exist")
    require_training_side("importing a checkpoint")
    name = pack_name_for(checkpoint, name)
    target = registry.user / name
    if target.exists() and not overwrite:
        raise HeirloomError(
            f"a model pack named '{name}' is already installed at {target}; "
            "use --overwrite to replace it or --name to choose another name"
        )
    argv = ["training.convert", "spandrel", str(checkpoint), "-o", str(target), "--name", name]
    done = run_training_module(*argv, *(["--overwrite"] if overwrite else []))
    if done.returncode != 0:
        raise HeirloomError(converter_error(done))
    return registry.get(name), done.stdout.strip()
