"""Project files trust nothing they contain, and saves are all or nothing.

Every bad project (paths in member names, a wrong schema, a layer of the wrong size, a
zip bomb, random or truncated bytes) must end as one ProjectError line, never another
exception and never a file written or read outside the project.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.errors import HeirloomError, WriteError
from engine.images import LoadedImage, load_image
from gui.document import Document, Layer
from gui.project import (
    FORMAT_VERSION,
    LAYER_FILES,
    MAX_RATIO,
    ProjectError,
    ProjectLayers,
    read_project,
    save_project,
)

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
WIDTH, HEIGHT = 48, 32


def sample_document() -> Document:
    """A real old scan, cut down to a few pixels so every test stays fast."""
    image = load_image(SAMPLES / "old_grace_hopper.jpg")
    pixels = np.ascontiguousarray(image.pixels[:HEIGHT, :WIDTH])
    document = Document(LoadedImage(pixels, None, image.meta))
    document.mask[4:9, 5:30] = 255
    document.sketch[10, :] = 0
    document.paint[2:6, 2:6] = (200, 120, 40, 180)
    document.set_result(pixels * 0.5)
    document.faces = [(1.0, 2.0, 20.0, 24.0)]
    return document


_MEMBERS: dict[str, bytes] = {}


def valid_members() -> dict[str, bytes]:
    """The members of a valid saved project (made once, through save_project)."""
    if not _MEMBERS:
        with tempfile.TemporaryDirectory() as tmp:
            path = save_project(sample_document(), Path(tmp) / "valid.heirloom")
            with zipfile.ZipFile(path) as archive:
                _MEMBERS.update({n: archive.read(n) for n in archive.namelist()})
    return dict(_MEMBERS)


def manifest() -> dict:
    return json.loads(valid_members()["project.json"])


def write_zip(path: Path, members: dict[str, bytes], deflate: bool = False) -> Path:
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def png_bytes(width: int, height: int, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 128).save(buffer, "PNG")
    return buffer.getvalue()


def with_manifest(changes: dict, drop: tuple[str, ...] = ()) -> dict[str, bytes]:
    members = valid_members()
    data = {**manifest(), **changes}
    for key in drop:
        del data[key]
    members["project.json"] = json.dumps(data).encode()
    return members


def refused(path: Path) -> str:
    """The message of the ProjectError ``path`` must raise; it is one line."""
    with pytest.raises(ProjectError) as caught:
        read_project(path)
    message = str(caught.value)
    assert "\n" not in message and path.name in message
    return message


def test_a_valid_project_reads_back_every_layer(tmp_path):
    path = write_zip(tmp_path / "ok.heirloom", valid_members())
    layers = read_project(path)
    assert layers.photo.pixels.shape[:2] == (HEIGHT, WIDTH)
    assert layers.mask[5, 10] == 255 and layers.sketch[10, 3] == 0
    assert tuple(layers.paint[3, 3]) == (200, 120, 40, 180)
    assert layers.faces == [(1.0, 2.0, 20.0, 24.0)]


@pytest.mark.parametrize("name", ["../secret.png", "/{outside}/secret.png", "photo/../x.png"])
def test_layer_paths_outside_the_project_are_never_loaded(tmp_path, name):
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(png_bytes(WIDTH, HEIGHT, "RGB"))
    name = name.format(outside=str(tmp_path / "outside").lstrip("/"))
    folder = tmp_path / "outside" / "projects"
    folder.mkdir()
    members = with_manifest({"layers": {"photo": name}})
    message = refused(write_zip(folder / "evil.heirloom", members))
    assert "photo" in message
    members = valid_members()  # the listed name is fine, an extra member is a path
    members[name] = png_bytes(WIDTH, HEIGHT)
    assert "not a project layer" in refused(write_zip(folder / "extra.heirloom", members))


@pytest.mark.parametrize(
    ("changes", "drop", "words"),
    [
        ({}, ("layers",), "lacks layers"),
        ({}, ("width",), "lacks width"),
        ({"version": "1"}, (), "version"),
        ({"version": FORMAT_VERSION + 1}, (), "newer Heirloom"),
        ({"version": 0}, (), "version"),
        ({"format": "zip"}, (), "not a Heirloom project"),
        ({"width": "48"}, (), "size"),
        ({"height": -3}, (), "size"),
        ({"width": 10**9, "height": 10**9}, (), "larger than"),
        ({"bit_depth": 12}, (), "bit depth"),
        ({"layers": ["photo.png"]}, (), "layers"),
        ({"layers": {"photo": "photo.png", "shadow": "shadow.png"}}, (), "unknown layer"),
        ({"layers": {"mask": "mask.png"}}, (), "no photo"),
        ({"faces": [[1, 2, 3]]}, (), "four numbers"),
        ({"faces": [["a", 2, 3, 4]]}, (), "four numbers"),
        ({"faces": {"a": 1}}, (), "faces"),
        ({"source": 7}, (), "source"),
        ({"source": "a\0b"}, (), "source"),
    ],
)
def test_a_bad_schema_is_one_line_naming_the_problem(tmp_path, changes, drop, words):
    assert words in refused(write_zip(tmp_path / "bad.heirloom", with_manifest(changes, drop)))


def test_unreadable_manifests_and_members_are_refused(tmp_path):
    members = valid_members()
    members["project.json"] = b"{not json"
    assert "JSON" in refused(write_zip(tmp_path / "a.heirloom", members))
    members["project.json"] = b"[" * 100_000 + b"]" * 100_000  # nested past the recursion limit
    assert "JSON" in refused(write_zip(tmp_path / "b.heirloom", members))
    members = valid_members()
    del members["mask.png"]
    assert "missing" in refused(write_zip(tmp_path / "c.heirloom", members))
    members = valid_members()
    members["sketch.png"] = b"GIF89a not a png"
    assert "not a PNG" in refused(write_zip(tmp_path / "d.heirloom", members))
    members["sketch.png"] = valid_members()["sketch.png"][:60]
    assert "sketch layer" in refused(write_zip(tmp_path / "e.heirloom", members))
    assert "does not exist" in refused(tmp_path / "e.heirloom.missing")
    (tmp_path / "f.heirloom").write_bytes(b"PK\x03\x04 truncated")
    assert "not a readable" in refused(tmp_path / "f.heirloom")


def test_a_layer_of_the_wrong_size_is_refused_when_read(tmp_path):
    members = valid_members()
    members["mask.png"] = png_bytes(10, 10)
    message = refused(write_zip(tmp_path / "small-mask.heirloom", members))
    assert "mask layer is 10x10, not the project's 48x32" in message
    members = valid_members()
    members["photo.png"] = png_bytes(WIDTH * 4, HEIGHT * 4, "RGB")  # larger: refused undecoded
    assert "photo layer" in refused(write_zip(tmp_path / "big-photo.heirloom", members))


def test_a_zip_bomb_is_refused_from_its_declared_sizes(tmp_path):
    members = valid_members()
    members["mask.png"] = bytes(4 << 20)  # 4 MB of zeros deflate to a few kB
    path = write_zip(tmp_path / "bomb.heirloom", members, deflate=True)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("mask.png")
        assert info.file_size > MAX_RATIO * info.compress_size
    assert "zip bomb" in refused(path)
    members["mask.png"] = os.urandom(9 << 20)  # does not compress, but no 48x32 mask is 9 MB
    assert "more than a 48x32 layer needs" in refused(write_zip(tmp_path / "big.heirloom", members))


def test_duplicate_members_are_refused(tmp_path):
    path = write_zip(tmp_path / "twice.heirloom", valid_members())
    with (
        pytest.warns(UserWarning, match="Duplicate"),
        zipfile.ZipFile(path, "a") as archive,
    ):
        archive.writestr("mask.png", png_bytes(WIDTH, HEIGHT))
    assert "twice" in refused(path)


def test_save_refuses_the_source_photo_and_a_full_disk_leaves_no_stray_file(
    home, tmp_path, monkeypatch
):
    document = sample_document()
    scan = tmp_path / "scan.heirloom"
    scan.write_bytes(b"the user's file")
    document.source = scan
    with pytest.raises(HeirloomError, match="refusing to write the project"):
        save_project(document, scan)
    assert scan.read_bytes() == b"the user's file"

    document.source = None
    target = save_project(document, tmp_path / "work.heirloom")
    before = target.read_bytes()

    def full(fd: int) -> None:  # the project's disk is full, the temporary folder's is not
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path)):
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(fd)

    fsync = os.fsync

    monkeypatch.setattr(os, "fsync", full)
    document.mask[...] = 0
    with pytest.raises(WriteError) as caught:
        save_project(document, target)
    assert str(caught.value) == f"cannot write {target}: no space left on the disk"
    assert target.read_bytes() == before  # the earlier save is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "scan.heirloom", "work.heirloom"]


def test_projects_follow_the_umask(home, tmp_path):
    previous = os.umask(0o022)
    try:
        path = save_project(sample_document(), tmp_path / "shared.heirloom")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# --- property-based: whatever the bytes, a clean error or a valid project -------------

LAYER_NAMES = [*LAYER_FILES.values(), "../x.png", "/tmp/x.png", "a/../../x.png", "project.json"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
KEYS = ["format", "version", "width", "height", "bit_depth", "layers", "faces", "source"]
LAYER_DATA = st.sampled_from(
    [
        png_bytes(WIDTH, HEIGHT),
        png_bytes(WIDTH, HEIGHT, "RGBA"),
        png_bytes(WIDTH, HEIGHT, "I;16"),
        png_bytes(WIDTH + 1, HEIGHT),
        png_bytes(1, 1, "RGB"),
        b"",
    ]
) | st.binary(max_size=300)


@st.composite
def manifests(draw: st.DrawFn) -> dict:
    """A valid manifest with a few keys replaced, removed or added at random."""
    data = manifest()
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=3)):
        if draw(st.booleans()):
            data.pop(key, None)
        else:
            data[key] = draw(JSON_VALUES)
    if draw(st.booleans()):
        layers = draw(
            st.dictionaries(
                st.sampled_from([*map(str, Layer), "x"]), st.sampled_from(LAYER_NAMES), max_size=5
            )
        )
        data["layers"] = layers
    return data


def _scratch(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh project folder inside a sentinel folder that must stay as it is."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path / "sentinel"))
    return folder, folder / "project.heirloom"


def _read_cleanly(path: Path) -> None:
    try:
        layers = read_project(path)
    except HeirloomError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(layers, ProjectLayers)
    height, width = layers.photo.pixels.shape[:2]
    for plane in (layers.mask, layers.sketch, layers.paint, layers.result):
        assert plane is None or plane.shape[:2] == (height, width)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary files go under tmp_path/temp; a sentinel folder holds the projects."""
    (tmp_path / "temp").mkdir()
    (tmp_path / "sentinel").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    valid_members()
    return tmp_path


def _nothing_left(sandbox: Path, folder: Path) -> None:
    assert not any((sandbox / "temp").iterdir()), "the reader left temporary files"
    assert sorted(p.name for p in folder.iterdir()) == ["project.heirloom"]
    assert sorted(p.name for p in sandbox.iterdir()) == ["sentinel", "temp"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=manifests(),
    members=st.dictionaries(st.sampled_from(LAYER_NAMES[:-1]), LAYER_DATA, max_size=6),
    deflate=st.booleans(),
)
def test_any_generated_project_reads_or_fails_cleanly(sandbox, data, members, deflate):
    folder, path = _scratch(sandbox)
    write_zip(path, {"project.json": json.dumps(data).encode(), **members}, deflate)
    _read_cleanly(path)
    _nothing_left(sandbox, folder)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(0, 100_000),
    flips=st.lists(st.tuples(st.integers(0, 100_000), st.integers(1, 255)), max_size=4),
)
def test_truncated_or_damaged_projects_fail_cleanly(sandbox, cut, flips):
    folder, path = _scratch(sandbox)
    write_zip(path, valid_members())
    raw = bytearray(path.read_bytes())
    for where, xor in flips:
        raw[where % len(raw)] ^= xor
    path.write_bytes(bytes(raw[: max(1, len(raw) - cut % len(raw))]) if cut else bytes(raw))
    _read_cleanly(path)
    _nothing_left(sandbox, folder)
