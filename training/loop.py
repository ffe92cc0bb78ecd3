"""The trainer skeleton every trainer is built on: arguments, resume, batches, the loop.

A trainer (``train_*.py``) supplies its nets, one step function and its evaluation;
this module supplies the rest, the same way for all of them:

- :func:`trainer_arguments`: run folder, time and step budget, batch, crop size,
  ``--device``, ``--workers``, ``--reuse``, threads, ``--export-only``/``--train-only``;
- :func:`open_run`: resume from the run's checkpoint (or warm-start a new run);
- :func:`batches`: batches made in worker processes and moved to the device, and the
  record of how the run was trained (:func:`record_setup`, shown on model cards);
- :func:`train`: the loop, with a learning-rate schedule (:func:`cosine`,
  :func:`warm_up`, :func:`hold_then_decay`) and an after-step hook (:func:`ema_hook`),
  logging, periodic checkpoints and the training clock.

Runs live in ``runs/<name>/`` (git-ignored): ``checkpoint.pt`` (written to a
temporary file and renamed, so a kill mid-save never corrupts it), ``log.jsonl``
(one JSON object per logged step) and whatever the trainer exports. Restarting a
trainer with the same run folder continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from training.data.batches import MakeBatch, trainer_batches

RUNS = Path(__file__).resolve().parent.parent / "runs"


@dataclass
class Run:
    """A run folder plus the counters that survive a restart."""

    name: str
    root: Path = RUNS
    step: int = 0
    seconds: float = 0.0  # training time spent before the clock last started
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dir = Path(self.root) / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self._started: float | None = None  # the clock runs only while training

    def start(self) -> None:
        """Start the training clock (model cards report training time, not export time)."""
        if self._started is None:
            self._started = time.monotonic()

    def finish(self, modules: dict[str, Any]) -> None:
        """Stop the clock and write the final checkpoint."""
        self.seconds, self._started = self.elapsed, None
        self.save(modules)

    @property
    def checkpoint(self) -> Path:
        return self.dir / "checkpoint.pt"

    @property
    def elapsed(self) -> float:
        """Training seconds including earlier sessions of this run."""
        running = 0.0 if self._started is None else time.monotonic() - self._started
        return self.seconds + running

    def resume(self, modules: dict[str, Any]) -> bool:
        """Load state into ``modules`` (nets, optimisers, EMA) if a checkpoint exists."""
        if not self.checkpoint.exists():
            return False
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=False)
        for key, module in modules.items():
            module.load_state_dict(state["modules"][key])
        self.step, self.seconds = state["step"], state["seconds"]
        self.extra = state.get("extra", {})
        self._started = None
        return True

    def saved_extra(self) -> dict[str, Any]:
        """The ``extra`` of the checkpoint on disk (e.g. a net's width, needed to build the
        net before :meth:`resume` can load it); empty for a new run."""
        if not self.checkpoint.exists():
            return {}
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=False)
        return state.get("extra", {})

    def save(self, modules: dict[str, Any]) -> None:
        state = {
            "modules": {k: m.state_dict() for k, m in modules.items()},
            "step": self.step,
            "seconds": self.elapsed,
            "extra": self.extra,
        }
        partial = self.checkpoint.with_suffix(".part")
        torch.save(state, partial)
        os.replace(partial, self.checkpoint)

    def log(self, **values: Any) -> None:
        record = {"step": self.step, "minutes": round(self.elapsed / 60, 2), **values}
        with open(self.dir / "log.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)

    def history(self) -> list[dict[str, Any]]:
        path = self.dir / "log.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def record_setup(run: Run, args: argparse.Namespace) -> None:
    """Keep what a model card must state about how the net was trained (the latest
    session's batch, reuse and machine) with the run, so an export elsewhere reports it."""
    if args.device.startswith("cuda"):
        machine = (
            f"one {torch.cuda.get_device_name(args.device)} GPU, batches made by "
            f"{args.workers} worker processes of a {os.cpu_count()}-core CPU"
        )
    else:
        machine = f"a {os.cpu_count()}-core CPU (no GPU)"
    run.extra.update(batch=args.batch, reuse=args.reuse, hardware=machine)


def setup_summary(run: Run) -> str:
    """ "N steps of batch B ..., M minutes on MACHINE" for a card (runs from before
    :func:`record_setup` were all batch 8 on this 2-core CPU)."""
    extra = run.extra
    reuse = extra.get("reuse", 1)
    again = f" (each batch used {reuse} times, flipped or transposed)" if reuse > 1 else ""
    machine = extra.get("hardware", "a 2-core CPU (no GPU)")
    start = f", continuing from {extra['continued_from']}" if extra.get("continued_from") else ""
    return (
        f"{run.step} steps of batch {extra.get('batch', 8)}{again}, "
        f"{run.elapsed / 60:.0f} minutes on {machine}{start}"
    )


def budget_left(run: Run, minutes: float, steps: int) -> bool:
    """True while both the step count and the wall-clock budget allow another step."""
    return run.step < steps and run.elapsed < minutes * 60


# --- the arguments every trainer takes ------------------------------------------------


def trainer_arguments(
    description: str | None,
    run: str | None,
    minutes: float | None,
    steps: int,
    out: Path,
    *,
    batch: int = 8,
    size: int = 128,
    warm_start: bool = True,
) -> argparse.ArgumentParser:
    """The options every trainer shares: run folder, budget, batches (size, device,
    workers, reuse), threads, export; a trainer adds its own to the parser it gets.

    ``warm_start`` adds ``--from-pack`` (a new run starts from a pack's weights) for the
    trainers whose packs can be loaded back into their nets (:mod:`training.warm_start`).
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", default=run, help="run folder under the runs root")
    parser.add_argument(
        "--runs-root", "--runs-dir", type=Path, default=RUNS, help="where run folders live"
    )
    parser.add_argument("--minutes", type=float, default=minutes, help="training time budget")
    parser.add_argument("--steps", type=int, default=steps, help="step budget")
    parser.add_argument("--batch", type=int, default=batch)
    if warm_start:
        parser.add_argument(
            "--from-pack",
            type=Path,
            help="a new run starts from this pack's weights (e.g. the shipped one), not random",
        )
    parser.add_argument("--size", type=int, default=size, help="training crop side")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--workers", type=int, default=0, help="processes making batches (0: in the trainer)"
    )
    parser.add_argument(
        "--reuse",
        type=int,
        default=1,
        choices=range(1, 9),
        metavar="1-8",
        help="steps per batch, each in another orientation",
    )
    parser.add_argument("--device", default="cpu", help="torch device to train on (cpu, cuda)")
    parser.add_argument("--export-only", action="store_true", help="measure + export only")
    parser.add_argument(
        "--train-only", action="store_true", help="train, skip measuring and export"
    )
    parser.add_argument("--out", type=Path, default=out, help="pack folder to write")
    return parser


def open_run(
    args: argparse.Namespace,
    modules: dict[str, Any],
    run: Run | None = None,
    warm_start: Callable[[Path], str] | None = None,
) -> Run:
    """The run named by ``args`` with ``modules`` resumed from its checkpoint, or, for a new
    run given ``--from-pack``, started from that pack's weights (``warm_start`` loads them
    and says from what). ``--export-only`` without a checkpoint is refused."""
    run = run or Run(args.run, args.runs_root)
    if args.export_only and not run.checkpoint.exists():
        raise SystemExit(f"nothing to export: {run.dir} has no checkpoint.pt; train first")
    if run.resume(modules):
        print(f"resumed {run.dir} at step {run.step}")
    elif getattr(args, "from_pack", None) and warm_start is not None:
        run.extra["continued_from"] = warm_start(args.from_pack)
        print(f"starting from {run.extra['continued_from']}")
    return run


def batches(
    make: MakeBatch,
    paths: list[Path],
    args: argparse.Namespace,
    run: Run,
    scale: tuple[float, float] = (0.35, 1.0),
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Training batches as ``args`` say (workers, device, reuse), seeded by the run's step
    so a resumed run does not replay its first crops; records how the run is trained.
    Call it before moving nets to the device: its workers start now and never use them."""
    stream = trainer_batches(make, paths, args, seed=run.step, scale=scale)
    record_setup(run, args)
    return stream


# --- learning rates and per-step hooks ------------------------------------------------

LrSchedule = Callable[[float, int], float]
"""(progress 0..1 of the budget, steps done) -> learning rate."""


def cosine(lr: float, floor: float = 1e-5) -> LrSchedule:
    """Cosine decay from ``lr`` to ``floor`` over the budget."""
    return lambda progress, step: floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def warm_up(lr: float, steps: int) -> LrSchedule:
    """A linear rise over the first ``steps`` steps, then constant (DDPM's recipe)."""
    return lambda progress, step: lr * min(1.0, (step + 1) / steps)


def hold_then_decay(lr: float) -> LrSchedule:
    """Constant for the first half of the budget, then linearly to zero (pix2pix's)."""
    return lambda progress, step: lr * min(1.0, 2.0 * (1.0 - progress))


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """Exponential moving average of weights (what DDPM and many GANs sample with)."""
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        for e, b in zip(ema.buffers(), model.buffers(), strict=True):
            e.copy_(b)


def ema_hook(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> Callable[[int], None]:
    """After each step: ``ema`` follows ``model``, with a short memory early in the run
    (decay ``(1 + step) / (10 + step)`` until that exceeds ``decay``)."""

    def after(step: int) -> None:
        ema_update(ema, model, min(decay, (1 + step) / (10 + step)))

    return after


# --- the loop ---------------------------------------------------------------------------

Step = Callable[[], dict[str, float]]
"""One optimisation step (forward, backward, optimiser steps); returns what to log."""


def train(
    run: Run,
    modules: dict[str, Any],
    step: Step,
    *,
    lr: LrSchedule,
    minutes: float,
    steps: int,
    log_every: int = 100,
    save_every: int = 500,
    after_step: Callable[[int], None] | None = None,
    digits: int = 4,
) -> None:
    """Steps until the step or time budget is spent, for any trainer.

    Before each step every optimiser in ``modules`` gets ``lr(progress, run.step)``;
    after it ``after_step(run.step)`` runs (e.g. :func:`ema_hook`). The means of what the
    steps return are logged every ``log_every`` steps (and at the end), everything in
    ``modules`` is checkpointed every ``save_every`` steps and at the end, and the
    training clock runs only inside this call.
    """
    optimisers = [m for m in modules.values() if isinstance(m, torch.optim.Optimizer)]
    logged: dict[str, list[float]] = {}
    rate = 0.0

    def log() -> None:
        means = {k: round(sum(v) / len(v), digits) for k, v in logged.items() if v}
        run.log(**means, lr=round(rate, 8))
        logged.clear()

    run.start()
    while budget_left(run, minutes, steps):
        progress = min(1.0, max(run.step / steps, run.elapsed / (minutes * 60)))
        rate = lr(progress, run.step)
        for opt in optimisers:
            for group in opt.param_groups:
                group["lr"] = rate
        for key, value in step().items():
            logged.setdefault(key, []).append(value)
        run.step += 1
        if after_step is not None:
            after_step(run.step)
        if run.step % log_every == 0:
            log()
        if run.step % save_every == 0:
            run.save(modules)
    if logged:
        log()
    run.finish(modules)


def supervised_step(
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    step_loss: Callable[[], torch.Tensor],
    clip: float | None = 1.0,
) -> Step:
    """A :data:`Step` that minimises ``step_loss()``, with gradients clipped to ``clip``
    (our nets without normalisation layers would diverge on a rare spike otherwise)."""
    params = list(net.parameters())

    def step() -> dict[str, float]:
        loss = step_loss()
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        return {"loss": loss.item()}

    return step


def fit(
    run: Run,
    modules: dict[str, Any],
    step_loss: Callable[[], torch.Tensor],
    *,
    lr: float,
    minutes: float,
    steps: int,
    log_every: int = 100,
    save_every: int = 500,
) -> None:
    """:func:`train` for one net ("net") and its optimiser ("opt") on a loss:
    cosine-decayed Adam steps with clipped gradients."""
    net, opt = modules["net"], modules["opt"]
    net.train()
    train(
        run,
        modules,
        supervised_step(net, opt, step_loss),
        lr=cosine(lr),
        minutes=minutes,
        steps=steps,
        log_every=log_every,
        save_every=save_every,
    )


def fit_batches(
    run: Run,
    modules: dict[str, Any],
    make: MakeBatch,
    paths: list[Path],
    args: argparse.Namespace,
    loss_of: Callable[..., torch.Tensor],
    *,
    lr: float,
) -> None:
    """:func:`fit` on batches from ``make`` (workers, device and reuse as ``args`` say):
    ``loss_of(*batch)`` is one step's loss."""
    stream = batches(make, paths, args, run)
    modules["net"].to(args.device)

    def step_loss() -> torch.Tensor:
        return loss_of(*next(stream))

    fit(run, modules, step_loss, lr=lr, minutes=args.minutes, steps=args.steps)
