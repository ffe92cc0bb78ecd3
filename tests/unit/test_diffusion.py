"""Diffusion jobs through onnxruntime on tiny real eps graphs (see tests/diffusion_graphs.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diffusion_graphs import SIZE, eps_pack, target_image
from engine.cancel import CancelToken
from engine.errors import Cancelled, HeirloomError
from engine.jobs import Emitter, Preview, Progress, StepCount
from engine.models import Registry
from engine.ops.schedule import repaint_levels, strided_timesteps
from engine.pipelines import diffusion
from engine.pipelines.diffusion import EditOptions, GenerateOptions, InpaintOptions


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("eps")
    eps_pack(root / "user", "eps-exact", "exact")
    eps_pack(root / "user", "eps-conv", "conv")
    eps_pack(root / "user", "eps-float-t", "exact", float_timestep=True)
    return Registry(bundled=root / "none", user=root / "user")


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)


def collect(interval: float) -> tuple[Emitter, list]:
    events: list = []
    return Emitter(events.append, preview_interval=interval), events


# --- sampling ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        GenerateOptions(steps=1000, sampler="ddpm"),  # Algorithm 2 over the full chain
        GenerateOptions(steps=25, sampler="ddpm"),
        GenerateOptions(steps=20, sampler="ddim", eta=0.0),
        GenerateOptions(steps=20, sampler="ddim", eta=1.0),
    ],
)
def test_an_exact_noise_predictor_samples_its_data(registry, options) -> None:
    options = GenerateOptions(**{**options.__dict__, "model": "eps-exact", "seed": 4})
    result = diffusion.generate(options, registry=registry)
    assert np.abs(result.images["image"] - target_image()).max() < 1e-4
    assert result.info["model_calls"] == options.steps and result.info["device"].startswith(
        ("CPU", "CUDA")
    )


def test_same_seed_same_images_other_seed_other_images(registry) -> None:
    def run(seed: int) -> dict:
        options = GenerateOptions(steps=8, seed=seed, sampler="ddpm", count=3, model="eps-conv")
        return diffusion.generate(options, registry=registry).images

    first, again, other = run(1), run(1), run(2)
    assert sorted(first) == ["image_1", "image_2", "image_3"]
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert all(np.abs(first[k] - other[k]).mean() > 0.01 for k in first)
    assert np.abs(first["image_1"] - first["image_2"]).mean() > 0.01  # a batch, not copies
    assert first["image_1"].shape == (SIZE, SIZE, 3)


def test_previews_carry_step_and_total_and_are_throttled(registry) -> None:
    options = GenerateOptions(steps=12, seed=0, model="eps-conv")
    emit, events = collect(interval=0.0)
    diffusion.generate(options, emit, registry=registry)
    previews = [e for e in events if isinstance(e, Preview)]
    assert [(p.step, p.total) for p in previews] == [(i, 12) for i in range(1, 13)]
    assert all(p.image.shape == (SIZE, SIZE, 3) for p in previews)
    assert all(p.image.min() >= 0.0 and p.image.max() <= 1.0 for p in previews)
    assert [e.fraction for e in events if isinstance(e, Progress)][-1] == 1.0

    emit, events = collect(interval=3600.0)
    diffusion.generate(options, emit, registry=registry)
    previews = [e for e in events if isinstance(e, Preview)]
    assert [p.step for p in previews] == [1, 12]  # the first, then only the final one


def test_cancel_stops_between_steps(registry) -> None:
    token = CancelToken()
    calls: list[int] = []

    def sink(event) -> None:
        if isinstance(event, Progress):
            calls.append(1)
            if len(calls) == 3:
                token.cancel()

    with pytest.raises(Cancelled):
        diffusion.generate(
            GenerateOptions(steps=50, seed=0, model="eps-conv"), Emitter(sink), token, registry
        )
    assert len(calls) == 3


# --- inpainting and editing -----------------------------------------------------------


def test_inpaint_keeps_known_pixels_exactly_and_fills_the_hole(registry) -> None:
    image = photo(SIZE, SIZE)
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[4:11, 2:14] = 1.0
    hole = mask > 0.5
    image[hole] = 0.0  # the damage
    result = diffusion.inpaint(
        image, mask, InpaintOptions(seed=3, model="eps-exact"), None, registry=registry
    )
    out = result.images["image"]
    assert np.array_equal(out[~hole], image[~hole])
    # the exact model's data is the target image, so that is what the hole must become
    assert np.abs(out[hole] - target_image()[hole]).max() < 1e-3
    # the defaults: one window, one call per step of round(steps * strength)
    defaults = InpaintOptions()
    steps = round(defaults.steps * defaults.strength)
    assert result.info["model_calls"] == steps and result.info["windows"] == 1


def test_inpaint_on_a_larger_photo_runs_only_windows_with_holes(registry) -> None:
    image = photo(70, 90, seed=1)
    mask = np.zeros((70, 90), bool)
    mask[5:9, 60:80] = True  # one stroke near the top right
    mask[50:53, 3:6] = True  # one speck near the bottom left
    emit, events = collect(interval=0.0)
    options = InpaintOptions(
        steps=6, jump_length=2, jump_n_sample=2, strength=1.0, seed=0, model="eps-conv"
    )
    result = diffusion.inpaint(image, mask, options, emit, registry=registry)
    out = result.images["image"]
    assert np.array_equal(out[~mask], image[~mask])
    assert np.abs(out[mask] - image[mask]).mean() > 0.02
    windows = diffusion.cover_windows(mask, (SIZE, SIZE), SIZE // 8)
    assert result.info["windows"] == len(windows) == 3  # two for the stroke, one for the speck
    # all windows and all draws of a step ride in one model call
    levels = repaint_levels(6, 2, 2)
    steps = sum(1 for a, b in zip(levels, levels[1:], strict=False) if b < a)
    assert result.info["model_calls"] == result.info["model_steps"] == steps
    # progress counts the steps of the whole fill, once each, as one part
    progress = [e for e in events if isinstance(e, Progress)]
    assert [e.count for e in progress] == [StepCount(i, steps) for i in range(1, steps + 1)]
    assert progress[-1].message == f"step {steps}/{steps}" and progress[-1].fraction == 1.0
    # each preview is the whole photo with the fill in place: known pixels as they are
    previews = [e for e in events if isinstance(e, Preview)]
    assert [p.step for p in previews] == list(range(1, steps + 1))
    for preview in previews:
        assert preview.image.shape == (70, 90, 3) and preview.total == steps
        assert np.allclose(preview.image[~mask], image[~mask], atol=1e-5)
    assert np.allclose(previews[-1].image[mask], out[mask], atol=1e-5)


def test_a_partial_strength_fill_starts_from_telea(registry) -> None:
    """Below strength 1 the hole starts as OpenCV's Telea fill noised part way up the
    chain: a whisker of strength keeps Telea's fill (its noise is 3 % of the range, and
    the model's steps move it as little); more strength lets the model change it."""
    image = photo(SIZE, SIZE, seed=5)
    mask = np.zeros((SIZE, SIZE), bool)
    mask[5:10, 3:13] = True
    telea = diffusion.classical_fill(image, mask)
    assert np.array_equal(telea[~mask], image[~mask])
    assert np.abs(telea[mask] - image[mask]).mean() > 0.1  # it did fill something

    def gap(strength: float) -> float:
        options = InpaintOptions(
            steps=100, jump_n_sample=1, seed=1, strength=strength, model="eps-conv"
        )
        result = diffusion.inpaint(image, mask, options, registry=registry)
        assert result.info["model_calls"] == max(1, round(100 * strength))
        return float(np.abs(result.images["image"][mask] - telea[mask]).mean())

    assert gap(0.02) < 0.03 < min(gap(0.5), gap(1.0))


def test_max_batch_splits_a_step_into_calls_without_changing_the_fill(registry) -> None:
    image = photo(40, 60, seed=4)
    mask = np.zeros((40, 60), bool)
    mask[4:8, 2:58] = True
    mask[30:34, 10:50] = True
    common = {"steps": 5, "jump_n_sample": 1, "seed": 2, "draws": 3, "model": "eps-conv"}
    common["strength"] = 1.0
    windows = len(diffusion.cover_windows(mask, (SIZE, SIZE), SIZE // 8))
    assert windows > 2
    one = diffusion.inpaint(image, mask, InpaintOptions(**common), registry=registry)
    split = diffusion.inpaint(image, mask, InpaintOptions(**common, max_batch=4), registry=registry)
    assert one.info["model_calls"] == 5
    assert split.info["model_calls"] == 5 * -(-windows * 3 // 4)
    assert np.allclose(one.images["image"], split.images["image"], atol=1e-5)


def test_averaged_draws_vary_less_between_seeds_and_share_model_calls(registry) -> None:
    """The mean of several fills is a steadier estimate than one fill: across seeds, the
    hole's pixels spread less. The draws of a window ride in one batch, so the number of
    model calls does not grow with them."""
    image = photo(SIZE, SIZE, seed=2)
    mask = np.zeros((SIZE, SIZE), bool)
    mask[3:13, 5:11] = True

    def fills(draws: int) -> tuple[np.ndarray, int]:
        outs, calls = [], 0
        for seed in range(6):
            options = InpaintOptions(
                steps=8, jump_n_sample=1, strength=1.0, seed=seed, draws=draws, model="eps-conv"
            )
            result = diffusion.inpaint(image, mask, options, registry=registry)
            outs.append(result.images["image"][mask])
            calls = result.info["model_calls"]
        return np.stack(outs), calls

    single, calls_single = fills(1)
    averaged, calls_averaged = fills(6)
    assert calls_single == calls_averaged == 8
    assert averaged.std(axis=0).mean() < 0.6 * single.std(axis=0).mean()


def test_windows_cover_every_region_pixel_once() -> None:
    region = np.zeros((100, 77), bool)
    region[::7, ::5] = True
    covered = np.zeros(region.shape, int)
    for wave in diffusion.plan_windows(region, (16, 16), 3):
        for w in wave:
            ys, xs = w.core
            assert w.y <= ys.start and ys.stop <= w.y + 16 and w.x <= xs.start
            assert xs.stop <= w.x + 16 and 0 <= w.y <= 100 - 16 and 0 <= w.x <= 77 - 16
            covered[w.core] += 1
    assert covered[region].min() == 1 and covered.max() == 1


def test_the_cover_puts_every_hole_pixel_in_a_core_with_few_windows() -> None:
    region = np.zeros((100, 77), bool)
    region[::7, ::5] = True
    region[40:44, 30:60] = True
    windows = diffusion.cover_windows(region, (16, 16), 3)
    covered = np.zeros(region.shape, bool)
    for w in windows:
        ys, xs = w.core
        assert w.y <= ys.start and ys.stop <= w.y + 16 and w.x <= xs.start
        assert xs.stop <= w.x + 16 and 0 <= w.y <= 100 - 16 and 0 <= w.x <= 77 - 16
        assert region[w.core].any()
        covered[w.core] = True
    assert covered[region].all()
    # a cluster of specks astride the grid's core borders: one placed window, not four
    specks = np.zeros((64, 64), bool)
    specks[18:22:2, 18:26:3] = True
    assert len(diffusion.cover_windows(specks, (16, 16), 3)) == 1
    grid = diffusion.plan_windows(specks, (16, 16), 3)
    assert sum(map(len, grid)) > 1


def test_edit_changes_more_with_more_strength_and_keeps_the_unmasked_part(registry) -> None:
    image = photo(SIZE, 40, seed=2)

    def change(strength: float, mask: np.ndarray | None = None) -> np.ndarray:
        options = EditOptions(strength=strength, steps=20, seed=5, model="eps-conv")
        return diffusion.edit(image, options, mask, registry=registry).images["image"]

    small, large = change(0.1), change(0.8)
    assert np.abs(small - image).mean() < np.abs(large - image).mean()
    mask = np.zeros((SIZE, 40), bool)
    mask[3:12, 10:30] = True
    masked = change(0.5, mask)
    assert np.array_equal(masked[~mask], image[~mask])
    assert np.abs(masked[mask] - image[mask]).mean() > 0.02


def test_grayscale_photos_stay_grayscale(registry) -> None:
    gray = photo(SIZE, SIZE)[..., :1]
    mask = np.zeros((SIZE, SIZE), bool)
    mask[5:10, 5:10] = True
    out = diffusion.inpaint(
        gray, mask, InpaintOptions(seed=0, model="eps-conv"), registry=registry
    ).images["image"]
    assert out.shape == (SIZE, SIZE, 1) and np.array_equal(out[~mask], gray[~mask])


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda r: diffusion.generate(GenerateOptions(steps=0, model="eps-conv"), registry=r),
            "steps must be between 1 and 1000",
        ),
        (
            lambda r: diffusion.generate(GenerateOptions(steps=1001, model="eps-conv"), registry=r),
            "steps must be between 1 and 1000",
        ),
        (
            lambda r: diffusion.edit(
                photo(SIZE, SIZE), EditOptions(strength=0.0, model="eps-conv"), registry=r
            ),
            "strength must be above 0",
        ),
        (
            lambda r: diffusion.edit(
                photo(SIZE, SIZE), EditOptions(strength=1.5, model="eps-conv"), registry=r
            ),
            "strength must be above 0",
        ),
        (
            lambda r: diffusion.inpaint(
                photo(SIZE, SIZE),
                np.zeros((SIZE, SIZE)),
                InpaintOptions(model="eps-conv"),
                registry=r,
            ),
            "the mask is empty",
        ),
        (
            lambda r: diffusion.inpaint(
                photo(SIZE, SIZE),
                np.ones((SIZE, SIZE)),
                InpaintOptions(model="eps-conv"),
                registry=r,
            ),
            "covers the whole image",
        ),
        (
            lambda r: diffusion.inpaint(
                photo(SIZE, SIZE), np.ones((SIZE, 8)), InpaintOptions(model="eps-conv"), registry=r
            ),
            "they must match",
        ),
        (
            lambda r: diffusion.inpaint(
                photo(SIZE, SIZE),
                np.eye(SIZE),
                InpaintOptions(draws=0, model="eps-conv"),
                registry=r,
            ),
            "draws must be between 1 and max_batch",
        ),
        (
            lambda r: diffusion.inpaint(
                photo(SIZE, SIZE),
                np.eye(SIZE),
                InpaintOptions(draws=5, max_batch=4, model="eps-conv"),
                registry=r,
            ),
            "draws must be between 1 and max_batch (4)",
        ),
        (
            lambda r: diffusion.edit(photo(10, 40), EditOptions(model="eps-conv"), registry=r),
            "smaller than the 16x16 px",
        ),
        (
            lambda r: diffusion.generate(GenerateOptions(model="eps-float-t"), registry=r),
            "takes a float32 timestep",
        ),
    ],
)
def test_bad_input_is_one_sentence(registry, call, message) -> None:
    with pytest.raises(HeirloomError) as caught:
        call(registry)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_graph_with_a_float_timestep_behind_an_int_manifest_is_refused(tmp_path) -> None:
    pack = eps_pack(tmp_path / "user", "liar", "exact", float_timestep=True)
    data = json.loads((pack.path / "manifest.json").read_text())
    data["inputs"][1]["dtype"] = "int64"  # the manifest claims what the graph does not take
    (pack.path / "manifest.json").write_text(json.dumps(data))
    registry = Registry(bundled=tmp_path / "none", user=tmp_path / "user")
    with pytest.raises(HeirloomError, match="input 'timestep' is float32 in the graph but int64"):
        diffusion.generate(GenerateOptions(model="liar"), registry=registry)


def test_schedules_visit_every_level_and_end_clean() -> None:
    assert strided_timesteps(999, 1000).tolist() == list(range(999, -1, -1))
    assert strided_timesteps(999, 4).tolist() == [999, 666, 333, 0]
    levels = repaint_levels(10, 3, 3)
    assert levels[0] == 10 and levels[-1] == 0
    moves = list(zip(levels, levels[1:], strict=False))
    assert all(b == a - 1 or b == a + 3 for a, b in moves)
    assert sum(1 for a, b in moves if b > a) == 2 * 3  # twice from each of j = 0, 3, 6


def test_a_deep_hole_is_planned_coarsely_then_refined(registry) -> None:
    image = photo(48, 48, seed=2)
    mask = np.zeros((48, 48), bool)
    mask[20:44, 20:44] = True  # a torn corner: its middle is far from any known pixel
    mask[3:6, 3:20] = True  # and a brush stroke elsewhere, which needs no plan
    assert diffusion.deep_holes(mask, (SIZE, SIZE)) == [(slice(4, 48), slice(4, 48))]
    common = {"steps": 6, "jump_length": 2, "jump_n_sample": 1, "seed": 0, "model": "eps-conv"}
    emit, events = collect(interval=0.0)
    result = diffusion.inpaint(
        image, mask, InpaintOptions(**common, strength=1.0), emit, registry=registry
    )
    out = result.images["image"]
    assert np.array_equal(out[~mask], image[~mask])
    windows = diffusion.cover_windows(mask, (SIZE, SIZE), SIZE // 8)
    assert result.info["windows"] == len(windows) + 1  # + the planning window
    # the plan's 6 steps and the refinement's 2 (30 %) are counted as one run of steps
    assert result.info["model_steps"] == 6 + 2 == result.info["model_calls"]
    stages = [e.stage for e in events if isinstance(e, Progress)]
    assert stages == ["planning the fill"] * 6 + ["inpainting"] * 2
    # starting from Telea needs no plan: Telea spans the hole from all its edges
    partial = diffusion.inpaint(
        image, mask, InpaintOptions(**common, strength=0.5), registry=registry
    )
    assert partial.info["windows"] == len(windows) and partial.info["model_calls"] == 3
    thin = np.zeros((48, 48), bool)
    thin[20:23, 5:40] = True  # a brush stroke: windows see both of its edges
    assert diffusion.deep_holes(thin, (SIZE, SIZE)) == []
    plain = diffusion.inpaint(
        image, thin, InpaintOptions(**common, strength=1.0), registry=registry
    )
    assert plain.info["windows"] == len(diffusion.cover_windows(thin, (SIZE, SIZE), SIZE // 8))
    assert plain.info["model_calls"] == 6
