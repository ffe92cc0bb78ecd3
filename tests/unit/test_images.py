import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from engine.errors import ImageError, WriteError
from engine.images import ImageMeta, load_image, save_image


def photo(h=48, w=64, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 1, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    return np.clip(base + rng.normal(0, 0.05, (h, w, 3)).astype(np.float32), 0, 1)


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_with(artist: str, orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x013B] = artist
    exif[0x0112] = orientation
    return exif


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_exif_orientation_is_applied_and_reset(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:5, :5] = 255  # marker in the top-left of the stored (sideways) pixels
    path = tmp_path / "sideways.jpg"
    Image.fromarray(pixels).save(path, exif=exif_with("me", orientation=6), quality=95)
    loaded = load_image(path)
    assert (loaded.height, loaded.width) == (40, 20)  # orientation 6 = rotate 90 clockwise
    assert loaded.pixels[:5, -5:].mean() > 0.9  # the marker moved to the top-right
    assert loaded.pixels[:5, :5].mean() < 0.1
    out = save_image(tmp_path / "upright.png", loaded.pixels, meta=loaded.meta)
    with Image.open(out) as saved:
        assert saved.getexif().get(0x0112) == 1
        assert saved.getexif().get(0x013B) == "me"


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_icc_and_exif_survive_a_round_trip(tmp_path, suffix):
    source = tmp_path / "in.png"
    icc = srgb_icc()
    Image.fromarray((photo() * 255).astype(np.uint8)).save(
        source, icc_profile=icc, exif=exif_with("Grandpa")
    )
    loaded = load_image(source)
    assert loaded.meta.icc_profile == icc
    out = save_image(tmp_path / f"out{suffix}", loaded.pixels, meta=loaded.meta)
    again = load_image(out)
    assert again.meta.icc_profile == icc
    with Image.open(out) as saved:
        assert saved.getexif().get(0x013B) == "Grandpa"
    assert np.abs(again.pixels - loaded.pixels).mean() < 0.05  # lossy formats


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_gray_round_trips_exactly(tmp_path, suffix):
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 65536, (30, 50), dtype=np.uint16)
    source = tmp_path / f"scan{suffix}"
    Image.fromarray(raw).save(source)
    loaded = load_image(source)
    assert loaded.meta.bit_depth == 16 and loaded.is_gray
    out = save_image(tmp_path / f"out{suffix}", loaded.pixels, meta=loaded.meta)
    with Image.open(out) as saved:
        assert saved.mode.startswith("I;16")
        assert np.array_equal(np.asarray(saved, dtype=np.uint16), raw)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_rgb_round_trips_exactly_with_icc(tmp_path, suffix):
    rng = np.random.default_rng(2)
    values = rng.integers(0, 65536, (20, 30, 3)).astype(np.float32) / 65535
    meta = ImageMeta(bit_depth=16, icc_profile=srgb_icc(), dpi=(300.0, 300.0))
    first = save_image(tmp_path / f"a{suffix}", values, meta=meta)
    loaded = load_image(first)
    assert loaded.meta.bit_depth == 16 and not loaded.is_gray
    assert np.array_equal(np.round(loaded.pixels * 65535), np.round(values * 65535))
    assert loaded.meta.icc_profile == meta.icc_profile
    second = save_image(tmp_path / f"b{suffix}", loaded.pixels, meta=loaded.meta)
    assert np.array_equal(load_image(second).pixels, loaded.pixels)


def test_grayscale_stays_grayscale_and_alpha_is_kept(tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray((photo()[..., 0] * 255).astype(np.uint8), mode="L").save(gray)
    loaded = load_image(gray)
    assert loaded.pixels.shape[2] == 1 and loaded.meta.bit_depth == 8
    with Image.open(save_image(tmp_path / "g2.tif", loaded.pixels, meta=loaded.meta)) as im:
        assert im.mode == "L"
    rgba = np.dstack([(photo() * 255).astype(np.uint8), np.full((48, 64), 77, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert loaded.alpha is not None and abs(loaded.alpha.mean() - 77 / 255) < 1e-6
    out = save_image(tmp_path / "a2.png", loaded.pixels, meta=loaded.meta, alpha=loaded.alpha)
    with Image.open(out) as im:
        assert im.mode == "RGBA" and np.array_equal(np.asarray(im), rgba)


def test_palette_and_cmyk_inputs_become_correct_rgb(tmp_path):
    palette = Image.new("P", (10, 10))
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.paste(1, (0, 0, 5, 10))
    palette.save(tmp_path / "p.png", transparency=0)
    loaded = load_image(tmp_path / "p.png")
    assert np.allclose(loaded.pixels[0, 0], [0, 0, 1]) and np.allclose(
        loaded.pixels[0, 9], [1, 0, 0]
    )
    assert loaded.alpha is not None and loaded.alpha[0, 9] == 0 and loaded.alpha[0, 0] == 1
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=100)
    red = load_image(tmp_path / "c.jpg").pixels.mean(axis=(0, 1))
    assert red[0] > 0.9 and red[1] < 0.1 and red[2] < 0.1


def test_corrupt_truncated_empty_and_missing_files_are_rejected(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(4000))
    Image.fromarray((photo(400, 400) * 255).astype(np.uint8)).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    for name, message in [
        ("empty.png", "is empty"),
        ("noise.jpg", "not an image"),
        ("cut.jpg", "truncated or damaged"),
        ("missing.png", "does not exist"),
    ]:
        with pytest.raises(ImageError, match=message) as info:
            load_image(tmp_path / name)
        assert "\n" not in str(info.value)


def _png_header_only(path: Path, width: int, height: int) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_decompression_bombs_are_refused_before_decoding(tmp_path):
    _png_header_only(tmp_path / "bomb.png", 60000, 60000)  # 3.6 gigapixels claimed
    with pytest.raises(ImageError, match="too large|larger than"):
        load_image(tmp_path / "bomb.png")
    Image.new("L", (100, 100)).save(tmp_path / "ok.png")
    with pytest.raises(ImageError, match="larger than the 0 MP"):
        load_image(tmp_path / "ok.png", max_pixels=5000)


def test_the_original_is_never_modified(tmp_path):
    source = tmp_path / "orig.jpg"
    Image.fromarray((photo() * 255).astype(np.uint8)).save(source, quality=90)
    before = digest(source)
    loaded = load_image(source)
    with pytest.raises(ImageError, match="refusing to write over the original"):
        save_image(source, loaded.pixels, meta=loaded.meta, overwrite=True)
    out = save_image(tmp_path / "copy.jpg", 1 - loaded.pixels, meta=loaded.meta)
    with pytest.raises(ImageError, match="already exists; use --overwrite"):
        save_image(out, loaded.pixels, meta=loaded.meta)
    assert digest(source) == before


def test_a_failed_write_leaves_no_file_behind(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def explode(self, fp, *args, **kwargs):
        fp.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(WriteError, match="cannot write .*out.png: disk full"):
        save_image(target, photo())
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix_and_missing_folder_are_clear(tmp_path):
    with pytest.raises(ImageError, match="unknown file type"):
        save_image(tmp_path / "x.gif2", photo())
    with pytest.raises(ImageError, match="does not exist"):
        save_image(tmp_path / "nope" / "x.png", photo())
