"""Print what a built app's folder weighs, by part, in MB (10^6 bytes).

Usage: ``python packaging/sizes.py dist/Heirloom``. The parts are the ones the size
budgets are argued about in packaging/README.md; symlinks count nothing (the file
they point to is counted once).
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from pathlib import Path

# First match wins; paths are relative to the app folder
PARTS = [
    ("OpenCV (cv2 and its FFmpeg, AV1 codecs, OpenBLAS)", r"_internal/(cv2|opencv_[a-z_]+\.libs)/"),
    ("Qt for Python (PySide6, shiboken6; ICU data in it)", r"_internal/(PySide6|shiboken6)/"),
    ("onnxruntime", r"_internal/onnxruntime/"),
    ("numpy (and its OpenBLAS)", r"_internal/numpy(\.libs)?/"),
    ("Pillow", r"_internal/(PIL|pillow\.libs)/"),
    ("model packs", r"_internal/resources/models/"),
    (
        "Python (libpython, extension modules, the app's bytecode)",
        r"(_internal/(libpython[^/]*|python3[^/]*/.*|base_library\.zip)|Heirloom)$",
    ),
    (
        "build machine's libraries (X11/xcb, GLib, fontconfig, libstdc++, OpenSSL, ...)",
        r"_internal/lib[^/]*\.so[^/]*$",
    ),
]


def sizes(app: Path) -> Counter[str]:
    """Bytes per part of ``app``; what no part claims is "everything else"."""
    found: Counter[str] = Counter()
    for folder, _, names in os.walk(app):
        for name in names:
            path = Path(folder) / name
            if path.is_symlink():
                continue
            relative = path.relative_to(app).as_posix()
            part = next((p for p, rule in PARTS if re.match(rule, relative)), "everything else")
            found[part] += path.stat().st_size
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", type=Path, help="the app folder, e.g. dist/Heirloom")
    found = sizes(parser.parse_args().app)
    for part, size in found.most_common():
        print(f"{size / 1e6:7.1f} MB  {part}")
    print(f"{sum(found.values()) / 1e6:7.1f} MB  in all")


if __name__ == "__main__":
    main()
