"""Train, measure and export the bundled sketch-to-photo generator (``heirloom-sketch``).

    python -m training.train_pix2pix --l1-only --minutes 20   # runs/sketch-l1-resize, L1-only twin
    python -m training.train_pix2pix --minutes 50             # runs/sketch-resize, GAN; exports
    python -m training.train_pix2pix --export-only            # measure + export the checkpoint

Both runs are resumable (rerun the same line to continue). Train the L1-only twin first,
or re-export afterwards: the card compares the two to show what the GAN term adds.

pix2pix (Isola et al. 2017) on our corpus: a U-Net generator maps an edge map to the
photo it was traced from, judged by a 70x70 PatchGAN that sees (edges, photo) pairs,
with the objective GAN + 100 * L1 and Adam (2e-4, beta1 0.5). Edge maps come from the
engine's own tracer (:func:`engine.ops.edges.trace_edges`) at a random detail
level, on random 256 px crops of the training photos, so the model learns exactly the
drawings the app makes. Differences from the official setup, all for a 2-core CPU:

- a narrow, shallower generator (``ngf`` 16, 6 down-samplings: 1.3M parameters instead
  of 54M, sizes multiples of 64) and discriminator (``ndf`` 16), batch 4;
- the decoder upsamples by nearest 2x + 3x3 conv, not the official 4x4 stride-2
  transposed convs, which painted a checkerboard over every photo (``--upsample
  transpose --num-downs 8`` trains the official shape, which converted checkpoints use);
- affine instance norm in the generator *during training* (the official net uses batch
  norm at batch 1, which is the same thing); with batch 4 that keeps training and the
  exported graph identical. No dropout, so generation is deterministic;
- learning rate constant for the first half of the budget, then linearly to zero.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from engine.models import Manifest, SizeRule, TensorSpec, Tiling, seal_pack
from engine.ops.edges import trace_edges
from engine.runtime import open_session
from training.data.corpus import Corpus, load_corpus
from training.data.patches import PatchSampler
from training.eval.cards import render_card, save_grid
from training.eval.metrics import edge_f1, gradient_energy, psnr
from training.export import batchnorm_to_instancenorm, export_onnx, export_pack
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

PACK_DIR = Path(__file__).resolve().parent.parent / "resources" / "models" / "heirloom-sketch"
NAME = "heirloom-sketch"
LR = 2e-4
BETAS = (0.5, 0.999)
L1_WEIGHT = 100.0
TRAIN_DETAIL = (0.15, 0.85)  # edge maps of every density the detail slider makes
EVAL_DETAIL = 0.5
HELDOUT_SEED = 20261128
GAN_RUN, TWIN_RUN = "sketch-resize", "sketch-l1-resize"  # the runs behind the shipped pack


@dataclass(frozen=True)
class Config:
    """What a run was started with; kept in the run folder so resumes match the net."""

    ngf: int = 16
    ndf: int = 16
    num_downs: int = 6
    size: int = 256
    batch: int = 4
    l1_only: bool = False
    upsample: str = "resize"  # or "transpose": see training/nets/pix2pix.py make_up

    @property
    def side(self) -> int:
        return 2**self.num_downs


def load_config(run: Run, wanted: Config) -> Config:
    """The run's saved config (a resumed run keeps its shape), else ``wanted``, saved."""
    path = run.dir / "config.json"
    if path.exists():
        saved = Config(**json.loads(path.read_text()))
        if saved != wanted:
            print(f"{run.dir} was started with {saved}; continuing with that")
        return saved
    path.write_text(json.dumps(asdict(wanted), indent=2))
    return wanted


def make_generator(config: Config) -> nn.Module:
    """pix2pix U-Net (official layout) with affine instance norm, no dropout."""
    net = UnetGenerator(
        3, 3, config.num_downs, config.ngf, "batch", use_dropout=False, upsample=config.upsample
    )
    init_weights(net)
    return batchnorm_to_instancenorm(net)


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """HxW (edges) or HxWx3 arrays in [0, 1] -> an NCHW batch in [-1, 1], 3 channels."""
    stacked = np.stack([im if im.ndim == 3 else np.repeat(im[..., None], 3, 2) for im in images])
    return torch.from_numpy(stacked).permute(0, 3, 1, 2) * 2 - 1


def training_pairs(
    sampler: PatchSampler, rng: np.random.Generator, count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    photos = [sampler.sample() for _ in range(count)]
    edges = [trace_edges(p, float(rng.uniform(*TRAIN_DETAIL))) for p in photos]
    return to_tensor(edges), to_tensor(photos)


def generate(net: nn.Module, edges: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = net(to_tensor([edges]))[0]
    return ((out.permute(1, 2, 0).numpy() + 1) / 2).clip(0, 1)


# --- measuring ------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    edges: np.ndarray  # HxW, 0 on lines
    photo: np.ndarray  # HxWx3 in [0, 1]


def heldout_pairs(corpus: Corpus, count: int, size: int) -> list[Pair]:
    """Fixed crops of the held-out photos and their edges at the default detail."""
    sampler = PatchSampler(list(corpus.heldout), size=size, scale=(0.5, 1.0), seed=HELDOUT_SEED)
    photos = [sampler.sample() for _ in range(count)]
    return [Pair(trace_edges(p, EVAL_DETAIL), p) for p in photos]


def training_mean_colour(corpus: Corpus, size: int) -> np.ndarray:
    sampler = PatchSampler(list(corpus.train), size=size, scale=(0.5, 1.0), seed=7)
    return np.mean([sampler.sample().mean(axis=(0, 1)) for _ in range(64)], axis=0)


def scores(outputs: list[np.ndarray], pairs: list[Pair]) -> dict[str, float]:
    """Mean L1, PSNR, sharpness (gradient energy / the real photo's) and edge F1."""
    rows = []
    for out, pair in zip(outputs, pairs, strict=True):
        traced = trace_edges(out, EVAL_DETAIL) == 0 if out.std() > 0 else np.zeros_like(out[..., 0])
        rows.append(
            (
                float(np.abs(out - pair.photo).mean()),
                psnr(out, pair.photo),
                gradient_energy(out) / max(gradient_energy(pair.photo), 1e-12),
                edge_f1(traced, pair.edges == 0, tolerance=2),
            )
        )
    means = [round(float(v), 4) for v in np.mean(rows, axis=0)]
    return dict(zip(("l1", "psnr", "sharpness", "edge_f1"), means, strict=True))


def measure(net: nn.Module, twin: nn.Module | None, corpus: Corpus, cases: int, size: int) -> dict:
    """Held-out scores of the generator, its L1-only twin and two mean-colour baselines."""
    pairs = heldout_pairs(corpus, cases, size)
    net.eval()
    ours = [generate(net, p.edges) for p in pairs]
    mean = training_mean_colour(corpus, size)
    flat = [np.broadcast_to(mean, p.photo.shape).astype(np.float32) for p in pairs]
    own = [np.broadcast_to(p.photo.mean(axis=(0, 1)), p.photo.shape) for p in pairs]
    result = {
        "cases": len(pairs),
        "size": size,
        "ours": scores(ours, pairs),
        "mean_colour": scores(flat, pairs),
        "own_mean_colour": scores(own, pairs),
        "l1_only": None,
    }
    twins = None
    if twin is not None:
        twin.eval()
        twins = [generate(twin, p.edges) for p in pairs]
        result["l1_only"] = scores(twins, pairs)
    examples = []
    for i, pair in enumerate(pairs[:4]):
        row = [pair.edges, ours[i]] + ([twins[i]] if twins else []) + [pair.photo]
        examples.append(row)
    result["examples"] = examples
    return result


def latency_ms(model_path: Path, side: int, threads: int = 2) -> float:
    """Median ONNX Runtime CPU time of one side x side generation."""
    session = open_session(model_path, "cpu", threads=threads)
    feed = {session.input_names[0]: np.ones((1, 3, side, side), np.float32)}
    session.run(feed)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        session.run(feed)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 1)


# --- card and export ------------------------------------------------------------


def _table(metrics: dict) -> str:
    rows = [
        ("heirloom-sketch (GAN + 100 L1)", metrics["ours"]),
        ("same generator, L1 only", metrics["l1_only"]),
        ("mean colour of the training crops", metrics["mean_colour"]),
        ("each crop's own mean colour (oracle)", metrics["own_mean_colour"]),
    ]
    lines = [
        "| held-out crops | L1 | PSNR (dB) | sharpness | edge F1 (2 px) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, s in rows:
        if s is None:
            lines.append(f"| {name} | not trained yet (`--l1-only`) | | | |")
            continue
        lines.append(
            f"| {name} | {s['l1']:.4f} | {s['psnr']:.2f} | {s['sharpness']:.2f} | "
            f"{s['edge_f1']:.3f} |"
        )
    return "\n".join(lines)


def card(run: Run, config: Config, metrics: dict, corpus: Corpus, twin: Twin | None) -> str:
    params = sum(p.numel() for p in make_generator(config).parameters())
    twin_text = (
        f"The L1-only twin: same generator and data, {twin.steps} steps, "
        f"{twin.minutes:.1f} minutes."
        if twin
        else "The L1-only twin has not been trained yet."
    )
    return render_card(
        "heirloom-sketch: sketch to photo (pix2pix, trained here)",
        {
            "Architecture": (
                "pix2pix U-Net generator (training/nets/pix2pix.py"
                + (
                    ", official key layout), "
                    if config.upsample == "transpose"
                    else "; nearest 2x upsampling + 3x3 conv instead of the official "
                    "transposed convs, which left a checkerboard), "
                )
                + f"{config.num_downs} down/up levels, ngf {config.ngf}, affine instance norm, "
                f"no dropout, {params:,} parameters. Input `edges` NCHW, 3 channels in "
                f"[-1, 1] (black 1-px lines on white); output `photo` NCHW in [-1, 1]. H and "
                f"W must be multiples of {config.side} (the engine pads with white paper and "
                "crops back); not tiled, since the bottleneck sees the whole image. "
                f"Discriminator (training only): 70x70 PatchGAN, ndf {config.ndf}."
            ),
            "Data": (
                f"Random {config.size} px crops (0.35-1x scale, flips) of the "
                f"{len(corpus.train)} training photos of our corpus (training/data/corpus.py), "
                "each paired with its edges from the engine's tracer "
                f"(engine/ops/edges.py) at a random detail in {TRAIN_DETAIL}. The "
                f"{len(corpus.heldout)} held-out photos are never trained on."
            ),
            "Training": (
                f"{run.step} steps of batch {config.batch}, {run.elapsed / 60:.1f} minutes on "
                f"a 2-core CPU. Objective GAN (BCE, as in the paper) + {L1_WEIGHT:g} * L1, Adam "
                f"lr {LR:g} betas {BETAS}, lr constant for half the budget then linearly to 0. "
                f"{twin_text}"
            ),
            "Metrics": (
                f"{metrics['cases']} fixed {metrics['size']} px crops of the held-out photos, "
                f"edges traced at detail {EVAL_DETAIL}. L1 and PSNR against the real photo "
                "(colours in [0, 1]); sharpness is the gradient energy relative to the real "
                "photo (1.0 = as sharp); edge F1 compares the edges traced from the generated "
                "photo with the input edges, 2 px tolerance.\n\n"
                f"{_table(metrics)}\n\n"
                "examples.jpg (held-out): input edges | generated | "
                + ("L1-only twin | " if metrics["l1_only"] else "")
                + "real photo.\n\n"
                "CPU latency (ONNX Runtime, 2 threads, median of 5 at export; targets < 100 "
                "ms at 256x256, < 400 ms at 512x512): "
                + ", ".join(f"{ms} ms at {size}" for size, ms in metrics["latency_ms"].items())
                + "."
            ),
            "Licence": (
                "MIT (weights trained by the Heirloom authors; pix2pix architecture after "
                "junyanz/pytorch-CycleGAN-and-pix2pix, BSD). Training photos: see "
                "training/data/corpus.py for their licences."
            ),
            "Use": (
                "Draw or trace black lines on white; the engine thins strokes to 1 px as the "
                "training edges are. Expect textures and colours typical of the corpus "
                "(landscapes, flowers, objects), not faithful colours."
            ),
        },
    )


def export(
    net: nn.Module,
    run: Run,
    config: Config,
    corpus: Corpus,
    folder: Path,
    twin: Twin | None,
    cases: int,
) -> dict:
    net.eval()
    metrics = measure(net, twin.net if twin else None, corpus, cases, max(256, config.side))
    with tempfile.TemporaryDirectory() as tmp:
        axes = {0: "N", 2: "H", 3: "W"}
        probe = export_onnx(
            net,
            {"edges": torch.zeros(1, 3, config.side, config.side)},
            Path(tmp) / "probe.onnx",
            dynamic={"edges": axes, "photo": axes},
            output_names=["photo"],
        )
        sides = (max(256, config.side), 2 * max(256, config.side))  # the bench's sizes
        metrics["latency_ms"] = {f"{n}x{n}": latency_ms(probe, n) for n in sides}
    summary = {k: v for k, v in metrics.items() if k != "examples"}
    manifest = Manifest(
        name=NAME,
        task="sketch2photo",
        version="1.0",
        title="Heirloom sketch to photo (pix2pix, trained here)",
        inputs=(TensorSpec("edges", "NCHW", 3, "float32", (-1.0, 1.0)),),
        outputs=(TensorSpec("photo", "NCHW", 3, "float32", (-1.0, 1.0)),),
        sha256="",
        licence="MIT",
        size_rule=SizeRule(multiple_of=config.side, min=config.side),
        tiling=Tiling(allowed=False, overlap=0),
        provenance={
            "source": "trained-here",
            "trainer": "training/train_pix2pix.py",
            "steps": run.step,
            "minutes": round(run.elapsed / 60, 1),
            "hardware": "2-core CPU",
            "config": asdict(config),
            "metrics": summary,
        },
        architecture=(
            f"pix2pix UnetGenerator(num_downs={config.num_downs}, ngf={config.ngf}, "
            f"upsample={config.upsample}), "
            "affine instance norm, no dropout, tanh output"
        ),
    )
    rng = np.random.default_rng(0)
    side = config.side
    parity = [
        {"edges": rng.choice([-1.0, 1.0], (1, 3, side, side), p=[0.1, 0.9]).astype(np.float32)},
        {"edges": rng.uniform(-1, 1, (2, 3, 2 * side, side)).astype(np.float32)},
    ]
    pack = export_pack(
        net,
        folder,
        manifest,
        card(run, config, metrics, corpus, twin),
        example={"edges": torch.from_numpy(parity[0]["edges"])},
        dynamic={"edges": {0: "N", 2: "H", 3: "W"}, "photo": {0: "N", 2: "H", 3: "W"}},
        parity_inputs=parity,
        overwrite=True,
    )
    titles = ["input edges", "generated"] + (["L1 only"] if twin else []) + ["real photo"]
    save_grid(pack.path / "examples.jpg", metrics["examples"], titles)
    seal_pack(pack.path)
    (run.dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return summary


@dataclass(frozen=True)
class Twin:
    """The L1-only generator and how long it trained."""

    net: nn.Module
    steps: int
    minutes: float


def load_twin(root: Path, name: str) -> Twin | None:
    """The L1-only generator from its run folder, or None if it was never trained."""
    folder = Path(root) / name
    if not (folder / "checkpoint.pt").exists():
        return None
    config = Config(**json.loads((folder / "config.json").read_text()))
    net = make_generator(config)
    state = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=False)
    net.load_state_dict(state["modules"]["G"])
    return Twin(net.eval(), state["step"], state["seconds"] / 60)


# --- training -------------------------------------------------------------------


def gan_step(
    generator: nn.Module,
    critic: nn.Module | None,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    stream: Iterator[tuple[torch.Tensor, ...]],
) -> Step:
    """One pix2pix step: the PatchGAN's update on real and fake pairs, then the
    generator's on GAN + L1 (L1 alone without a critic, for the twin)."""

    def step() -> dict[str, float]:
        edges, real = next(stream)
        fake = generator(edges)
        l1 = F.l1_loss(fake, real)
        loss_g = L1_WEIGHT * l1
        logged = {"l1": l1.item()}
        if critic is not None and opt_d is not None:
            gan, loss_d = adversarial_step(critic, opt_d, edges, real, fake)
            loss_g = loss_g + gan
            logged |= {"gan": gan.item(), "d": loss_d.item()}
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return logged

    return step


def train(run: Run, config: Config, args: argparse.Namespace, corpus: Corpus) -> nn.Module:
    generator = make_generator(config)
    opt_g = torch.optim.Adam(generator.parameters(), lr=LR, betas=BETAS)
    modules: dict[str, object] = {"G": generator, "opt_G": opt_g}
    critic, opt_d = None, None
    if not config.l1_only:
        critic = NLayerDiscriminator(6, config.ndf, n_layers=3, norm="batch")
        init_weights(critic)
        opt_d = torch.optim.Adam(critic.parameters(), lr=LR, betas=BETAS)
        modules |= {"D": critic, "opt_D": opt_d}
    open_run(args, modules, run)
    if args.export_only:
        return generator
    args.size, args.batch = config.size, config.batch  # a resumed run keeps its own
    stream = batches(training_pairs, list(corpus.train), args, run)
    for net in (generator, critic):
        if net is not None:
            net.to(args.device)
    generator.train()
    step = gan_step(generator, critic, opt_g, opt_d, stream)
    train_loop(
        run,
        modules,
        step,
        lr=hold_then_decay(LR),
        minutes=args.minutes,
        steps=args.steps,
        log_every=args.log_every,
        save_every=200,
    )
    return generator.cpu()


def main(argv: list[str] | None = None) -> None:
    parser = trainer_arguments(
        __doc__, None, None, 100_000, PACK_DIR, batch=Config.batch, size=Config.size,
        warm_start=False,
    )  # fmt: skip
    parser.set_defaults(run=None)
    parser.add_argument("--l1-only", action="store_true", help="train the L1-only twin")
    parser.add_argument("--l1-run", default=TWIN_RUN, help="the twin's run, for the card")
    parser.add_argument("--ngf", type=int, default=Config.ngf)
    parser.add_argument("--ndf", type=int, default=Config.ndf)
    parser.add_argument("--num-downs", type=int, default=Config.num_downs)
    parser.add_argument(
        "--upsample", choices=("transpose", "resize"), default=Config.upsample,
        help="decoder upsampling: official transposed convs, or resize + conv",
    )  # fmt: skip
    parser.add_argument("--eval-cases", type=int, default=24, help="held-out crops measured")
    parser.add_argument("--log-every", type=int, default=50)
    args = parser.parse_args(argv)
    if args.size % 2**args.num_downs:
        parser.error(f"--size must be a multiple of {2**args.num_downs} for {args.num_downs} downs")
    if args.minutes is None:
        args.minutes = 20.0 if args.l1_only else 50.0
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    corpus = load_corpus()
    name = args.run or (TWIN_RUN if args.l1_only else GAN_RUN)
    if args.export_only and not (args.runs_root / name / "checkpoint.pt").exists():
        parser.error(f"nothing to export: {args.runs_root / name} has no checkpoint.pt")
    run = Run(name, root=args.runs_root)
    wanted = Config(
        args.ngf, args.ndf, args.num_downs, args.size, args.batch, args.l1_only, args.upsample
    )
    config = load_config(run, wanted)
    generator = train(run, config, args, corpus)
    if args.train_only:
        return
    if config.l1_only:
        metrics = measure(generator, None, corpus, args.eval_cases, max(256, config.side))
        summary = {k: v for k, v in metrics.items() if k not in ("examples", "l1_only")}
        (run.dir / "metrics.json").write_text(json.dumps(summary, indent=2))
        print(json.dumps(summary, indent=2))
        return
    twin = load_twin(args.runs_root, args.l1_run)
    export(generator, run, config, corpus, args.out, twin, args.eval_cases)


if __name__ == "__main__":
    main()
