"""`make bench`: run every ``bench/bench_*.py`` and write JSON + a Markdown table.

    python -m bench OUT_DIR [NAME ...]     # NAME: e.g. restore, sketch (default: all)

Each module exposes ``run() -> list[Row]``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from pathlib import Path

from bench.common import Row, markdown


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "out/bench")
    wanted = set(args[1:])
    out.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{path.stem}")
        new = module.run()
        for row in new:
            print(f"  {row.case}: {row.value:.4g} {row.unit} {row.target}", flush=True)
        rows += new
    (out / "results.json").write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
    (out / "results.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
