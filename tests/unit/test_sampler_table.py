"""The diffusion sampler's pieces: the chain of steps and the table of samplers."""

from __future__ import annotations

import numpy as np

from engine.ops.schedule import Schedule, ddim_step, ddpm_step, repaint_levels
from engine.pipelines.diffusion import SAMPLERS, GenerateOptions
from engine.pipelines.diffusion.sampler import Chain, take_step


def test_a_chain_counts_model_steps_and_not_its_jumps_back_up() -> None:
    plain = Chain.plain(999, 4)
    assert plain.timesteps.tolist() == [999, 666, 333, 0] and plain.model_calls == 4
    assert [t for t, _, _ in plain.moves()] == [999, 666, 333, 0]
    assert list(plain.moves())[-1] == (0, -1, True)  # the last step lands on the clean image
    jumpy = Chain.repaint(999, 10, 5, 2)
    levels = repaint_levels(10, 5, 2)
    downs = sum(1 for a, b in zip(levels, levels[1:], strict=False) if b < a)
    assert jumpy.model_calls == downs > 10
    assert any(not down for _, _, down in jumpy.moves())


def test_each_sampler_is_one_row_and_takes_the_reference_step() -> None:
    schedule = Schedule.from_options({}, "test")
    rng = np.random.default_rng(0)
    x, eps, fresh = (rng.standard_normal((1, 3, 4, 4), dtype=np.float32) for _ in range(3))
    draws = []

    def draw(shape):
        draws.append(shape)
        return fresh

    a_t, a_prev = schedule.abar(500), schedule.abar(250)
    got = take_step(x, eps, 500, 250, schedule, GenerateOptions(sampler="ddpm"), draw)
    want = ddpm_step(x, eps, a_t, a_prev, fresh, schedule.variance_type, schedule.clip_sample)
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    ddim = GenerateOptions(sampler="ddim", eta=0.0)
    got = take_step(x, eps, 500, 250, schedule, ddim, draw)
    want = ddim_step(x, eps, a_t, a_prev, 0.0, None, schedule.clip_sample)
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    assert len(draws) == 1  # deterministic DDIM draws no noise; DDPM drew once
    take_step(x, eps, 250, -1, schedule, GenerateOptions(sampler="ddpm"), draw)
    assert len(draws) == 1  # nor does any sampler's last step
    assert set(SAMPLERS) == {"ddpm", "ddim"}
