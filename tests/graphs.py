"""Tiny real ONNX graphs and model packs for tests, built with onnx.helper.

They are real graphs run by the real onnxruntime, just small enough that plumbing
tests take milliseconds. A plain module (not conftest.py) so every test folder can
import it by one unambiguous name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engine.models import Manifest, SizeRule, TensorSpec, Tiling, write_pack


def _conv(
    name: str,
    x: str,
    y: str,
    cin: int,
    cout: int,
    rng: np.random.Generator,
    stride: int = 1,
    transpose: bool = False,
) -> tuple[onnx.NodeProto, list]:
    shape = (cin, cout, 2, 2) if transpose else (cout, cin, 3, 3)
    weight = numpy_helper.from_array(
        (rng.standard_normal(shape) * 0.3).astype(np.float32), f"{name}_w"
    )
    bias = numpy_helper.from_array(
        (rng.standard_normal(cout) * 0.1).astype(np.float32), f"{name}_b"
    )
    if transpose:
        node = helper.make_node("ConvTranspose", [x, weight.name, bias.name], [y], strides=[2, 2])
    else:
        node = helper.make_node(
            "Conv", [x, weight.name, bias.name], [y], pads=[1, 1, 1, 1], strides=[stride, stride]
        )
    return node, [weight, bias]


def _save_graph(graph: onnx.GraphProto, path: Path) -> Path:
    """Wrap ``graph`` in an opset-17 model, check it and write it to ``path``."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def build_conv_model(
    path: Path,
    *,
    cin: int = 3,
    cout: int = 3,
    layers: int = 3,
    down: bool = False,
    width: int = 8,
    input_name: str = "image",
    output_name: str = "output",
    seed: int = 0,
    extra_input: tuple[str, int] | None = None,
) -> Path:
    """A small fully convolutional graph with dynamic N, H, W (tanh-squashed to [0,1]).

    ``down`` adds a stride-2 conv and a transposed conv, so the graph needs sizes
    that are multiples of 2 and is equivariant only to even shifts, like a U-Net.
    """
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current, channels = input_name, cin
    graph_inputs = [
        helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", cin, "H", "W"])
    ]
    if extra_input is not None:  # e.g. ("mask", 1): concatenated to the image, as restorers do
        name, extra = extra_input
        graph_inputs.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", extra, "H", "W"])
        )
        nodes.append(helper.make_node("Concat", [input_name, name], ["joined"], axis=1))
        current, channels = "joined", cin + extra
    for i in range(layers):
        out = f"h{i}"
        node, params = _conv(
            f"c{i}", current, out, channels, width, rng, stride=2 if down and i == 1 else 1
        )
        relu = helper.make_node("Relu", [out], [f"r{i}"])
        nodes += [node, relu]
        inits += params
        current, channels = f"r{i}", width
    if down:
        node, params = _conv("up", current, "upped", channels, width, rng, transpose=True)
        nodes.append(node)
        inits += params
        current = "upped"
    node, params = _conv("head", current, "logits", channels, cout, rng)
    nodes += [node, helper.make_node("Sigmoid", ["logits"], [output_name])]
    inits += params
    graph = helper.make_graph(
        nodes,
        "tiny",
        graph_inputs,
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", cout, "H", "W"])],
        inits,
    )
    return _save_graph(graph, path)


def tiny_manifest(name: str = "tiny", **changes) -> Manifest:
    fields = dict(
        name=name,
        task="test",
        version="1.0",
        title="Tiny test graph",
        inputs=(TensorSpec("image", "NCHW", 3, "float32", (0.0, 1.0)),),
        outputs=(TensorSpec("output", "NCHW", 3, "float32", (0.0, 1.0)),),
        sha256="",
        licence="MIT",
        size_rule=SizeRule(1, 1),
        tiling=Tiling(True, 32, 64),
    )
    fields.update(changes)
    return Manifest(**fields)


def restore_packs(root: Path) -> Path:
    """A user models folder with tiny real scratch-detect and restore packs."""
    models = root / "models"
    root.mkdir(parents=True, exist_ok=True)
    detector = build_conv_model(
        root / "det.onnx", cin=1, cout=1, input_name="image", output_name="prob", down=True
    )
    write_pack(
        models / "tiny-scratch",
        detector,
        tiny_manifest(
            "tiny-scratch",
            task="scratch-detect",
            inputs=(TensorSpec("image", "NCHW", 1, "float32", (0.0, 1.0)),),
            outputs=(TensorSpec("prob", "NCHW", 1, "float32", (0.0, 1.0)),),
            size_rule=SizeRule(4, 8),
            options={"threshold": 0.5, "working_long_side": 256},
        ),
        "# tiny scratch\n",
    )
    restorer = build_conv_model(
        root / "res.onnx", input_name="image", output_name="restored", extra_input=("mask", 1)
    )
    write_pack(
        models / "tiny-restore",
        restorer,
        tiny_manifest(
            "tiny-restore",
            task="restore",
            inputs=(
                TensorSpec("image", "NCHW", 3, "float32", (0.0, 1.0)),
                TensorSpec("mask", "NCHW", 1, "float32", (0.0, 1.0)),
            ),
            outputs=(TensorSpec("restored", "NCHW", 3, "float32", (0.0, 1.0)),),
            tiling=Tiling(True, 32, 256),
        ),
        "# tiny restore\n",
    )
    return models


def build_blur_restorer(path: Path) -> Path:
    """A restore graph that mildly blurs the photo (fixed 3x3 box) and ignores the mask.

    Stands in for a restoration model where a test needs the output to still look
    like the photo (e.g. faces must stay detectable).
    """
    kernel = numpy_helper.from_array(np.full((3, 1, 3, 3), 1 / 9, np.float32), "k")
    zero = numpy_helper.from_array(np.zeros((1,), np.float32), "zero")
    nodes = [
        helper.make_node("Conv", ["image", "k"], ["blurred"], pads=[1, 1, 1, 1], group=3),
        helper.make_node("Mul", ["mask", "zero"], ["nothing"]),
        helper.make_node("Add", ["blurred", "nothing"], ["restored"]),
    ]
    graph = helper.make_graph(
        nodes,
        "blur",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1, "H", "W"]),
        ],
        [helper.make_tensor_value_info("restored", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [kernel, zero],
    )
    return _save_graph(graph, path)


def build_prepass_restorer(path: Path) -> Path:
    """A restore graph with inputs image, mask, prepass that returns the prepass.

    Lets a test see exactly what the engine feeds a pack that asks for the classical
    pre-pass (our bundled restorer does).
    """
    zero = numpy_helper.from_array(np.zeros((1,), np.float32), "zero")
    nodes = [
        helper.make_node("Mul", ["image", "zero"], ["no_image"]),
        helper.make_node("Mul", ["mask", "zero"], ["no_mask"]),
        helper.make_node("Add", ["prepass", "no_image"], ["partial"]),
        helper.make_node("Add", ["partial", "no_mask"], ["restored"]),
    ]
    graph = helper.make_graph(
        nodes,
        "prepass",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1, "H", "W"]),
            helper.make_tensor_value_info("prepass", TensorProto.FLOAT, ["N", 3, "H", "W"]),
        ],
        [helper.make_tensor_value_info("restored", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [zero],
    )
    return _save_graph(graph, path)


SKETCH_INTO_INPUTS = {"known": 3, "region": 1, "edges": 1, "hints": 3, "hint_mask": 1}


def build_sketch_into_model(path: Path, seed: int = 0) -> Path:
    """A tiny ``sketch-into`` graph: the five inputs concatenated, two 3x3 convs, tanh.

    Sizes must be multiples of 2 (a stride-2 conv and a transposed conv), like a U-Net,
    so the engine's padding to the size rule is exercised.
    """
    rng = np.random.default_rng(seed)
    names = list(SKETCH_INTO_INPUTS)
    inputs = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", c, "H", "W"])
        for n, c in SKETCH_INTO_INPUTS.items()
    ]
    nodes = [helper.make_node("Concat", names, ["joined"], axis=1)]
    down, down_params = _conv("down", "joined", "h0", sum(SKETCH_INTO_INPUTS.values()), 8, rng, 2)
    up, up_params = _conv("up", "r0", "h1", 8, 8, rng, transpose=True)
    head, head_params = _conv("head", "h1", "logits", 8, 3, rng)
    nodes += [down, helper.make_node("Relu", ["h0"], ["r0"]), up, head]
    nodes.append(helper.make_node("Tanh", ["logits"], ["photo"]))
    graph = helper.make_graph(
        nodes,
        "tiny-sketch-into",
        inputs,
        [helper.make_tensor_value_info("photo", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        down_params + up_params + head_params,
    )
    return _save_graph(graph, path)


def sketch_into_pack(root: Path, name: str = "tiny-sketch-into") -> Path:
    """A user models folder holding one tiny ``sketch-into`` pack; returns ``root``."""
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    ranges = {"region": (0.0, 1.0), "hint_mask": (0.0, 1.0)}
    manifest = tiny_manifest(
        name,
        task="sketch-into",
        inputs=tuple(
            TensorSpec(n, "NCHW", c, "float32", ranges.get(n, (-1.0, 1.0)))
            for n, c in SKETCH_INTO_INPUTS.items()
        ),
        outputs=(TensorSpec("photo", "NCHW", 3, "float32", (-1.0, 1.0)),),
        size_rule=SizeRule(2, 2),
        tiling=Tiling(False, 0),
    )
    scratch = root / "graph.onnx"
    build_sketch_into_model(scratch)
    write_pack(models / name, scratch, manifest, "# tiny sketch-into test graph\n")
    scratch.unlink()
    return root


def build_upscaler(path: Path, scale: int = 2, layers: int = 2, seed: int = 0) -> Path:
    """A tiny super-resolution graph, shaped like Real-ESRGAN's Compact: 3x3 convs, one to
    3 * scale**2 channels, then a pixel shuffle (DepthToSpace, CRD) to scale x the size.
    Receptive radius ``layers + 1`` input pixels."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current, channels = "image", 3
    for i in range(layers):
        node, params = _conv(f"c{i}", current, f"h{i}", channels, 8, rng)
        nodes += [node, helper.make_node("Relu", [f"h{i}"], [f"r{i}"])]
        inits += params
        current, channels = f"r{i}", 8
    node, params = _conv("head", current, "features", channels, 3 * scale * scale, rng)
    nodes += [
        node,
        helper.make_node("DepthToSpace", ["features"], ["shuffled"], blocksize=scale, mode="CRD"),
        helper.make_node("Sigmoid", ["shuffled"], ["output"]),
    ]
    inits += params
    graph = helper.make_graph(
        nodes,
        "tiny-upscaler",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "SH", "SW"])],
        inits,
    )
    return _save_graph(graph, path)


def upscale_pack(models: Path, name: str = "tiny-upscale", scale: int = 2) -> Path:
    """An installed ``upscale`` pack (as ``heirloom models import`` writes them) with an
    overlap of four times the graph's receptive radius, so tiles join without seams."""
    models.mkdir(parents=True, exist_ok=True)
    graph = build_upscaler(models.parent / f"{name}.onnx", scale=scale)
    write_pack(
        models / name,
        graph,
        tiny_manifest(
            name,
            task="upscale",
            tiling=Tiling(True, 16, 256),
            options={"scale": scale},
        ),
        "# tiny upscaler\n",
    )
    return models / name


def denoise_pack(models: Path, name: str = "tiny-denoise") -> Path:
    """An installed ``denoise`` pack (image in, image out, as SCUNet's imports are)."""
    models.mkdir(parents=True, exist_ok=True)
    graph = build_conv_model(models.parent / f"{name}.onnx", layers=2)
    write_pack(
        models / name,
        graph,
        tiny_manifest(name, task="denoise", tiling=Tiling(True, 16, 256)),
        "# tiny denoiser\n",
    )
    return models / name


def face_restore_pack(models: Path, name: str = "tiny-face-restore") -> Path:
    """An installed ``face-restore`` pack shaped like a GFPGAN import (fixed 512x512,
    faces in [-1, 1]) whose graph negates the face: in pixels, 1 - face, so a test
    sees exactly where the face pass pasted its result."""
    models.mkdir(parents=True, exist_ok=True)
    shape = [1, 3, 512, 512]
    graph = helper.make_graph(
        [helper.make_node("Neg", ["image"], ["output"])],
        "tiny-face-restore",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
    )
    face_range = (-1.0, 1.0)
    write_pack(
        models / name,
        _save_graph(graph, models.parent / f"{name}.onnx"),
        tiny_manifest(
            name,
            task="face-restore",
            inputs=(TensorSpec("image", "NCHW", 3, "float32", face_range),),
            outputs=(TensorSpec("output", "NCHW", 3, "float32", face_range),),
            size_rule=SizeRule(fixed=(512, 512)),
            tiling=Tiling(False, 0, 4096),
        ),
        "# tiny face restorer\n",
    )
    return models / name


def fill_pack(models: Path, name: str = "tiny-fill", grey: float = 0.5) -> Path:
    """An installed ``fill`` pack with LaMa's inputs and size rule (multiples of 8) that
    paints the hole ``grey`` and returns the known pixels as they came, as LaMa does."""
    models.mkdir(parents=True, exist_ok=True)
    value = numpy_helper.from_array(np.array([grey], np.float32), "grey")
    one = numpy_helper.from_array(np.array([1.0], np.float32), "one")
    nodes = [
        helper.make_node("Sub", ["one", "mask"], ["keep"]),
        helper.make_node("Mul", ["image", "keep"], ["known"]),
        helper.make_node("Mul", ["mask", "grey"], ["painted"]),
        helper.make_node("Add", ["known", "painted"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-fill",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1, "H", "W"]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [value, one],
    )
    write_pack(
        models / name,
        _save_graph(graph, models.parent / f"{name}.onnx"),
        tiny_manifest(
            name,
            task="fill",
            inputs=(TensorSpec("image", "NCHW", 3), TensorSpec("mask", "NCHW", 1)),
            size_rule=SizeRule(multiple_of=8, min=16),
            tiling=Tiling(False, 0, 4096),
        ),
        "# tiny fill\n",
    )
    return models / name


def colorize_pack(models: Path, name: str = "tiny-colorize") -> Path:
    """An installed ``colorize`` pack with the contract of ours (``gray`` 1 channel in,
    ``rgb`` out, multiples of 16) that tints the gray warm: R + 0.15, B - 0.15, clipped."""
    models.mkdir(parents=True, exist_ok=True)
    tint = numpy_helper.from_array(
        np.array([0.15, 0.0, -0.15], np.float32).reshape(1, 3, 1, 1), "t"
    )
    low = numpy_helper.from_array(np.array(0.0, np.float32), "low")
    high = numpy_helper.from_array(np.array(1.0, np.float32), "high")
    nodes = [
        helper.make_node("Concat", ["gray", "gray", "gray"], ["grey_rgb"], axis=1),
        helper.make_node("Add", ["grey_rgb", "t"], ["tinted"]),
        helper.make_node("Clip", ["tinted", "low", "high"], ["rgb"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-colorize",
        [helper.make_tensor_value_info("gray", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [tint, low, high],
    )
    write_pack(
        models / name,
        _save_graph(graph, models.parent / f"{name}.onnx"),
        tiny_manifest(
            name,
            task="colorize",
            inputs=(TensorSpec("gray", "NCHW", 1, "float32", (0.0, 1.0)),),
            outputs=(TensorSpec("rgb", "NCHW", 3, "float32", (0.0, 1.0)),),
            size_rule=SizeRule(multiple_of=16, min=16),
            tiling=Tiling(False, 0, 4096),
            options={"working_side": 256},
        ),
        "# tiny colorizer\n",
    )
    return models / name
