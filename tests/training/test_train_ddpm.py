"""The DDPM trainer end to end on a tiny UNet and a two-photo corpus: train, resume, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.models import Registry, read_pack, verify_pack
from engine.pipelines import diffusion
from training import train_ddpm
from training.data.corpus import INDEX_NAME, INDEX_VERSION
from training.eval.holes import model_brush_mask


def fake_corpus(root: Path) -> Path:
    """One train and one held-out 'photo' (smooth noise), in the corpus cache layout."""
    rng = np.random.default_rng(0)
    records = []
    for name, split in (("a", "train"), ("b", "heldout")):
        small = rng.random((12, 12, 3))
        pixels = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((96, 96)))
        (root / "photos").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / "photos" / f"{name}.png")
        records.append(
            dict(name=name, source="test", package="test", member=f"{name}.png", author="test",
                 licence="CC0", file=f"photos/{name}.png", width=96, height=96, split=split)
        )  # fmt: skip
    (root / INDEX_NAME).write_text(json.dumps({"version": INDEX_VERSION, "photos": records}))
    return root


@pytest.mark.slow
def test_train_resume_and_export_a_tiny_ddpm(tmp_path: Path) -> None:
    corpus = fake_corpus(tmp_path / "corpus")
    out = tmp_path / "packs" / "tiny-ddpm"
    common = ["--runs-root", str(tmp_path / "runs"), "--run", "smoke", "--corpus", str(corpus)]
    common += ["--size", "16", "--widths", "16,32", "--batch", "2", "--threads", "1"]
    common += ["--eval-cases", "2", "--eval-steps", "4", "--samples", "2", "--sample-steps", "3"]
    common += ["--out", str(out)]
    train_ddpm.main([*common, "--steps", "3"])
    log = [
        json.loads(line) for line in (tmp_path / "runs/smoke/log.jsonl").read_text().splitlines()
    ]
    assert log[-1]["step"] == 3 and log[-1]["loss"] > 0

    train_ddpm.main([*common, "--steps", "5", "--widths", "8,8"])  # resumes; keeps its shape
    log = (tmp_path / "runs/smoke/log.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["step"] == 5

    pack = read_pack(out)
    verify_pack(pack)
    m = pack.manifest
    assert (m.task, m.licence, m.size_rule.fixed) == ("ddpm-eps", "MIT", (16, 16))
    assert m.options["num_train_timesteps"] == 1000 and m.provenance["steps"] == 5
    assert "[16, 32]" in m.architecture
    card = pack.card_path.read_text()
    for needle in ("OpenCV Telea", "Navier-Stokes", "PSNR in hole", m.sha256, "MIT"):
        assert needle in card
    assert {"samples.jpg", "inpainting.jpg", "loss.png"} <= {p.name for p in out.iterdir()}

    registry = Registry(bundled=out.parent, user=tmp_path / "none")
    options = diffusion.GenerateOptions(steps=3, seed=0, model="tiny-ddpm", device="cpu")
    image = diffusion.generate(options, registry=registry).images["image"]
    assert image.shape == (16, 16, 3) and np.isfinite(image).all()

    train_ddpm.main([*common, "--export-only"])  # from the checkpoint alone
    assert read_pack(out).manifest.provenance["steps"] == 5


def test_brush_strokes_cover_five_to_fifteen_percent() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        side = int(rng.integers(64, 129))
        mask = model_brush_mask(side, side, rng, 64)
        assert 0.05 <= mask.mean() <= 0.15
