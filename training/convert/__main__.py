"""``python -m training.convert KIND SOURCE -o PACK_DIR``: official weights -> model pack.

To add a converter, add one entry to :data:`CONVERTERS`: a module exposing ``HELP``
(one line), ``add_arguments(parser)`` for its own options and ``run(args)`` returning
the written ``ModelPack`` or a list of them.
Every converter gets ``source``, ``-o/--output``, ``--name`` and ``--overwrite``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

from engine.errors import HeirloomError
from training.export import ParityError

CONVERTERS: dict[str, str] = {
    "pix2pix": "training.convert.pix2pix",
    "ddpm": "training.convert.ddpm",
    "bopbtl": "training.convert.bopbtl",
    "mtcnn": "training.convert.mtcnn",
    "spandrel": "training.convert.spandrel",
}


def _converter(kind: str) -> ModuleType:
    return importlib.import_module(CONVERTERS[kind])


def build_parser(prog: str = "python -m training.convert") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Convert official weights to a pack.")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind in CONVERTERS:
        module = _converter(kind)
        sub = kinds.add_parser(kind, help=module.HELP, description=module.HELP)
        sub.add_argument("source", type=Path, help="checkpoint file or model folder")
        sub.add_argument("-o", "--output", type=Path, required=True, help="pack folder to write")
        sub.add_argument("--name", help="pack name (default: the output folder's name)")
        sub.add_argument("--overwrite", action="store_true", help="replace an existing pack")
        module.add_arguments(sub)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m training.convert") -> int:
    """Run one conversion; user errors print one line and return 2, parity failures 1."""
    args = build_parser(prog).parse_args(argv)
    try:
        result = _converter(args.kind).run(args)
    except (HeirloomError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ParityError as exc:
        print(f"error: the exported graph does not match torch: {exc}", file=sys.stderr)
        return 1
    for pack in result if isinstance(result, list) else [result]:
        print(f"wrote {pack.manifest.task} pack '{pack.name}' to {pack.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
