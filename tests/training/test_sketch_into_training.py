"""The draw-into-a-photo trainer's cases, loss and step, on real sample photos (no corpus)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine import arrays
from engine.images import load_image
from engine.ops.edges import trace_edges
from engine.ops.prepass import telea_fill
from training.data.patches import PatchSampler
from training.data.sketch_cases import make_case, random_region
from training.nets.pix2pix import NLayerDiscriminator
from training.train_sketch_into import (
    CHANNELS,
    INPUTS,
    Config,
    SketchIntoGenerator,
    gan_step,
    model_inputs,
    region_l1,
    sketch_batch,
    start_from_known,
)

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture(scope="module")
def sampler() -> PatchSampler:
    return PatchSampler(sorted(SAMPLES.glob("clean_*.jpg")), size=128, seed=3)


def test_regions_range_from_brush_strokes_to_the_whole_frame() -> None:
    rng = np.random.default_rng(0)
    shares = [float(random_region(128, 128, rng).mean()) for _ in range(200)]
    assert min(shares) >= 0.03
    assert sum(s == 1.0 for s in shares) > 20  # whole frames: drawing from scratch
    assert sum(s < 0.3 for s in shares) > 50  # small redraws


def test_a_case_has_lines_and_hints_only_inside_its_region() -> None:
    rng = np.random.default_rng(1)
    pixels = load_image(SAMPLES / "clean_LadyBird.jpg").pixels  # the ladybird and its leaf
    photo = arrays.resize(arrays.rgb(pixels)[64:576, 256:768], 128, 128)
    region = np.zeros((128, 128), np.float32)
    region[32:96, 16:112] = 1.0
    case = make_case(photo, rng, region=region, hint_share=0.02)
    outside = region < 0.5
    assert (case.edges[outside] == 1.0).all()  # lines outside the region are never seen
    assert case.hint_mask[outside].sum() == 0
    assert 0.02 <= case.hint_mask[~outside].mean() < 0.2
    hinted = case.hint_mask > 0
    # the hints are the photo's own colours, blurred: close to it where they lie
    assert np.abs(case.hints[hinted] - photo[hinted]).mean() < 0.15
    # the model sees the region filled by Telea, the rest as it is
    assert np.array_equal(case.known, telea_fill(photo, ~outside))
    assert np.array_equal(case.known[outside], photo[outside])
    full = make_case(photo, rng, region=np.ones((128, 128), np.float32))
    assert (full.known == 0.5).all()  # nothing known: mid-grey, the model's zero
    lines = trace_edges(photo, 0.5)
    same = make_case(photo, rng, region=region, hint_share=0.0, lines=lines)
    assert (lines[~outside] == 0).any()
    assert np.array_equal(same.edges[~outside], lines[~outside]) and same.hint_mask.sum() == 0


def test_region_l1_weighs_every_case_alike_whatever_its_region_size() -> None:
    real = torch.zeros(2, 3, 16, 16)
    region = torch.zeros(2, 1, 16, 16)
    region[0] = 1.0  # the whole frame
    region[1, :, :4, :4] = 1.0  # a small redraw
    fake = real.clone()
    fake[1, :, :4, :4] = 1.0  # only the small region is wrong, by 1
    # pooled over pixels the small region's error would be 16 / 272 of the loss
    assert region_l1(fake, real, region).item() == pytest.approx(0.5, abs=1e-6)


def test_one_step_trains_the_generator_on_real_batches(sampler: PatchSampler) -> None:
    torch.manual_seed(0)
    config = Config(ngf=8, ndf=8, batch=2, size=128)
    generator = SketchIntoGenerator(config)
    critic = NLayerDiscriminator(sum(CHANNELS.values()) + 3, config.ndf, n_layers=3, norm="batch")
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batch = sketch_batch(sampler, np.random.default_rng(2), 2)
    assert [t.shape[1] for t in batch] == [CHANNELS[n] for n in INPUTS] + [3]
    before = [p.detach().clone() for p in generator.parameters()]
    logged = gan_step(generator, critic, opt_g, opt_d, iter([batch]))()
    assert set(logged) == {"l1", "gan", "d"} and all(np.isfinite(list(logged.values())))
    moved = [not torch.equal(a, b) for a, b in zip(before, generator.parameters(), strict=True)]
    assert all(moved)


def test_a_new_generator_starts_from_the_telea_fill(sampler: PatchSampler) -> None:
    generator = SketchIntoGenerator(Config(ngf=8, ndf=8))
    start_from_known(generator)
    cases = [make_case(sampler.sample(), np.random.default_rng(4)) for _ in range(2)]
    inputs = model_inputs(cases)
    with torch.no_grad():
        out = generator(**inputs)
    assert torch.equal(out, inputs["known"].clamp(-1, 1))
