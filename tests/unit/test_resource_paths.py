"""Modules that find files beside themselves still find them (a moved module's
``Path(__file__)`` arithmetic fails quietly: a demo with no restore steps, a bench with
no photos)."""

from __future__ import annotations

from pathlib import Path

from engine.cli import demo
from engine.models import BUNDLED_DIR
from training.eval import holes


def test_the_demo_runs_every_step_on_files_that_exist(tmp_path: Path) -> None:
    steps = demo.steps(tmp_path)
    restores = [args for _, args in steps if args[0] == "restore"]
    assert len(restores) == len(list(demo.SAMPLES.glob("old_*.jpg"))) == 4
    for _, args in steps:
        inputs = [a for a in args if a.startswith(str(demo.SAMPLES))]
        assert all(Path(a).is_file() for a in inputs), args
    assert any(args[0] == "diffuse" for _, args in steps)


def test_the_bench_holes_come_from_the_bundled_held_out_photos() -> None:
    assert holes.SAMPLES.resolve() == BUNDLED_DIR.resolve().parents[1] / "resources" / "samples"
    assert len(holes.held_out_photos()) == 4
