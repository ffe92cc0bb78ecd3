"""`make models`: rebuild every bundled model pack from its trainer or exporter.

Runs one step at a time (never two trainings at once), each resumable: a second
`make models` continues a run that was stopped. Long: about two hours on 2 cores.

    python -m training.build_models [STEP ...]     # default: all, in this order
"""

from __future__ import annotations

import subprocess
import sys

STEPS: dict[str, list[str]] = {
    "corpus": ["training.data.corpus"],
    "samples": ["training.data.make_samples"],
    "mtcnn": ["training.convert.mtcnn"],
    "scratch": ["training.train_scratch"],
    "restore": ["training.train_restore"],
    "sketch-l1": ["training.train_pix2pix", "--l1-only"],  # the card's L1-only comparison
    "sketch": ["training.train_pix2pix"],
    "sketch-into": ["training.train_sketch_into"],
    "ddpm": ["training.train_ddpm"],
}


def main(argv: list[str] | None = None) -> int:
    names = (sys.argv[1:] if argv is None else argv) or list(STEPS)
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        print(f"unknown step(s): {', '.join(unknown)}; known: {', '.join(STEPS)}", file=sys.stderr)
        return 2
    for name in names:
        module, *args = STEPS[name]
        print(f"== {name}: python -m {module} {' '.join(args)}", flush=True)
        code = subprocess.call([sys.executable, "-m", module, *args])
        if code != 0:
            print(f"step {name} failed with exit code {code}", file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
