"""The pack adapter: inputs found by role, values converted the one way, feeds by role."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import arrays
from engine.adapter import PackAdapter, resolve_inputs, tile_size
from engine.errors import HeirloomError, PackError
from engine.models import ModelPack, SizeRule, TensorSpec, Tiling
from graphs import tiny_manifest


def pack(task: str, inputs: tuple[TensorSpec, ...], **changes) -> ModelPack:
    manifest = tiny_manifest(task=task, inputs=inputs, **changes)
    return ModelPack(Path("/nowhere"), manifest)


class Recorder:
    """Stands in for a session: remembers the feeds by graph name, returns them."""

    def __init__(self) -> None:
        self.feeds: dict[str, np.ndarray] = {}

    def run(self, feeds, cancel, outputs):
        self.feeds = feeds
        return [feeds[name] for name in sorted(feeds)][: len(outputs)]

    def describe(self) -> str:
        return "CPU"


def test_roles_are_found_by_name_and_the_first_falls_back_to_its_layout() -> None:
    named = pack("restore", (TensorSpec("mask", "NCHW", 1), TensorSpec("photo", "NCHW", 3)))
    assert {role: spec.name for role, spec in resolve_inputs(named.manifest).items()} == {
        "image": "photo",
        "mask": "mask",
    }
    converted = pack("sketch2photo", (TensorSpec("input.1", "NCHW", 3),))
    assert resolve_inputs(converted.manifest)["edges"].name == "input.1"
    eps = pack("ddpm-eps", (TensorSpec("t", "N", None, "int64"), TensorSpec("noisy", "NCHW", 3)))
    found = resolve_inputs(eps.manifest)
    assert (found["sample"].name, found["timestep"].name) == ("noisy", "t")
    with pytest.raises(PackError, match="cannot feed task"):
        resolve_inputs(pack("test", (TensorSpec("image", "NCHW", 3),)).manifest)


def test_values_go_to_the_declared_range_or_the_roles_default() -> None:
    pixels = np.random.default_rng(0).random((2, 3, 4, 4), dtype=np.float32)
    signed = TensorSpec("edges", "NCHW", 3, "float32", (-1.0, 1.0))
    sketch = PackAdapter(pack("sketch2photo", (signed,)), Recorder())
    assert np.array_equal(sketch.to_model(pixels, "edges"), arrays.to_model_range(pixels, signed))
    eps = PackAdapter(
        pack("ddpm-eps", (TensorSpec("sample", "NCHW", 3), TensorSpec("timestep", "N"))),
        Recorder(),
    )
    values = eps.to_model(pixels, "sample")  # no range declared: a DDPM sample's [-1, 1]
    assert np.allclose(values, pixels * 2 - 1)
    assert np.allclose(eps.pixels_from_model(values, "sample"), pixels, atol=1e-6)


def test_a_pack_with_mean_and_std_is_normalised_as_it_was_trained() -> None:
    options = {"input_scale": 255.0, "mean": 127.5, "std": 128.0}
    mtcnn = PackAdapter(
        pack("face-detect-pnet", (TensorSpec("image", "NCHW", 3, "float32", (-1.0, 1.0)),),
             options=options),
        Recorder(),
    )  # fmt: skip
    pixels = np.array([0.0, 127.5, 255.0], np.float32)
    assert np.array_equal(mtcnn.to_model(pixels, "image", scale=255.0), (pixels - 127.5) / 128)
    assert np.allclose(mtcnn.to_model(pixels / 255, "image"), (pixels - 127.5) / 128)


def test_feeds_are_keyed_by_role_and_reach_the_graphs_names() -> None:
    recorder = Recorder()
    restore = PackAdapter(
        pack("restore", (TensorSpec("photo", "NCHW", 3), TensorSpec("holes", "NCHW", 1))),
        recorder,
    )
    assert not restore.has("mask") and not restore.has("prepass")  # "holes" is no role's name
    restore.run({"image": np.zeros((1, 3, 2, 2), np.float32)})
    assert list(recorder.feeds) == ["photo"]
    with pytest.raises(PackError, match="no input for the prepass"):
        restore.input("prepass")


def test_tiles_follow_the_packs_tiling_and_margins() -> None:
    whole = pack("restore", (TensorSpec("image", "NCHW", 3),), tiling=Tiling(False, 0, 64))
    assert tile_size(whole, 64, 1024) >= 1 << 30  # runs whole, whatever was asked
    tiled = pack(
        "restore", (TensorSpec("image", "NCHW", 3),),
        size_rule=SizeRule(16, 16), tiling=Tiling(True, 64, 64),
    )  # fmt: skip
    assert tile_size(tiled, 256, 1024) == 256
    with pytest.raises(HeirloomError, match="use at least"):
        tile_size(tiled, 64, 1024)
