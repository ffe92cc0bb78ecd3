"""Print Heirloom's runtime requirements for one package variant, one per line.

``--cpu`` swaps onnxruntime-gpu for plain onnxruntime: the CPU build is made from its
own virtual environment (``make package CPU=1``), since both wheels install the same
``onnxruntime`` module and cannot live side by side.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def requirements(cpu: bool) -> list[str]:
    """The ``[project] dependencies`` of pyproject.toml, adjusted for the variant."""
    with open(PYPROJECT, "rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    if not cpu:
        return list(dependencies)
    kept = [d for d in dependencies if not re.match(r"onnxruntime(-gpu)?\b", d)]
    return [*kept, "onnxruntime>=1.18"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="plain onnxruntime instead of -gpu")
    print("\n".join(requirements(parser.parse_args().cpu)))


if __name__ == "__main__":
    main()
