"""Train, measure and export the bundled restoration model (``heirloom-restore``).

    python -m training.train_restore --minutes 40      # resumable; rerun to continue
    python -m training.train_restore --export-only

A mask-conditioned U-Net that refines a classical pre-pass: it sees the aged photo,
the damage mask and the photo after Telea fill + non-local-means denoising (computed by
the engine, engine/ops/prepass.py), and returns a correction of the pre-pass:
the masked damage filled better and the global ageing (fading, casts, blur, JPEG) that
the classical filters leave undone. Its last layer starts at zero, so training starts
from exactly the classical result. It is the small CPU stand-in for BOPBTL's encoder
-> mask-aware mapping -> decoder triplet; converted official packs use the same stage.
Grayscale prints are restored to grayscale (we do not invent colours).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from engine import arrays
from engine.models import Manifest, Registry, SizeRule, TensorSpec, Tiling, seal_pack
from engine.ops.blend import blend_restoration
from engine.ops.prepass import fill_and_denoise
from engine.pipelines.restore import RestoreOptions, detect_scratches
from training.data.corpus import load_corpus
from training.data.degrade import degrade
from training.data.patches import PatchSampler
from training.eval.baselines import baseline_scratch_mask, classical_restore, tune_hat
from training.eval.cards import render_card, save_grid
from training.eval.cases import Case, heldout_cases, tuning_cases, validation_cases
from training.eval.metrics import psnr, ssim
from training.export import export_pack
from training.loop import Run, fit_batches, open_run, setup_summary, trainer_arguments
from training.nets.unet import UNet
from training.warm_start import load_pack_weights

PACK_DIR = Path(__file__).resolve().parent.parent / "resources" / "models" / "heirloom-restore"
SCRATCH_PACK = PACK_DIR.parent / "heirloom-scratch"
LR = 3e-4
STRENGTHS = tuple(np.round(np.linspace(0.0, 1.0, 9), 3))


BASE = 24  # the shipped width; --base trains another (recorded in the run)


def make_net(base: int = BASE) -> UNet:
    """Input channels: pre-pass RGB (the residual base), aged RGB, mask."""
    net = UNet(in_ch=7, out_ch=3, base=base, levels=4, residual=True)
    nn.init.zeros_(net.head.weight)
    nn.init.zeros_(net.head.bias)
    return net


def jitter_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The true mask, sometimes grown or with pieces missing: detected masks are imperfect."""
    roll = rng.random()
    if roll < 0.3:
        size = int(rng.integers(1, 3)) * 2 + 1
        return cv2.dilate(mask, np.ones((size, size), np.uint8))
    if roll < 0.45:
        keep = cv2.resize(
            (rng.random((8, 8)) > 0.3).astype(np.float32),
            mask.shape[::-1],
            interpolation=cv2.INTER_NEAREST,
        )
        return mask * keep
    return mask


def sample(sampler: PatchSampler, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    clean = sampler.sample()
    d = degrade(clean, rng, damage=True if rng.random() < 0.7 else None)
    target = Case(clean, d.image, d.mask > 0.5, tuple(d.ops)).target
    mask = cv2.dilate(jitter_mask(d.mask, rng), np.ones((3, 3), np.uint8))  # engine: mask_dilate 1
    return d.image, mask, target, d.mask, fill_and_denoise(d.image, mask > 0.5)


def batch(sampler: PatchSampler, rng: np.random.Generator, size: int) -> tuple[torch.Tensor, ...]:
    items = [sample(sampler, rng) for _ in range(size)]
    image = torch.from_numpy(np.stack([i[0] for i in items])).permute(0, 3, 1, 2)
    mask = torch.from_numpy(np.stack([i[1] for i in items]))[:, None]
    target = torch.from_numpy(np.stack([i[2] for i in items])).permute(0, 3, 1, 2)
    damage = torch.from_numpy(np.stack([i[3] for i in items]))[:, None]
    prepass = torch.from_numpy(np.stack([i[4] for i in items])).permute(0, 3, 1, 2)
    return image, mask, target, damage, prepass


def loss_fn(out: torch.Tensor, target: torch.Tensor, damage: torch.Tensor) -> torch.Tensor:
    """L1 everywhere, three times as much inside the damage (a small share of pixels)."""
    err = (out - target).abs()
    return err.mean() + 3.0 * (err * damage).sum() / (damage.sum() * 3 + 1.0)


class Restorer(nn.Module):
    """The exported graph: (image, mask, prepass) in [0, 1] -> restored image in [0, 1]."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, prepass: torch.Tensor
    ) -> torch.Tensor:
        return self.net(torch.cat([prepass, image, mask], dim=1)).clamp(0.0, 1.0)


def _engine_mask(mask: np.ndarray) -> np.ndarray:
    """The mask as the engine hands it on: grown by the manifest's mask_dilate (1 px)."""
    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0


def _restore(
    model: Restorer, image: np.ndarray, grown: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """What the engine does for one tile (``grown``: from :func:`_engine_mask`): pre-pass,
    run the net. Returns the net's output and the pre-pass (the base of the blend)."""
    with torch.no_grad():
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        m = torch.from_numpy(grown.astype(np.float32))[None, None]
        prepass = fill_and_denoise(image, grown)
        p = torch.from_numpy(prepass).permute(2, 0, 1)[None]
        return model(x, m, p)[0].permute(1, 2, 0).numpy(), prepass


def _as_target_space(case: Case, image: np.ndarray) -> np.ndarray:
    """Gray prints are compared in gray, as the engine keeps them gray."""
    if "grayscale" in case.ops:
        return np.repeat(arrays.luma(image)[..., None], 3, axis=2)
    return image


def _detector():
    """The engine's own scratch detection with our exported pack, if it exists."""
    if not (SCRATCH_PACK / "model.onnx").exists():
        return None
    registry = Registry(bundled=SCRATCH_PACK.parent, user=SCRATCH_PACK.parent / ".none")
    options = RestoreOptions(detector=SCRATCH_PACK.name, device="cpu")

    def detect(image: np.ndarray) -> np.ndarray:
        return detect_scratches(image, options, registry=registry).images["mask"]

    return detect


def tune_blend(model: Restorer, cases: list[Case], detect) -> tuple[float, float, dict[str, float]]:
    """The engine's blend outside the damage (tone weight ``strength``, local-detail weight
    ``detail``; engine/ops/blend.py blend_restoration), chosen on ``cases``,
    validation crops (photos the net never saw, so its corrections are judged as a user's
    photo would judge them): the best mean PSNR among the pairs whose mean SSIM is not
    below the classical pre-pass's (0/0), since a correction that gains PSNR by losing
    structure is a loss to the eye. Returns the pair and every pair's mean PSNR, keyed
    "strength/detail" (detail == strength is the plain blend)."""
    pairs = [(s, d) for s in STRENGTHS for d in STRENGTHS]
    scores: dict[tuple[float, float], list[tuple[float, float]]] = {pair: [] for pair in pairs}
    for case in cases:
        mask = _engine_mask(detect(case.degraded) if detect else case.mask)
        restored, base = _restore(model, case.degraded, mask)
        for strength, detail in pairs:
            out = _as_target_space(case, blend_restoration(base, restored, mask, strength, detail))
            scores[strength, detail].append((psnr(out, case.target), ssim(out, case.target)))
    means = {pair: np.mean(v, axis=0) for pair, v in scores.items()}
    floor = means[0.0, 0.0][1]
    keeps = [pair for pair in pairs if means[pair][1] >= floor]
    strength, detail = max(keeps, key=lambda pair: means[pair][0])
    curve = {f"{s:g}/{d:g}": round(float(means[s, d][0]), 3) for s, d in pairs}
    return float(strength), float(detail), curve


HARM_ROWS = ("classical", "prepass", "ours_detected")


def _means(rows: dict[str, list[tuple[float, float]]]) -> dict[str, dict[str, float]]:
    return {
        k: {
            "psnr": round(float(np.mean([r[0] for r in v])), 2),
            "ssim": round(float(np.mean([r[1] for r in v])), 4),
        }
        for k, v in rows.items()
    }


def measure(model: Restorer, corpus) -> dict:
    held, tune = heldout_cases(corpus), tuning_cases(corpus)
    hat, _ = tune_hat([(arrays.luma(c.degraded), c.mask) for c in tune])
    detect = _detector()
    validation = validation_cases(corpus)
    strength, detail, curve = tune_blend(model, validation, detect)
    rows: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("input", "classical", "ours_true", "ours_raw", "ours_detected")
    }
    harm: dict[str, list[tuple[float, float]]] = {k: [] for k in HARM_ROWS}
    examples, seconds = [], 0.0
    for i, case in enumerate(held):
        target = case.target
        base_mask = baseline_scratch_mask(arrays.luma(case.degraded), hat)
        classical = _as_target_space(case, classical_restore(case.degraded, base_mask))
        true_mask = _engine_mask(case.mask)
        raw_true, base_true = _restore(model, case.degraded, true_mask)
        ours_true = blend_restoration(base_true, raw_true, true_mask, strength, detail)
        start = time.perf_counter()
        detected = _engine_mask(detect(case.degraded) if detect else case.mask)
        raw, base = _restore(model, case.degraded, detected)
        ours = _as_target_space(case, blend_restoration(base, raw, detected, strength, detail))
        seconds += time.perf_counter() - start
        for key, image in (
            ("input", _as_target_space(case, case.degraded)),
            ("classical", classical),
            ("ours_true", _as_target_space(case, ours_true)),
            ("ours_raw", _as_target_space(case, raw)),
            ("ours_detected", ours),
        ):
            rows[key].append((psnr(image, target), ssim(image, target)))
        # the true damage grown by 4 px (the engine's 1 px and 3 more) is not "outside"
        intact = cv2.dilate(case.mask.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
        for key, image in (
            ("classical", classical),
            ("prepass", _as_target_space(case, base)),
            ("ours_detected", ours),
        ):
            harm[key].append((psnr(image, target, intact), ssim(image, target, intact)))
        if i < 4:
            examples.append([case.degraded, ours, classical, target])
    means, outside = _means(rows), _means(harm)
    return {
        "cases": len(held),
        "strength": strength,
        "detail": detail,
        "validation_cases": len(validation),
        "validation_psnr_by_blend": curve,
        "detector": "heirloom-scratch" if detect else "true mask (no detector pack yet)",
        "means": means,
        "outside_damage": outside,
        "ms_per_256px_crop": round(1000 * seconds / len(held), 1),
        "examples": examples,
    }


def card(run: Run, metrics: dict, corpus, base: int) -> str:
    m = metrics["means"]
    blend = f"tone {metrics['strength']:g}, detail {metrics['detail']:g}"
    names = {
        "input": "degraded input (no restoration)",
        "classical": "classical: black-hat mask -> Telea -> non-local means",
        "ours_true": f"heirloom-restore, true mask, {blend}",
        "ours_raw": "heirloom-restore network output alone (strength 1), detected mask",
        "ours_detected": (
            f"**heirloom-restore as the engine runs it** (mask from {metrics['detector']}, {blend})"
        ),
    }
    table = "\n".join(
        ["| held-out crops | PSNR (dB) | SSIM |", "| --- | --- | --- |"]
        + [f"| {names[k]} | {m[k]['psnr']:.2f} | {m[k]['ssim']:.3f} |" for k in names]
    )
    o = metrics["outside_damage"]
    harm_names = {
        "classical": "classical pipeline",
        "prepass": "classical pre-pass on the detected mask (the base of the blend)",
        "ours_detected": "heirloom-restore as the engine runs it",
    }
    harm = "\n".join(
        ["| outside the damage (held-out) | PSNR (dB) | SSIM |", "| --- | --- | --- |"]
        + [f"| {harm_names[k]} | {o[k]['psnr']:.2f} | {o[k]['ssim']:.3f} |" for k in HARM_ROWS]
    )
    params = sum(p.numel() for p in make_net(base).parameters())
    return render_card(
        "heirloom-restore: old-photo restoration",
        {
            "Architecture": (
                "U-Net (training/nets/unet.py) refining a classical pre-pass: inputs are the "
                "aged RGB photo in [0, 1], the damage mask (1 = damaged) and the pre-pass "
                "(Telea fill of the mask, then colour non-local means; the engine computes it "
                "per tile, engine/ops/prepass.py); the output is the pre-pass plus a "
                "learned correction (last layer initialised to zero, so training starts from "
                "the classical result). 4 anti-aliased downsamplings, widths "
                f"{base}-{8 * base}, no normalisation layers (tiled output matches whole-image "
                f"output), {params:,} "
                "parameters. A small CPU stand-in for BOPBTL's VAE + mask-aware mapping; "
                "converted official packs use the same engine stage."
            ),
            "Data": (
                f"Random 128 px crops of the {len(corpus.train)} training photos of our corpus "
                f"(the {len(corpus.validation)} validation photos and the held-out ones are left "
                "out), "
                "aged by training/data/degrade.py (scratches, dust, blotches; grayscale, sepia, "
                "colour cast, fading, contrast loss, paper texture, grain; blur, noise, "
                "resampling, JPEG). Target: the clean crop (grayscale for prints made gray). "
                "The mask given to the net is the true one, sometimes grown or with pieces "
                "missing, so it tolerates detector errors."
            ),
            "Training": (
                f"{setup_summary(run)}; Adam (lr {LR:g}, cosine decay, "
                "gradient norm clipped at 1), L1 with 3x weight inside the damage."
            ),
            "Metrics": (
                f"Means over {metrics['cases']} held-out 256 px crops with synthetic damage "
                "(gray prints compared in gray):\n\n"
                f"{table}\n\nThe engine takes the network's output fully inside the damage "
                "(grown by 2 px). Elsewhere it keeps the pre-pass and adds the network's "
                "correction in two parts: a per-channel gain and offset fitted to it over the "
                f"whole photo (tone and colour), with weight {metrics['strength']:g} (option "
                "global_strength), and what that tone map leaves (local detail), with weight "
                f"{metrics['detail']:g} (option detail_strength). Both weights are the best "
                "mean PSNR, among the pairs whose mean SSIM is not below the pre-pass's, on "
                f"{metrics['validation_cases']} crops of the validation photos, "
                "which the net never saw, among 0, 0.125, ..., 1 each (0/0 would be the "
                "classical result outside the damage; the whole grid is in the manifest, "
                "provenance.validation_psnr_by_blend). "
                "The network's corrections of fading and colour casts are learned guesses: "
                "they gain 1-5 dB on most faded or blurred crops and lose on some crops that "
                "were not faded (a darkened or tinted result). One tone map per photo, "
                "summing the network's patch-by-patch guesses, loses less on those than the "
                "guesses themselves.\n\n"
                "Harm: how close the pixels that were *not* damaged (the true damage grown by "
                "4 px, excluded) stay to the clean photo. The restorer may correct tone and "
                "noise there, but must not lose structure against the classical pre-pass:\n\n"
                f"{harm}\n\n"
                "examples.jpg: degraded | ours (as the engine runs it) | classical | clean."
            ),
            "Licence": "MIT (weights trained by the Heirloom authors).",
        },
    )


def export(model: Restorer, run: Run, corpus, folder: Path) -> None:
    model.cpu().eval()
    base = run.extra.get("base", BASE)
    metrics = measure(model, corpus)
    manifest = Manifest(
        name="heirloom-restore",
        task="restore",
        version="1.0",
        title="Heirloom old-photo restoration",
        inputs=(
            TensorSpec("image", "NCHW", 3, "float32", (0.0, 1.0)),
            TensorSpec("mask", "NCHW", 1, "float32", (0.0, 1.0)),
            TensorSpec("prepass", "NCHW", 3, "float32", (0.0, 1.0)),
        ),
        outputs=(TensorSpec("restored", "NCHW", 3, "float32", (0.0, 1.0)),),
        sha256="",
        licence="MIT",
        size_rule=SizeRule(multiple_of=16, min=16),
        # peak memory of onnxruntime per tile pixel grows with the width (2400 at 24)
        tiling=Tiling(allowed=True, overlap=64, bytes_per_pixel=100 * base),
        options={
            "mask_dilate": 1,
            "face_pass": True,
            "global_strength": metrics["strength"],
            "detail_strength": metrics["detail"],
        },
        provenance={
            "source": "trained-here",
            "trainer": "training/train_restore.py",
            "steps": run.step,
            "minutes": round(run.elapsed / 60, 1),
            "hardware": run.extra.get("hardware", "a 2-core CPU (no GPU)"),
            "metrics": metrics["means"],
            "validation_psnr_by_blend": metrics["validation_psnr_by_blend"],
        },
        architecture=(
            f"UNet(in=prepass+image+mask, out=3, base={base}, levels=4, residual on prepass)"
        ),
    )
    rng = np.random.default_rng(0)
    parity = [
        {
            "image": rng.random((1, 3, 64, 96), dtype=np.float32),
            "mask": (rng.random((1, 1, 64, 96)) > 0.9).astype(np.float32),
            "prepass": rng.random((1, 3, 64, 96), dtype=np.float32),
        },
        {
            "image": rng.random((2, 3, 128, 80), dtype=np.float32),
            "mask": (rng.random((2, 1, 128, 80)) > 0.9).astype(np.float32),
            "prepass": rng.random((2, 3, 128, 80), dtype=np.float32),
        },
    ]
    pack = export_pack(
        model,
        folder,
        manifest,
        card(run, metrics, corpus, base),
        example={
            "image": torch.rand(1, 3, 64, 64),
            "mask": torch.zeros(1, 1, 64, 64),
            "prepass": torch.rand(1, 3, 64, 64),
        },
        dynamic={
            "image": {0: "N", 2: "H", 3: "W"},
            "mask": {0: "N", 2: "H", 3: "W"},
            "prepass": {0: "N", 2: "H", 3: "W"},
            "restored": {0: "N", 2: "H", 3: "W"},
        },
        parity_inputs=parity,
        overwrite=True,
    )
    save_grid(
        pack.path / "examples.jpg", metrics["examples"], ["degraded", "ours", "classical", "clean"]
    )
    seal_pack(pack.path)
    summary = {k: v for k, v in metrics.items() if k != "examples"}
    (run.dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = trainer_arguments(__doc__, "restore-prepass", 60, 8000, PACK_DIR)
    parser.add_argument("--base", type=int, default=BASE, help="U-Net width (new runs only)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    corpus = load_corpus()
    run = Run(args.run, args.runs_root)
    base = int(run.saved_extra().get("base", args.base))
    model = Restorer(make_net(base))
    modules = {"net": model, "opt": torch.optim.Adam(model.parameters(), lr=LR)}
    open_run(args, modules, run, warm_start=lambda pack: load_pack_weights(model, pack))
    run.extra["base"] = base
    if not args.export_only:

        def loss_of(*batch: torch.Tensor) -> torch.Tensor:
            image, mask, target, damage, prepass = batch
            return loss_fn(model.net(torch.cat([prepass, image, mask], 1)), target, damage)

        fit_batches(run, modules, batch, list(corpus.train), args, loss_of, lr=LR)
    if not args.train_only:
        export(model, run, corpus, args.out)


if __name__ == "__main__":
    main()
