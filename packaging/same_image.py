"""Exit 0 when two images agree within 1/255 per pixel, else say where and exit 1.

`make package-test` compares the frozen app's restore output with the source
install's: a build that bundles another library version must not change results.
"""

import sys

import numpy as np
from PIL import Image

TOLERANCE = 1  # 8-bit levels


def main() -> int:
    first, second = (np.asarray(Image.open(p), dtype=np.int16) for p in sys.argv[1:3])
    if first.shape != second.shape:
        print(f"different sizes: {first.shape} and {second.shape}")
        return 1
    worst = int(np.abs(first - second).max())
    print(f"largest difference: {worst}/255 (allowed: {TOLERANCE})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
