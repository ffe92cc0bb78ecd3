"""What the diffusion jobs take, and the checks of images and masks every job makes
before any work. Every problem is a :class:`DiffusionError`: one line, exit code 2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from engine.errors import HeirloomError
from engine.runtime import Device

if TYPE_CHECKING:
    from engine.pipelines.diffusion.model import EpsModel

Sampler = Literal["ddim", "ddpm"]
MAX_COUNT = 64


class DiffusionError(HeirloomError):
    """Options or inputs the diffusion jobs cannot work with."""


@dataclass(frozen=True)
class SamplerOptions:
    """What every diffusion job takes. ``seed`` None draws one (reported in ``info``)."""

    steps: int = 50
    seed: int | None = None
    sampler: Sampler = "ddim"
    eta: float = 0.0  # DDIM only: 0 deterministic, 1 DDPM-like noise
    model: str | None = None
    device: Device = "auto"
    max_batch: int = 16  # images per model call; bounds memory, not results


@dataclass(frozen=True)
class GenerateOptions(SamplerOptions):
    count: int = 1


@dataclass(frozen=True)
class InpaintOptions(SamplerOptions):
    """RePaint from a Telea fill noised to ``strength`` (1 = from pure noise), in
    ``round(steps * strength)`` ancestral steps; ``jump_n_sample - 1`` resampling jumps
    of ``jump_length`` strided steps every ``jump_length`` steps (1 = no resampling).
    The defaults were chosen on validation holes (decision 0012): 4 model steps, each
    one call for every window and draw of the photo. A photo whose windows x draws
    exceed ``step_images`` (a large one) is filled with one antithetic pair of draws
    and, unless ``context`` is given, no context: see :func:`fill_budget`."""

    steps: int = 16
    sampler: Sampler = "ddpm"
    jump_length: int = 5
    jump_n_sample: int = 1
    context: int | None = None  # px around each core; None = an eighth of the model size
    draws: int = 4  # fills sampled per window and averaged, in antithetic pairs; at most
    step_images: int | None = 64  # windows x draws per step before the fill thins; None: never
    strength: float = 0.25  # 1: from pure noise; below: from a Telea fill noised this far
    max_batch: int = 64  # images per model call (windows x draws of a step); bounds memory


@dataclass(frozen=True)
class EditOptions(SamplerOptions):
    """SDEdit: ``strength`` in (0, 1] is how far up the chain the photo is noised;
    ``round(steps * strength)`` model steps bring it back."""

    strength: float = 0.5
    context: int | None = None


def check_image(image: np.ndarray, model: EpsModel) -> np.ndarray:
    """HxWx1 or HxWx3 float32, at least the model's size (smaller would need upscaling)."""
    pixels = np.asarray(image, np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise DiffusionError(f"expected an RGB or grayscale image, got shape {pixels.shape}")
    (height, width), (mh, mw) = pixels.shape[:2], model.size
    if height < mh or width < mw:
        raise DiffusionError(
            f"the image is {width}x{height} px, smaller than the {mw}x{mh} px that model "
            f"'{model.pack.name}' works on; enlarge it first"
        )
    return pixels


def check_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The region to change as HxW bool (> 0.5), the image's size, not empty."""
    region = np.asarray(mask)
    if region.ndim == 3 and region.shape[2] == 1:
        region = region[..., 0]
    if region.shape != shape[:2]:
        raise DiffusionError(
            f"the mask is {region.shape[1] if region.ndim > 1 else '?'}x{region.shape[0]} px "
            f"but the image is {shape[1]}x{shape[0]} px; they must match"
        )
    region = region > 0.5
    if not region.any():
        raise DiffusionError("the mask is empty; paint the area to change first")
    return region


def seeded_rng(options: SamplerOptions) -> tuple[np.random.Generator, int]:
    """The job's random generator and its seed (drawn when the options give none)."""
    seed = options.seed
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**32))
    return np.random.default_rng(seed), int(seed)
