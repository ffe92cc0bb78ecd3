"""Model packs: what a pack is, where packs live, and whether a pack is sound.

A pack is a folder with ``model.onnx``, ``manifest.json`` and ``MODEL_CARD.md``. The
manifest (schema below, versioned by ``schema``) tells the engine everything it must
know to feed the graph: tensor names, layouts, value ranges, the size rule, whether
the model may be tiled, and task options. This module does not import onnxruntime:
structural checks of the graph are delegated to :mod:`engine.runtime` on demand.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import PackError
from engine.files import atomic_write, write_error

SCHEMA_VERSION = 1
MAX_MANIFEST_BYTES = 1 << 20
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
CARD_FILE = "MODEL_CARD.md"

TASKS = (
    "scratch-detect",
    "restore",
    "face-detect-pnet",
    "face-detect-rnet",
    "face-detect-onet",
    "face-enhance",
    "sketch2photo",
    "sketch-into",
    "ddpm-eps",
    # imported with spandrel (training/convert/spandrel_archs.py)
    "upscale",
    "denoise",
    "face-restore",
    "fill",
    "colorize",
    "test",
)
DTYPES = ("float32", "float16", "int64", "int32", "uint8")
LAYOUTS = ("NCHW", "NHWC", "N", "NC")

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "resources" / "models"

NAME_RULE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
"""A pack name is a plain identifier: it becomes a folder name, so no paths, no dots
alone, nothing a shell or file system treats specially."""

# Sane bounds for what a manifest may declare; beyond them it is a mistake or an attack.
MAX_SIDE = 16384
MAX_MULTIPLE = 1024
MAX_OVERLAP = 2048
MAX_BYTES_PER_PIXEL = 1 << 20
MAX_CHANNELS = 64
MAX_TEXT = 4000


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output. ``channels`` is None when the layout has none."""

    name: str
    layout: str = "NCHW"
    channels: int | None = None
    dtype: str = "float32"
    value_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class SizeRule:
    """Spatial sizes the graph accepts: fixed (h, w), or any multiple >= min."""

    multiple_of: int = 1
    min: int = 1
    fixed: tuple[int, int] | None = None


@dataclass(frozen=True)
class Tiling:
    """Whether a large image may be cut into tiles, and how much context each needs.

    ``overlap`` is in pixels of the input; ``bytes_per_pixel`` is the peak memory the
    graph needs per input pixel, used to pick a tile size from a memory budget.
    """

    allowed: bool = True
    overlap: int = 32
    bytes_per_pixel: int = 4096


@dataclass(frozen=True)
class Manifest:
    name: str
    task: str
    version: str
    title: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    sha256: str
    licence: str
    size_rule: SizeRule = SizeRule()
    tiling: Tiling = Tiling()
    options: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    architecture: str = ""
    files: dict[str, str] = field(default_factory=dict)  # other files -> sha256
    schema: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """The manifest as written to ``manifest.json``."""
        data = asdict(self)
        data["inputs"] = [asdict(t) for t in self.inputs]
        data["outputs"] = [asdict(t) for t in self.outputs]
        return data

    def input(self, name: str) -> TensorSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise PackError(f"model pack '{self.name}' has no input named '{name}'")


@dataclass(frozen=True)
class ModelPack:
    """A pack on disk. ``origin`` is 'bundled' or 'user'."""

    path: Path
    manifest: Manifest
    origin: str = "user"

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def card_path(self) -> Path:
        return self.path / CARD_FILE


def check_pack_name(name: str) -> str:
    """Return ``name`` if it is a valid pack name, else raise a one-line PackError."""
    if not isinstance(name, str) or not NAME_RULE.fullmatch(name):
        shown = repr(name)[:80]
        raise PackError(
            f"model pack name {shown} is not allowed: use 1-64 lower-case letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return name


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so large graphs do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- manifest parsing -----------------------------------------------------------


class _Fields:
    """Reads typed fields from a JSON object, naming the pack and field on error."""

    def __init__(self, pack: str, data: Any, where: str = "") -> None:
        if not isinstance(data, dict):
            raise PackError(f"model pack '{pack}': {where or 'manifest'} must be an object")
        self.pack, self.data, self.where = pack, data, where

    def _fail(self, key: str, what: str) -> PackError:
        return PackError(f"model pack '{self.pack}': manifest field '{self.where}{key}' {what}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self._fail(key, "is missing")
            return default
        value = self.data[key]
        if value is None and default is not ...:
            return default
        if isinstance(value, tuple):  # a manifest built in Python rather than read from JSON
            value = list(value)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self._fail(key, f"has the wrong type ({type(value).__name__})")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: Any = ...) -> str:
        value = self.get(key, str, default)
        if value not in allowed:
            raise self._fail(key, f"must be one of {', '.join(allowed)} (got '{value}')")
        return value

    def child(self, key: str, index: int | None = None) -> _Fields:
        value = self.data.get(key, {}) if index is None else self.data[key][index]
        where = f"{self.where}{key}." if index is None else f"{self.where}{key}[{index}]."
        return _Fields(self.pack, value, where)


def _tensor(fields: _Fields) -> TensorSpec:
    value_range = fields.get("value_range", list, None)
    if value_range is not None:
        if len(value_range) != 2 or not all(isinstance(v, (int, float)) for v in value_range):
            raise fields._fail("value_range", "must be [low, high]")
        value_range = (float(value_range[0]), float(value_range[1]))
    channels = fields.get("channels", int, None)
    if channels is not None and not 1 <= channels <= MAX_CHANNELS:
        raise fields._fail("channels", f"must be between 1 and {MAX_CHANNELS} (got {channels})")
    name = fields.get("name", str)
    if not name or len(name) > MAX_TEXT:
        raise fields._fail("name", f"must be 1 to {MAX_TEXT} characters")
    return TensorSpec(
        name=name,
        layout=fields.choice("layout", LAYOUTS, "NCHW"),
        channels=channels,
        dtype=fields.choice("dtype", DTYPES, "float32"),
        value_range=value_range,
    )


def parse_manifest(data: Any, pack: str = "?") -> Manifest:
    """Validate a manifest's JSON object and turn it into a :class:`Manifest`."""
    top = _Fields(pack, data)
    schema = top.get("schema", int)
    if schema > SCHEMA_VERSION:
        raise PackError(
            f"model pack '{pack}' uses manifest schema {schema}; this Heirloom reads up to "
            f"{SCHEMA_VERSION}. Update Heirloom to use it."
        )
    if schema < 1:
        raise top._fail("schema", f"must be between 1 and {SCHEMA_VERSION} (got {schema})")
    pack = check_pack_name(top.get("name", str))
    top.pack = pack
    tensors = {}
    for key in ("inputs", "outputs"):
        items = top.get(key, list)
        if not items or len(items) > 16:
            raise top._fail(key, "must list between 1 and 16 tensors")
        tensors[key] = tuple(_tensor(top.child(key, i)) for i in range(len(items)))
    rule, tiling = top.child("size_rule"), top.child("tiling")
    fixed = rule.get("fixed", list, None)
    if fixed is not None and (
        len(fixed) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in fixed)
        or not all(1 <= v <= MAX_SIDE for v in fixed)
    ):
        raise rule._fail("fixed", f"must be [height, width], each 1..{MAX_SIDE}")
    size_rule = SizeRule(
        multiple_of=rule.get("multiple_of", int, 1),
        min=rule.get("min", int, 1),
        fixed=tuple(fixed) if fixed else None,
    )
    if not 1 <= size_rule.multiple_of <= MAX_MULTIPLE:
        raise rule._fail("multiple_of", f"must be between 1 and {MAX_MULTIPLE}")
    if not 1 <= size_rule.min <= MAX_SIDE:
        raise rule._fail("min", f"must be between 1 and {MAX_SIDE}")
    tiles = Tiling(
        allowed=tiling.get("allowed", bool, True),
        overlap=tiling.get("overlap", int, 32),
        bytes_per_pixel=tiling.get("bytes_per_pixel", int, 4096),
    )
    if not 0 <= tiles.overlap <= MAX_OVERLAP:
        raise tiling._fail("overlap", f"must be between 0 and {MAX_OVERLAP}")
    if not 1 <= tiles.bytes_per_pixel <= MAX_BYTES_PER_PIXEL:
        raise tiling._fail("bytes_per_pixel", f"must be between 1 and {MAX_BYTES_PER_PIXEL}")
    files = top.get("files", dict, {})
    for key, value in files.items():
        if key in (MANIFEST_FILE, MODEL_FILE) or not _plain_file_name(key):
            raise top._fail("files", f"has an entry '{key[:80]}' that is not a plain file name")
        if not (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value)):
            raise top._fail("files", f"must map '{key[:80]}' to a sha256 (64 hex digits)")
    texts = {
        key: top.get(key, str, default) for key, default in (("title", pack), ("architecture", ""))
    }
    for key in ("version", "licence"):
        texts[key] = top.get(key, str)
    for key, value in texts.items():
        if len(value) > MAX_TEXT:
            raise top._fail(key, f"is longer than {MAX_TEXT} characters")
    task = top.choice("task", TASKS)
    sha256 = top.get("sha256", str)
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise top._fail("sha256", "must be 64 hexadecimal digits")
    manifest = Manifest(
        schema=schema,
        name=pack,
        task=task,
        version=texts["version"],
        title=texts["title"],
        inputs=tensors["inputs"],
        outputs=tensors["outputs"],
        sha256=sha256,
        licence=texts["licence"],
        size_rule=size_rule,
        tiling=tiles,
        options=top.get("options", dict, {}),
        provenance=top.get("provenance", dict, {}),
        architecture=texts["architecture"],
        files=dict(files),
    )
    check_task_io(manifest)
    return manifest


def _plain_file_name(name: str) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= 128
        and name not in (".", "..")
        and not any(c in name for c in "/\\\0:")
    )


# --- what each task needs from its graph -------------------------------------------


def _image_like(spec: TensorSpec, channels: tuple[int, ...]) -> bool:
    return spec.layout == "NCHW" and (spec.channels is None or spec.channels in channels)


def check_task_io(manifest: Manifest) -> None:
    """Raise PackError when the declared inputs/outputs cannot serve the task.

    The manifest is compared with the graph itself at import (:func:`verify_pack`) and
    when a session opens, so together these keep, say, a detector labelled ``restore``
    from breaking every restoration.
    """
    task, ins, outs = manifest.task, manifest.inputs, manifest.outputs
    problem = ""
    if task == "scratch-detect":
        if len(ins) != 1 or not _image_like(ins[0], (1, 3)):
            problem = "needs one NCHW image input with 1 or 3 channels"
        elif not _image_like(outs[0], (1,)):
            problem = "needs a 1-channel NCHW probability output"
    elif task == "restore":
        if not _image_like(ins[0], (1, 3)) or not all(s.layout == "NCHW" for s in ins):
            problem = "needs NCHW inputs, the first an image with 1 or 3 channels"
        elif len(ins) > 3:
            problem = "takes at most three inputs (image, mask, pre-pass)"
        elif len(outs) != 1 or not _image_like(outs[0], (1, 3)):
            problem = "needs one NCHW image output with 1 or 3 channels"
    elif task in ("face-enhance", "face-restore"):
        if len(ins) != 1 or not _image_like(ins[0], (3,)):
            problem = "needs one 3-channel NCHW face input"
        elif len(outs) != 1 or not _image_like(outs[0], (3,)):
            problem = "needs one 3-channel NCHW face output"
    elif task.startswith("face-detect-"):
        wanted = 3 if task.endswith("onet") else 2
        if len(ins) != 1 or not _image_like(ins[0], (3,)):
            problem = "needs one 3-channel NCHW image input"
        elif len(outs) < wanted:
            problem = f"needs at least {wanted} outputs (box regression, probability)"
    elif task in ("upscale", "denoise"):
        if len(ins) != 1 or not _image_like(ins[0], (1, 3)):
            problem = "needs one NCHW image input with 1 or 3 channels"
        elif len(outs) != 1 or not _image_like(outs[0], (1, 3)):
            problem = "needs one NCHW image output with 1 or 3 channels"
    elif task == "fill":
        named = {s.name: s for s in ins}
        if set(named) != {"image", "mask"} or not (
            _image_like(named["image"], (3,)) and _image_like(named["mask"], (1,))
        ):
            problem = "needs two NCHW inputs: image (3 channels) and mask (1)"
        elif len(outs) != 1 or not _image_like(outs[0], (3,)):
            problem = "needs one 3-channel NCHW image output"
    elif task == "colorize":
        if len(ins) != 1 or not _image_like(ins[0], (1,)):
            problem = "needs one 1-channel NCHW gray input"
        elif len(outs) != 1 or not _image_like(outs[0], (3,)):
            problem = "needs one 3-channel NCHW RGB output"
    elif task == "sketch2photo":
        if len(ins) != 1 or not _image_like(ins[0], (1, 3)):
            problem = "needs one NCHW edge-map input with 1 or 3 channels"
        elif len(outs) != 1 or not _image_like(outs[0], (1, 3)):
            problem = "needs one NCHW photo output with 1 or 3 channels"
    elif task == "sketch-into":
        wanted = {"known": 3, "region": 1, "edges": 1, "hints": 3, "hint_mask": 1}
        named = {s.name: s for s in ins}
        if set(named) != set(wanted) or not all(
            _image_like(named[name], (channels,)) for name, channels in wanted.items()
        ):
            problem = (
                "needs five NCHW inputs: known (3 channels), region (1), edges (1), "
                "hints (3), hint_mask (1)"
            )
        elif len(outs) != 1 or not _image_like(outs[0], (3,)):
            problem = "needs one 3-channel NCHW photo output"
    elif task == "ddpm-eps":
        images = [s for s in ins if s.layout == "NCHW"]
        steps = [s for s in ins if s.layout == "N"]
        if len(ins) != 2 or len(images) != 1 or len(steps) != 1:
            problem = "needs two inputs: an NCHW sample and an N timestep"
        elif len(outs) != 1 or outs[0].layout != "NCHW":
            problem = "needs one NCHW noise output"
        elif None not in (outs[0].channels, images[0].channels) and (
            outs[0].channels != images[0].channels
        ):
            problem = "needs a noise output with as many channels as the sample"
    if problem:
        raise PackError(f"model pack '{manifest.name}' is labelled {task} but {problem}")


def read_pack(path: Path, origin: str = "user") -> ModelPack:
    """Read a pack folder's manifest (cheap: does not hash or load the graph)."""
    path = Path(path)
    manifest_path = path / MANIFEST_FILE
    if not path.is_dir():
        raise PackError(f"model pack folder '{path}' does not exist")
    _check_plain_files(path)
    if not manifest_path.is_file():
        raise PackError(f"model pack '{path.name}' has no {MANIFEST_FILE}")
    if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
        raise PackError(f"model pack '{path.name}': {MANIFEST_FILE} is implausibly large")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise PackError(
            f"model pack '{path.name}': {MANIFEST_FILE} is not valid JSON ({reason})"
        ) from None
    except OSError as exc:
        raise PackError(
            f"model pack '{path.name}': {MANIFEST_FILE} cannot be read ({exc})"
        ) from None
    return ModelPack(path=path, manifest=parse_manifest(data, path.name), origin=origin)


def _check_plain_files(path: Path) -> None:
    """A pack is a real folder of plain files: links (which could point anywhere on the
    disk, and would be copied or printed as if they were the pack's) and sub-folders are
    refused."""
    if path.is_symlink():
        raise PackError(f"model pack folder '{path}' is a link; packs must be real folders")
    try:
        entries = list(path.iterdir())
    except OSError as exc:
        raise PackError(f"model pack folder '{path}' cannot be read ({exc})") from None
    for entry in entries:
        if entry.is_symlink():
            raise PackError(
                f"model pack '{path.name}' contains a link ({entry.name}); packs must hold "
                "plain files only"
            )
        if not entry.is_file():
            raise PackError(
                f"model pack '{path.name}' contains '{entry.name}', which is not a plain file"
            )


def pack_files(path: Path) -> dict[str, str]:
    """sha256 of every file of a pack folder except the graph and the manifest."""
    return {
        entry.name: sha256_of(entry)
        for entry in sorted(Path(path).iterdir())
        if entry.is_file() and entry.name not in (MODEL_FILE, MANIFEST_FILE)
    }


def seal_pack(path: Path) -> ModelPack:
    """Record the sha256 of every file now in the pack (after pictures were added to
    its card), so :func:`verify_pack` covers them too."""
    path = Path(path)
    data = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    data["files"] = pack_files(path)
    _write_json(path / MANIFEST_FILE, data)
    return read_pack(path)


def _write_json(path: Path, data: dict) -> None:
    with atomic_write(path) as handle:
        handle.write((json.dumps(data, indent=2) + "\n").encode("utf-8"))


def write_pack(
    folder: Path, onnx_path: Path, manifest: Manifest, card: str, overwrite: bool = False
) -> ModelPack:
    """Write a complete pack (graph, manifest with the graph's sha256, card).

    Used by training exporters and converters; the pack is assembled in a temporary
    sibling folder and renamed, so a failed export never leaves half a pack behind.
    """
    folder = Path(folder)
    check_pack_name(manifest.name)
    check_task_io(manifest)
    if folder.exists() and not overwrite:
        raise PackError(f"model pack folder '{folder}' already exists")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        shutil.copyfile(onnx_path, staging / MODEL_FILE)
        data = manifest.to_json()
        data["sha256"] = sha256_of(staging / MODEL_FILE)
        (staging / CARD_FILE).write_text(card, encoding="utf-8")
        data["files"] = pack_files(staging)
        (staging / MANIFEST_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private; packs are shared read-only data
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return read_pack(folder)


# --- verification ---------------------------------------------------------------


def verify_pack(pack: ModelPack) -> None:
    """Check a pack end to end; raise :class:`PackError` naming the first problem.

    Order matters for the message: missing files, then the sha256 (cheap, catches a
    corrupted or swapped graph), then loading the graph and comparing its inputs and
    outputs against the manifest.
    """
    from engine import runtime  # late: keeps this module free of onnxruntime

    name = pack.name
    _check_plain_files(pack.path)
    for required in (MODEL_FILE, CARD_FILE):
        if not (pack.path / required).is_file():
            raise PackError(f"model pack '{name}' is missing {required}")
    _check_listed_files(pack)
    actual = sha256_of(pack.model_path)
    if actual != pack.manifest.sha256:
        raise PackError(
            f"model pack '{name}': {MODEL_FILE} does not match its manifest sha256 "
            f"(expected {pack.manifest.sha256[:12]}..., found {actual[:12]}...); the file "
            "is damaged or was replaced"
        )
    graph = runtime.describe_graph(pack.model_path, name)
    for kind, specs, found in (
        ("input", pack.manifest.inputs, graph.inputs),
        ("output", pack.manifest.outputs, graph.outputs),
    ):
        compare_io(name, kind, specs, found)


def _check_listed_files(pack: ModelPack) -> None:
    """Every file the graph could load is covered by a sha256 in the manifest.

    ONNX Runtime loads external weights from files beside the graph, so a file the
    manifest does not list is refused rather than trusted. (Packs written before the
    ``files`` list existed may still hold an unlisted MODEL_CARD.md.)
    """
    listed = pack.manifest.files
    for entry in sorted(pack.path.iterdir()):
        if entry.name in (MODEL_FILE, MANIFEST_FILE):
            continue
        if entry.name not in listed:
            if entry.name == CARD_FILE and not listed:
                continue
            raise PackError(
                f"model pack '{pack.name}': {entry.name} is not listed in its manifest's "
                "'files' (every file of a pack must carry a sha256)"
            )
        if sha256_of(entry) != listed[entry.name]:
            raise PackError(
                f"model pack '{pack.name}': {entry.name} does not match its manifest sha256; "
                "the file is damaged or was replaced"
            )
    for name in listed:
        if not (pack.path / name).is_file():
            raise PackError(f"model pack '{pack.name}' is missing {name}")


def compare_io(pack: str, kind: str, specs: tuple[TensorSpec, ...], found: dict) -> None:
    expected = [s.name for s in specs]
    if sorted(expected) != sorted(found):
        raise PackError(
            f"model pack '{pack}': the graph's {kind}s are {sorted(found)} but the manifest "
            f"says {sorted(expected)}"
        )
    for spec in specs:
        dtype, shape = found[spec.name]
        if dtype != spec.dtype:
            raise PackError(
                f"model pack '{pack}': {kind} '{spec.name}' is {dtype} in the graph but "
                f"{spec.dtype} in the manifest"
            )
        if len(shape) != len(spec.layout):
            raise PackError(
                f"model pack '{pack}': {kind} '{spec.name}' has rank {len(shape)} in the graph "
                f"but layout {spec.layout} in the manifest"
            )
        if spec.channels is not None and "C" in spec.layout:
            dim = shape[spec.layout.index("C")]
            if isinstance(dim, int) and dim != spec.channels:
                raise PackError(
                    f"model pack '{pack}': {kind} '{spec.name}' has {dim} channels in the graph "
                    f"but {spec.channels} in the manifest"
                )


# --- registry -------------------------------------------------------------------


def user_models_dir() -> Path:
    """Per-user pack folder: ``$HEIRLOOM_HOME/models`` or the platform's data dir."""
    home = os.environ.get("HEIRLOOM_HOME")
    if home:
        return Path(home) / "models"
    import platformdirs

    return Path(platformdirs.user_data_dir("Heirloom", appauthor=False)) / "models"


class Registry:
    """All packs the app can see: bundled ones, then the user's (which win on a clash).

    A folder whose manifest cannot be read is kept in :attr:`broken` with its reason,
    so ``heirloom models list`` can show it instead of hiding it.
    """

    def __init__(self, bundled: Path | None = None, user: Path | None = None) -> None:
        self.bundled = BUNDLED_DIR if bundled is None else Path(bundled)
        self.user = user_models_dir() if user is None else Path(user)
        self.broken: dict[Path, str] = {}

    def packs(self) -> list[ModelPack]:
        found: dict[str, ModelPack] = {}
        self.broken = {}
        for origin, root in (("bundled", self.bundled), ("user", self.user)):
            if not root.is_dir():
                continue
            for folder in sorted(p for p in root.iterdir() if p.is_dir()):
                if folder.name.startswith("."):
                    continue
                try:
                    pack = read_pack(folder, origin)
                except PackError as exc:
                    self.broken[folder] = str(exc)
                    continue
                found[pack.name] = pack
        return sorted(found.values(), key=lambda p: (p.manifest.task, p.name))

    def get(self, name: str) -> ModelPack:
        for pack in self.packs():
            if pack.name == name:
                return pack
        known = ", ".join(p.name for p in self.packs()) or "none"
        raise PackError(
            f"no model pack named '{name}' (installed: {known}); import one with "
            "'heirloom models import PATH'"
        )

    def for_task(self, task: str, name: str | None = None) -> ModelPack:
        """The pack to use for a task: the named one, else the user's, else bundled."""
        if name:
            pack = self.get(name)
            if pack.manifest.task != task:
                raise PackError(f"model pack '{name}' is a {pack.manifest.task} model, not {task}")
            return pack
        candidates = [p for p in self.packs() if p.manifest.task == task]
        if not candidates:
            raise PackError(
                f"no model pack for '{task}' is installed; run 'make models' in the source "
                "tree or import a pack with 'heirloom models import PATH'"
            )
        candidates.sort(key=lambda p: (p.origin != "user", p.name))
        return candidates[0]

    def import_pack(self, source: Path, overwrite: bool = False) -> ModelPack:
        """Validate a pack folder and copy it into the user folder."""
        pack = read_pack(Path(source))  # its name is a plain identifier (parse_manifest)
        target = self.user / pack.name
        if target.exists() and not overwrite:
            raise PackError(
                f"a model pack named '{pack.name}' is already installed at {target}; "
                "use --overwrite to replace it"
            )
        self.user.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{pack.name}-", dir=self.user))
        try:
            for entry in pack.path.iterdir():  # plain files only: read_pack refused links
                shutil.copyfile(entry, staging / entry.name, follow_symlinks=False)
            staging.chmod(0o755)
            verify_pack(read_pack(staging))  # verify the copy: what is installed is what passed
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise write_error(target, exc) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return read_pack(target, "user")
