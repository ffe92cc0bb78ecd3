"""Automatic checks that keep drawings, cut-outs, tiny images and duplicates out of the corpus.

Packages that ship photographs also ship clip-art, renders, sprites on transparency and
the same photo at several sizes or in several activities. The restoration models learn
what a photograph looks like, so each candidate passes these rules before it enters the
corpus, and a small perceptual hash keeps one copy of each picture (so no picture can
sit on both sides of the split). The thresholds were set by looking at contact sheets of
what passes and what is rejected (training/data/CORPUS.md).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

TRANSPARENT_MAX = 0.01  # share of see-through pixels above which a file is a cut-out
FLAT_MIN = 0.35  # share of pixels in flat areas ...
TOP_COLOURS_MIN = 0.55  # ... and share of the 8 commonest colours: both high = a drawing
DISTINCT_COLOURS_MIN = 24  # fewer colours than this (5 bits a channel) = a graphic
HASH_DISTANCE_MAX = 24  # dHash bits (of 256) within which two pictures are the same photo
MIN_SIDES = {"all": (200, 320), "ddpm": (128, 128)}  # (short, long) side in px, per use
_ANALYSIS_SIDE = 256


def _pixels(image: Image.Image) -> np.ndarray:
    """RGB int16 at most 256 px, nearest-neighbour so flat areas stay exactly flat."""
    im = image.convert("RGB")
    f = _ANALYSIS_SIDE / max(im.size)
    if f < 1:
        size = (max(1, round(im.width * f)), max(1, round(im.height * f)))
        im = im.resize(size, Image.Resampling.NEAREST)
    return np.asarray(im).astype(np.int16)


def transparent_share(image: Image.Image) -> float:
    """Share of pixels an alpha channel makes (partly) see-through: sprites and cut-outs."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return 0.0
    return float((np.asarray(image.convert("RGBA"))[..., 3] < 250).mean())


def flat_share(image: Image.Image) -> float:
    """Share of pixels equal (within 1 level) to their right and lower neighbours.

    Photographs carry sensor noise and texture almost everywhere; drawings, renders and
    objects shot on a studio backdrop have large exactly flat areas.
    """
    px = _pixels(image)
    dx = np.abs(np.diff(px, axis=1)).max(axis=2)[:-1, :]
    dy = np.abs(np.diff(px, axis=0)).max(axis=2)[:, :-1]
    return float(((dx <= 1) & (dy <= 1)).mean())


def _codes(image: Image.Image, bits: int) -> np.ndarray:
    px = _pixels(image) >> (8 - bits)
    return (px[..., 0] << (2 * bits)) + (px[..., 1] << bits) + px[..., 2]


def top_colour_share(image: Image.Image) -> float:
    """Share of pixels in the 8 commonest colours (4 bits a channel): high for flat fills."""
    codes = _codes(image, 4).ravel()
    counts = np.bincount(codes, minlength=1 << 12)
    return float(np.sort(counts)[-8:].sum() / codes.size)


def distinct_colours(image: Image.Image) -> int:
    """Number of colours at 5 bits a channel: a grey photo still has 32, a chart a handful."""
    return int(np.unique(_codes(image, 5)).size)


def rejection(image: Image.Image, use: str = "all") -> str | None:
    """Why ``image`` is not a usable photograph, or None when it passes every rule."""
    short, long = sorted(image.size)
    min_short, min_long = MIN_SIDES[use]
    if short < min_short or long < min_long:
        return f"small ({image.width}x{image.height})"
    if transparent_share(image) > TRANSPARENT_MAX:
        return "cut-out on transparency"
    if distinct_colours(image) < DISTINCT_COLOURS_MIN:
        return "few colours (graphic)"
    flat, top = flat_share(image), top_colour_share(image)
    if flat >= FLAT_MIN and top >= TOP_COLOURS_MIN:
        return f"flat areas in few colours (drawing or backdrop: flat {flat:.2f}, top {top:.2f})"
    return None


def dhash(image: Image.Image) -> int:
    """256-bit difference hash: survives resizing, recompression and small colour changes.

    Copies of one photo measured 0-4 bits apart, different photos 53 or more; the 64-bit
    hash confused dark, smooth wallpapers.
    """
    grey = image.convert("L").resize((17, 16), Image.Resampling.LANCZOS)
    px = np.asarray(grey, dtype=np.int16)
    bits = (px[:, 1:] > px[:, :-1]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def hash_distance(a: int, b: int) -> int:
    """Hamming distance between two dHashes."""
    return (a ^ b).bit_count()


@dataclass(frozen=True)
class Stanza:
    """One ``Files:`` paragraph of a machine-readable debian/copyright file."""

    patterns: tuple[str, ...]
    copyright: str
    licence: str


def parse_copyright(text: str) -> list[Stanza]:
    """The ``Files:`` paragraphs of a DEP-5 copyright file, in file order."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key].append(line.strip())
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = [value.strip()] if value.strip() else []
        if "Files" in fields:
            patterns = tuple(p for line in fields["Files"] for p in line.split())
            holders = [c for c in fields.get("Copyright", []) if c and c != "."]
            licence = (fields.get("License") or ["unknown"])[0]
            stanzas.append(Stanza(patterns, "\n".join(holders), licence))
    return stanzas


def _holder(copyright_field: str) -> str:
    """First holder without years or e-mail, plus "and others" when there are more."""
    lines = [ln for ln in copyright_field.splitlines() if ln.strip()]
    if not lines:
        return "unknown"
    first = re.sub(r"<[^>]*>|\([^)]*@[^)]*\)", "", lines[0])
    first = re.sub(r"^(copyright\s*(\(c\))?\s*)?[\d\s,\-–]*(by\s+)?", "", first, flags=re.I)
    first = re.sub(r",?\s*all rights reserved\.?", "", first, flags=re.I)
    first = re.sub(r",?\s*\d{4}\s*$", "", first.strip(" ,")).strip(" ,")
    more = len(lines) > 1 and not first.endswith("and others")
    return first + (" and others" if more else "")


def _glob(pattern: str) -> str:
    """A DEP-5 glob that also matches the file under another image extension (the .rcc
    files ship .webp conversions of the .jpg/.png files the copyright file names)."""
    return re.sub(r"\.(jpe?g|png|webp|svg)$", ".*", pattern, flags=re.I)


def copyright_of(stanzas: list[Stanza], path: str) -> tuple[str, str]:
    """(author, licence) for upstream ``path``: the last matching paragraph wins (DEP-5).

    A file that only the package-wide ``Files: *`` paragraph covers says so in its author,
    since that paragraph names the software's authors, not necessarily the photographer.
    """
    found = None
    for stanza in stanzas:
        if any(fnmatch.fnmatchcase(path, _glob(p)) for p in stanza.patterns):
            found = stanza
    if found is None:
        return "unknown", "unknown"
    author = _holder(found.copyright)
    if found.patterns == ("*",):
        author += " (package-wide Files: *)"
    return author, found.licence
