"""`.heirloom` project files: the photo and every layer, to finish the work another day.

A project is a zip of PNG layers plus ``project.json`` (with a format version). The
photo keeps its bit depth and its ICC / EXIF (through :func:`engine.images.save_image`),
the mask and sketch are 8-bit gray, colour strokes 8-bit RGBA, the result 16-bit so
nothing a model produced is rounded away. The zip is written to a temporary file beside
the target and renamed, so a crash during a save never leaves a broken project (or a
broken autosave).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.errors import ImageError
from engine.images import LoadedImage, load_image, save_image
from gui.document import Document, Layer

FORMAT_VERSION = 1
SUFFIX = ".heirloom"


class ProjectError(ImageError):
    """A project file that cannot be read; the message says which and why."""


def save_project(document: Document, path: Path) -> Path:
    """Write ``document`` to ``path`` atomically; returns the path."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="heirloom-save-") as tmp:
        folder = Path(tmp)
        meta = replace(document.meta, source=None)
        layers = {
            Layer.PHOTO: save_image(
                folder / "photo.png", document.photo, meta=meta, alpha=document.alpha
            ),
            Layer.MASK: save_image(folder / "mask.png", document.mask / 255.0, bit_depth=8),
            Layer.SKETCH: save_image(folder / "sketch.png", document.sketch / 255.0, bit_depth=8),
        }
        if document.has_paint:
            layers[Layer.PAINT] = save_image(
                folder / "paint.png",
                document.paint[..., :3] / 255.0,
                alpha=document.paint[..., 3] / 255.0,
                bit_depth=8,
            )
        if document.result is not None:
            layers[Layer.RESULT] = save_image(folder / "result.png", document.result, bit_depth=16)
        manifest = {
            "format": "heirloom-project",
            "version": FORMAT_VERSION,
            "width": document.width,
            "height": document.height,
            "source": str(document.source) if document.source else None,
            "bit_depth": document.meta.bit_depth,
            "layers": {str(layer): file.name for layer, file in layers.items()},
            "faces": [list(box) for box in document.faces],
        }
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed, then renamed
            dir=path.parent, prefix=f".{path.stem}.", suffix=".part", delete=False
        )
        try:
            with handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
                archive.writestr("project.json", json.dumps(manifest, indent=2))
                for file in layers.values():
                    archive.write(file, file.name)  # PNGs are compressed already
            os.replace(handle.name, path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
    return path


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


def _as_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.round(pixels * 255.0).astype(np.uint8)


def read_project(path: Path) -> ProjectLayers:
    """Read every layer of a project file; raises ProjectError with the reason."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ProjectError(f"{path.name} is not a Heirloom project ({exc})") from None
    with archive, tempfile.TemporaryDirectory(prefix="heirloom-open-") as tmp:
        try:
            manifest = json.loads(archive.read("project.json"))
        except (KeyError, ValueError) as exc:
            raise ProjectError(f"{path.name} has no readable project.json ({exc})") from None
        if manifest.get("format") != "heirloom-project":
            raise ProjectError(f"{path.name} is not a Heirloom project")
        if int(manifest.get("version", 0)) > FORMAT_VERSION:
            raise ProjectError(
                f"{path.name} was saved by a newer Heirloom (format {manifest['version']}); "
                "update Heirloom to open it"
            )
        names = manifest["layers"]
        archive.extractall(tmp, members=[n for n in names.values() if n in archive.namelist()])
        folder = Path(tmp)
        photo = load_image(folder / names[Layer.PHOTO])
        source = Path(manifest["source"]) if manifest.get("source") else None
        photo = replace(
            photo, meta=replace(photo.meta, source=source, bit_depth=manifest["bit_depth"])
        )
        layers = ProjectLayers(path, photo, faces=[tuple(b) for b in manifest.get("faces", [])])
        if Layer.MASK in names:
            layers.mask = _as_uint8(load_image(folder / names[Layer.MASK]).pixels[..., 0])
        if Layer.SKETCH in names:
            layers.sketch = _as_uint8(load_image(folder / names[Layer.SKETCH]).pixels[..., 0])
        if Layer.RESULT in names:
            layers.result = load_image(folder / names[Layer.RESULT]).pixels
        if Layer.PAINT in names:
            paint = load_image(folder / names[Layer.PAINT])
            layers.paint = np.zeros(paint.pixels.shape[:2] + (4,), np.uint8)
            layers.paint[..., :3] = _as_uint8(paint.pixels)
            if paint.alpha is not None:
                layers.paint[..., 3] = _as_uint8(paint.alpha)
    return layers


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
