"""The engine's numpy sampler steps against diffusers' schedulers, given the same eps.

Each test runs a whole chain: diffusers' step output is fed back as the next sample to
both implementations, the eps values are the same random arrays, and the variance
noise is drawn once and handed to both, so any difference is in the step maths.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, RePaintScheduler
from diffusers.schedulers import scheduling_ddpm

from engine.ops.schedule import (
    Schedule,
    ddim_step,
    ddpm_step,
    forward_jump,
    repaint_levels,
    strided_timesteps,
)

SHAPE = (2, 3, 8, 8)
ATOL = 1e-5


def test_schedule_matches_diffusers_betas() -> None:
    ours = Schedule.linear(1000, 1e-4, 0.02)
    theirs = DDPMScheduler(num_train_timesteps=1000).alphas_cumprod.numpy()
    assert np.allclose(ours.alphas_cumprod, theirs, rtol=1e-6, atol=0)


@pytest.mark.parametrize("variance_type", ["fixed_small", "fixed_large"])
@pytest.mark.parametrize("steps", [1000, 50, 7])
def test_ddpm_step_equals_diffusers(
    variance_type: str, steps: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    timesteps = strided_timesteps(999, steps)
    reference = DDPMScheduler(variance_type=variance_type, clip_sample=True)
    reference.set_timesteps(timesteps=timesteps.tolist())
    schedule = _same_schedule(reference, variance_type)
    rng = np.random.default_rng(steps)
    sample = rng.standard_normal(SHAPE).astype(np.float32)
    worst = 0.0
    for i, t in enumerate(timesteps):
        prev = int(timesteps[i + 1]) if i + 1 < steps else -1
        eps = (rng.standard_normal(SHAPE) * 1.5).astype(np.float32)
        noise = rng.standard_normal(SHAPE).astype(np.float32) if prev >= 0 else None
        ours, x0 = ddpm_step(
            sample, eps, schedule.abar(int(t)), schedule.abar(prev), noise, variance_type
        )
        # DDPMScheduler draws its own variance noise: hand it ours instead
        given = torch.from_numpy(noise if noise is not None else np.full(SHAPE, np.nan, "f4"))
        monkeypatch.setattr(scheduling_ddpm, "randn_tensor", lambda *a, g=given, **k: g)
        out = reference.step(torch.from_numpy(eps), int(t), torch.from_numpy(sample))
        theirs = out.prev_sample.numpy().astype(np.float32)
        # x0 divides by sqrt(abar_t), which scales float32 rounding up by as much
        scale = 1 / np.sqrt(schedule.abar(int(t)))
        assert np.abs(x0 - out.pred_original_sample.numpy()).max() < ATOL * scale
        worst = max(worst, float(np.abs(ours - theirs).max()))
        sample = theirs
    assert worst < ATOL, worst


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("steps", [50, 20])
def test_ddim_step_equals_diffusers(eta: float, steps: int) -> None:
    reference = DDIMScheduler(clip_sample=True, set_alpha_to_one=True)
    reference.set_timesteps(steps)
    schedule = _same_schedule(reference)
    stride = 1000 // steps
    rng = np.random.default_rng(int(eta * 10) + steps)
    sample = rng.standard_normal(SHAPE).astype(np.float32)
    worst = 0.0
    for t in reference.timesteps.tolist():
        eps = rng.standard_normal(SHAPE).astype(np.float32)
        noise = rng.standard_normal(SHAPE).astype(np.float32)
        ours, _ = ddim_step(sample, eps, schedule.abar(t), schedule.abar(t - stride), eta, noise)
        theirs = (
            reference.step(
                torch.from_numpy(eps),
                t,
                torch.from_numpy(sample),
                eta=eta,
                variance_noise=torch.from_numpy(noise),
            )
            .prev_sample.numpy()
            .astype(np.float32)
        )
        worst = max(worst, float(np.abs(ours - theirs).max()))
        sample = theirs
    assert worst < ATOL, worst


def _same_schedule(
    scheduler: DDPMScheduler | DDIMScheduler, variance_type: str = "fixed_small"
) -> Schedule:
    """Both sides on the reference's alpha-bars, with coefficient maths in float64.

    For small betas ``1 - abar_t / abar_prev`` magnifies the last float32 digit of the
    alpha-bars a thousandfold, and diffusers computes it in float32 (~1e-4 on the
    samples), so the comparison would be of rounding, not of maths. The schedules
    themselves are compared in ``test_schedule_matches_diffusers_betas``.
    """
    scheduler.alphas_cumprod = scheduler.alphas_cumprod.double()
    for name in ("one", "final_alpha_cumprod"):
        if hasattr(scheduler, name):
            setattr(scheduler, name, getattr(scheduler, name).double())
    return Schedule(scheduler.alphas_cumprod.numpy(), variance_type, clip_sample=True)


def test_strided_ddpm_is_deterministic_without_noise_at_the_last_step() -> None:
    schedule = Schedule.linear()
    sample = np.ones(SHAPE, np.float32) * 0.3
    eps = np.zeros(SHAPE, np.float32)
    last, x0 = ddpm_step(sample, eps, schedule.abar(0), 1.0, None)
    assert np.allclose(last, x0) and np.allclose(x0, 0.3 / np.sqrt(schedule.abar(0)))


def test_repaint_jump_schedule_visits_what_diffusers_visits() -> None:
    for steps, length, n in ((25, 5, 2), (50, 10, 3), (20, 10, 1)):
        reference = RePaintScheduler(num_train_timesteps=1000)
        reference.set_timesteps(steps, jump_length=length, jump_n_sample=n)
        # diffusers lists the level after each move and jumps one level at a time;
        # ours jumps up in one move, so expand our jumps before comparing
        theirs = [steps] + [int(t) // (1000 // steps) for t in reference.timesteps]
        ours = [steps]
        for here, there in zip(
            repaint_levels(steps, length, n)[:-1], repaint_levels(steps, length, n)[1:], strict=True
        ):
            ours += list(range(here + 1, there + 1)) if there > here else [there]
        assert ours == theirs


def test_forward_jump_has_the_marginal_of_single_steps() -> None:
    schedule = Schedule.linear()
    rng = np.random.default_rng(3)
    x = np.full((200_000,), 0.8, np.float32)
    jumped = forward_jump(x, schedule.abar(100), schedule.abar(300), rng.standard_normal(x.shape))
    ratio = schedule.abar(300) / schedule.abar(100)
    assert abs(jumped.mean() - 0.8 * np.sqrt(ratio)) < 0.01
    assert abs(jumped.var() - (1 - ratio)) < 0.01
