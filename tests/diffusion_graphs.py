"""Tiny real ``ddpm-eps`` graphs (onnx.helper) for the diffusion tests.

``exact``: the ideal noise predictor for data that is always one fixed image P,
``eps = (x - sqrt(abar_t) P) / sqrt(1 - abar_t)``, so a correct sampler must end at P.
``conv``: a random convolution whose output depends on x and t, so seeds matter and
edits of different strengths differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engine.models import Manifest, ModelPack, SizeRule, TensorSpec, Tiling, write_pack
from engine.ops.schedule import Schedule

SIZE = 16


def target_image(size: int = SIZE) -> np.ndarray:
    """The fixed image P of the ``exact`` graph, HxWx3 in [0, 1]: smooth colour ramps."""
    ramp = np.linspace(0.15, 0.85, size, dtype=np.float32)
    return np.stack(
        [np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)), np.full((size, size), 0.4)],
        axis=2,
    ).astype(np.float32)


def build_eps_graph(
    path: Path, kind: str = "exact", size: int = SIZE, float_timestep: bool = False
) -> Path:
    schedule = Schedule.linear()
    abar = schedule.alphas_cumprod
    t_type = TensorProto.FLOAT if float_timestep else TensorProto.INT64
    nodes = []
    t_index = "timestep"
    if float_timestep:
        nodes.append(helper.make_node("Cast", ["timestep"], ["t_int"], to=TensorProto.INT64))
        t_index = "t_int"
    inits = [numpy_helper.from_array(np.array([-1, 1, 1, 1], np.int64), "shape4")]
    if kind == "exact":
        target = target_image(size).transpose(2, 0, 1)[None] * 2 - 1
        inits += [
            numpy_helper.from_array(np.sqrt(abar).astype(np.float32), "sa"),
            numpy_helper.from_array(np.sqrt(1 - abar).astype(np.float32), "s1m"),
            numpy_helper.from_array(target.astype(np.float32), "target"),
        ]
        nodes += [
            helper.make_node("Gather", ["sa", t_index], ["sa_t"]),
            helper.make_node("Gather", ["s1m", t_index], ["s1m_t"]),
            helper.make_node("Reshape", ["sa_t", "shape4"], ["sa4"]),
            helper.make_node("Reshape", ["s1m_t", "shape4"], ["s1m4"]),
            helper.make_node("Mul", ["sa4", "target"], ["mean"]),
            helper.make_node("Sub", ["sample", "mean"], ["diff"]),
            helper.make_node("Div", ["diff", "s1m4"], ["eps"]),
        ]
    else:
        rng = np.random.default_rng(0)
        inits += [
            numpy_helper.from_array(
                (rng.standard_normal((3, 3, 3, 3)) * 0.4).astype(np.float32), "w"
            ),
            numpy_helper.from_array(np.zeros(3, np.float32), "b"),
            numpy_helper.from_array(np.linspace(-0.5, 0.5, 1000).astype(np.float32), "tv"),
        ]
        nodes += [
            helper.make_node("Conv", ["sample", "w", "b"], ["h"], pads=[1, 1, 1, 1]),
            helper.make_node("Gather", ["tv", t_index], ["tv_t"]),
            helper.make_node("Reshape", ["tv_t", "shape4"], ["tv4"]),
            helper.make_node("Add", ["h", "tv4"], ["ht"]),
            helper.make_node("Tanh", ["ht"], ["eps"]),
        ]
    graph = helper.make_graph(
        nodes,
        "eps",
        [
            helper.make_tensor_value_info("sample", TensorProto.FLOAT, ["N", 3, size, size]),
            helper.make_tensor_value_info("timestep", t_type, ["N"]),
        ],
        [helper.make_tensor_value_info("eps", TensorProto.FLOAT, ["N", 3, size, size])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def eps_pack(
    folder: Path,
    name: str = "eps-exact",
    kind: str = "exact",
    size: int = SIZE,
    float_timestep: bool = False,
) -> ModelPack:
    """Write a ``ddpm-eps`` pack (linear betas, T = 1000) into ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    graph = build_eps_graph(folder / f"{name}.onnx", kind, size, float_timestep)
    manifest = Manifest(
        name=name,
        task="ddpm-eps",
        version="1",
        title=f"test eps graph ({kind})",
        inputs=(
            TensorSpec("sample", "NCHW", 3, "float32", (-1.0, 1.0)),
            TensorSpec("timestep", "N", None, "float32" if float_timestep else "int64"),
        ),
        outputs=(TensorSpec("eps", "NCHW", 3, "float32"),),
        sha256="",
        licence="MIT",
        size_rule=SizeRule(1, size, (size, size)),
        tiling=Tiling(False, 0),
        options={
            "num_train_timesteps": 1000,
            "beta_start": 1e-4,
            "beta_end": 0.02,
            "beta_schedule": "linear",
            "variance_type": "fixed_small",
            "clip_sample": True,
            "prediction_type": "epsilon",
        },
    )
    return write_pack(folder / name, graph, manifest, f"# {name}\nA test graph.\n")
