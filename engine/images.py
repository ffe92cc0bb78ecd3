"""Loading and saving photos without losing what the user cares about.

Images inside the engine are float32 HxWxC arrays in [0, 1] with C = 1 (grayscale)
or 3 (RGB); alpha travels separately so no pipeline has to think about it. What a
save must put back (ICC profile, EXIF, DPI, bit depth, grayscale-ness) travels in
:class:`ImageMeta`.

Pillow reads and writes almost everything, but reduces 16-bit RGB to 8 bits; those
files go through ``pypng`` (PNG) and ``tifffile`` (TIFF) instead, with Pillow still
reading their metadata. Every write goes to a temporary file in the target folder
and is renamed into place, so a crash or a cancel never leaves half a file, and the
source file of an image is never a valid target.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from engine.errors import ImageError, WriteError
from engine.files import atomic_write, same_file

MAX_PIXELS = 180_000_000
"""Largest image we open (a 16000x11000 scan); beyond it is most likely a bomb."""

FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".bmp": "BMP",
}
SIXTEEN_BIT_FORMATS = ("PNG", "TIFF")


@dataclass(frozen=True)
class ImageMeta:
    """What a save needs to give back: the source's metadata and bit depth."""

    source: Path | None = None
    bit_depth: int = 8
    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    format: str | None = None


@dataclass(frozen=True)
class LoadedImage:
    pixels: np.ndarray  # float32 HxWxC in [0, 1], C = 1 or 3
    alpha: np.ndarray | None  # float32 HxW in [0, 1]
    meta: ImageMeta

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def is_gray(self) -> bool:
        return self.pixels.shape[2] == 1


# --- loading --------------------------------------------------------------------


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ImageError(f"{path} does not exist")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is empty (0 bytes)")


def _png_is_rgb16(head: bytes) -> bool:
    # IHDR follows the 8-byte signature: length, "IHDR", width, height, depth, colour type
    return head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16 and head[25] in (2, 6)


def _tiff_is_rgb16(image: Image.Image) -> bool:
    bits = getattr(image, "tag_v2", {}).get(258)
    samples = getattr(image, "tag_v2", {}).get(277, 1)
    if bits is None:
        return False
    bits = bits if isinstance(bits, tuple) else (bits,)
    return samples >= 3 and bits[0] == 16


def _read_rgb16(path: Path, fmt: str) -> np.ndarray:
    """16-bit RGB(A) pixels as uint16 HxWx(3|4), which Pillow cannot keep."""
    if fmt == "PNG":
        import png

        try:
            width, height, rows, info = png.Reader(filename=str(path)).asDirect()
            planes = info["planes"]
            data = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
        except png.Error as exc:  # pypng checks what Pillow skipped (found by fuzzing)
            raise ValueError(str(exc)) from None
        return data.reshape(height, width, planes)
    import tifffile

    data = tifffile.imread(str(path))
    if data.ndim == 3 and data.shape[0] in (3, 4) and data.shape[-1] not in (3, 4):
        data = np.moveaxis(data, 0, -1)  # planar configuration
    return np.asarray(data, dtype=np.uint16)


def _to_arrays(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Pillow image -> (HxWxC float32 in [0,1], alpha or None, bit depth)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        gray = np.asarray(image, dtype=np.uint16).astype(np.float32) / 65535.0
        return gray[..., None], None, 16
    if mode == "I":
        data = np.asarray(image, dtype=np.int64)
        depth = 16 if data.max(initial=0) > 255 else 8
        scale = 65535.0 if depth == 16 else 255.0
        return (np.clip(data, 0, scale).astype(np.float32) / scale)[..., None], None, depth
    if mode == "F":
        data = np.nan_to_num(np.asarray(image, dtype=np.float32))
        if data.max(initial=0) > 1.0:
            data = data / 65535.0 if data.max() > 255 else data / 255.0
        return np.clip(data, 0, 1)[..., None], None, 16
    if mode == "1":
        image = image.convert("L")
    elif mode in ("P", "PA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    elif mode == "La":
        image = image.convert("LA")
    elif mode in ("RGBa", "RGBX"):
        image = image.convert("RGBA" if mode == "RGBa" else "RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGB")
    data = np.asarray(image, dtype=np.uint8).astype(np.float32) / 255.0
    if data.ndim == 2:
        data = data[..., None]
    alpha = None
    if image.mode in ("LA", "RGBA"):
        data, alpha = data[..., :-1], data[..., -1]
        if alpha.min() >= 1.0:
            alpha = None  # an opaque alpha channel carries nothing worth keeping
    return np.ascontiguousarray(data), alpha, 8


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """CMYK through its embedded profile to sRGB when there is one (print scans)."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            return converted, ImageCms.ImageCmsProfile(srgb).tobytes()
        except (ImageCms.PyCMSError, OSError):
            pass
    return image.convert("RGB"), None


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Read a photo for the engine, upright (EXIF orientation applied), metadata kept.

    Raises :class:`ImageError` with one line for anything that is not a readable,
    complete image of sane size. Pillow's warnings about damaged metadata it skips
    are silenced: the photo still loads, and they would reach the user as stray lines.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _load(Path(path), max_pixels)


def _load(path: Path, max_pixels: int) -> LoadedImage:
    _check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image Heirloom can read") from None
    except Image.DecompressionBombError:
        raise ImageError(
            f"{path} is too large to open safely (over {max_pixels // 10**6} MP)"
        ) from None
    except OSError as exc:
        raise ImageError(f"{path} cannot be read ({exc})") from None
    except (ValueError, SyntaxError, struct.error) as exc:  # damaged headers (found by fuzzing)
        raise ImageError(f"{path} is damaged ({exc})") from None
    with image:
        width, height = image.size
        if width == 0 or height == 0:
            raise ImageError(f"{path} has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise ImageError(
                f"{path} is {width}x{height} ({width * height / 1e6:.0f} MP), larger than the "
                f"{max_pixels / 1e6:.0f} MP Heirloom can open safely"
            )
        fmt = image.format or ""
        with open(path, "rb") as handle:
            head = handle.read(32)
        try:
            image.load()
            rgb16 = (fmt == "PNG" and _png_is_rgb16(head)) or (
                fmt == "TIFF" and _tiff_is_rgb16(image)
            )
            exif = image.getexif()
            orientation = exif.get(0x0112, 1)
            icc = image.info.get("icc_profile")
            dpi = image.info.get("dpi")
            if rgb16:
                raw = _read_rgb16(path, fmt)
                pixels = raw[..., :3].astype(np.float32) / 65535.0
                alpha = raw[..., 3].astype(np.float32) / 65535.0 if raw.shape[2] == 4 else None
                depth = 16
                pixels, alpha = _orient(pixels, alpha, orientation)
            else:
                if image.mode == "CMYK":
                    image, icc = _cmyk_to_rgb(image, icc)
                image = ImageOps.exif_transpose(image) or image
                pixels, alpha, depth = _to_arrays(image)
        except (OSError, SyntaxError, ValueError, struct.error) as exc:
            raise ImageError(f"{path} is truncated or damaged ({exc})") from None
    if orientation != 1:
        exif[0x0112] = 1
    meta = ImageMeta(
        source=path.resolve(),
        bit_depth=depth,
        icc_profile=icc or None,
        exif=exif.tobytes() if len(exif) else None,
        dpi=tuple(float(v) for v in dpi) if dpi else None,
        format=fmt or None,
    )
    return LoadedImage(pixels=pixels.astype(np.float32, copy=False), alpha=alpha, meta=meta)


def _orient(
    pixels: np.ndarray, alpha: np.ndarray | None, orientation: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply an EXIF orientation (1-8) to arrays, as ImageOps.exif_transpose does."""

    def turn(a: np.ndarray) -> np.ndarray:
        ops = {
            2: lambda x: x[:, ::-1],
            3: lambda x: x[::-1, ::-1],
            4: lambda x: x[::-1],
            5: lambda x: np.swapaxes(x, 0, 1),
            6: lambda x: np.rot90(x, -1),
            7: lambda x: np.rot90(x, 1)[::-1],
            8: lambda x: np.rot90(x, 1),
        }
        op = ops.get(orientation)
        return np.ascontiguousarray(op(a)) if op else a

    return turn(pixels), (turn(alpha) if alpha is not None else None)


# --- saving ---------------------------------------------------------------------


def format_for(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted({s for s in FORMATS}))
        raise ImageError(f"cannot save '{path.name}': unknown file type (use one of {known})")
    return fmt


def check_writable(path: Path, overwrite: bool, source: Path | None = None) -> str:
    """Raise ImageError unless ``path`` may be written; returns its format.

    Callers run it before minutes of work, so a bad output path fails at once; the
    original photo (``source``) is never a valid target, even with ``overwrite``.
    """
    fmt = format_for(path)
    if source is not None and same_file(path, Path(source)):
        raise ImageError(f"refusing to write over the original photo {path}; choose another name")
    if path.exists() and path.is_dir():
        raise ImageError(f"{path} is a folder")
    if path.exists() and not overwrite:
        raise ImageError(f"{path} already exists; use --overwrite to replace it")
    if not path.parent.is_dir():
        raise ImageError(f"the folder {path.parent} does not exist")
    return fmt


def _quantise(data: np.ndarray, depth: int) -> np.ndarray:
    top = 65535.0 if depth == 16 else 255.0
    out = np.clip(np.nan_to_num(data), 0.0, 1.0) * top + 0.5
    return out.astype(np.uint16 if depth == 16 else np.uint8)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _write_png16(target: io.BufferedWriter, data: np.ndarray, meta: ImageMeta) -> None:
    """16-bit PNG through pypng, with iCCP, pHYs and eXIf chunks spliced in."""
    import png

    height, width, planes = data.shape
    writer = png.Writer(
        width, height, greyscale=planes in (1, 2), alpha=planes in (2, 4), bitdepth=16
    )
    buffer = io.BytesIO()
    writer.write(buffer, data.reshape(height, width * planes))
    encoded = buffer.getvalue()
    extra = b""
    if meta.icc_profile:
        extra += _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(meta.icc_profile))
    if meta.dpi:
        ppm = [round(v / 0.0254) for v in meta.dpi]
        extra += _png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1))
    if meta.exif:
        body = meta.exif[6:] if meta.exif.startswith(b"Exif\x00\x00") else meta.exif
        extra += _png_chunk(b"eXIf", body)
    ihdr_end = 8 + 25  # signature + IHDR chunk (4 length + 4 type + 13 data + 4 crc)
    target.write(encoded[:ihdr_end] + extra + encoded[ihdr_end:])


def _pillow_image(data: np.ndarray, depth: int) -> Image.Image:
    """uint8 HxWx(1-4) -> L/LA/RGB/RGBA, uint16 HxWx1 -> I;16 (Pillow infers the mode)."""
    if depth == 16 and data.shape[2] != 1:
        raise ValueError("Pillow writes 16-bit grayscale only")
    return Image.fromarray(data[..., 0] if data.shape[2] == 1 else data)


def save_image(
    path: str | Path,
    pixels: np.ndarray,
    *,
    meta: ImageMeta | None = None,
    alpha: np.ndarray | None = None,
    bit_depth: int | None = None,
    quality: int = 95,
    overwrite: bool = False,
) -> Path:
    """Write ``pixels`` (HxW, HxWx1 or HxWx3 float in [0,1]) atomically to ``path``.

    The format comes from the suffix; the bit depth from ``bit_depth`` or the source
    (16-bit only for PNG and TIFF); ICC, EXIF and DPI from ``meta``. JPEG cannot hold
    alpha, so a transparent image is flattened onto white there.
    """
    path = Path(path)
    meta = meta or ImageMeta()
    fmt = check_writable(path, overwrite, meta.source)
    data = np.asarray(pixels, dtype=np.float32)
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3 or data.shape[2] not in (1, 3):
        raise ValueError(f"pixels must be HxW, HxWx1 or HxWx3, not {data.shape}")
    depth = bit_depth or meta.bit_depth
    if depth not in (8, 16):
        raise ImageError(f"bit depth must be 8 or 16, not {depth}")
    if fmt not in SIXTEEN_BIT_FORMATS:
        depth = 8
    if alpha is not None and fmt == "JPEG":
        a = np.asarray(alpha, dtype=np.float32)[..., None]
        data, alpha = data * a + (1.0 - a), None
    if alpha is not None:
        data = np.concatenate([data, np.asarray(alpha, dtype=np.float32)[..., None]], axis=2)
    quantised = _quantise(data, depth)

    def verify(written: Path) -> None:
        _verify_saved(written, path, quantised.shape)

    with atomic_write(path, verify) as handle:
        if depth == 16 and quantised.shape[2] > 1:
            _write_rgb16(handle, quantised, fmt, meta)
        else:
            image = _pillow_image(quantised, depth)
            options: dict = {}
            if meta.icc_profile:
                options["icc_profile"] = meta.icc_profile
            if meta.exif and fmt in ("JPEG", "PNG", "TIFF", "WEBP"):
                options["exif"] = meta.exif
            if meta.dpi and fmt in ("JPEG", "PNG", "TIFF"):
                options["dpi"] = meta.dpi
            if fmt in ("JPEG", "WEBP"):
                options["quality"] = quality
            if fmt == "TIFF":
                options["compression"] = "tiff_deflate"
            image.save(handle, format=fmt, **options)
    return path


def _verify_saved(written: Path, target: Path, shape: tuple[int, ...]) -> None:
    """Decode the file just written, so a save cut short (a full disk, a failing card)
    is an error instead of a truncated photo reported as saved."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(written) as image:
                size = image.size
                image.load()
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError):
        raise WriteError(
            f"cannot write {target}: the saved file did not read back complete (is the disk full?)"
        ) from None
    if size != (shape[1], shape[0]):
        raise WriteError(f"cannot write {target}: the saved file has the wrong size {size}")


def _write_rgb16(handle: io.BufferedWriter, data: np.ndarray, fmt: str, meta: ImageMeta) -> None:
    if fmt == "PNG":
        _write_png16(handle, data, meta)
        return
    import tifffile

    extratags = []
    if meta.icc_profile:
        extratags.append((34675, 7, len(meta.icc_profile), meta.icc_profile, True))
    tifffile.imwrite(
        handle,
        data,
        photometric="rgb",
        extrasamples=("unassalpha",) if data.shape[2] == 4 else None,
        compression="zlib",
        resolution=meta.dpi,
        extratags=extratags,
    )
