"""Third-party notices come from the installed distributions and the packs' manifests."""

from importlib.metadata import PathDistribution

from engine.licences import (
    NOTICES_FILE,
    licence_of,
    notices_markdown,
    pack_notices,
    runtime_closure,
    third_party,
    write_notices,
)
from engine.models import Registry, write_pack
from graphs import tiny_manifest


def names(dists) -> set[str]:
    return {d.metadata["Name"].lower().replace("_", "-") for d in dists}


def test_the_closure_holds_runtime_dependencies_but_no_extras():
    found = names(runtime_closure())
    assert {"numpy", "pillow", "pyside6-essentials", "opencv-python-headless"} <= found
    assert "shiboken6" in found  # a dependency of a dependency
    # installed here by the dev and train extras, but never bundled
    assert not found & {"torch", "pytest", "ruff", "ray", "pyinstaller", "heirloom"}


def fake_distribution(tmp_path, metadata: str) -> PathDistribution:
    info = tmp_path / "fake-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(metadata)
    return PathDistribution(info)


def test_licence_prefers_the_spdx_expression(tmp_path):
    dist = fake_distribution(
        tmp_path, "Name: fake\nVersion: 1.0\nLicense-Expression: MIT OR Apache-2.0\nLicense: BSD\n"
    )
    assert licence_of(dist) == "MIT OR Apache-2.0"


def test_a_pasted_licence_text_gives_way_to_the_classifiers(tmp_path):
    text = "Copyright (c) someone\n        Permission is hereby granted, free of charge"
    dist = fake_distribution(
        tmp_path,
        f"Name: fake\nVersion: 1.0\nLicense: {text}\n"
        "Classifier: License :: OSI Approved :: MIT License\n",
    )
    assert licence_of(dist) == "MIT License"


def test_packs_licences_come_from_their_manifests(tmp_path, conv_model):
    bundled = tmp_path / "bundled"
    write_pack(bundled / "tiny", conv_model, tiny_manifest(licence="CC-BY-4.0"), "# Tiny\n")
    user = tmp_path / "user"
    write_pack(user / "mine", conv_model, tiny_manifest("mine", licence="GPL-3.0"), "# Mine\n")
    notices = pack_notices(Registry(bundled=bundled, user=user))
    assert [(n.name, n.licence) for n in notices] == [("tiny", "CC-BY-4.0")]  # bundled only


def test_the_licenses_folder_has_the_table_and_the_licence_texts(tmp_path, conv_model):
    bundled = tmp_path / "bundled"
    write_pack(bundled / "tiny", conv_model, tiny_manifest(licence="CC-BY-4.0"), "# Tiny\n")
    folder = tmp_path / "licenses"
    written = write_notices(folder, Registry(bundled=bundled, user=tmp_path / "none"))
    table = (folder / NOTICES_FILE).read_text()
    assert "| tiny | 1.0 | CC-BY-4.0 |" in table
    for notice in written:
        assert f"| {notice.name} | {notice.version} | {notice.licence} |" in table
        if notice.files:
            texts = folder / f"{notice.name}-{notice.version}"
            assert f"| {texts.name}/ ({len(notice.files)} file(s)) |" in table
    python = next(n for n in written if n.name == "Python")
    assert python.files, "Python's own LICENSE.txt is copied"
    numpy = next(n for n in third_party() if n.name == "numpy")
    copied = folder / f"numpy-{numpy.version}"
    assert numpy.files and len(list(copied.iterdir())) == len(numpy.files)
    assert "Python" in notices_markdown(third_party(), [])
