"""`heirloom restore` / `detect-scratches` as a user runs them, with tiny real packs."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from commands import heirloom
from engine.images import load_image
from graphs import restore_packs

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture
def home(tmp_path):
    restore_packs(tmp_path / "home")
    return tmp_path / "home"


def test_restore_a_16_bit_gray_scan_keeps_depth_icc_and_the_original(tmp_path, home):
    scan = tmp_path / "wedding_1952.tif"
    gray = load_image(SAMPLES / "old_ColdRipple.jpg").pixels[..., 0]
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray((gray * 65535).astype(np.uint16)).save(scan, icc_profile=icc)
    before = hashlib.sha256(scan.read_bytes()).hexdigest()
    out, mask = tmp_path / "restored.tif", tmp_path / "mask.png"
    result = heirloom("restore", scan, "-o", out, "--save-mask", mask, home=home)
    assert result.returncode == 0, result.stderr
    assert "restored with tiny-restore on CPU" in result.stdout
    restored = load_image(out)
    assert restored.meta.bit_depth == 16 and restored.is_gray
    assert restored.meta.icc_profile == icc
    assert (restored.height, restored.width) == gray.shape
    assert load_image(mask).pixels.shape[:2] == gray.shape
    assert hashlib.sha256(scan.read_bytes()).hexdigest() == before
    again = heirloom("restore", scan, "-o", out, home=home)
    assert again.returncode == 2 and "already exists; use --overwrite" in again.stderr


def test_detect_scratches_writes_a_mask(tmp_path, home):
    out = tmp_path / "mask.png"
    result = heirloom("detect-scratches", SAMPLES / "old_LadyBird.jpg", "-o", out, home=home)
    assert result.returncode == 0, result.stderr
    assert "% marked as damage (tiny-scratch" in result.stdout
    with Image.open(out) as im:
        assert im.size == Image.open(SAMPLES / "old_LadyBird.jpg").size


def test_a_folder_run_skips_bad_files_and_reports_them(tmp_path, home):
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in ("old_LadyBird.jpg", "old_EveningGlow.jpg"):
        Image.open(SAMPLES / name).resize((160, 120)).save(folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("ignored")
    result = heirloom("restore", folder, "-o", tmp_path / "out", "--no-faces", home=home)
    assert result.returncode == 2
    assert "restored 2 of 3 photos" in result.stdout
    assert "skipped broken.jpg: " in result.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "old_EveningGlow.jpg",
        "old_LadyBird.jpg",
    ]


def test_mask_size_rules(tmp_path, home):
    photo = SAMPLES / "old_LadyBird.jpg"
    width, height = Image.open(photo).size
    half, wrong = tmp_path / "half.png", tmp_path / "wrong.png"
    Image.new("L", (width // 2, height // 2)).save(half)
    Image.new("L", (width, height // 3)).save(wrong)
    ok = heirloom("restore", photo, "-o", tmp_path / "a.png", "--scratches", half, home=home)
    assert ok.returncode == 0 and "warning: mask half.png" in ok.stderr
    bad = heirloom("restore", photo, "-o", tmp_path / "b.png", "--scratches", wrong, home=home)
    assert bad.returncode == 2 and "paint the mask on the same photo" in bad.stderr
    assert not (tmp_path / "b.png").exists()


def test_a_missing_pack_says_which_and_how_to_get_it(tmp_path, home):
    result = heirloom(
        "restore",
        SAMPLES / "old_LadyBird.jpg",
        "-o",
        tmp_path / "x.png",
        "--model",
        "bopbtl",
        home=home,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "no model pack named 'bopbtl'" in result.stderr
    assert "heirloom models import" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_rgba_and_tiny_photos(tmp_path, home):
    rgba = np.dstack(
        [
            (load_image(SAMPLES / "old_LadyBird.jpg").pixels[:120, :160] * 255).astype(np.uint8),
            np.tile(np.linspace(0, 255, 160, dtype=np.uint8), (120, 1)),
        ]
    )
    Image.fromarray(rgba).save(tmp_path / "cutout.png")
    result = heirloom("restore", tmp_path / "cutout.png", "-o", tmp_path / "out.png", home=home)
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    Image.fromarray(rgba[:10, :12]).save(tmp_path / "tiny.png")
    tiny = heirloom("restore", tmp_path / "tiny.png", "-o", tmp_path / "t.png", home=home)
    assert tiny.returncode == 2 and "needs at least 16 pixels" in tiny.stderr
    assert not (tmp_path / "t.png").exists()


def test_smoothing_out_of_range_is_one_line_and_writes_nothing(tmp_path, home):
    out = tmp_path / "out.png"
    bad = heirloom(
        "restore", SAMPLES / "old_LadyBird.jpg", "-o", out, "--smoothing", "2", home=home
    )
    assert bad.returncode != 0 and "--smoothing: must be between 0 and 1, not 2" in bad.stderr
    assert "Traceback" not in bad.stderr and not out.exists()
    grainy = heirloom(
        "restore", SAMPLES / "old_LadyBird.jpg", "-o", out, "--smoothing", "0.3", home=home
    )
    assert grainy.returncode == 0 and out.exists()
