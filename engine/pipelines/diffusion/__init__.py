"""Diffusion jobs around an ONNX noise-prediction (``ddpm-eps``) model.

Three user jobs share one sampler loop: ``generate`` samples from noise, ``inpaint``
fills a mask with RePaint (Lugmayr et al. 2022), ``edit`` runs SDEdit (Meng et al.
2022): noise the photo to a strength, then denoise. The package's rooms:

- :mod:`.options`: what the jobs take, and the checks of images and masks;
- :mod:`.model`: the eps model, fed through the pack adapter (roles, value range);
- :mod:`.sampler`: the loop over a chain of steps, the samplers as a table, progress;
- :mod:`.windows`: where model-size windows go on a larger photo;
- :mod:`.jobs`: the jobs, each fixing its run in one frozen plan before the loop.

The step maths are in :mod:`engine.ops.schedule`, borrowed texture for deep holes in
:mod:`engine.ops.texture`.

Decisions: an image smaller than the model's size is refused (upscale it first); an
empty mask is an error; a mask covering the whole photo is an error for ``inpaint``
(nothing is left to fill from: that is ``generate``) and means "edit everything" for
``edit``. Grayscale photos are run as RGB and the changed pixels returned as luma.
Pixels outside the region are returned bit for bit unchanged.
"""

from engine.jobs import Result
from engine.pipelines.diffusion.jobs import classical_fill, edit, generate, inpaint
from engine.pipelines.diffusion.model import TASK, EpsModel, load_model
from engine.pipelines.diffusion.options import (
    MAX_COUNT,
    DiffusionError,
    EditOptions,
    GenerateOptions,
    InpaintOptions,
    SamplerOptions,
)
from engine.pipelines.diffusion.sampler import SAMPLERS
from engine.pipelines.diffusion.windows import (
    THIN_CONTEXT,
    THIN_DRAWS,
    Window,
    cover_windows,
    deep_holes,
    fill_budget,
    plan_windows,
)

__all__ = [
    "MAX_COUNT",
    "SAMPLERS",
    "TASK",
    "THIN_CONTEXT",
    "THIN_DRAWS",
    "DiffusionError",
    "EditOptions",
    "EpsModel",
    "GenerateOptions",
    "InpaintOptions",
    "Result",
    "SamplerOptions",
    "Window",
    "classical_fill",
    "cover_windows",
    "deep_holes",
    "edit",
    "fill_budget",
    "generate",
    "inpaint",
    "load_model",
    "plan_windows",
]
