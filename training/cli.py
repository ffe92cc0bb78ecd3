"""``heirloom-train``: the training-side command line (conversions for now)."""

from __future__ import annotations

import sys

USAGE = "usage: heirloom-train convert KIND SOURCE -o PACK_DIR [options]  (KIND: see --help)"


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``heirloom-train COMMAND ...``; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["convert"]:
        from training.convert.__main__ import main as convert

        return convert(args[1:], prog="heirloom-train convert")
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
