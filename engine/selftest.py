"""``heirloom --self-test``: does this install (or this packaged app) really work?

A frozen build can lose a data file, a shared library or a lazily imported module
without failing to start; only running the work finds out. So the self-test verifies
every bundled model pack, runs each pipeline headless on a small bundled sample
(small, so the whole test takes seconds on a laptop CPU), checks that every output is
sane (its shape, finite values in [0, 1], not one flat colour), and runs a GUI check
that the caller supplies (the engine may not import Qt: ``gui.selftest`` opens the
main window offscreen). It prints one line per check and returns 0 or 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from engine import arrays, runtime
from engine.buildinfo import build_info
from engine.images import load_image
from engine.models import Registry, verify_pack

SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"
SIDE = 128  # long side of the samples fed to the pipelines: enough for a face, fast on CPU
STEPS = 4  # diffusion steps: each sampler's loop runs, not its quality
FLAT = 1.0 / 255.0  # an output whose values span less than one 8-bit level is one colour
GUI_TIMEOUT_S = 120

Check = Callable[[], str]
"""A check returns one line of detail, or raises to fail with the error's message."""


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    detail: str
    seconds: float


class SelfTestError(Exception):
    """An output that is the wrong shape, out of range, not finite, or flat."""


def check_image(name: str, image: np.ndarray, shape: tuple[int, ...]) -> None:
    """Raise :class:`SelfTestError` unless ``image`` is ``shape``, finite, in [0, 1], not flat."""
    if image.shape != shape:
        raise SelfTestError(f"{name} is {image.shape}, expected {shape}")
    values = np.asarray(image, dtype=np.float64)
    if not np.isfinite(values).all():
        raise SelfTestError(f"{name} has values that are not finite")
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise SelfTestError(f"{name} spans {low:.3f}..{high:.3f}, outside 0..1")
    if high - low < FLAT:
        raise SelfTestError(f"{name} is one flat value ({low:.3f})")


def sample(name: str, side: int = SIDE) -> np.ndarray:
    """A bundled sample photo scaled down to ``side`` px on its long side."""
    pixels = load_image(SAMPLES / name).pixels
    height, width = pixels.shape[:2]
    scale = side / max(height, width)
    return arrays.resize(pixels, max(1, round(width * scale)), max(1, round(height * scale)))


def sample_mask(name: str, shape: tuple[int, int]) -> np.ndarray:
    """A bundled damage mask at ``shape`` (HxW), 1 = damaged."""
    plane = arrays.luma(load_image(SAMPLES / name).pixels)
    return arrays.resize_plane(plane, shape[1], shape[0]) > 0.5


def pipeline_checks(registry: Registry, device: runtime.Device = "auto") -> dict[str, Check]:
    """One headless run of every pipeline on a small sample, each with its sanity check."""
    from engine.pipelines import diffusion
    from engine.pipelines.restore import RestoreOptions, detect_scratches, restore_photo
    from engine.pipelines.sketch import (
        IntoOptions,
        SketchOptions,
        sketch_into_photo,
        sketch_to_photo,
        trace_edges,
    )

    def scratches() -> str:
        photo = sample("old_LadyBird.jpg")
        result = detect_scratches(photo, RestoreOptions(device=device), registry=registry)
        check_image("damage probability", result.images["prob"], photo.shape[:2])
        found = float(result.images["mask"].mean())
        return f"{photo.shape[1]}x{photo.shape[0]}, {found:.1%} marked, {result.info['device']}"

    def restore() -> str:
        photo = sample("old_grace_hopper.jpg")
        result = restore_photo(photo, RestoreOptions(device=device), registry=registry)
        check_image("restored photo", result.images["restored"], photo.shape)
        faces = len(result.info.get("faces", []))
        return f"{photo.shape[1]}x{photo.shape[0]}, {faces} face(s), {result.info['device']}"

    def sketch() -> str:
        photo = sample("clean_LadyBird.jpg")
        edges = trace_edges(photo)
        check_image("edge map", edges, photo.shape[:2])
        result = sketch_to_photo(edges, SketchOptions(device=device), registry=registry)
        check_image("photo from sketch", result.images["photo"], (*photo.shape[:2], 3))
        return f"{photo.shape[1]}x{photo.shape[0]}, {result.info['device']}"

    def sketch_into() -> str:
        photo = arrays.rgb(sample("clean_LadyBird.jpg"))
        region = np.zeros(photo.shape[:2], np.float32)
        height, width = region.shape
        region[height // 4 : height // 2, width // 4 : width // 2] = 1.0
        options = IntoOptions(device=device)
        result = sketch_into_photo(
            photo, region, trace_edges(photo), options=options, registry=registry
        )
        redrawn = result.images["photo"]
        check_image("photo drawn into", redrawn, photo.shape)
        if not np.array_equal(redrawn[region == 0], photo[region == 0]):
            raise SelfTestError("drawing into the photo changed pixels outside its region")
        return f"{width}x{height}, {region.mean():.0%} redrawn, {result.info['device']}"

    def generate() -> str:
        options = diffusion.GenerateOptions(steps=STEPS, seed=1, device=device)
        result = diffusion.generate(options, registry=registry)
        image = result.images["image"]
        check_image("generated sample", image, (*image.shape[:2], 3))
        return f"{image.shape[1]}x{image.shape[0]}, {STEPS} steps"

    def inpaint() -> str:
        photo = sample("old_grace_hopper.jpg")
        mask = sample_mask("old_grace_hopper_mask.png", photo.shape[:2])
        options = diffusion.InpaintOptions(steps=STEPS, seed=1, draws=1, device=device)
        result = diffusion.inpaint(photo, mask, options, registry=registry)
        check_image("inpainted photo", result.images["image"], photo.shape)
        return f"{photo.shape[1]}x{photo.shape[0]}, {int(mask.sum())} px filled"

    def edit() -> str:
        photo = sample("clean_grace_hopper.jpg")
        options = diffusion.EditOptions(steps=STEPS, seed=1, strength=0.5, device=device)
        result = diffusion.edit(photo, options, registry=registry)
        check_image("edited photo", result.images["image"], photo.shape)
        return f"{photo.shape[1]}x{photo.shape[0]}, strength 0.5"

    return {
        "detect scratches": scratches,
        "restore": restore,
        "sketch": sketch,
        "sketch into a photo": sketch_into,
        "diffuse generate": generate,
        "diffuse inpaint": inpaint,
        "diffuse edit": edit,
    }


def pack_checks(registry: Registry) -> dict[str, Check]:
    """Every bundled pack: hashes, graph loads, inputs and outputs match the manifest."""
    checks: dict[str, Check] = {}
    for pack in registry.packs():

        def verify(pack=pack) -> str:
            verify_pack(pack)
            return f"{pack.manifest.task}, {pack.manifest.licence}"

        checks[f"pack {pack.name}"] = verify
    if not checks:
        checks["packs"] = _no_packs(registry)
    return checks


def _no_packs(registry: Registry) -> Check:
    def fail() -> str:
        raise SelfTestError(f"no model pack is bundled in {registry.bundled}")

    return fail


def gui_subprocess() -> str:
    """Open the app offscreen in a child process (``python -m gui.selftest``).

    The engine may not import Qt, and a QApplication has no place in a CLI process.
    """
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", "gui.selftest"],
        capture_output=True,
        text=True,
        env=env,
        timeout=GUI_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:  # Qt's own warnings go to stderr too: the reason is the last line
        reason = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise SelfTestError(reason[-1])
    return (done.stdout.strip().splitlines() or ["window opened and closed"])[-1]


def run_check(name: str, check: Check) -> Outcome:
    """Run one check; any exception fails it with a one-line reason."""
    started = time.monotonic()
    try:
        detail, ok = check(), True
    except Exception as exc:  # noqa: BLE001 - a self-test reports every failure and goes on
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
        detail, ok = reason, False
    return Outcome(name, ok, detail, time.monotonic() - started)


def run_self_test(
    gui_check: Check | None = gui_subprocess,
    registry: Registry | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Print the report; 0 when every check passed, else 1."""
    # bundled packs only: a user's own pack must not make the app's self-test pass or fail
    registry = registry or Registry(user=Path(os.devnull) / "none")
    print(build_info().line(), file=out)
    print(f"models run on: {runtime.device_report().summary('auto')}", file=out, flush=True)
    # the window first: in a fresh process its time to show is the app's cold start
    checks = {"gui": gui_check} if gui_check is not None else {}
    checks.update({**pack_checks(registry), **pipeline_checks(registry)})
    outcomes = []
    for name, check in checks.items():
        outcome = run_check(name, check)
        outcomes.append(outcome)
        status = "ok    " if outcome.ok else "FAILED"
        line = f"{status} {name:22s} {outcome.detail} ({outcome.seconds:.1f} s)"
        print(line, file=out, flush=True)
    failed = [o.name for o in outcomes if not o.ok]
    total = sum(o.seconds for o in outcomes)
    if failed:
        print(f"self-test FAILED: {', '.join(failed)} ({total:.1f} s)", file=out)
        return 1
    print(f"self-test passed: {len(outcomes)} checks in {total:.1f} s", file=out)
    return 0
