import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import runtime
from engine.cancel import CancelToken
from engine.errors import Cancelled
from engine.models import SizeRule
from engine.tiling import padded_size, plan_tiles, run_tiled, tile_for_budget
from graphs import build_conv_model


def session_fn(path):
    session = runtime.open_session(path, "cpu")
    calls = []

    def fn(batch):
        calls.append(batch.shape)
        return session.run({"image": batch})[0]

    return fn, calls


def image(h, w, seed=0):
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def test_an_image_that_fits_one_tile_gives_exactly_the_untiled_result(conv_model):
    fn, calls = session_fn(conv_model)
    x = image(50, 70)
    tiled = run_tiled(fn, x, SizeRule(1, 1), tile=128, overlap=16)
    untiled = fn(x.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
    assert np.array_equal(tiled, untiled)
    assert calls[0] == (1, 3, 50, 70)


@pytest.mark.parametrize(("down", "rule"), [(False, SizeRule(1, 1)), (True, SizeRule(4, 8))])
def test_tiled_and_untiled_agree_for_an_equivariant_model(tmp_path, down, rule):
    model = build_conv_model(tmp_path / "m.onnx", down=down, layers=3)
    fn, calls = session_fn(model)
    x = image(203, 317, seed=1)
    ph, pw = padded_size(203, 317, rule)
    untiled = run_tiled(fn, x, rule, tile=1024, overlap=32)
    assert len(calls) == 1 and calls[0] == (1, 3, ph, pw)
    tiled = run_tiled(fn, x, rule, tile=96, overlap=32)
    assert len(calls) > 6  # really tiled
    assert tiled.shape == (203, 317, 3)
    assert np.abs(tiled - untiled).max() < 1e-3


def test_tiles_honour_the_size_rule():
    rule = SizeRule(multiple_of=16, min=64)
    plan = plan_tiles(1000, 45, rule, tile=300, overlap=40)
    assert plan.padded == (1008, 64)
    assert all(v % 16 == 0 for v in plan.tile)
    assert all(y % 16 == 0 and x % 16 == 0 for y, x in plan.origins)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 700),
    st.integers(1, 700),
    st.sampled_from([1, 8, 32]),
    st.integers(32, 300),
    st.integers(0, 64),
)
def test_tile_plans_cover_every_pixel(h, w, m, tile, overlap):
    plan = plan_tiles(h, w, SizeRule(m, m), tile, overlap)
    covered = np.zeros(plan.padded, bool)
    th, tw = plan.tile
    for y, x in plan.origins:
        assert y + th <= plan.padded[0] and x + tw <= plan.padded[1]
        covered[y : y + th, x : x + tw] = True
    assert covered.all()


def test_cancel_stops_between_tiles(conv_model):
    fn, calls = session_fn(conv_model)
    token = CancelToken()
    with pytest.raises(Cancelled):
        run_tiled(
            fn,
            image(300, 300),
            SizeRule(1, 1),
            tile=64,
            overlap=16,
            cancel=token,
            progress=lambda done, total: token.cancel() if done == 2 else None,
        )
    assert len(calls) == 2


def test_tile_size_follows_the_memory_budget():
    rule = SizeRule(32, 64)
    small, large = tile_for_budget(64, 4096, rule), tile_for_budget(1024, 4096, rule)
    assert small < large and small % 32 == 0 and large % 32 == 0
    assert tile_for_budget(0.001, 4096, rule) == 64  # never below the model's minimum
