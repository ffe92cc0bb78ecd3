"""`.heirloom` project files: the photo and every layer, to finish the work another day.

A project is a zip of PNG layers plus ``project.json`` (with a format version). The
photo keeps its bit depth and its ICC / EXIF (through :func:`engine.images.save_image`),
the mask and sketch are 8-bit gray, the result 16-bit so nothing a model produced is
rounded away. The zip is written to a temporary file beside the target and renamed, so
a crash during a save never leaves a broken project (or a broken autosave).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.errors import ImageError
from engine.images import load_image, save_image
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


def load_project(path: Path) -> Document:
    """Read a project back into a :class:`Document` with the same layers."""
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
        document = Document(photo)
        document.project_path = path

        def plane(layer: Layer) -> np.ndarray | None:
            if layer not in names:
                return None
            return load_image(folder / names[layer]).pixels

        mask, sketch, result = plane(Layer.MASK), plane(Layer.SKETCH), plane(Layer.RESULT)
        if mask is not None:
            document.mask[...] = np.round(mask[..., 0] * 255.0).astype(np.uint8)
        if sketch is not None:
            document.sketch[...] = np.round(sketch[..., 0] * 255.0).astype(np.uint8)
        if result is not None:
            document._put_result(result)
        document.faces = [tuple(box) for box in manifest.get("faces", [])]
    return document
