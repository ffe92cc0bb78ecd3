"""One way to feed any model pack: roles, value ranges, channels, size rule and tiling.

Pipelines speak in *roles* ("the photo", "the damage mask", "the timestep") and in
float32 images in [0, 1]; a pack's graph speaks in tensor names, NCHW layouts and the
value ranges its manifest declares. :class:`PackAdapter` is the one place that
translates, the way IOPaint's ``InpaintModel`` wraps every model behind ``pad_mod``
and ``forward``: a pipeline never guesses an input name, indexes ``inputs[0]`` or
re-implements a range conversion.

Roles are declared per task in :data:`ROLES`. A role is found by its accepted names;
the *first* role of a task is required and falls back to the first input of the
layout it wants (packs converted from other projects name their inputs freely);
the other roles are optional (a restore pack without a ``prepass`` input simply gets
none). Which inputs a task must have at all is checked when a pack is read
(:func:`engine.models.check_task_io`), so resolution here cannot fail for a valid pack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from engine import arrays
from engine.cancel import NEVER, CancelToken
from engine.errors import HeirloomError, PackError
from engine.limits import TILE
from engine.models import Manifest, ModelPack, SizeRule, TensorSpec
from engine.runtime import Device, Session, open_pack
from engine.tiling import padded_size, run_tiled, smallest_tile, tile_for_budget


@dataclass(frozen=True)
class Role:
    """What a pipeline calls one graph input, and how to recognise it in a manifest."""

    names: tuple[str, ...]  # accepted tensor names, preferred first
    layout: str = "NCHW"
    default_range: tuple[float, float] = (0.0, 1.0)  # when the manifest declares none


IMAGE = Role(("image", "photo", "input"))
FACE_DETECT = {"image": IMAGE}

# task -> role -> how to find it; the first role of each task is required.
ROLES: dict[str, dict[str, Role]] = {
    "scratch-detect": {"image": IMAGE},
    "restore": {"image": IMAGE, "mask": Role(("mask",)), "prepass": Role(("prepass",))},
    "face-enhance": {"image": IMAGE},
    "face-detect-pnet": FACE_DETECT,
    "face-detect-rnet": FACE_DETECT,
    "face-detect-onet": FACE_DETECT,
    "sketch2photo": {"edges": Role(("edges", "sketch", "image", "input"))},
    "sketch-into": {
        "known": Role(("known",), default_range=(-1.0, 1.0)),
        "region": Role(("region",)),
        "edges": Role(("edges",), default_range=(-1.0, 1.0)),
        "hints": Role(("hints",), default_range=(-1.0, 1.0)),
        "hint_mask": Role(("hint_mask",)),
    },
    "upscale": {"image": IMAGE},
    "denoise": {"image": IMAGE},
    "face-restore": {"image": IMAGE},
    "fill": {"image": IMAGE, "mask": Role(("mask",))},
    "colorize": {"gray": Role(("gray", "image", "input"))},
    "ddpm-eps": {
        "sample": Role(("sample", "x", "image"), default_range=(-1.0, 1.0)),
        "timestep": Role(("timestep", "t"), layout="N"),
    },
}


def _find(inputs: tuple[TensorSpec, ...], role: Role, required: bool) -> TensorSpec | None:
    named = next((s for s in inputs if s.name in role.names), None)
    if named is not None or not required:
        return named
    return next((s for s in inputs if s.layout == role.layout), None)


def resolve_inputs(manifest: Manifest) -> dict[str, TensorSpec]:
    """Role -> graph input for a pack of a task in :data:`ROLES` (no session needed, so a
    pipeline can refuse a pack it cannot feed before opening it)."""
    roles = ROLES.get(manifest.task)
    if roles is None:
        raise PackError(f"model pack '{manifest.name}': Heirloom cannot feed task {manifest.task}")
    inputs: dict[str, TensorSpec] = {}
    for index, (role, how) in enumerate(roles.items()):
        spec = _find(manifest.inputs, how, required=index == 0)
        if spec is not None:
            inputs[role] = spec
    first = next(iter(roles))
    if first not in inputs:
        raise PackError(
            f"model pack '{manifest.name}' has no {roles[first].layout} input for the {first}"
        )
    return inputs


class PackAdapter:
    """A pack's open session plus the translation between roles and graph tensors.

    Build one with :meth:`open`; it is cheap (sessions are cached by the runtime), so
    pipelines open one per call rather than keeping them.
    """

    def __init__(self, pack: ModelPack, session: Session) -> None:
        self.pack = pack
        self.session = session
        self.roles = ROLES.get(pack.manifest.task, {})
        self.inputs = resolve_inputs(pack.manifest)

    @classmethod
    def open(cls, pack: ModelPack, device: Device = "auto") -> PackAdapter:
        """Open ``pack`` on ``device`` (its graph checked against its manifest)."""
        return cls(pack, open_pack(pack, device))

    # --- what the pack is ---------------------------------------------------------

    @property
    def name(self) -> str:
        return self.pack.name

    @property
    def options(self) -> dict:
        return self.pack.manifest.options

    @property
    def size_rule(self) -> SizeRule:
        return self.pack.manifest.size_rule

    def describe(self) -> str:
        """Where the graph really runs (see :meth:`engine.runtime.Session.describe`)."""
        return self.session.describe()

    def has(self, role: str) -> bool:
        return role in self.inputs

    def input(self, role: str) -> TensorSpec:
        """The graph input playing ``role``; PackError when the pack has none."""
        try:
            return self.inputs[role]
        except KeyError:
            raise PackError(f"model pack '{self.name}' has no input for the {role}") from None

    def output(self, name: str | None = None) -> TensorSpec:
        """The output called ``name``, or the first (the task's result)."""
        outputs = self.pack.manifest.outputs
        if name is None:
            return outputs[0]
        for spec in outputs:
            if spec.name == name:
                return spec
        raise PackError(f"model pack '{self.name}' has no output named '{name}'")

    def channels(self, role: str, default: int = 3) -> int:
        return self.input(role).channels or default

    # --- values in and out --------------------------------------------------------

    def _range(self, role: str) -> tuple[float, float]:
        return self.input(role).value_range or self.roles[role].default_range

    def to_model(self, values: np.ndarray, role: str, scale: float = 1.0) -> np.ndarray:
        """Values in [0, ``scale``] -> what the graph input for ``role`` wants.

        A pack whose options give ``input_scale``, ``mean`` and ``std`` (MTCNN: pixels
        on 0..255, minus 127.5, over 128) is normalised that way, as its training was;
        any other is mapped linearly onto its declared value range.
        """
        options = self.options
        if {"input_scale", "mean", "std"} <= options.keys():
            input_scale = float(options["input_scale"])
            if input_scale != scale:
                values = values * np.float32(input_scale / scale)
            return (values - float(options["mean"])) / float(options["std"])
        if scale != 1.0:
            values = values / np.float32(scale)
        spec = replace(self.input(role), value_range=self._range(role))
        return arrays.to_model_range(values, spec)

    def from_model(self, values: np.ndarray, output: str | None = None) -> np.ndarray:
        """A graph output in its declared range -> [0, 1] (clipped)."""
        return arrays.from_model_range(values, self.output(output))

    def pixels_from_model(self, values: np.ndarray, role: str) -> np.ndarray:
        """Values in ``role``'s input range back to [0, 1] (clipped): for samplers whose
        state lives in the model's range, as a DDPM's noisy sample does."""
        spec = self.input(role)
        return arrays.from_model_range(values, replace(spec, value_range=self._range(role)))

    def to_channels(self, image: np.ndarray, role: str, default: int = 3) -> np.ndarray:
        """HxWxC with the channel count ``role`` declares (gray <-> RGB)."""
        return arrays.to_channels(image, self.channels(role, default))

    # --- running ------------------------------------------------------------------

    def run(
        self,
        feeds: dict[str, np.ndarray],
        cancel: CancelToken = NEVER,
        outputs: list[str] | None = None,
    ) -> list[np.ndarray]:
        """Run the graph on ``feeds`` keyed by role, already in the model's values.

        ``outputs`` names the outputs wanted (default: the first, the task's result).
        """
        named = {self.input(role).name: value for role, value in feeds.items()}
        wanted = outputs if outputs is not None else [self.output().name]
        return self.session.run(named, cancel, wanted)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The smallest size at least (height, width) that the pack's size rule accepts."""
        return padded_size(height, width, self.size_rule)

    def tile_size(self, tile: int | None, memory_mb: float) -> int:
        """See :func:`tile_size`."""
        return tile_size(self.pack, tile, memory_mb)

    def run_tiled(
        self,
        fn: Callable[[np.ndarray], np.ndarray],
        image: np.ndarray,
        tile: int,
        cancel: CancelToken = NEVER,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """``fn`` (NCHW batch -> NCHW) over ``image`` padded to the size rule, in tiles
        with the pack's overlap (:func:`engine.tiling.run_tiled`)."""
        return run_tiled(
            fn,
            image,
            self.size_rule,
            tile=tile,
            overlap=self.pack.manifest.tiling.overlap,
            cancel=cancel,
            progress=progress,
        )


def tile_size(pack: ModelPack, tile: int | None, memory_mb: float) -> int:
    """The tile side to run ``pack`` at: ``tile`` if given (checked against what the
    pack's margins need), else the largest that fits ``memory_mb``; packs that may not
    be tiled run whole. Needs no session, so a bad tile fails before any work."""
    manifest = pack.manifest
    if not manifest.tiling.allowed:
        return 1 << 30  # one tile: the graph needs the whole image
    if tile:
        TILE.check(tile)
        smallest = smallest_tile(manifest.size_rule, manifest.tiling.overlap)
        if tile < smallest:
            raise HeirloomError(
                f"tile size {tile} is too small for the model pack '{pack.name}'; "
                f"use at least {smallest}"
            )
        return tile
    return tile_for_budget(memory_mb, manifest.tiling.bytes_per_pixel, manifest.size_rule)
