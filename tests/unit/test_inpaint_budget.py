"""The inpainting fill's automatic step budget (decision 0012, issue 17): a photo of many
windows is filled with one antithetic pair of draws and less context, a photo of few
windows keeps the defaults. Runs the tiny real graphs of ``diffusion_graphs``."""

from __future__ import annotations

import numpy as np
import pytest

from diffusion_graphs import SIZE, eps_pack
from engine.models import Registry
from engine.pipelines import diffusion
from engine.pipelines.diffusion import InpaintOptions, jobs, sampler

STEPS = 8  # round(8 * 0.25) = 2 model steps at the default strength


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("eps")
    eps_pack(root / "user", "eps-conv", "conv")
    return Registry(bundled=root / "none", user=root / "user")


def strokes(height: int, width: int) -> np.ndarray:
    """Thin horizontal strokes every 12 px: many windows of the 16 px model."""
    mask = np.zeros((height, width), bool)
    for y in range(4, height - 4, 12):
        mask[y : y + 3, 2 : width - 2] = True
    return mask


def fill(registry: Registry, mask: np.ndarray, **options) -> diffusion.Result:
    image = np.random.default_rng(3).random((*mask.shape, 3)).astype(np.float32)
    options = InpaintOptions(steps=STEPS, seed=0, model="eps-conv", **options)
    result = diffusion.inpaint(image, mask, options, registry=registry)
    assert np.array_equal(result.images["image"][~mask], image[~mask])
    return result


def test_a_photo_over_the_step_budget_is_filled_with_one_pair_and_less_context(
    registry,
) -> None:
    mask = strokes(96, 128)
    default = InpaintOptions()
    wide = diffusion.cover_windows(mask, (SIZE, SIZE), SIZE // 8)  # the default context
    assert len(wide) * default.draws > default.step_images  # the rule must apply here
    result = fill(registry, mask, max_batch=8)
    info = result.info
    assert info["draws"] == diffusion.THIN_DRAWS == 2
    assert info["context"] == diffusion.THIN_CONTEXT == 0
    thin = diffusion.cover_windows(mask, (SIZE, SIZE), info["context"])
    assert info["windows"] == len(thin) < len(wide)
    # the network sees windows x 2 images a step, in calls of max_batch
    steps = round(STEPS * default.strength)
    assert info["model_steps"] == steps
    assert info["model_calls"] == steps * -(-len(thin) * 2 // 8)


def test_a_photo_within_the_budget_keeps_the_draws_and_context_asked_for(registry) -> None:
    mask = np.zeros((40, 60), bool)
    mask[10:14, 5:55] = True
    windows = diffusion.cover_windows(mask, (SIZE, SIZE), SIZE // 8)
    assert len(windows) * InpaintOptions.draws <= InpaintOptions.step_images
    info = fill(registry, mask).info
    assert (info["draws"], info["context"]) == (InpaintOptions.draws, SIZE // 8)
    assert info["windows"] == len(windows)


def test_no_budget_or_a_given_context_is_respected(registry) -> None:
    mask = strokes(96, 128)
    kept = fill(registry, mask, step_images=None).info
    assert (kept["draws"], kept["context"]) == (InpaintOptions.draws, SIZE // 8)
    # over the budget the draws still fall, but a context the caller chose stays
    chosen = fill(registry, mask, context=3).info
    assert (chosen["draws"], chosen["context"]) == (2, 3)
    assert chosen["windows"] == len(diffusion.cover_windows(mask, (SIZE, SIZE), 3))
    with pytest.raises(diffusion.DiffusionError, match="step_images"):
        fill(registry, mask, step_images=0)


def test_draws_come_in_antithetic_pairs() -> None:
    rng = np.random.default_rng(0)
    four = sampler.paired_noise(rng, (4, 3, 5, 5))
    assert np.array_equal(four[2:], -four[:2]) and not np.allclose(four[0], four[1])
    three = sampler.paired_noise(rng, (3, 3, 5, 5))
    assert np.array_equal(three[2], -three[0]) and not np.allclose(three[1], -three[0])
    assert sampler.paired_noise(rng, (1, 3, 5, 5)).shape == (1, 3, 5, 5)


def test_a_pair_of_draws_varies_less_between_seeds_than_two_independent_ones(registry) -> None:
    """The pair's point: its mean is steadier than the mean of two unrelated draws."""
    mask = np.zeros((SIZE, SIZE), bool)
    mask[3:13, 5:11] = True
    image = np.random.default_rng(2).random((SIZE, SIZE, 3)).astype(np.float32)

    def spread(noise) -> float:
        outs = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(jobs, "paired_noise", noise)  # what the joint fill draws with
            for seed in range(6):
                options = InpaintOptions(steps=8, seed=seed, draws=2, model="eps-conv")
                result = diffusion.inpaint(image, mask, options, registry=registry)
                outs.append(result.images["image"][mask])
        return float(np.stack(outs).std(axis=0).mean())

    paired = spread(sampler.paired_noise)
    independent = spread(sampler.noise)
    assert paired < 0.7 * independent
