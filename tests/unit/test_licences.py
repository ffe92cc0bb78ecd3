"""Third-party notices come from the installed distributions and the packs' manifests."""

from importlib.metadata import PathDistribution

import pytest

from engine.licences import (
    NOTICES_FILE,
    STANDARD_TEXTS,
    Notice,
    licence_of,
    notice_of,
    notices_markdown,
    pack_notices,
    qt_source_note,
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
            assert len(list(texts.iterdir())) == len(notice.files)
            if not notice.standard:
                assert f"| {texts.name}/ ({len(notice.files)} file(s)) |" in table
    python = next(n for n in written if n.name == "Python")
    assert python.files, "Python's own LICENSE.txt is copied"
    numpy = next(n for n in third_party() if n.name == "numpy")
    copied = folder / f"numpy-{numpy.version}"
    assert numpy.files and len(list(copied.iterdir())) == len(numpy.files)
    assert "Python" in notices_markdown(third_party(), [])


needs_standard_texts = pytest.mark.skipif(
    not (STANDARD_TEXTS / "LGPL-3").is_file(),
    reason=f"no standard licence texts in {STANDARD_TEXTS} (a Debian build machine has them)",
)


@needs_standard_texts
def test_a_package_without_licence_files_gets_its_licences_standard_texts(tmp_path):
    lgpl = notice_of(
        fake_distribution(tmp_path, "Name: fake\nVersion: 1.0\nLicense-Expression: LGPL-3.0-only\n")
    )
    # the LGPL adds permissions to the GPL: both texts go with it
    assert lgpl.standard and [p.name for p in lgpl.files] == ["LGPL-3", "GPL-3"]
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in lgpl.files[0].read_text()


@needs_standard_texts
def test_a_short_licence_field_is_read_as_the_licence_id(tmp_path):
    apache = notice_of(
        fake_distribution(tmp_path, "Name: fake\nVersion: 1.0\nLicense: Apache 2.0\n")
    )
    assert [p.name for p in apache.files] == ["Apache-2.0"]


def test_a_licence_without_a_standard_text_stays_marked_as_missing(tmp_path):
    dist = fake_distribution(tmp_path, "Name: fake\nVersion: 1.0\nLicense: Proprietary\n")
    notice = notice_of(dist)
    assert not notice.files and not notice.standard
    assert "| fake | 1.0 | Proprietary |  | none shipped with the package |" in notices_markdown(
        [notice], []
    )


def test_the_package_s_own_licence_files_win_over_standard_texts(tmp_path):
    dist = fake_distribution(tmp_path, "Name: fake\nVersion: 1.0\nLicense: Apache 2.0\n")
    (tmp_path / "fake-1.0.dist-info" / "RECORD").write_text("fake-1.0.dist-info/LICENSE,,\n")
    (tmp_path / "fake-1.0.dist-info" / "LICENSE").write_text("our own words\n")
    notice = notice_of(dist)
    assert not notice.standard and [p.name for p in notice.files] == ["LICENSE"]


@needs_standard_texts
def test_the_bundled_qt_gets_the_lgpl_text_and_where_its_sources_are(tmp_path):
    folder = tmp_path / "licenses"
    written = write_notices(folder, Registry(bundled=tmp_path / "none", user=tmp_path / "none"))
    pyside = next(n for n in written if n.name.lower().startswith("pyside6"))
    texts = folder / f"{pyside.name}-{pyside.version}"
    assert {"LGPL-3", "GPL-3"} <= {p.name for p in texts.iterdir()}
    assert (texts / "LGPL-3").read_bytes() == (STANDARD_TEXTS / "LGPL-3").read_bytes()
    table = (folder / NOTICES_FILE).read_text()
    assert "(standard text of LGPL-3, GPL-3, GPL-2; the package shipped none)" in table
    assert f"/official_releases/QtForPython/pyside6/PySide6-{pyside.version}-src/" in table
    series = ".".join(pyside.version.split(".")[:2])
    assert f"/official_releases/qt/{series}/{pyside.version}/" in table


def test_the_qt_source_note_names_qt_s_version_and_pyside_s_build():
    assert qt_source_note([Notice("numpy", "2.4.0", "BSD-3-Clause")]) == []
    # a PySide6 x.y.z.w release is a rebuild of the bindings over Qt x.y.z
    note = "\n".join(qt_source_note([Notice("PySide6_Essentials", "6.4.0.1", "LGPL-3.0-only")]))
    assert "/official_releases/qt/6.4/6.4.0/" in note
    assert "/pyside6/PySide6-6.4.0.1-src/" in note
