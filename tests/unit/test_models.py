import json
import shutil

import pytest

from engine.errors import PackError
from engine.models import (
    MANIFEST_FILE,
    Registry,
    TensorSpec,
    parse_manifest,
    read_pack,
    seal_pack,
    verify_pack,
    write_pack,
)
from graphs import build_conv_model, tiny_manifest


def test_written_pack_verifies_and_round_trips(tiny_pack):
    verify_pack(tiny_pack)
    again = read_pack(tiny_pack.path)
    assert again.manifest == tiny_pack.manifest
    assert len(again.manifest.sha256) == 64


def test_altered_onnx_bytes_fail_the_sha_check(tiny_pack):
    data = bytearray(tiny_pack.model_path.read_bytes())
    data[-10] ^= 0xFF
    tiny_pack.model_path.write_bytes(bytes(data))
    with pytest.raises(PackError, match="'tiny'.*does not match its manifest sha256"):
        verify_pack(tiny_pack)


def test_inputs_differing_from_the_manifest_are_named(tmp_path, conv_model):
    manifest = tiny_manifest(inputs=(TensorSpec("photo", "NCHW", 3),))
    pack = write_pack(tmp_path / "p", conv_model, manifest, "card")
    with pytest.raises(
        PackError, match=r"inputs are \['image'\] but the manifest says \['photo'\]"
    ):
        verify_pack(pack)


def test_channel_mismatch_is_caught(tmp_path, conv_model):
    pack = write_pack(
        tmp_path / "p", conv_model, tiny_manifest(inputs=(TensorSpec("image", "NCHW", 1),)), "card"
    )
    with pytest.raises(PackError, match="3 channels in the graph but 1 in the manifest"):
        verify_pack(pack)


def test_a_graph_that_does_not_load_is_a_pack_error(tiny_pack):
    tiny_pack.model_path.write_bytes(b"not an onnx graph")
    data = json.loads((tiny_pack.path / MANIFEST_FILE).read_text())
    from engine.models import sha256_of

    data["sha256"] = sha256_of(tiny_pack.model_path)
    (tiny_pack.path / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(PackError, match="model.onnx does not load"):
        verify_pack(read_pack(tiny_pack.path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("task"), "'task' is missing"),
        (lambda d: d.update(task="paint"), "'task' must be one of"),
        (lambda d: d["inputs"][0].update(dtype="float64"), r"'inputs\[0\]\.dtype' must be one of"),
        (lambda d: d.update(schema=99), "schema 99"),
        (lambda d: d["size_rule"].update(multiple_of=0), "must be between 1 and 1024"),
        (lambda d: d.update(inputs=[]), "must list between 1 and 16 tensors"),
    ],
)
def test_manifest_problems_name_the_pack_and_field(change, message):
    data = tiny_manifest().to_json()
    change(data)
    with pytest.raises(PackError, match=message):
        parse_manifest(data, "tiny")


def test_registry_user_pack_wins_and_broken_packs_are_listed(tmp_path, tiny_pack):
    bundled, user = tmp_path / "bundled", tmp_path / "user"
    shutil.copytree(tiny_pack.path, bundled / "tiny")
    model = build_conv_model(tmp_path / "other.onnx", seed=3)
    write_pack(user / "tiny", model, tiny_manifest(version="2.0"), "card")
    (user / "junk").mkdir()
    registry = Registry(bundled, user)
    packs = registry.packs()
    assert [(p.name, p.origin, p.manifest.version) for p in packs] == [("tiny", "user", "2.0")]
    assert "junk" in str(list(registry.broken))
    assert registry.for_task("test").origin == "user"
    with pytest.raises(PackError, match="no model pack for 'restore'"):
        registry.for_task("restore")
    with pytest.raises(PackError, match="no model pack named 'nope'"):
        registry.get("nope")


def test_import_copies_a_verified_pack_and_refuses_to_clobber(tmp_path, tiny_pack):
    registry = Registry(tmp_path / "none", tmp_path / "user")
    (tiny_pack.path / "sample.png").write_bytes(b"png")
    with pytest.raises(PackError, match="sample.png is not listed"):
        registry.import_pack(tiny_pack.path)  # every file must carry a sha256
    seal_pack(tiny_pack.path)
    pack = registry.import_pack(tiny_pack.path)
    assert pack.origin == "user" and (pack.path / "sample.png").exists()
    verify_pack(pack)
    with pytest.raises(PackError, match="already installed"):
        registry.import_pack(tiny_pack.path)
    registry.import_pack(tiny_pack.path, overwrite=True)
    assert not [p for p in (tmp_path / "user").iterdir() if p.name.startswith(".")]


def test_import_rejects_a_damaged_pack_and_copies_nothing(tmp_path, tiny_pack):
    tiny_pack.model_path.write_bytes(tiny_pack.model_path.read_bytes()[:-4])
    registry = Registry(tmp_path / "none", tmp_path / "user")
    with pytest.raises(PackError, match="sha256"):
        registry.import_pack(tiny_pack.path)
    assert not (tmp_path / "user" / "tiny").exists()
