"""Train, measure and export the bundled colorizer (``heirloom-colorize``).

    python -m training.train_colorize --minutes 70      # resumable; rerun to continue
    python -m training.train_colorize --export-only      # measure + export the checkpoint

A black-and-white print keeps its luminance: only its colour is a guess. The net sees
the gray photo and scores each of a grid of colours (Rec. 601 Cb/Cr bins) per pixel, as
Zhang, Isola and Efros's "Colorful Image Colorization" does; the exported graph turns
the scores into one chroma by their annealed mean and recombines it with the gray it
was given, so the pack maps gray -> RGB, and the engine can take the chroma from it at
a small working size and keep the full-resolution luminance.

Why bins: L1 on chroma alone averages the plausible colours of a thing into brown, and
our first colorizer's fix (charging crops that came out duller than the truth) taught it
one yellow-green tint for every photo. Cross-entropy over bins keeps the alternatives
apart; weighting each pixel by how rare its colour is in the corpus is the term that
rewards saturation (common dull colours count less), and an L1 on the decoded chroma
keeps the guess near the truth on average.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from engine import arrays
from engine.models import Manifest, SizeRule, TensorSpec, Tiling, seal_pack
from training.data.corpus import Corpus, load_corpus
from training.data.patches import PatchSampler
from training.eval.cards import render_card, save_grid
from training.eval.metrics import psnr
from training.export import export_pack
from training.loop import Run, fit_batches, open_run, setup_summary, trainer_arguments
from training.nets.unet import UNet
from training.warm_start import load_pack_weights

PACK_DIR = Path(__file__).resolve().parent.parent / "resources" / "models" / "heirloom-colorize"
LR = 5e-4
BIN = 0.05  # width of a colour bin, in Cb/Cr units (chroma spans [-0.5, 0.5])
BIN_REACH = 0.35  # bins cover [-0.35, 0.35]^2: beyond, photos have almost no pixels
SOFT_SIGMA = 0.05  # each pixel's target spreads over neighbouring bins (Gaussian)
UNIFORM_MIX = 0.5  # rarity weights: 1 / (half corpus prior + half uniform), Zhang's lambda
L1_WEIGHT = 5.0  # the decoded chroma's L1, against the cross-entropy
LOSS_POOL = 2  # the loss compares 2x2-averaged scores and chroma
TRAIN_TEMPERATURE = 0.38  # annealed mean while training (Zhang's); export picks its own
TEMPERATURES = (0.25, 0.38, 0.5, 0.7, 1.0)  # tried on the validation split at export
PSNR_SLACK = 1.0  # dB: export takes the most colourful temperature within this of the best
WORKING_SIDE = 384  # the long side the engine runs the net at: colour is low-frequency
KR, KB = arrays.LUMA[0], arrays.LUMA[2]
CB_SCALE, CR_SCALE = 0.5 / (1 - KB), 0.5 / (1 - KR)  # Rec. 601: chroma in [-0.5, 0.5]
LUMA = torch.tensor(arrays.LUMA).view(1, 3, 1, 1)
SEPIA_CHROMA = (-0.06, 0.05)  # Cb, Cr of a typical sepia-toned print


def bin_centres() -> torch.Tensor:
    """(Q, 2) Cb/Cr centres of the colour bins, a square grid row by row (Cb slowest)."""
    axis = torch.arange(-BIN_REACH, BIN_REACH + BIN / 2, BIN)
    cb, cr = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([cb.flatten(), cr.flatten()], 1)


BINS = len(bin_centres())


def make_net() -> UNet:
    return UNet(in_ch=1, out_ch=BINS, base=24, levels=4)


def to_chroma(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gray N1HW, chroma N2HW) of RGB N3HW, Rec. 601 YCbCr without offsets."""
    y = (rgb * LUMA.to(rgb.device)).sum(1, keepdim=True)
    cb = (rgb[:, 2:3] - y) * CB_SCALE
    cr = (rgb[:, 0:1] - y) * CR_SCALE
    return y, torch.cat([cb, cr], 1)


def to_rgb(gray: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`to_chroma`, clipped to [0, 1]."""
    r = gray + chroma[:, 1:2] / CR_SCALE
    b = gray + chroma[:, 0:1] / CB_SCALE
    g = (gray - KR * r - KB * b) / arrays.LUMA[1]
    return torch.cat([r, g, b], 1).clamp(0, 1)


class Colorizer(nn.Module):
    """The exported graph: gray in [0, 1] -> RGB in [0, 1] with the input's luminance
    (up to clipping); the chroma is the annealed mean of the net's bin scores at
    ``temperature`` (1: the plain mean, dull and safe; lower: the likeliest colours)."""

    def __init__(self, net: nn.Module, temperature: float = TRAIN_TEMPERATURE) -> None:
        super().__init__()
        self.net = net
        self.temperature = temperature
        self.register_buffer("centres", bin_centres().T.reshape(2, BINS, 1, 1).contiguous())

    def decode(self, logits: torch.Tensor, temperature: float) -> torch.Tensor:
        """Chroma N2HW: the bin centres weighted by softmax(logits / temperature)."""
        return functional.conv2d(torch.softmax(logits / temperature, 1), self.centres)

    def chroma(self, gray: torch.Tensor) -> torch.Tensor:
        return self.decode(self.net(gray), self.temperature)

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        return to_rgb(gray, self.chroma(gray))


def batch(sampler: PatchSampler, rng: np.random.Generator, size: int) -> tuple[torch.Tensor]:
    photos = [sampler.sample() for _ in range(size)]
    return (torch.from_numpy(np.stack(photos)).permute(0, 3, 1, 2),)


def soft_targets(chroma: torch.Tensor) -> torch.Tensor:
    """NQHW: each pixel's chroma as a Gaussian over the bins near it (sums to 1)."""
    centres = bin_centres().to(chroma.device)
    clipped = chroma.clamp(-BIN_REACH, BIN_REACH)
    d2 = (clipped[:, None, 0] - centres[:, 0].view(1, -1, 1, 1)) ** 2 + (
        clipped[:, None, 1] - centres[:, 1].view(1, -1, 1, 1)
    ) ** 2
    near = torch.exp(-d2 / (2 * SOFT_SIGMA**2))
    return near / near.sum(1, keepdim=True)


def nearest_bin(chroma: torch.Tensor) -> torch.Tensor:
    """NHW index of the bin each pixel's chroma falls in."""
    steps = round(2 * BIN_REACH / BIN) + 1
    index = ((chroma.clamp(-BIN_REACH, BIN_REACH) + BIN_REACH) / BIN).round().long()
    return index[:, 0] * steps + index[:, 1]


def rarity_weights(photos: list[np.ndarray]) -> torch.Tensor:
    """(Q,) per-bin pixel weights: the inverse of the corpus's colour prior (smoothed,
    mixed half and half with uniform), scaled so an average pixel weighs 1. Saturated
    colours are rare, so they weigh more: this is what keeps the net from settling on
    brown."""
    rgb = torch.from_numpy(np.stack(photos)).permute(0, 3, 1, 2)
    counts = torch.bincount(nearest_bin(to_chroma(rgb)[1]).flatten(), minlength=BINS).double()
    side = round(2 * BIN_REACH / BIN) + 1
    kernel = torch.exp(-(torch.arange(-2, 3, dtype=torch.float64) ** 2) / 2)
    kernel = (kernel[:, None] * kernel[None]).view(1, 1, 5, 5) / kernel.sum() ** 2
    prior = functional.conv2d(
        (counts / counts.sum()).view(1, 1, side, side), kernel, padding=2
    ).flatten()
    weights = 1 / ((1 - UNIFORM_MIX) * prior / prior.sum() + UNIFORM_MIX / BINS)
    return (weights / (weights * counts / counts.sum()).sum()).float()


def loss_fn(model: Colorizer, rgb: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Rarity-weighted cross-entropy over the bins plus L1 of the decoded chroma, both on
    2x2-pooled pixels: colour is low-frequency, and the loss over every bin at full size
    cost half as much as the net itself on this CPU."""
    gray, truth = to_chroma(rgb)
    logits = functional.avg_pool2d(model.net(gray), LOSS_POOL)
    truth = functional.avg_pool2d(truth, LOSS_POOL)
    per_pixel = -(soft_targets(truth) * torch.log_softmax(logits, 1)).sum(1)
    weighted = (per_pixel * weights.to(rgb.device)[nearest_bin(truth)]).mean()
    l1 = (model.decode(logits, TRAIN_TEMPERATURE) - truth).abs().mean()
    return weighted + L1_WEIGHT * l1


# --- measuring ----------------------------------------------------------------------------


def hasler(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness M (on 0-255 values): ~0 gray, ~30 moderately,
    ~60+ very colourful photos."""
    r, g, b = (rgb[..., i].astype(np.float64) * 255 for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(abs(rg.mean()), abs(yb.mean())))


def flat_sepia(gray: np.ndarray) -> np.ndarray:
    g = torch.from_numpy(gray)[None, None]
    chroma = (
        torch.tensor(SEPIA_CHROMA, dtype=torch.float32).view(1, 2, 1, 1).expand(1, 2, *gray.shape)
    )
    return to_rgb(g, chroma)[0].permute(1, 2, 0).numpy()


def fixed_crops(photos: list[Path], count: int = 48, size: int = 256) -> list[np.ndarray]:
    """Fixed crops of ``photos`` at about the scale the engine colours at."""
    sampler = PatchSampler(list(photos), size=size, scale=(0.3, 0.6), seed=20261203)
    return [sampler.sample() for _ in range(count)]


def choose_temperature(model: Colorizer, corpus: Corpus) -> dict:
    """The annealed mean's temperature, tuned on the validation split (whole sources
    never trained on, and not the held-out ones): the most colourful of
    :data:`TEMPERATURES` whose mean PSNR is within :data:`PSNR_SLACK` of the best one's.
    Sets it on ``model`` and returns what each one scored."""
    crops = fixed_crops(corpus.validation, count=32)
    scores = {}
    with torch.no_grad():
        logits = [
            model.net(torch.from_numpy(arrays.luma(c).astype(np.float32))[None, None])
            for c in crops
        ]
        for t in TEMPERATURES:
            outs = [
                to_rgb(
                    torch.from_numpy(arrays.luma(c).astype(np.float32))[None, None],
                    model.decode(z, t),
                )[0]
                .permute(1, 2, 0)
                .numpy()
                for c, z in zip(crops, logits, strict=True)
            ]
            scores[t] = {
                "psnr": float(np.mean([psnr(o, c) for o, c in zip(outs, crops, strict=True)])),
                "colourfulness": float(np.mean([hasler(o) for o in outs])),
            }
    best = max(v["psnr"] for v in scores.values())
    model.temperature = min(t for t, v in scores.items() if v["psnr"] >= best - PSNR_SLACK)
    return {"chosen": model.temperature, "cases": len(crops), "scores": scores}


def measure(model: Colorizer, corpus: Corpus) -> dict:
    """Held-out crops (whole sources never trained on): ours against keeping the print
    gray, a flat sepia and the truth."""
    crops = fixed_crops(corpus.heldout)
    rows: dict[str, list[tuple[float, float]]] = {"ours": [], "gray": [], "sepia": [], "truth": []}
    examples = []
    with torch.no_grad():
        for crop in crops:
            gray = arrays.luma(crop).astype(np.float32)
            x = torch.from_numpy(gray)[None, None]
            ours = model(x)[0].permute(1, 2, 0).numpy()
            outputs = {
                "ours": ours,
                "gray": np.repeat(gray[..., None], 3, axis=2),
                "sepia": flat_sepia(gray),
                "truth": crop,
            }
            for key, image in outputs.items():
                rows[key].append((psnr(image, crop), hasler(image)))
            if len(examples) < 6:
                examples.append([outputs["gray"], outputs["sepia"], ours, crop])
    means = {
        key: {
            "psnr": float(np.mean([v[0] for v in vals])),
            "colourfulness": float(np.mean([v[1] for v in vals])),
        }
        for key, vals in rows.items()
    }
    better = sum(o[0] > g[0] for o, g in zip(rows["ours"], rows["gray"], strict=True))
    return {"cases": len(crops), "means": means, "better_than_gray": better, "examples": examples}


def _psnr_cell(means: dict, key: str) -> str:
    return "-" if key == "truth" else f"{means[key]['psnr']:.2f}"


def _history() -> str:
    return (
        "The first colorizer (2026-12-03, 847 steps) used L1 plus a charge on crops duller "
        "than the truth and learned one yellow-green tint for every photo (held-out PSNR "
        "18.7 dB against 26.6 for keeping the print gray), so it was never bundled; this one "
        "started from that run's U-Net body with a new head."
    )


def _temperature_table(chosen: dict) -> str:
    lines = ["| temperature | PSNR (dB) | colourfulness M |", "| --- | --- | --- |"]
    for t, v in chosen["scores"].items():
        mark = " (chosen)" if t == chosen["chosen"] else ""
        lines.append(f"| {t:g}{mark} | {v['psnr']:.2f} | {v['colourfulness']:.1f} |")
    return "\n".join(lines)


def _parameters() -> int:
    return sum(p.numel() for p in make_net().parameters())


def card(run: Run, metrics: dict, corpus: Corpus) -> str:
    m = metrics["means"]
    names = {
        "ours": "**heirloom-colorize**",
        "gray": "keep gray (the print as it is)",
        "sepia": f"flat sepia (Cb {SEPIA_CHROMA[0]}, Cr {SEPIA_CHROMA[1]})",
        "truth": "the true colours",
    }
    table = "\n".join(
        [
            "| held-out crops | PSNR against the true colours (dB) | colourfulness M |",
            "| --- | --- | --- |",
        ]
        + [
            f"| {names[k]} | {_psnr_cell(m, k)} | {m[k]['colourfulness']:.1f} |"
            for k in ("ours", "gray", "sepia", "truth")
        ]
    )
    return render_card(
        "heirloom-colorize: colour for black-and-white prints",
        {
            "Architecture": (
                "U-Net (training/nets/unet.py): 1-channel gray input in [0, 1], 4 anti-aliased "
                f"downsamplings, widths 24-192, {_parameters():,} "
                f"parameters, {BINS} output scores per pixel, one per colour bin (a "
                f"{BIN:g}-wide grid over Rec. 601 Cb/Cr in [-{BIN_REACH:g}, {BIN_REACH:g}]). The "
                "graph turns them into one chroma by their annealed mean (softmax at "
                f"temperature {metrics['temperature']['chosen']:g}, then the bins' centres) and "
                "recombines it with the input gray: output RGB in [0, 1] with the input's "
                "luminance (up to clipping). The engine runs it with the long side at "
                f"{WORKING_SIDE} px, upsamples the chroma and keeps the photo's own luminance."
            ),
            "Data": (
                f"Random 128 px crops of the {len(corpus.train)} training photos of our corpus "
                "(training/data/corpus.py, training/data/CORPUS.md), turned gray by Rec. 601 "
                "luma. Measured on crops of the "
                f"{len(corpus.heldout)} held-out photos, whole sources never trained on."
            ),
            "Training": (
                f"{setup_summary(run)}; Adam (lr {LR:g}, cosine decay, gradient norm clipped at "
                "1). Loss, after Zhang, Isola and Efros (Colorful Image Colorization, 2016): "
                "cross-entropy against each pixel's true chroma spread over its neighbouring "
                f"bins (Gaussian, sigma {SOFT_SIGMA:g}), each pixel weighted by how rare its "
                "colour is in the training crops (inverse of the smoothed prior mixed "
                f"{UNIFORM_MIX:g} with uniform), which is the term that rewards saturation; "
                f"plus {L1_WEIGHT:g} x L1 of the chroma decoded at temperature "
                f"{TRAIN_TEMPERATURE:g}. {_history()}"
            ),
            "Temperature": (
                f"Chosen on {metrics['temperature']['cases']} crops of the validation split "
                "(whole sources neither trained on nor held out): the most colourful "
                f"temperature whose PSNR is within {PSNR_SLACK:g} dB of the best one's.\n\n"
                f"{_temperature_table(metrics['temperature'])}"
            ),
            "Metrics": (
                f"Means over {metrics['cases']} held-out 256 px crops (Hasler and Suesstrunk's "
                "colourfulness M: 0 for gray, ~30 moderately, 60+ very colourful):\n\n"
                f"{table}\n\nBetter PSNR than keeping the print gray on "
                f"{metrics['better_than_gray']} of {metrics['cases']} crops. A colorizer "
                "guesses: a red car may come out blue and still be a good picture, so PSNR "
                "against the true colours is a floor, not the whole story; the examples show "
                "what it does.\n\nexamples.jpg: gray | flat sepia | ours | true colours."
            ),
            "Licence": (
                "MIT (weights trained by the Heirloom authors). Training photos: see "
                "training/data/CORPUS.md for their licences."
            ),
        },
    )


def export(model: Colorizer, run: Run, corpus: Corpus, folder: Path) -> None:
    model.eval()
    temperature = choose_temperature(model, corpus)
    metrics = measure(model, corpus) | {"temperature": temperature}
    manifest = Manifest(
        name="heirloom-colorize",
        task="colorize",
        version="1.0",
        title="Heirloom colorizer",
        inputs=(TensorSpec("gray", "NCHW", 1, "float32", (0.0, 1.0)),),
        outputs=(TensorSpec("rgb", "NCHW", 3, "float32", (0.0, 1.0)),),
        sha256="",
        licence="MIT",
        size_rule=SizeRule(multiple_of=16, min=32),
        tiling=Tiling(allowed=False, overlap=0, bytes_per_pixel=2400),
        options={"working_side": WORKING_SIDE, "input": "gray"},
        provenance={
            "source": "trained-here",
            "trainer": "training/train_colorize.py",
            "steps": run.step,
            "minutes": round(run.elapsed / 60, 1),
            "hardware": run.extra.get("hardware", "a 2-core CPU (no GPU)"),
            "metrics": {k: v for k, v in metrics.items() if k != "examples"},
        },
        architecture=(
            f"UNet(in=1, out={BINS}, base=24, levels=4), Cb/Cr bin scores decoded by their "
            f"annealed mean (T={model.temperature:g}) and recombined with the gray"
        ),
    )
    rng = np.random.default_rng(0)
    parity = [
        {"gray": rng.random((1, 1, 64, 96), dtype=np.float32)},
        {"gray": rng.random((1, 1, 128, 80), dtype=np.float32)},
    ]
    pack = export_pack(
        model,
        folder,
        manifest,
        card(run, metrics, corpus),
        example={"gray": torch.rand(1, 1, 64, 64)},
        dynamic={"gray": {0: "N", 2: "H", 3: "W"}, "rgb": {0: "N", 2: "H", 3: "W"}},
        parity_inputs=parity,
        overwrite=True,
    )
    save_grid(pack.path / "examples.jpg", metrics["examples"], ["gray", "sepia", "ours", "truth"])
    seal_pack(pack.path)
    summary = {k: v for k, v in metrics.items() if k != "examples"}
    (run.dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def load_body(model: Colorizer, checkpoint: Path) -> str:
    """Start from an earlier colorize run's U-Net (any head): every tensor whose name
    and shape match; the rest stays as initialised."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["modules"]["net"]
    own = model.state_dict()
    body = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(body, strict=False)
    return f"{checkpoint} ({len(body)} of {len(own)} tensors)"


def main(argv: list[str] | None = None) -> None:
    parser = trainer_arguments(__doc__, "colorize-bins", 70, 100000, PACK_DIR)
    parser.add_argument(
        "--body-from", type=Path, help="a new run starts its U-Net body from this checkpoint"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    corpus = load_corpus()
    model = Colorizer(make_net())
    modules = {"net": model, "opt": torch.optim.Adam(model.parameters(), lr=LR)}
    run = open_run(args, modules, warm_start=lambda pack: load_pack_weights(model, pack))
    if args.body_from and run.step == 0 and "body_from" not in run.extra:
        run.extra["body_from"] = load_body(model, args.body_from)
        print(f"body from {run.extra['body_from']}")
    if not args.export_only:
        prior = PatchSampler(list(corpus.train), size=args.size, seed=1)
        weights = rarity_weights([prior.sample() for _ in range(256)])
        fit_batches(
            run,
            modules,
            batch,
            list(corpus.train),
            args,
            lambda rgb: loss_fn(model, rgb, weights),
            lr=LR,
        )
    if not args.train_only:
        export(model.cpu(), run, corpus, args.out)


if __name__ == "__main__":
    main()
