"""DDPM sampling maths as small pure functions over numpy arrays.

Notation follows Ho et al. 2020 (DDPM) and Song et al. 2021 (DDIM): ``abar_t`` is the
cumulative product of ``1 - beta`` up to timestep ``t``; ``abar`` of "before the first
timestep" (landing on the clean image) is 1. Every step function takes the two
``abar`` values it moves between rather than timestep indices, so the same function
serves the full T-step chain and any strided subsequence: for a stride, the
effective beta is ``1 - abar_t / abar_prev``, which is improved-DDPM's respacing and
what diffusers' schedulers compute. Arrays stay float32 (what the model eats);
coefficients are computed in float64 and applied as Python floats.

Random noise is always passed in by the caller, never drawn here, so the steps are
deterministic functions a test can compare with a reference implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import PackError

VARIANCE_TYPES = ("fixed_small", "fixed_large")


@dataclass(frozen=True)
class Schedule:
    """The noise schedule a model was trained with (from its manifest's options).

    ``variance_type`` picks the reverse-step variance: ``fixed_small`` is the true
    posterior variance (beta tilde), ``fixed_large`` is beta itself; Ho et al. found
    both give similar samples. ``clip_sample`` clips each x0 prediction to [-1, 1].
    """

    alphas_cumprod: np.ndarray  # float64, length T
    variance_type: str = "fixed_small"
    clip_sample: bool = True

    @property
    def num_train_timesteps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    def abar(self, t: int) -> float:
        """``abar_t``; t = -1 means the clean image (1.0)."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    @classmethod
    def linear(
        cls,
        num_train_timesteps: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        variance_type: str = "fixed_small",
        clip_sample: bool = True,
    ) -> Schedule:
        """DDPM's linear betas, in float64 (training code in float32 agrees to ~1e-7)."""
        betas = np.linspace(beta_start, beta_end, num_train_timesteps, dtype=np.float64)
        return cls(np.cumprod(1.0 - betas), variance_type, clip_sample)

    @classmethod
    def from_options(cls, options: dict[str, Any], pack: str = "?") -> Schedule:
        """Read a ``ddpm-eps`` manifest's options; unsupported ones are a PackError."""
        kind = options.get("beta_schedule", "linear")
        prediction = options.get("prediction_type", "epsilon")
        variance = options.get("variance_type", "fixed_small")
        if kind != "linear":
            raise PackError(f"model pack '{pack}' uses a '{kind}' beta schedule; only linear works")
        if prediction != "epsilon":
            raise PackError(f"model pack '{pack}' predicts '{prediction}'; only epsilon works")
        if variance not in VARIANCE_TYPES:
            raise PackError(
                f"model pack '{pack}' has variance type '{variance}'; "
                f"only {' or '.join(VARIANCE_TYPES)} work"
            )
        try:
            steps = int(options.get("num_train_timesteps", 1000))
            start = float(options.get("beta_start", 1e-4))
            end = float(options.get("beta_end", 0.02))
        except (TypeError, ValueError):
            raise PackError(f"model pack '{pack}' has a malformed noise schedule") from None
        if steps < 2 or not 0 < start < end < 1:
            raise PackError(f"model pack '{pack}' has an invalid noise schedule")
        return cls.linear(steps, start, end, variance, bool(options.get("clip_sample", True)))


def strided_timesteps(start: int, steps: int) -> np.ndarray:
    """``steps`` timesteps from ``start`` down to 0, evenly spaced, descending, int64.

    With ``start = T - 1`` and ``steps = T`` this is the full chain; fewer steps give
    improved-DDPM's even respacing (both ends always included).
    """
    if not 1 <= steps <= start + 1:
        raise ValueError(f"steps must be in 1..{start + 1}, got {steps}")
    return np.round(np.linspace(start, 0, steps)).astype(np.int64)


def repaint_levels(steps: int, jump_length: int, jump_n_sample: int) -> list[int]:
    """The RePaint visiting order over noise levels ``steps`` (noisiest) .. 0 (clean).

    Level k >= 1 is the k-th strided timestep from the clean end; each move down is a
    model step, each move up a forward jump of ``jump_length`` levels. After landing on
    a level j (a multiple of ``jump_length`` below ``steps - jump_length``) the sampler
    jumps back up ``jump_n_sample - 1`` times (Lugmayr et al. 2022, Fig. 3). With
    ``jump_n_sample = 1`` this is the plain chain ``steps, steps - 1, ..., 0``.
    """
    remaining = {j: jump_n_sample - 1 for j in range(0, steps - jump_length, jump_length)}
    level, levels = steps, [steps]
    while level > 0:
        level -= 1
        levels.append(level)
        if remaining.get(level, 0) > 0:
            remaining[level] -= 1
            level += jump_length
            levels.append(level)
    return levels


def predict_x0(sample: np.ndarray, eps: np.ndarray, abar_t: float, clip: bool = True) -> np.ndarray:
    """The clean image implied by a noise prediction (DDPM eq. 15), clipped to [-1, 1]."""
    x0 = (sample - math.sqrt(1.0 - abar_t) * eps) / math.sqrt(abar_t)
    return np.clip(x0, -1.0, 1.0) if clip else x0


def ddpm_step(
    sample: np.ndarray,
    eps: np.ndarray,
    abar_t: float,
    abar_prev: float,
    noise: np.ndarray | None,
    variance_type: str = "fixed_small",
    clip: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One ancestral step x_t -> x_prev (DDPM Algorithm 2, line 4); returns (x_prev, x0).

    The posterior mean is taken around the (clipped) x0 prediction. ``noise`` is a
    standard normal array, or None for the last step onto the clean image, which adds
    no noise.
    """
    beta = 1.0 - abar_t / abar_prev
    x0 = predict_x0(sample, eps, abar_t, clip)
    coef_x0 = math.sqrt(abar_prev) * beta / (1.0 - abar_t)
    coef_xt = math.sqrt(1.0 - beta) * (1.0 - abar_prev) / (1.0 - abar_t)
    mean = coef_x0 * x0 + coef_xt * sample
    if noise is None:
        return mean, x0
    if variance_type == "fixed_large":
        variance = beta
    else:
        variance = max((1.0 - abar_prev) / (1.0 - abar_t) * beta, 1e-20)
    return mean + math.sqrt(variance) * noise, x0


def ddim_step(
    sample: np.ndarray,
    eps: np.ndarray,
    abar_t: float,
    abar_prev: float,
    eta: float,
    noise: np.ndarray | None,
    clip: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One DDIM step x_t -> x_prev (Song et al. eq. 12); returns (x_prev, x0).

    ``eta = 0`` is deterministic; ``eta = 1`` has DDPM's posterior variance. As in
    diffusers (``use_clipped_model_output=False``) the direction term uses the model's
    eps even when x0 was clipped. ``noise`` is needed only when ``eta > 0``.
    """
    x0 = predict_x0(sample, eps, abar_t, clip)
    variance = (1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev)
    sigma = eta * math.sqrt(max(variance, 0.0))
    direction = math.sqrt(max(1.0 - abar_prev - sigma**2, 0.0)) * eps
    prev = math.sqrt(abar_prev) * x0 + direction
    if sigma > 0 and noise is not None:
        prev = prev + sigma * noise
    return prev, x0


def q_sample(x0: np.ndarray, abar_t: float, noise: np.ndarray) -> np.ndarray:
    """Noise a clean image to level ``abar_t`` (forward process; RePaint's known part)."""
    return math.sqrt(abar_t) * x0 + math.sqrt(1.0 - abar_t) * noise


def forward_jump(
    sample: np.ndarray, abar_from: float, abar_to: float, noise: np.ndarray
) -> np.ndarray:
    """Move a sample up the chain from ``abar_from`` to the noisier ``abar_to``.

    This is q(x_to | x_from), RePaint's "undo": the composition of the single forward
    steps between the two levels, drawn at once.
    """
    ratio = abar_to / abar_from
    return math.sqrt(ratio) * sample + math.sqrt(1.0 - ratio) * noise


def repaint_merge(
    unknown: np.ndarray,
    known_x0: np.ndarray,
    keep: np.ndarray,
    abar_prev: float,
    noise: np.ndarray | None,
) -> np.ndarray:
    """RePaint's combination (Lugmayr et al. Alg. 1, lines 5-8) at level ``abar_prev``.

    ``keep`` is 1 where the image is known (broadcasts over channels). The known part
    is the original noised to the same level; on the clean level it is the original.
    """
    known = known_x0 if noise is None else q_sample(known_x0, abar_prev, noise)
    return keep * known + (1.0 - keep) * unknown
