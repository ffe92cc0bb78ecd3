"""Train, measure and export the draw-into-a-photo generator (``heirloom-sketch-into``).

    python -m training.train_sketch_into --minutes 90      # runs/sketch-into; resumable
    python -m training.train_sketch_into --export-only     # measure + export the checkpoint

pix2pix (Isola et al. 2017) conditioned on more than edges: the U-Net generator gets the
**known pixels** of the photo (the region to redraw filled by OpenCV Telea, which it
learns to correct), the **region** mask, the **lines** drawn in it and optional
**colour hints** with their own mask, and redraws the region; a 70x70 PatchGAN judges
(conditions, photo) pairs, the photo composited as the engine composites it; the
objective is GAN + 100 * L1, the L1 taken inside the region (see :func:`region_l1`).
With the region covering the frame it is sketch-from-scratch, so one model also gives
whole drawings their colours. Cases come from ``training/data/sketch_cases.py``;
measuring and the card are in ``training/sketch_into_card.py``. For a 2-core CPU: ngf
32, 6 down-samplings (sizes multiples of 64), resize-conv decoder (decision 0006),
affine instance norm, batch 6 of 192 px crops, lr constant for half the budget then
linearly to zero.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.data.corpus import load_corpus
from training.data.patches import PatchSampler
from training.data.sketch_cases import SketchCase, make_case
from training.export import batchnorm_to_instancenorm
from training.loop import (
    Run,
    Step,
    batches,
    hold_then_decay,
    open_run,
    trainer_arguments,
)
from training.loop import train as train_loop
from training.nets.pix2pix import (
    NLayerDiscriminator,
    UnetGenerator,
    adversarial_step,
    init_weights,
)

PACK_DIR = Path(__file__).resolve().parent.parent / "resources" / "models" / "heirloom-sketch-into"
NAME = "heirloom-sketch-into"
RUN = "sketch-into"
LR = 2e-4
BETAS = (0.5, 0.999)
L1_WEIGHT = 100.0
OUTSIDE_WEIGHT = 0.1  # of the L1 outside the region (see region_l1)
INPUTS = ("known", "region", "edges", "hints", "hint_mask")  # the pack's input names
CHANNELS = {"known": 3, "region": 1, "edges": 1, "hints": 3, "hint_mask": 1}


@dataclass(frozen=True)
class Config:
    """What a run was started with; kept in the run folder so resumes match the net."""

    ngf: int = 32
    ndf: int = 32
    num_downs: int = 6
    size: int = 192
    batch: int = 6

    @property
    def side(self) -> int:
        return 2**self.num_downs


class SketchIntoGenerator(nn.Module):
    """The five conditions, concatenated, through one pix2pix U-Net that predicts a
    correction of ``known`` (the region filled by Telea): the classical fill is where it
    starts (its last conv zeroed by :func:`start_from_known`), as the restorer starts
    from the classical pre-pass (decision 0004)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        net = UnetGenerator(
            sum(CHANNELS.values()), 3, config.num_downs, config.ngf, "batch",
            use_dropout=False, upsample="resize",
        )  # fmt: skip
        init_weights(net)
        self.unet = batchnorm_to_instancenorm(net)

    def forward(
        self,
        known: torch.Tensor,
        region: torch.Tensor,
        edges: torch.Tensor,
        hints: torch.Tensor,
        hint_mask: torch.Tensor,
    ) -> torch.Tensor:
        correction = self.unet(torch.cat([known, region, edges, hints, hint_mask], 1))
        return (known + correction).clamp(-1.0, 1.0)


def start_from_known(generator: SketchIntoGenerator) -> None:
    """Zero the U-Net's last conv, so the generator returns ``known`` until it learns."""
    last = [m for m in generator.unet.model.model[-2].modules() if isinstance(m, nn.Conv2d)][-1]
    nn.init.zeros_(last.weight)
    if last.bias is not None:
        nn.init.zeros_(last.bias)


def _nchw(arrays: list[np.ndarray]) -> torch.Tensor:
    stacked = np.stack([a if a.ndim == 3 else a[..., None] for a in arrays])
    return torch.from_numpy(np.ascontiguousarray(stacked)).permute(0, 3, 1, 2).float()


def model_inputs(cases: list[SketchCase]) -> dict[str, torch.Tensor]:
    """Cases -> the generator's NCHW inputs, in the ranges the pack's manifest names
    (the engine's :func:`engine.pipelines.sketch.sketch_into_photo` feeds the same)."""
    region = _nchw([c.region for c in cases])
    hint_mask = _nchw([c.hint_mask for c in cases])
    return {
        "known": _nchw([c.known for c in cases]) * 2 - 1,
        "region": region,
        "edges": _nchw([c.edges for c in cases]) * 2 - 1,
        "hints": (_nchw([c.hints for c in cases]) * 2 - 1) * hint_mask,
        "hint_mask": hint_mask,
    }


def sketch_batch(
    sampler: PatchSampler, rng: np.random.Generator, count: int
) -> tuple[torch.Tensor, ...]:
    """A training batch: the five inputs (in :data:`INPUTS` order) and the true photo."""
    cases = [make_case(sampler.sample(), rng) for _ in range(count)]
    inputs = model_inputs(cases)
    return (*(inputs[name] for name in INPUTS), _nchw([c.photo for c in cases]) * 2 - 1)


def region_l1(fake: torch.Tensor, real: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean absolute error inside each case's region, averaged over cases, plus a tenth
    of the same outside it.

    Per case, not per pixel: pooled over the batch, a whole-frame case has ten times the
    pixels of a brush region and drowned the small redraws users make most (a first run
    pooled them: at 800 steps it was 8 dB under Telea on brush regions). The outside
    term keeps the net's features near the region's border honest; the engine keeps
    the photo's own pixels there.
    """
    error = (fake - real).abs().mean(1, keepdim=True)
    inside = (region * error).sum((1, 2, 3)) / region.sum((1, 2, 3)).clamp(min=1.0)
    outside = ((1 - region) * error).sum((1, 2, 3)) / (1 - region).sum((1, 2, 3)).clamp(min=1.0)
    return (inside + OUTSIDE_WEIGHT * outside).mean()


def gan_step(
    generator: SketchIntoGenerator,
    critic: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    stream: Iterator[tuple[torch.Tensor, ...]],
) -> Step:
    """One step: the PatchGAN on (conditions, photo) pairs, the fake composited into the
    known pixels as the engine does, then the generator on GAN + 100 * region L1."""

    def step() -> dict[str, float]:
        *conditions, real = next(stream)
        inputs = dict(zip(INPUTS, conditions, strict=True))
        region = inputs["region"]
        joined = torch.cat(conditions, 1)
        fake = generator(**inputs)
        composite = real * (1 - region) + fake * region
        gan, loss_d = adversarial_step(critic, opt_d, joined, real, composite)
        l1 = region_l1(fake, real, region)
        opt_g.zero_grad()
        (L1_WEIGHT * l1 + gan).backward()
        opt_g.step()
        return {"l1": l1.item(), "gan": gan.item(), "d": loss_d.item()}

    return step


def load_config(run: Run, wanted: Config) -> Config:
    """The run's saved config (a resumed run keeps its shape), else ``wanted``, saved."""
    path = run.dir / "config.json"
    if path.exists():
        return Config(**json.loads(path.read_text()))
    path.write_text(json.dumps(asdict(wanted), indent=2))
    return wanted


def train(run: Run, config: Config, args: argparse.Namespace) -> SketchIntoGenerator:
    generator = SketchIntoGenerator(config)
    start_from_known(generator)
    critic = NLayerDiscriminator(sum(CHANNELS.values()) + 3, config.ndf, n_layers=3, norm="batch")
    init_weights(critic)
    opt_g = torch.optim.Adam(generator.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(critic.parameters(), lr=LR, betas=BETAS)
    modules: dict[str, object] = {"G": generator, "D": critic, "opt_G": opt_g, "opt_D": opt_d}
    open_run(args, modules, run)
    if args.export_only:
        return generator
    args.size, args.batch = config.size, config.batch  # a resumed run keeps its own
    stream = batches(sketch_batch, list(load_corpus().train), args, run)
    generator.to(args.device).train()
    critic.to(args.device)
    step = gan_step(generator, critic, opt_g, opt_d, stream)
    train_loop(
        run,
        modules,
        step,
        lr=hold_then_decay(LR),
        minutes=args.minutes,
        steps=args.steps,
        log_every=args.log_every,
        save_every=100,
    )
    return generator.cpu()


def main(argv: list[str] | None = None) -> None:
    parser = trainer_arguments(
        __doc__, RUN, 90.0, 100_000, PACK_DIR, batch=Config.batch, size=Config.size,
        warm_start=False,
    )  # fmt: skip
    parser.add_argument("--ngf", type=int, default=Config.ngf, help="generator width")
    parser.add_argument("--eval-cases", type=int, default=24, help="held-out crops measured")
    parser.add_argument("--log-every", type=int, default=25)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    run = Run(args.run, root=args.runs_root)
    wanted = Config(ngf=args.ngf, ndf=args.ngf, size=args.size, batch=args.batch)
    config = load_config(run, wanted)
    generator = train(run, config, args)
    if args.train_only:
        return
    from training.sketch_into_card import export

    export(generator.eval(), run, config, args.out, args.eval_cases)


if __name__ == "__main__":
    main()
