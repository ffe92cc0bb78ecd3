"""`.heirloom` project files: the photo and every layer, to finish the work another day.

A project is a zip of PNG layers plus ``project.json`` (with a format version). The
photo keeps its bit depth and its ICC / EXIF (through :func:`engine.images.save_image`),
the mask and sketch are 8-bit gray, colour strokes 8-bit RGBA, the result 16-bit so
nothing a model produced is rounded away. The zip goes through
:func:`engine.files.atomic_write`, so a crash or a full disk during a save never leaves
a broken project (or a broken autosave), only a one-line :class:`WriteError`.

A project may come from anywhere (a mail attachment, an old autosave), so reading one
trusts nothing in it: ``project.json`` is checked against the schema below, member
names come from a fixed set (never paths), the sizes the zip declares are checked
against the project's pixel count before anything is decompressed (with no member
outside the fixed set, that bounds the total too), and every layer
must decode to exactly the project's width x height. Every problem ends as one
:class:`ProjectError` line; ``source`` is metadata only and nothing is loaded from it.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.errors import HeirloomError, ImageError, WriteError
from engine.files import atomic_write, check_outputs, write_error
from engine.images import MAX_PIXELS, LoadedImage, load_image, save_image
from gui.document import Document, Layer

FORMAT = "heirloom-project"
FORMAT_VERSION = 1
SUFFIX = ".heirloom"
MANIFEST = "project.json"
LAYER_FILES = {layer: f"{layer}.png" for layer in Layer}
"""The only member names a project may hold besides ``project.json``."""

MAX_MANIFEST_BYTES = 1 << 20
MAX_FACES = 1000
MAX_SOURCE_CHARS = 4096
BYTES_PER_PIXEL = {
    Layer.PHOTO: 8,  # 16-bit RGBA
    Layer.MASK: 1,
    Layer.SKETCH: 1,
    Layer.PAINT: 4,  # 8-bit RGBA
    Layer.RESULT: 8,  # 16-bit RGB(A)
}
"""The widest pixels each layer is saved with: what bounds its declared size."""
METADATA_BYTES = 8 << 20
"""Room in a layer for what is not pixels: ICC profile, EXIF, zlib and filter overhead."""
MAX_RATIO = 200
"""A layer is PNG, compressed already; zipping it again cannot shrink it this much."""
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_REQUIRED = ("format", "version", "width", "height", "bit_depth", "layers")


class ProjectError(ImageError):
    """A project file that cannot be read; the message says which and why."""


MAX_RESULT_SCALE = 4  # an upscaled result a project keeps: up to 4x each side (x2 twice)


def save_project(document: Document, path: Path) -> Path:
    """Write ``document`` to ``path`` atomically; returns the path.

    Raises :class:`HeirloomError` (never a half-written file) when ``path`` is the
    photo the document came from or the disk refuses the bytes.
    """
    path = Path(path)
    check_outputs([document.source], [path], what="project")
    if document.result is not None and document.result.shape[0] > (
        document.height * MAX_RESULT_SCALE
    ):
        raise HeirloomError(
            f"a project keeps results enlarged up to x{MAX_RESULT_SCALE}; export this "
            "upscaled result instead (File ▸ Export)"
        )
    try:
        scratch = tempfile.TemporaryDirectory(prefix="heirloom-save-")
    except OSError as exc:
        raise write_error(path, exc) from None
    with scratch as tmp:
        folder = Path(tmp)
        meta = replace(document.meta, source=None)
        layers = {
            Layer.PHOTO: save_image(
                folder / LAYER_FILES[Layer.PHOTO], document.photo, meta=meta, alpha=document.alpha
            ),
            Layer.MASK: save_image(
                folder / LAYER_FILES[Layer.MASK], document.mask / 255.0, bit_depth=8
            ),
            Layer.SKETCH: save_image(
                folder / LAYER_FILES[Layer.SKETCH], document.sketch / 255.0, bit_depth=8
            ),
        }
        if document.has_paint:
            layers[Layer.PAINT] = save_image(
                folder / LAYER_FILES[Layer.PAINT],
                document.paint[..., :3] / 255.0,
                alpha=document.paint[..., 3] / 255.0,
                bit_depth=8,
            )
        if document.result is not None:
            layers[Layer.RESULT] = save_image(
                folder / LAYER_FILES[Layer.RESULT], document.result, bit_depth=16
            )
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "width": document.width,
            "height": document.height,
            "source": str(document.source) if document.source else None,
            "bit_depth": document.meta.bit_depth,
            "layers": {str(layer): file.name for layer, file in layers.items()},
            "faces": [[float(v) for v in box] for box in document.faces],
        }
        with (
            atomic_write(path, verify=lambda written: _verify_zip(written, path)) as handle,
            zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive,
        ):
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
            for file in layers.values():
                archive.write(file, file.name)  # PNGs are compressed already
    return path


def _verify_zip(written: Path, target: Path) -> None:
    """A zip cut short (a full disk, a failing card) must not replace a good project."""
    try:
        with zipfile.ZipFile(written) as archive:
            damaged = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        damaged = str(exc)
    if damaged is not None:
        raise WriteError(
            f"cannot write {target}: the saved project did not read back complete "
            f"({damaged}; is the disk full?)"
        )


@dataclass
class ProjectLayers:
    """A project as plain arrays: safe to read on a worker thread (no Qt objects)."""

    path: Path
    photo: LoadedImage
    mask: np.ndarray | None = None  # HxW uint8
    sketch: np.ndarray | None = None  # HxW uint8
    paint: np.ndarray | None = None  # HxWx4 uint8
    result: np.ndarray | None = None  # HxWxC float32
    faces: list[tuple[float, ...]] = field(default_factory=list)
    photo_rgb8: np.ndarray | None = None  # display copies, when made off the GUI thread
    result_rgb8: np.ndarray | None = None


@dataclass(frozen=True)
class ProjectInfo:
    """What ``project.json`` says, once it passed the schema."""

    width: int
    height: int
    bit_depth: int
    layers: tuple[Layer, ...]
    faces: list[tuple[float, ...]]
    source: str | None


def _as_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.round(pixels * 255.0).astype(np.uint8)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def check_manifest(manifest: object) -> ProjectInfo:
    """The schema of ``project.json``; raises HeirloomError naming the first problem."""
    if not isinstance(manifest, dict):
        raise HeirloomError("project.json is not an object")
    if manifest.get("format") != FORMAT:
        raise HeirloomError("it is not a Heirloom project (no 'format': 'heirloom-project')")
    missing = [key for key in _REQUIRED if key not in manifest]
    if missing:
        raise HeirloomError(f"project.json lacks {', '.join(missing)}")
    version = manifest["version"]
    if not _is_int(version) or version < 1:
        raise HeirloomError(f"the format version {version!r} is not a whole number from 1")
    if version > FORMAT_VERSION:
        raise HeirloomError(
            f"it was saved by a newer Heirloom (format {version}); update Heirloom to open it"
        )
    width, height = manifest["width"], manifest["height"]
    if not (_is_int(width) and _is_int(height) and width >= 1 and height >= 1):
        raise HeirloomError(f"its size {width!r}x{height!r} is not two whole numbers from 1")
    if width * height > MAX_PIXELS:
        raise HeirloomError(
            f"its size {width}x{height} is larger than the {MAX_PIXELS // 10**6} MP "
            "Heirloom opens safely"
        )
    bit_depth = manifest["bit_depth"]
    if not _is_int(bit_depth) or bit_depth not in (8, 16):
        raise HeirloomError(f"its bit depth {bit_depth!r} is not 8 or 16")
    names = manifest["layers"]
    if not isinstance(names, dict):
        raise HeirloomError("its layers are not a table of layer names to files")
    layers: list[Layer] = []
    for key, name in names.items():
        if key not in LAYER_FILES:
            raise HeirloomError(f"it names an unknown layer {key!r}")
        layer = Layer(key)
        if name != LAYER_FILES[layer]:
            raise HeirloomError(
                f"its {key} layer is stored as {name!r} instead of {LAYER_FILES[layer]}"
            )
        layers.append(layer)
    if Layer.PHOTO not in layers:
        raise HeirloomError("it has no photo layer")
    faces = manifest.get("faces", [])
    if not isinstance(faces, list) or len(faces) > MAX_FACES:
        raise HeirloomError(f"its faces are not a list of at most {MAX_FACES} boxes")
    for box in faces:
        if not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
            raise HeirloomError(f"the face box {_one_line(repr(box))[:80]} is not four numbers")
    source = manifest.get("source")
    if source is not None and (
        not isinstance(source, str) or len(source) > MAX_SOURCE_CHARS or "\0" in source
    ):
        raise HeirloomError("its source is not a file name")
    return ProjectInfo(
        width,
        height,
        bit_depth,
        tuple(layers),
        [tuple(float(v) for v in box) for box in faces],
        source,
    )


def layer_limit(layer: Layer, width: int, height: int) -> int:
    """The most bytes ``layer``'s PNG may declare for a width x height project."""
    if layer == Layer.RESULT:  # an upscaled result: up to MAX_RESULT_SCALE times each side
        width, height = width * MAX_RESULT_SCALE, height * MAX_RESULT_SCALE
    raw = width * height * BYTES_PER_PIXEL[layer] + height  # + one filter byte per row
    return raw + raw // 100 + METADATA_BYTES


def _check_members(archive: zipfile.ZipFile) -> None:
    """Refuse, before decompressing anything, what a project never holds."""
    seen: set[str] = set()
    for info in archive.infolist():
        if info.filename in seen:
            raise HeirloomError(f"it holds {info.filename!r} twice")
        seen.add(info.filename)
        if info.filename != MANIFEST and info.filename not in LAYER_FILES.values():
            raise HeirloomError(f"it holds {_one_line(info.filename)[:80]!r}, not a project layer")
        if info.flag_bits & 0x1:
            raise HeirloomError(f"{info.filename} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise HeirloomError(f"{info.filename} uses a compression Heirloom does not read")
        if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise HeirloomError(f"{info.filename} expands {MAX_RATIO} times or more (a zip bomb?)")
    if MANIFEST not in seen:
        raise HeirloomError("it has no project.json")


def _read_manifest(archive: zipfile.ZipFile) -> ProjectInfo:
    info = archive.getinfo(MANIFEST)
    if info.file_size > MAX_MANIFEST_BYTES:
        raise HeirloomError(f"its project.json is larger than {MAX_MANIFEST_BYTES >> 20} MB")
    try:
        manifest = json.loads(archive.read(info).decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise HeirloomError(f"its project.json is not readable JSON ({exc})") from None
    project = check_manifest(manifest)
    present = {name for name in archive.namelist() if name != MANIFEST}
    listed = {LAYER_FILES[layer] for layer in project.layers}
    if present - listed:
        raise HeirloomError(f"it holds {min(present - listed)}, which project.json does not list")
    if listed - present:
        raise HeirloomError(f"the {min(listed - present)} that project.json lists is missing")
    for layer in project.layers:
        size = archive.getinfo(LAYER_FILES[layer]).file_size
        limit = layer_limit(layer, project.width, project.height)
        if size > limit:
            raise HeirloomError(
                f"its {layer} layer declares {size} bytes, more than a "
                f"{project.width}x{project.height} layer needs"
            )
    return project


def _decode(
    archive: zipfile.ZipFile, layer: Layer, project: ProjectInfo, folder: Path
) -> LoadedImage:
    """One layer, copied out under its fixed name and decoded at the project's size."""
    name = LAYER_FILES[layer]
    target = folder / name
    with archive.open(name) as member, open(target, "wb") as out:
        shutil.copyfileobj(member, out, 1 << 20)  # zipfile stops at the declared size
    with open(target, "rb") as handle:
        if handle.read(8) != _PNG_SIGNATURE:
            raise HeirloomError(f"its {layer} layer is not a PNG")
    size = project.width * project.height
    if layer == Layer.RESULT:  # an upscaled result: a whole multiple of the photo's size
        size *= MAX_RESULT_SCALE**2
    try:
        image = load_image(target, max_pixels=size)
    except HeirloomError as exc:
        reason = str(exc).replace(str(target), f"its {layer} layer")
        raise HeirloomError(reason) from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a damaged layer
        raise HeirloomError(f"its {layer} layer is damaged ({exc})") from None
    shape = image.pixels.shape[:2]
    scale = shape[0] // project.height if layer == Layer.RESULT else 1
    if shape != (project.height * max(1, scale), project.width * max(1, scale)):
        raise HeirloomError(
            f"its {layer} layer is {shape[1]}x{shape[0]}, "
            f"not the project's {project.width}x{project.height}"
        )
    return image


def _read_layers(archive: zipfile.ZipFile, path: Path, folder: Path) -> ProjectLayers:
    _check_members(archive)
    project = _read_manifest(archive)
    decoded = {layer: _decode(archive, layer, project, folder) for layer in project.layers}
    photo = decoded[Layer.PHOTO]
    source = Path(project.source) if project.source else None
    photo = replace(photo, meta=replace(photo.meta, source=source, bit_depth=project.bit_depth))
    layers = ProjectLayers(path, photo, faces=project.faces)
    if Layer.MASK in decoded:
        layers.mask = _as_uint8(decoded[Layer.MASK].pixels[..., 0])
    if Layer.SKETCH in decoded:
        layers.sketch = _as_uint8(decoded[Layer.SKETCH].pixels[..., 0])
    if Layer.RESULT in decoded:
        layers.result = decoded[Layer.RESULT].pixels
    if Layer.PAINT in decoded:
        paint = decoded[Layer.PAINT]
        layers.paint = np.zeros((project.height, project.width, 4), np.uint8)
        layers.paint[..., :3] = _as_uint8(paint.pixels)
        if paint.alpha is not None:
            layers.paint[..., 3] = _as_uint8(paint.alpha)
    return layers


_ZIP_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
)


@contextlib.contextmanager
def _project_errors(path: Path) -> Iterator[None]:
    """Whatever goes wrong inside a project file becomes one ProjectError line."""
    try:
        yield
    except HeirloomError as exc:
        raise ProjectError(_one_line(f"{path.name} cannot be opened: {exc}")) from None
    except FileNotFoundError:
        raise ProjectError(f"{path} does not exist") from None
    except _ZIP_ERRORS as exc:
        raise ProjectError(
            _one_line(f"{path.name} is not a readable Heirloom project ({exc})")
        ) from None


def read_info(path: Path) -> ProjectInfo:
    """Check a project's members and project.json without decoding a layer (quick: for
    listing autosaves); raises ProjectError like :func:`read_project`."""
    path = Path(path)
    with _project_errors(path), zipfile.ZipFile(path) as archive:
        _check_members(archive)
        return _read_manifest(archive)


def read_project(path: Path) -> ProjectLayers:
    """Read and check every layer of a project file; raises ProjectError with the reason."""
    path = Path(path)
    with (
        _project_errors(path),
        zipfile.ZipFile(path) as archive,
        tempfile.TemporaryDirectory(prefix="heirloom-open-") as tmp,
    ):
        return _read_layers(archive, path, Path(tmp))


def project_document(layers: ProjectLayers) -> Document:
    """The :class:`Document` for layers read by :func:`read_project` (GUI thread)."""
    document = Document(layers.photo, rgb8=layers.photo_rgb8)
    document.project_path = layers.path
    for plane, values in ((document.mask, layers.mask), (document.sketch, layers.sketch)):
        if values is not None:
            plane[...] = values
    if layers.paint is not None:
        document.paint[...] = layers.paint
    if layers.result is not None:
        document._put_result(layers.result, layers.result_rgb8)
    document.faces = [tuple(box) for box in layers.faces]
    return document


def load_project(path: Path) -> Document:
    """Read a project back into a :class:`Document` with the same layers."""
    return project_document(read_project(path))
