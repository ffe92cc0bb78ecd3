"""`make demo` (``python -m engine.cli.demo OUT``): the main jobs, headless, on the
bundled samples, results in ``OUT`` (``out/``).

Each step is a plain ``heirloom`` command line, printed before it runs, so the demo
doubles as a tour of the CLI. A step whose model pack is not installed is skipped
with the reason, never faked.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from engine import cli
from engine.errors import PackError
from engine.models import Registry

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def steps(out: Path) -> list[tuple[str | None, list[str]]]:
    """(task whose pack the step needs, or None; heirloom arguments)."""
    restore = [
        (
            "restore",
            [
                "restore",
                str(photo),
                "-o",
                str(out / f"restored_{photo.stem.removeprefix('old_')}.png"),
                "--save-mask",
                str(out / f"mask_{photo.stem.removeprefix('old_')}.png"),
                "--overwrite",
            ],
        )
        for photo in sorted(SAMPLES.glob("old_*.jpg"))
    ]
    return [
        (None, ["info"]),
        (None, ["models", "list"]),
        (None, ["models", "verify"]),
        *restore,
        *sketch_steps(out),
        *diffusion_steps(out),
    ]


def sketch_steps(out: Path) -> list[tuple[str | None, list[str]]]:
    """Trace a held-out sample photo's edges, then generate a photo from that drawing."""
    edges = out / "edges_LadyBird.png"
    trace = ["edges", str(SAMPLES / "clean_LadyBird.jpg"), "-o", str(edges), "--overwrite"]
    generate = ["sketch", str(edges), "-o", str(out / "sketch_LadyBird.png"), "--overwrite"]
    return [(None, trace), ("sketch2photo", generate)]


def diffusion_steps(out: Path) -> list[tuple[str | None, list[str]]]:
    """Samples with a denoising GIF, then RePaint and SDEdit on the sample's damage mask."""
    photo, mask = SAMPLES / "old_grace_hopper.jpg", SAMPLES / "old_grace_hopper_mask.png"
    previews = ["--previews", str(out / "diffusion_frames"), "--gif"]
    generate = ["diffuse", "generate", "-o", str(out / "diffusion_sample.png"), "--count", "4"]
    inpaint = ["diffuse", "inpaint", str(photo), "--mask", str(mask)]
    inpaint += ["-o", str(out / "inpainted_grace_hopper.png"), "--steps", "20"]
    edit = ["diffuse", "edit", str(photo), "--mask", str(mask), "--strength", "0.5"]
    edit += ["-o", str(out / "edited_grace_hopper.png"), "--steps", "40"]
    return [
        ("ddpm-eps", [*generate, "--steps", "50", "--seed", "1", *previews, "--overwrite"]),
        ("ddpm-eps", [*inpaint, "--jump-n-sample", "1", "--seed", "1", "--overwrite"]),
        ("ddpm-eps", [*edit, "--seed", "1", "--overwrite"]),
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "out")
    out.mkdir(parents=True, exist_ok=True)
    registry = Registry()
    failures = 0
    for task, command in steps(out):
        print(f"\n$ heirloom {shlex.join(command)}", flush=True)
        if task is not None:
            try:
                registry.for_task(task)
            except PackError as exc:
                print(f"skipped: {exc}")
                continue
        code = cli.main(command)
        if code != 0:
            failures += 1
            print(f"(exit code {code})")
    print(
        f"\ndemo finished: results in {out.resolve()}"
        + (f", {failures} step(s) failed" if failures else "")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
