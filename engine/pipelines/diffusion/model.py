"""The noise-prediction (``ddpm-eps``) model as the sampler sees it.

:class:`EpsModel` feeds its pack through :class:`engine.adapter.PackAdapter` (the
``sample`` and ``timestep`` roles, the sample's value range) and carries what the
manifest says about sampling: the noise schedule and the fixed sample size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.adapter import PackAdapter, resolve_inputs
from engine.cancel import NEVER, CancelToken
from engine.errors import PackError
from engine.models import ModelPack, Registry
from engine.ops.schedule import Schedule
from engine.runtime import Device

TASK = "ddpm-eps"
_INT_DTYPES = {"int64": np.int64, "int32": np.int32}


@dataclass(frozen=True, eq=False)
class EpsModel:
    """An eps-prediction graph, its schedule and its sample size (height, width)."""

    adapter: PackAdapter
    schedule: Schedule
    size: tuple[int, int]
    timestep_dtype: type

    @property
    def pack(self) -> ModelPack:
        return self.adapter.pack

    def describe(self) -> str:
        """Where the graph really runs."""
        return self.adapter.describe()

    def __call__(self, sample: np.ndarray, t: int, cancel: CancelToken = NEVER) -> np.ndarray:
        """eps for an NCHW batch at timestep ``t`` (the same for every image)."""
        timestep = np.full((sample.shape[0],), t, dtype=self.timestep_dtype)
        sample = np.ascontiguousarray(sample, np.float32)
        return self.adapter.run({"sample": sample, "timestep": timestep}, cancel)[0]

    def to_model(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels in [0, 1] -> the sample's value range (DDPM packs: [-1, 1])."""
        return self.adapter.to_model(pixels, "sample")

    def to_pixels(self, values: np.ndarray) -> np.ndarray:
        """Values in the sample's range -> pixels in [0, 1], clipped."""
        return self.adapter.pixels_from_model(values, "sample")


def load_model(
    registry: Registry | None = None, name: str | None = None, device: Device = "auto"
) -> EpsModel:
    """Find and open the ``ddpm-eps`` pack; refuse, in one sentence, one we cannot feed."""
    pack = (registry or Registry()).for_task(TASK, name)
    m = pack.manifest
    # the manifest's shape for the task was checked when it was read (check_task_io)
    timestep = resolve_inputs(m)["timestep"]
    if timestep.dtype not in _INT_DTYPES:
        raise PackError(
            f"model pack '{m.name}' takes a {timestep.dtype} timestep, but Heirloom's sampler "
            "feeds integer timesteps; re-export it with an int64 timestep input"
        )
    size = m.size_rule.fixed or tuple(m.options.get("sample_size") or ())
    if len(size) != 2:
        raise PackError(f"model pack '{m.name}' does not say its sample size (size_rule.fixed)")
    schedule = Schedule.from_options(m.options, m.name)
    adapter = PackAdapter.open(pack, device)  # refuses a graph whose timestep type differs
    return EpsModel(
        adapter=adapter,
        schedule=schedule,
        size=(int(size[0]), int(size[1])),
        timestep_dtype=_INT_DTYPES[timestep.dtype],
    )
