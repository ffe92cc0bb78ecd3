"""``heirloom models list | verify [NAME] | import PACK_DIR|CHECKPOINT | supported``.

A checkpoint file (``.pth``, ``.safetensors``, ``.ckpt``) is imported by the
training-side converter (``python -m training.convert spandrel``) in a process of its
own: it needs torch and spandrel, which the engine never imports.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from engine.errors import HeirloomError

HELP = "list, verify and import model packs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    inner = parser.add_subparsers(dest="models_command", required=True, parser_class=type(parser))
    inner.add_parser("list", help="installed packs")
    verify = inner.add_parser("verify", help="check sha256, graph and I/O of packs")
    verify.add_argument("name", nargs="?", help="one pack (default: all)")
    imp = inner.add_parser(
        "import", help="copy in a pack folder, or convert a checkpoint (.pth, .safetensors)"
    )
    imp.add_argument("path", type=Path)
    imp.add_argument("--name", help="pack name for a checkpoint (default: from its file name)")
    imp.add_argument("--overwrite", action="store_true", help="replace a pack of that name")
    inner.add_parser("supported", help="architectures a checkpoint import accepts")


def run(args: argparse.Namespace) -> int:
    commands = {
        "list": list_packs,
        "verify": verify,
        "import": import_pack,
        "supported": supported,
    }
    return commands[args.models_command](args)


def list_packs(args: argparse.Namespace) -> int:
    from engine.models import Registry

    registry = Registry()
    packs = registry.packs()
    if not packs:
        print("no model packs installed")
    for pack in packs:
        m = pack.manifest
        print(f"{m.name:28s} {m.task:18s} {m.version:8s} {pack.origin:8s} {m.title}")
    for folder, reason in registry.broken.items():
        print(f"{folder.name:28s} BROKEN: {reason}")
    print(f"(user folder: {registry.user})")
    return 0


def verify(args: argparse.Namespace) -> int:
    from engine.models import Registry, verify_pack

    registry = Registry()
    packs = [registry.get(args.name)] if args.name else registry.packs()
    failures = 0
    for pack in packs:
        try:
            verify_pack(pack)
            print(f"ok      {pack.name} ({pack.origin})")
        except HeirloomError as exc:
            failures += 1
            print(f"FAILED  {pack.name}: {exc}", file=sys.stderr)
    if not args.name:
        for folder, reason in registry.broken.items():
            failures += 1
            print(f"FAILED  {folder.name}: {reason}", file=sys.stderr)
    if failures:
        return 2
    print(f"{len(packs)} pack(s) verified")
    return 0


def import_pack(args: argparse.Namespace) -> int:
    from engine.models import Registry

    if args.path.suffix.lower() in CHECKPOINT_SUFFIXES or args.path.is_file():
        return import_checkpoint(args)
    if args.name:
        raise HeirloomError("--name is for checkpoints; a pack folder keeps its manifest's name")
    registry = Registry()
    pack = registry.import_pack(args.path, overwrite=args.overwrite)
    print(f"imported {pack.name} ({pack.manifest.task}) into {pack.path}")
    card = pack.card_path.read_text(encoding="utf-8").strip().splitlines()
    print("\n".join(card[:12]))
    return 0


CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt")
TRAINING_INSTALL = "pip install 'heirloom[train]' (torch and spandrel)"


def _training_side(what: str) -> None:
    """Refuse in one line when the training side (torch, spandrel) is not installed."""
    missing = [m for m in ("torch", "spandrel", "training") if importlib.util.find_spec(m) is None]
    if missing:
        raise HeirloomError(
            f"{what} needs {', '.join(missing)}, which this installation lacks; "
            f"install with: {TRAINING_INSTALL}"
        )


def _training_command(*argv: str) -> int:
    """Run a training-side module as its own process; its output and one-line errors
    pass through (errors as ``heirloom: error: ...``, like every other command's)."""
    done = subprocess.run(
        [sys.executable, "-m", *argv], check=False, stderr=subprocess.PIPE, text=True
    )
    for line in done.stderr.splitlines():
        print(f"heirloom: {line}" if line.startswith("error:") else line, file=sys.stderr)
    return done.returncode


def import_checkpoint(args: argparse.Namespace) -> int:
    from engine.models import Registry, check_pack_name

    if not args.path.is_file():
        raise HeirloomError(f"checkpoint '{args.path}' does not exist")
    _training_side("importing a checkpoint")
    stem = re.sub(r"[^a-z0-9._-]+", "-", args.path.stem.lower()).strip("-._")[:64]
    name = check_pack_name(args.name or stem or "imported")
    target = Registry().user / name
    if target.exists() and not args.overwrite:
        raise HeirloomError(
            f"a model pack named '{name}' is already installed at {target}; "
            "use --overwrite to replace it or --name to choose another name"
        )
    argv = ["training.convert", "spandrel", str(args.path), "-o", str(target), "--name", name]
    return _training_command(*argv, *(["--overwrite"] if args.overwrite else []))


def supported(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("training") is None:
        raise HeirloomError(f"checkpoint import is not part of this build; {TRAINING_INSTALL}")
    return _training_command("training.convert.spandrel_archs")
