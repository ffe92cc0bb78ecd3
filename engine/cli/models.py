"""``heirloom models list | verify [NAME] | import PACK_DIR|CHECKPOINT | supported``.

A checkpoint file (``.pth``, ``.safetensors``, ``.ckpt``) is imported by the
training-side converter (``python -m training.convert spandrel``) in a process of its
own: it needs torch and spandrel, which the engine never imports.
"""

from __future__ import annotations

import argparse
import importlib.util
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
    from engine.checkpoints import is_checkpoint
    from engine.models import Registry

    if is_checkpoint(args.path):
        return import_checkpoint(args)
    if args.name:
        raise HeirloomError("--name is for checkpoints; a pack folder keeps its manifest's name")
    registry = Registry()
    pack = registry.import_pack(args.path, overwrite=args.overwrite)
    print(f"imported {pack.name} ({pack.manifest.task}) into {pack.path}")
    card = pack.card_path.read_text(encoding="utf-8").strip().splitlines()
    print("\n".join(card[:12]))
    return 0


def import_checkpoint(args: argparse.Namespace) -> int:
    from engine.checkpoints import import_checkpoint as convert
    from engine.models import Registry

    pack, report = convert(args.path, Registry(), args.name, args.overwrite)
    print(report or f"wrote {pack.manifest.task} pack '{pack.name}' to {pack.path}")
    return 0


def supported(args: argparse.Namespace) -> int:
    from engine.checkpoints import TRAINING_INSTALL, converter_error, run_training_module

    if importlib.util.find_spec("training") is None:
        raise HeirloomError(f"checkpoint import is not part of this build; {TRAINING_INSTALL}")
    done = run_training_module("training.convert.spandrel_archs")
    if done.returncode != 0:
        raise HeirloomError(converter_error(done))
    print(done.stdout, end="")
    return 0
