"""Pictures of the bundled samples for the restoration cards: what was marked as damage
and what the restore kept, this version beside the previous one.

    python -m training.sample_views --previous /tmp/old-packs

``--previous`` is a folder holding the previous ``heirloom-scratch`` and
``heirloom-restore`` packs (copy them before a retrain). The Grace Hopper sample is
held out and has synthetic damage; the Solvay 1927 photo is a real old print with
no synthetic damage. Both show what a false detection costs: stars, badges, glasses,
text and white shirt fronts must survive.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine.images import load_image
from engine.models import BUNDLED_DIR, Registry, seal_pack
from engine.pipelines.restore import RestoreOptions, detect_scratches, restore_photo

SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"
GRACE = SAMPLES / "old_grace_hopper.jpg"
SOLVAY = SAMPLES / "solvay_1927.jpg"
# (left, top, right, bottom) of the details a false detection would wipe
GRACE_CROPS = {
    "flag stars": (0, 0, 160, 220),
    "glasses": (160, 150, 390, 250),
    "name badge": (60, 460, 200, 540),
    "ribbons": (310, 470, 470, 550),
}
SOLVAY_CROPS = {
    "faces": (300, 200, 620, 340),
    "stone wall": (560, 110, 880, 250),
}


def _overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.array(image[..., :3] if image.shape[2] == 3 else np.repeat(image, 3, 2))
    out[mask] = (0.9, 0.05, 0.05)
    return out


def _pil(image: np.ndarray) -> Image.Image:
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))


def _row(images: list[Image.Image], titles: list[str], height: int) -> Image.Image:
    """Images scaled to one height, side by side, each titled above."""
    scaled = [im.resize((round(im.width * height / im.height), height)) for im in images]
    head, pad = 16, 4
    width = sum(im.width for im in scaled) + pad * (len(scaled) + 1)
    row = Image.new("RGB", (width, height + head + pad), (255, 255, 255))
    draw, x = ImageDraw.Draw(row), pad
    for im, title in zip(scaled, titles, strict=True):
        row.paste(im, (x, head))
        draw.text((x + 2, 2), title, fill=(0, 0, 0))
        x += im.width + pad
    return row


def _stack(rows: list[Image.Image], path: Path) -> None:
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows)), (255, 255, 255))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(path, quality=90)


def detection_view(photo: Path, registries: dict[str, Registry], out: Path) -> dict[str, float]:
    """The photo with each version's detected damage in red; returns the share marked."""
    image = load_image(photo).pixels
    shares, shown = {}, []
    for label, registry in registries.items():
        mask = detect_scratches(image, RestoreOptions(device="cpu"), registry=registry)
        mask = mask.images["mask"]
        shares[label] = float(mask.mean())
        shown.append(_pil(_overlay(image, mask)))
    _stack([_row(shown, [f"{k}: {v:.2%} marked" for k, v in shares.items()], 480)], out)
    return shares


def before_after_view(
    photo: Path,
    crops: dict[str, tuple[int, int, int, int]],
    registries: dict[str, Registry],
    out: Path,
) -> None:
    """Input and each version's restore (detected mask), whole and at each detail."""
    image = load_image(photo).pixels
    results = {
        label: restore_photo(image, RestoreOptions(device="cpu"), registry=registry)
        for label, registry in registries.items()
    }
    whole = [_pil(image)] + [_pil(r.images["restored"]) for r in results.values()]
    titles = ["input"] + [f"restored, {label}" for label in results]
    rows = [_row(whole, titles, 400)]
    for name, box in crops.items():
        rows.append(_row([im.crop(box) for im in whole], [f"{name}: {t}" for t in titles], 200))
    _stack(rows, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--previous", type=Path, required=True, help="folder of previous packs")
    args = parser.parse_args(argv)
    empty = BUNDLED_DIR / ".none"
    registries = {
        "this version": Registry(bundled=BUNDLED_DIR, user=empty),
        "previous": Registry(bundled=BUNDLED_DIR, user=args.previous),
    }
    scratch, restore = BUNDLED_DIR / "heirloom-scratch", BUNDLED_DIR / "heirloom-restore"
    for photo, name in ((GRACE, "grace_hopper"), (SOLVAY, "solvay")):
        shares = detection_view(photo, registries, scratch / f"{name}_detection.jpg")
        print(name, {k: round(v, 5) for k, v in shares.items()})
    before_after_view(GRACE, GRACE_CROPS, registries, restore / "grace_hopper_before_after.jpg")
    before_after_view(SOLVAY, SOLVAY_CROPS, registries, restore / "solvay_1927_before_after.jpg")
    seal_pack(scratch)
    seal_pack(restore)


if __name__ == "__main__":
    main()
