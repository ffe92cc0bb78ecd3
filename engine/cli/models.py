"""``heirloom models list | verify [NAME] | import PACK_DIR``: the installed model packs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.errors import HeirloomError

HELP = "list, verify and import model packs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    inner = parser.add_subparsers(dest="models_command", required=True, parser_class=type(parser))
    inner.add_parser("list", help="installed packs")
    verify = inner.add_parser("verify", help="check sha256, graph and I/O of packs")
    verify.add_argument("name", nargs="?", help="one pack (default: all)")
    imp = inner.add_parser("import", help="validate a pack folder and copy it in")
    imp.add_argument("path", type=Path)
    imp.add_argument("--overwrite", action="store_true", help="replace a pack of that name")


def run(args: argparse.Namespace) -> int:
    return {"list": list_packs, "verify": verify, "import": import_pack}[args.models_command](args)


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

    registry = Registry()
    pack = registry.import_pack(args.path, overwrite=args.overwrite)
    print(f"imported {pack.name} ({pack.manifest.task}) into {pack.path}")
    card = pack.card_path.read_text(encoding="utf-8").strip().splitlines()
    print("\n".join(card[:12]))
    return 0
