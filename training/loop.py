"""What every trainer needs: resumable checkpoints, a time budget, a metrics log.

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
from collections.abc import Callable
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


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """Exponential moving average of weights (what DDPM and many GANs sample with)."""
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        for e, b in zip(ema.buffers(), model.buffers(), strict=True):
            e.copy_(b)


def trainer_arguments(
    description: str, run: str, minutes: float, steps: int, out: Path
) -> argparse.ArgumentParser:
    """The options every supervised trainer shares (run folder, budget, batch, export)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--run", default=run, help="run folder under runs/")
    parser.add_argument("--minutes", type=float, default=minutes, help="training time budget")
    parser.add_argument("--steps", type=int, default=steps, help="step budget (cosine schedule)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument(
        "--from-pack",
        type=Path,
        help="a new run starts from this pack's weights (e.g. the shipped one) instead of random",
    )
    parser.add_argument("--size", type=int, default=128, help="training crop side")
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
    ``loss_of(*batch)`` is one step's loss. The workers start before the net moves to
    the device (they never touch it), and the run records how it was trained."""
    batches = trainer_batches(make, paths, args, seed=run.step)
    modules["net"].to(args.device)
    record_setup(run, args)

    def step_loss() -> torch.Tensor:
        return loss_of(*next(batches))

    fit(run, modules, step_loss, lr=lr, minutes=args.minutes, steps=args.steps)


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
    """Adam steps until the budget is spent: cosine-decayed lr, clipped gradients.

    ``modules`` must hold the net as "net" and its optimiser as "opt"; all of it is
    checkpointed every ``save_every`` steps and at the end. Clipping matters for our
    nets without normalisation layers, where a rare spike would otherwise diverge.
    """
    net, opt = modules["net"], modules["opt"]
    params = list(net.parameters())
    net.train()
    running: list[float] = []
    run.start()
    while budget_left(run, minutes, steps):
        progress = min(1.0, max(run.step / steps, run.elapsed / (minutes * 60)))
        for group in opt.param_groups:
            group["lr"] = 1e-5 + (lr - 1e-5) * 0.5 * (1 + math.cos(math.pi * progress))
        loss = step_loss()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        run.step += 1
        running.append(loss.item())
        if run.step % log_every == 0:
            run.log(loss=round(sum(running) / len(running), 4), lr=opt.param_groups[0]["lr"])
            running = []
        if run.step % save_every == 0:
            run.save(modules)
    run.finish(modules)
