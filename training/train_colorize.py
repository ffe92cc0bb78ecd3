"""Train, measure and export the bundled colorizer (``heirloom-colorize``).

    python -m training.train_colorize --minutes 40      # resumable; rerun to continue
    python -m training.train_colorize --export-only      # measure + export the checkpoint

A black-and-white print keeps its luminance: only its colour is a guess. The net sees
the gray photo and predicts two chroma channels (Rec. 601 Cb and Cr); the exported graph
recombines them with the gray it was given, so the pack maps gray -> RGB, and the
engine can take the chroma from it at a small working size and keep the full-resolution
luminance. L1 on chroma alone averages the plausible colours of a thing into brown, so a
second term charges the net whenever a crop comes out less colourful than the truth.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

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
SATURATION_WEIGHT = 1.0  # the "not all sepia" term, against the chroma L1
WORKING_SIDE = 384  # the long side the engine runs the net at: colour is low-frequency
KR, KB = arrays.LUMA[0], arrays.LUMA[2]
CB_SCALE, CR_SCALE = 0.5 / (1 - KB), 0.5 / (1 - KR)  # Rec. 601: chroma in [-0.5, 0.5]
LUMA = torch.tensor(arrays.LUMA).view(1, 3, 1, 1)
SEPIA_CHROMA = (-0.06, 0.05)  # Cb, Cr of a typical sepia-toned print


def make_net() -> UNet:
    return UNet(in_ch=1, out_ch=2, base=24, levels=4)


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
    (up to clipping), chroma bounded by tanh to the range YCbCr allows."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def chroma(self, gray: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.tanh(self.net(gray))

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        return to_rgb(gray, self.chroma(gray))


def batch(sampler: PatchSampler, rng: np.random.Generator, size: int) -> tuple[torch.Tensor]:
    photos = [sampler.sample() for _ in range(size)]
    return (torch.from_numpy(np.stack(photos)).permute(0, 3, 1, 2),)


def colourfulness(chroma: torch.Tensor) -> torch.Tensor:
    """Mean chroma magnitude per image (N,): 0 for a gray print."""
    return chroma.pow(2).sum(1).add(1e-6).sqrt().mean((1, 2))


def loss_fn(model: Colorizer, rgb: torch.Tensor) -> torch.Tensor:
    gray, truth = to_chroma(rgb)
    guess = model.chroma(gray)
    l1 = (guess - truth).abs().mean()
    duller = torch.relu(colourfulness(truth) - colourfulness(guess)).mean()
    return l1 + SATURATION_WEIGHT * duller


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


def heldout_crops(corpus: Corpus, count: int = 48, size: int = 256) -> list[np.ndarray]:
    """Fixed crops of the held-out photos (whole sources never trained on), at about the
    scale the engine colours at."""
    sampler = PatchSampler(list(corpus.heldout), size=size, scale=(0.3, 0.6), seed=20261203)
    return [sampler.sample() for _ in range(count)]


def measure(model: Colorizer, corpus: Corpus) -> dict:
    crops = heldout_crops(corpus)
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
                "parameters, two output channels (Rec. 601 Cb and Cr through tanh) that the graph "
                "recombines with the input gray: output RGB in [0, 1] with the input's luminance "
                "(up to clipping). The engine runs it with the long side at "
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
                "1). Loss: L1 on the chroma plus, with weight "
                f"{SATURATION_WEIGHT:g}, how much less colourful (mean chroma magnitude) a crop "
                "came out than its truth: L1 alone averages a thing's plausible colours into "
                "brown."
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
    metrics = measure(model, corpus)
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
        architecture="UNet(in=1, out=2, base=24, levels=4), Cb/Cr recombined with the gray",
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


def main(argv: list[str] | None = None) -> None:
    args = trainer_arguments(__doc__, "colorize", 40, 100000, PACK_DIR).parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    corpus = load_corpus()
    model = Colorizer(make_net())
    modules = {"net": model, "opt": torch.optim.Adam(model.parameters(), lr=LR)}
    run = open_run(args, modules, warm_start=lambda pack: load_pack_weights(model, pack))
    if not args.export_only:
        fit_batches(
            run, modules, batch, list(corpus.train), args, lambda rgb: loss_fn(model, rgb), lr=LR
        )
    if not args.train_only:
        export(model.cpu(), run, corpus, args.out)


if __name__ == "__main__":
    main()
