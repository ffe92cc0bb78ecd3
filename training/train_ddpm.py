"""Train, measure and export the bundled DDPM (``heirloom-ddpm64``).

    python -m training.train_ddpm --minutes 40      # resumable; rerun to continue
    python -m training.train_ddpm --export-only      # measure + export the checkpoint
    python -m training.train_ddpm --device cuda --workers 8   # on a GPU

The loop, arguments, resume and batch workers are the trainer skeleton's
(:mod:`training.loop`): AdamW with a linear warm-up, clipped gradients, EMA weights.

A small diffusers ``UNet2DModel`` (64x64, widths 32-64-128, one layer per block,
attention only at 16x16: small enough that watching 50 sampling steps on a CPU takes
seconds; the card and docs/bench-results.md have the timings) learns to predict the
noise of random 64 px patches of the corpus's training photos (DDPM Algorithm 1:
uniform t, MSE on eps, linear betas 1e-4..0.02 over T = 1000). Patches are taken at
0.5-1x the photo's pixels, so the model learns texture at the scale of the damage it
will fill. Sampling uses the EMA weights.

Export measures the pack through the engine itself: samples, and RePaint inpainting
of brush-stroke holes in held-out crops beside OpenCV's Telea and Navier-Stokes
inpainting (PSNR and SSIM inside the hole), written to the model card.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from engine.models import Registry, seal_pack, write_pack
from engine.pipelines import diffusion
from training.compat import import_torchvision
from training.convert.ddpm import describe_unet, eps_manifest, export_eps_pack
from training.data.corpus import Corpus, load_corpus
from training.data.patches import PatchSampler
from training.eval import holes
from training.eval.cards import render_card, save_grid
from training.eval.cases import hole_cases
from training.eval.holes import HoleCase
from training.eval.metrics import psnr, ssim_in_hole
from training.loop import (
    Run,
    batches,
    ema_hook,
    open_run,
    supervised_step,
    train,
    trainer_arguments,
    warm_up,
)

PACK_DIR = Path(__file__).resolve().parent.parent / "resources" / "models" / "heirloom-ddpm64"
SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 1e-4,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "variance_type": "fixed_small",
    "clip_sample": True,
    "prediction_type": "epsilon",
}
EMA_DECAY = 0.999
WARMUP = 200


def make_unet(size: int = 64, widths: tuple[int, ...] = (32, 64, 128), layers: int = 1):
    """The UNet; attention only in the lowest-resolution level (16x16 for 64 px, 3 levels)."""
    import_torchvision()  # diffusers imports it when installed (training/compat.py)
    from diffusers import UNet2DModel

    down = ("DownBlock2D",) * (len(widths) - 1) + ("AttnDownBlock2D",)
    return UNet2DModel(
        sample_size=size,
        in_channels=3,
        out_channels=3,
        block_out_channels=widths,
        layers_per_block=layers,
        down_block_types=down,
        up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (len(widths) - 1),
        norm_num_groups=min(32, widths[0] // 2),
    )


def batch(sampler: PatchSampler, size: int) -> torch.Tensor:
    """A batch of clean patches, NCHW in [-1, 1]."""
    patches = np.stack([sampler.sample() for _ in range(size)]).transpose(0, 3, 1, 2)
    return torch.from_numpy(patches) * 2 - 1


def train_step(unet, scheduler, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """DDPM Algorithm 1: uniform t, the forward process, MSE between eps and its guess."""
    t = torch.randint(
        0, scheduler.config.num_train_timesteps, (clean.shape[0],), generator=generator
    ).to(clean.device)  # drawn on the CPU generator, so a run's draws do not depend on the device
    noise = torch.randn(clean.shape, generator=generator).to(clean.device)
    noisy = scheduler.add_noise(clean, noise, t)
    return F.mse_loss(unet(noisy, t).sample, noise)


# --- evaluation -----------------------------------------------------------------


Fill = Callable[[int, HoleCase, np.ndarray], np.ndarray]  # (seed, case, damaged) -> filled


def measure(registry: Registry, name: str, cases: list[HoleCase], args) -> dict[str, Any]:
    """Samples, timing and hole metrics of the exported pack, run by the engine."""
    device = "cpu"
    warm = diffusion.GenerateOptions(steps=1, seed=0, model=name, device=device)
    diffusion.generate(warm, registry=registry)  # session creation is not sampling time
    started = time.perf_counter()
    one = diffusion.GenerateOptions(steps=50, seed=0, model=name, device=device)
    diffusion.generate(one, registry=registry)
    seconds_50 = time.perf_counter() - started
    grid = diffusion.GenerateOptions(
        steps=args.sample_steps, seed=1, count=args.samples, model=name, device=device
    )
    images = diffusion.generate(grid, registry=registry).images
    samples = [images[k] for k in sorted(images, key=lambda k: int(k.split("_")[-1]))]

    def ours(draws: int) -> Fill:
        def fill(seed: int, case: HoleCase, damaged: np.ndarray) -> np.ndarray:
            options = diffusion.InpaintOptions(
                steps=args.eval_steps, seed=seed, model=name, device=device, draws=draws
            )
            return diffusion.inpaint(damaged, case.hole, options, registry=registry).images["image"]

        return fill

    def opencv(flag: int) -> Fill:
        return lambda _seed, case, _damaged: holes.opencv_fill(case, flag)

    draws = diffusion.InpaintOptions.draws
    ours_name = f"heirloom-ddpm (RePaint, mean of {draws} draws: the default)"
    methods: dict[str, Fill] = {
        ours_name: ours(draws),
        "heirloom-ddpm (RePaint, one draw)": ours(1),
        "OpenCV Telea": opencv(cv2.INPAINT_TELEA),
        "OpenCV Navier-Stokes": opencv(cv2.INPAINT_NS),
    }
    scores: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    examples = []
    for i, case in enumerate(cases):
        damaged = case.damaged
        row = [damaged, case.truth]
        for method, fill in methods.items():
            filled = fill(i, case, damaged)
            scores[method].append(
                (psnr(filled, case.truth, case.hole), ssim_in_hole(filled, case.truth, case.hole))
            )
            row.append(filled)
        examples.append(row)
    table = {
        m: {
            "psnr": round(float(np.mean([s[0] for s in v])), 2),
            "ssim": round(float(np.mean([s[1] for s in v])), 4),
        }
        for m, v in scores.items()
    }
    ours_psnr = [s[0] for s in scores[ours_name]]
    wins = sum(o > t[0] for o, t in zip(ours_psnr, scores["OpenCV Telea"], strict=True))
    return {
        "seconds_50_ddim_steps": round(seconds_50, 2),
        "holes": table,
        "psnr_wins_over_telea": f"{wins}/{len(cases)}",
        "cases": len(cases),
        "samples": samples,
        "examples": examples,
    }


# --- card and export ------------------------------------------------------------


def loss_plot(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    steps = [h["step"] for h in history if "loss" in h]
    losses = [h["loss"] for h in history if "loss" in h]
    figure, axis = plt.subplots(figsize=(5, 3), dpi=100)
    axis.plot(steps, losses, linewidth=1)
    axis.set_xlabel("step")
    axis.set_ylabel("MSE on eps")
    axis.set_yscale("log")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def card(run: Run, metrics: dict, corpus: Corpus, config: dict, params: int, args) -> str:
    rows = [f"| {m} | {v['psnr']:.2f} | {v['ssim']:.4f} |" for m, v in metrics["holes"].items()]
    table = "\n".join(["| method | PSNR in hole (dB) | SSIM in hole |", "| --- | --- | --- |"])
    history = [h for h in run.history() if "loss" in h]
    losses = ", ".join(
        f"{h['step']}: {h['loss']:.4f}" for h in history[:: max(1, len(history) // 8)]
    )
    size = config["sample_size"]
    widths = f"{round(8 * size / 64)}-{round(24 * size / 64)}"
    repaint = diffusion.InpaintOptions
    return render_card(
        f"{args.out.name}: a small DDPM of photo texture",
        {
            "Architecture": (
                f"{describe_unet(config)}; {params:,} parameters; attention only at the lowest "
                "resolution. Inputs `sample` NCHW in [-1, 1] and `timestep` int64 (one per "
                "image); output `eps`, the predicted noise. Schedule: "
                f"{json.dumps(SCHEDULE)}. Sampled by Heirloom's own numpy sampler "
                "(engine/ops/schedule.py): DDPM, strided DDPM, DDIM, RePaint, SDEdit."
            ),
            "Data": (
                f"Random {size} px patches of the {len(corpus.train)} training "
                "photos of our corpus (training/data/corpus.py), cropped at 1-2x the patch size "
                "and shrunk to it (so texture appears at the scale of scratches and blotches), "
                f"with horizontal flips. The {len(corpus.heldout)} held-out photos are never "
                "trained on; the inpainting cases below come from them."
            ),
            "Training": (
                f"DDPM Algorithm 1 (uniform t, MSE on eps), {run.step} steps of batch "
                f"{args.batch}, AdamW lr {args.lr} with {WARMUP} warm-up steps, gradient norm "
                f"clipped at 1, EMA of the weights (decay {EMA_DECAY}, warm-up (1+n)/(10+n)); "
                f"{run.elapsed / 60:.0f} minutes on a 2-core CPU. Loss (logged means) by step: "
                f"{losses}. Curve: loss.png."
            ),
            "Metrics": (
                f"Inpainting of {metrics['cases']} held-out crops ({size}-{2 * size} px) with "
                f"brush-stroke holes {widths} px wide over 5-15% of the crop, scored inside "
                f"the hole against the truth; ours is RePaint through the engine "
                f"({args.eval_steps} steps, jump length {repaint.jump_length}, "
                f"{repaint.jump_n_sample} samples per jump), as one draw and as the mean of "
                f"{repaint.draws} draws run in one batch (the engine's default: one draw is "
                "a plausible texture, the mean estimates what was there); the baselines are "
                "cv2.inpaint with radius 3.\n\n"
                f"{table}\n" + "\n".join(rows) + "\n\nOurs (the default) beats Telea's "
                f"PSNR on {metrics['psnr_wins_over_telea']} crops. inpainting.jpg: damaged | "
                "truth | ours, mean | ours, one draw | Telea | Navier-Stokes. samples.jpg: "
                f"{len(metrics['samples'])} samples "
                f"from noise ({args.sample_steps} DDIM steps): texture, not scenes; this "
                "model is a local image prior. 50 DDIM steps at batch 1 took "
                f"{metrics['seconds_50_ddim_steps']} s on the export machine's CPU."
            ),
            "Licence": (
                "MIT (weights trained by the Heirloom authors). Training photos: see "
                "resources/samples/README.md and training/data/corpus.py for their licences."
            ),
        },
    )


def export(ema, run: Run, corpus: Corpus, args) -> Path:
    """Export the EMA net to a staging pack, measure it through the engine, then publish."""
    ema.eval()
    config = dict(ema.config)
    name = args.out.name
    provenance = {
        "source": "trained-here",
        "trainer": "training/train_ddpm.py",
        "steps": run.step,
        "minutes": round(run.elapsed / 60, 1),
        "hardware": run.extra.get("hardware", "2-core CPU"),
    }
    manifest = eps_manifest(
        name, config, SCHEDULE, licence="MIT", provenance=provenance,
        title="Heirloom DDPM of photo texture (64 px)", version="1.0",
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="heirloom-ddpm-") as tmp:
        staging = export_eps_pack(ema, Path(tmp) / "packs" / name, manifest, "# staging\n")
        registry = Registry(bundled=Path(tmp) / "packs", user=Path(tmp) / "none")
        size = config["sample_size"]
        metrics = measure(registry, name, hole_cases(corpus.heldout, args.eval_cases, size), args)
        pictures = Path(tmp) / "pictures"
        pictures.mkdir()
        cols = math.ceil(math.sqrt(len(metrics["samples"])))
        rows = [metrics["samples"][i : i + cols] for i in range(0, len(metrics["samples"]), cols)]
        save_grid(pictures / "samples.jpg", rows, [""] * cols, cell=128)
        titles = ["damaged", "truth", "ours (mean)", "ours (one draw)", "Telea", "Navier-Stokes"]
        save_grid(pictures / "inpainting.jpg", metrics["examples"][:6], titles, cell=160)
        loss_plot(run.history(), pictures / "loss.png")
        staged = staging.card_path.read_text(encoding="utf-8")
        params = sum(p.numel() for p in ema.parameters())
        text = card(run, metrics, corpus, config, params, args).rstrip() + "\n\n"
        text += staged[staged.index("## File") :]
        pack = write_pack(args.out, staging.model_path, staging.manifest, text, overwrite=True)
        for picture in pictures.iterdir():
            shutil.copyfile(picture, pack.path / picture.name)
        seal_pack(pack.path)
    summary = {k: v for k, v in metrics.items() if k not in ("samples", "examples")}
    (run.dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return pack.path


# --- main -----------------------------------------------------------------------


def make_batch(sampler: PatchSampler, rng: np.random.Generator, size: int) -> tuple[torch.Tensor]:
    """:data:`training.data.batches.MakeBatch` for the skeleton's batch stream."""
    return (batch(sampler, size),)


def main(argv: list[str] | None = None) -> None:
    parser = trainer_arguments(
        __doc__, "ddpm64", 40, 100_000, PACK_DIR, batch=16, size=64, warm_start=False
    )
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--widths", default="32,64,128", help="new runs only")
    parser.add_argument("--layers", type=int, default=1, help="new runs only")
    parser.add_argument("--corpus", type=Path, help="corpus cache (default: the built one)")
    parser.add_argument("--eval-cases", type=int, default=16)
    parser.add_argument("--eval-steps", type=int, default=diffusion.InpaintOptions.steps)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--sample-steps", type=int, default=50)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import_torchvision()
    from diffusers import DDPMScheduler

    corpus = load_corpus(args.corpus)
    run = Run(args.run, args.runs_root)
    shape = run.saved_extra().get("unet")  # the checkpoint's shape wins over the flags
    if shape is None:
        shape = {"size": args.size, "widths": args.widths.split(","), "layers": args.layers}
    shape = {**shape, "widths": tuple(map(int, shape["widths"]))}
    args.size = shape["size"]
    net = make_unet(**shape)
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr)
    modules = {"net": net, "ema": ema, "opt": opt}
    open_run(args, modules, run)
    run.extra["unet"] = shape
    if not args.export_only:
        scheduler = DDPMScheduler(**SCHEDULE)
        stream = batches(make_batch, corpus.ddpm_train, args, run, scale=(0.5, 1.0))
        net.to(args.device)
        ema.to(args.device)
        generator = torch.Generator().manual_seed(run.step + 1)
        net.train()
        step = supervised_step(
            net, opt, lambda: train_step(net, scheduler, next(stream)[0], generator)
        )
        train(
            run,
            modules,
            step,
            lr=warm_up(args.lr, WARMUP),
            minutes=args.minutes,
            steps=args.steps,
            log_every=50,
            save_every=250,
            after_step=ema_hook(ema, net, EMA_DECAY),
            digits=5,
        )
    if not args.train_only:
        print(f"exported {export(ema.cpu(), run, corpus, args)}")


if __name__ == "__main__":
    main()
