"""Model packs from a careless or hostile source: names, links, unlisted files, wrong tasks.

Defects 1, 2, 9 and 10 of the trust issue, each as it was reproduced: through the
``heirloom models`` commands a user runs, with real (tiny) ONNX graphs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data

from engine.errors import PackError
from engine.models import (
    MANIFEST_FILE,
    Registry,
    TensorSpec,
    check_pack_name,
    read_pack,
    seal_pack,
    verify_pack,
    write_pack,
)
from engine.pipelines.restore import RestoreOptions, restore_photo
from fault_tools import one_line_error, run, tree
from graphs import build_conv_model, restore_packs, tiny_manifest


def _rename(pack_dir: Path, name: object) -> None:
    data = json.loads((pack_dir / MANIFEST_FILE).read_text())
    data["name"] = name
    (pack_dir / MANIFEST_FILE).write_text(json.dumps(data))


@pytest.mark.parametrize("name", ["./../../x", "../x", "a/b", "/abs", ".", "..", "", "A", "x" * 65])
def test_a_pack_name_that_is_not_a_plain_identifier_is_refused(
    name, tiny_pack, home, tmp_path, capsys
):
    _rename(tiny_pack.path, name)
    before = tree(tmp_path)
    code, _, err = run(capsys, "models", "import", tiny_pack.path, "--overwrite")
    one_line_error(code, err, "is not allowed")
    assert "internal error" not in err
    assert tree(tmp_path) == before  # nothing written anywhere, in or outside the models folder


def test_name_dot_with_overwrite_no_longer_deletes_the_users_packs(tiny_pack, home, capsys):
    models = restore_packs(home)
    installed = tree(models)
    _rename(tiny_pack.path, ".")
    code, _, err = run(capsys, "models", "import", tiny_pack.path, "--overwrite")
    one_line_error(code, err, "not allowed")
    assert tree(models) == installed


def test_converters_and_readers_check_the_name_too(tmp_path, conv_model):
    with pytest.raises(PackError, match="not allowed"):
        write_pack(tmp_path / "p", conv_model, tiny_manifest("../escape"), "card")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "p").exists()
    assert check_pack_name("heirloom-restore.v2_1") == "heirloom-restore.v2_1"


def test_a_symlinked_card_is_refused_and_never_printed(tiny_pack, home, tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET system file\n")
    (tiny_pack.path / "MODEL_CARD.md").unlink()
    (tiny_pack.path / "MODEL_CARD.md").symlink_to(secret)
    code, out, err = run(capsys, "models", "import", tiny_pack.path)
    one_line_error(code, err, "contains a link (MODEL_CARD.md)")
    assert "TOP-SECRET" not in out + err
    assert not (home / "models").exists() or not list((home / "models").iterdir())


def test_a_linked_pack_in_the_user_folder_is_listed_as_broken(tiny_pack, home, capsys):
    (home / "models").mkdir(parents=True)
    (home / "models" / "tiny").symlink_to(tiny_pack.path, target_is_directory=True)
    code, out, _ = run(capsys, "models", "list")
    assert code == 0 and "BROKEN" in out and "is a link" in out
    code, _, err = run(capsys, "models", "verify")
    assert code == 2 and "is a link" in err


def test_a_symlinked_graph_is_refused(tiny_pack, home, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere.onnx"
    shutil.move(tiny_pack.model_path, elsewhere)
    tiny_pack.model_path.symlink_to(elsewhere)
    code, _, err = run(capsys, "models", "import", tiny_pack.path)
    one_line_error(code, err, "contains a link (model.onnx)")


def _external_data_pack(folder: Path) -> Path:
    """A real graph whose weight lives in an external data file beside it."""
    weight = numpy_helper.from_array(np.full((1, 3, 1, 1), 2.0, np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["image", "w"], ["output"])],
        "external",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [weight],
    )
    model = helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 17)])
    convert_model_to_external_data(model, location="weights.bin", size_threshold=0)
    staging = folder.parent / "graph"
    staging.mkdir(parents=True)
    onnx.save(model, staging / "model.onnx")
    pack = write_pack(folder, staging / "model.onnx", tiny_manifest("external"), "# ext\n")
    shutil.copyfile(staging / "weights.bin", folder / "weights.bin")
    return pack.path


def test_external_weights_must_be_listed_and_are_hashed(tmp_path, home, capsys):
    folder = _external_data_pack(tmp_path / "packs" / "external")
    code, _, err = run(capsys, "models", "import", folder)
    one_line_error(code, err, "weights.bin is not listed")
    seal_pack(folder)  # the pack's author lists every file with its sha256
    code, out, err = run(capsys, "models", "import", folder)
    assert code == 0, err
    installed = home / "models" / "external"
    verify_pack(read_pack(installed))
    weights = bytearray((installed / "weights.bin").read_bytes())
    weights[0] ^= 0xFF
    (installed / "weights.bin").write_bytes(bytes(weights))
    code, _, err = run(capsys, "models", "verify", "external")
    assert code == 2 and "weights.bin does not match its manifest sha256" in err


def test_a_detector_labelled_restore_is_refused_at_import(tmp_path, home, capsys):
    detector = build_conv_model(tmp_path / "det.onnx", cin=1, cout=1, output_name="prob")
    manifest = tiny_manifest(
        "liar",
        task="restore",
        inputs=(TensorSpec("image", "NCHW", 1),),
        outputs=(TensorSpec("prob", "NCHW", 1),),
    )
    # labelled restore, it passes the shape rules (1-channel image in, image out) but the
    # manifest now claims 3 channels, which the graph does not have
    pack = write_pack(tmp_path / "packs" / "liar", detector, manifest, "# liar\n")
    data = json.loads((pack.path / MANIFEST_FILE).read_text())
    data["inputs"][0]["channels"] = 3
    data["outputs"][0]["channels"] = 3
    (pack.path / MANIFEST_FILE).write_text(json.dumps(data))
    code, _, err = run(capsys, "models", "import", pack.path)
    one_line_error(code, err, "1 channels in the graph but 3 in the manifest")
    data["inputs"] = [
        data["inputs"][0],
        dict(data["inputs"][0], name="a"),
        dict(data["inputs"][0], name="b"),
        dict(data["inputs"][0], name="c"),
    ]
    (pack.path / MANIFEST_FILE).write_text(json.dumps(data))
    code, _, err = run(capsys, "models", "import", pack.path)
    one_line_error(code, err, "labelled restore but takes at most three inputs")


def test_a_graph_swapped_after_import_is_caught_when_it_loads(tmp_path, home):
    models = restore_packs(home)
    registry = Registry(bundled=tmp_path / "none", user=models)
    swapped = build_conv_model(tmp_path / "swap.onnx", cin=1, cout=1, output_name="restored")
    shutil.copyfile(swapped, models / "tiny-restore" / "model.onnx")
    photo = np.full((64, 64, 3), 0.5, np.float32)
    options = RestoreOptions(scratches="off", faces=False, device="cpu")
    with pytest.raises(PackError, match="'tiny-restore'.*graph's inputs are"):
        restore_photo(photo, options, registry=registry)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["size_rule"].update(min=10**9), "'size_rule.min' must be between"),
        (lambda d: d["size_rule"].update(fixed=[0, 64]), "'size_rule.fixed' must be"),
        (lambda d: d["tiling"].update(overlap=10**6), "'tiling.overlap' must be between"),
        (lambda d: d["tiling"].update(bytes_per_pixel=0), "'tiling.bytes_per_pixel'"),
        (lambda d: d["inputs"][0].update(channels=100000), "'inputs[0].channels' must be"),
        (lambda d: d.update(inputs=[d["inputs"][0]] * 40), "between 1 and 16 tensors"),
        (lambda d: d.update(sha256="../../etc/passwd"), "'sha256' must be 64 hex"),
        (lambda d: d.update(files={"../x": "0" * 64}), "not a plain file name"),
        (lambda d: d.update(schema=0), "'schema' must be between"),
        (lambda d: d.update(task="ddpm-eps"), "labelled ddpm-eps but needs two inputs"),
    ],
)
def test_absurd_or_mismatched_manifests_are_refused_by_name(tiny_pack, change, message):
    data = json.loads((tiny_pack.path / MANIFEST_FILE).read_text())
    change(data)
    (tiny_pack.path / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(PackError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_pack(tiny_pack.path)


def test_every_bundled_pack_verifies_with_all_its_files_hashed():
    registry = Registry(user=Path("/nonexistent-heirloom-user"))
    packs = registry.packs()
    assert len(packs) >= 7 and not registry.broken
    for pack in packs:
        verify_pack(pack)
        on_disk = {p.name for p in pack.path.iterdir()} - {"model.onnx", MANIFEST_FILE}
        assert set(pack.manifest.files) == on_disk, pack.name
