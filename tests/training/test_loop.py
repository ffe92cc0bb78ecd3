"""The training clock: cards report the time spent training, not exporting or measuring."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training import loop
from training.loop import Run, fit


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A fake monotonic clock the test moves by hand."""
    now = [100.0]
    monkeypatch.setattr(loop.time, "monotonic", lambda: now[0])
    return now


def test_the_clock_runs_only_between_start_and_finish(tmp_path: Path, clock) -> None:
    net = torch.nn.Linear(2, 1)
    run = Run("r", root=tmp_path)
    clock[0] += 50  # building nets, loading the corpus
    assert run.elapsed == 0
    run.start()
    clock[0] += 30
    assert run.elapsed == 30
    run.finish({"net": net})
    clock[0] += 600  # measuring and exporting
    assert run.elapsed == 30

    again = Run("r", root=tmp_path)
    assert again.resume({"net": torch.nn.Linear(2, 1)})
    clock[0] += 40  # an export-only rerun
    assert again.elapsed == 30
    again.start()
    clock[0] += 5
    assert again.elapsed == 35


def test_fit_counts_its_steps_and_stops_its_clock(tmp_path: Path, clock) -> None:
    net = torch.nn.Linear(2, 1)
    modules = {"net": net, "opt": torch.optim.Adam(net.parameters(), lr=1e-3)}
    run = Run("fit", root=tmp_path)
    x = torch.ones(4, 2)

    def step_loss() -> torch.Tensor:
        clock[0] += 1.0  # every step takes a second
        return net(x).pow(2).mean()

    fit(run, modules, step_loss, lr=1e-3, minutes=10, steps=7, log_every=100)
    assert run.step == 7
    assert run.elapsed == 7
    clock[0] += 100
    assert run.elapsed == 7
    assert torch.load(run.checkpoint, weights_only=False)["seconds"] == 7


def test_a_run_remembers_what_its_net_was_built_with(tmp_path: Path) -> None:
    run = Run("wide", root=tmp_path)
    assert run.saved_extra() == {}
    run.extra["base"] = 32
    run.save({"net": torch.nn.Linear(2, 1)})
    assert Run("wide", root=tmp_path).saved_extra() == {"base": 32}


def test_the_card_line_says_how_and_where_a_run_was_trained(tmp_path: Path) -> None:
    run = Run("old", root=tmp_path, step=5500, seconds=3840.0)
    assert run.extra == {}
    assert loop.setup_summary(run) == "5500 steps of batch 8, 64 minutes on a 2-core CPU (no GPU)"
    args = loop.trainer_arguments("", "x", 1, 1, tmp_path).parse_args(
        ["--batch", "16", "--reuse", "2"]
    )
    loop.record_setup(run, args)
    line = loop.setup_summary(run)
    assert line.startswith("5500 steps of batch 16 (each batch used 2 times")
    assert "CPU (no GPU)" in line


def test_train_sets_each_steps_rate_then_runs_its_hook_and_logs_the_means(
    tmp_path: Path, clock
) -> None:
    net = torch.nn.Linear(2, 1)
    ema = torch.nn.Linear(2, 1).requires_grad_(False)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    modules = {"net": net, "ema": ema, "opt": opt}
    rates: list[float] = []

    def step() -> dict[str, float]:
        clock[0] += 1.0
        rates.append(opt.param_groups[0]["lr"])
        return {"loss": float(len(rates))}

    hooked: list[int] = []
    ema_step = loop.ema_hook(ema, net, 0.999)
    apart = (ema.weight - net.weight).abs().max().item()

    def after(done: int) -> None:
        hooked.append(done)
        ema_step(done)

    run = Run("skeleton", root=tmp_path)
    loop.train(
        run, modules, step, lr=loop.warm_up(1.0, 4), minutes=10, steps=6, log_every=4,
        after_step=after,
    )  # fmt: skip
    assert rates == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0] and hooked == [1, 2, 3, 4, 5, 6]
    assert [(r["step"], r["loss"]) for r in run.history()] == [(4, 2.5), (6, 5.5)]  # + the rest
    # the net did not move (lr on a constant loss); early EMA steps have a short memory
    assert (ema.weight - net.weight).abs().max().item() < 0.01 * apart


def test_every_trainer_takes_the_skeletons_options() -> None:
    from training import train_ddpm, train_pix2pix, train_restore, train_scratch

    for trainer in (train_ddpm, train_pix2pix, train_restore, train_scratch):
        with pytest.raises(SystemExit) as done:
            trainer.main(["--help"])
        assert done.value.code == 0


def test_export_only_needs_a_checkpoint(tmp_path: Path) -> None:
    args = loop.trainer_arguments("", "none", 1, 1, tmp_path).parse_args(
        ["--runs-root", str(tmp_path), "--export-only"]
    )
    with pytest.raises(SystemExit, match="has no checkpoint"):
        loop.open_run(args, {"net": torch.nn.Linear(2, 1)})
