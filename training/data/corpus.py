"""The photo corpus: real photographs shipped by package registries, with a fixed split.

Sources are Python packages already in the training environment (scikit-image,
scikit-learn, matplotlib sample photos) and Debian wallpaper packages fetched with
``apt-get download`` and unpacked with ``dpkg -x`` (never installed). Only files listed
in the allowlists below enter the corpus: each was looked at by hand and is a real
photograph (no vector, gradient, rendered or illustrated wallpapers, and one resolution
per picture).

``python -m training.data.corpus [--cache DIR] [--no-debian]`` builds the cache folder
(default ``$HEIRLOOM_CACHE/corpus`` or ``<repo>/.cache/corpus``): one PNG per photo, RGB,
long side at most 1536 px, plus ``index.json``. Rebuilding reuses what is already there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MAX_SIDE = 1536
INDEX_NAME = "index.json"
INDEX_VERSION = 2  # 2: the validation split
PATCH = 256
PATCH_STRIDE = 64
PATCH_SCALES = (0.5, 0.75, 1.0)

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Source:
    """One allowlisted photograph: where it comes from and under which terms."""

    name: str
    source: str  # "scikit-image", "scikit-learn", "matplotlib" or "debian"
    package: str  # Python distribution or Debian package that ships it
    member: str  # file name inside the package data folder or the .deb
    author: str
    licence: str


def _skimage(name: str, member: str, author: str, licence: str) -> Source:
    return Source(name, "scikit-image", "scikit-image", member, author, licence)


def _deb(package: str, member: str, author: str, licence: str) -> Source:
    """A Debian photo named after its file (MATE, Lomiri) or its Plasma wallpaper folder."""
    if "/contents/" in member:
        name = member.split("/contents/")[0].rsplit("/", 1)[1]
    else:
        name = Path(member).stem.split("_by_")[0]
    return Source(name, "debian", package, member, author, licence)


_MATE = "usr/share/backgrounds/mate/nature/"
_PLASMA = "usr/share/wallpapers/"
_LOMIRI = "usr/share/backgrounds/"
_PLASMA_LICENCE = "GPL-2+ (debian/copyright); LGPL-3 (metadata.json)"

PYTHON_PHOTOS: tuple[Source, ...] = (
    _skimage("astronaut", "astronaut.png", "NASA", "public domain"),
    _skimage("camera", "camera.png", "Lav Varshney", "CC0"),
    _skimage("chelsea", "chelsea.png", "Stefan van der Walt", "CC0"),
    _skimage("coffee", "coffee.png", "Rachel Michetti", "CC0"),
    _skimage("rocket", "rocket.jpg", "SpaceX", "CC0 / public domain"),
    _skimage(
        "coins",
        "coins.png",
        "Greek coins, Pompeii, via scikit-image",
        "no known copyright restrictions",
    ),
    _skimage(
        "motorcycle",
        "motorcycle_left.png",
        "Middlebury stereo 2014 (Scharstein et al.)",
        "Middlebury dataset terms, via scikit-image",
    ),
    Source(
        "china", "scikit-learn", "scikit-learn", "china.jpg", "danielbuechele (Flickr)", "CC-BY-2.0"
    ),
    Source(
        "flower", "scikit-learn", "scikit-learn", "flower.jpg", "vultilion (Flickr)", "CC-BY-2.0"
    ),
    Source(
        "grace_hopper", "matplotlib", "matplotlib", "grace_hopper.jpg", "US Navy", "public domain"
    ),
)

# Debian bookworm packages, inspected by hand. gnome-backgrounds (43.1) and
# ukui-wallpapers (20.04.3) hold only rendered / abstract / illustrated art, so they
# contribute nothing; plasma-workspace-wallpapers and lomiri-wallpapers-20.04 hold the
# photographs listed here (one resolution per picture).
DEBIAN_PHOTOS: tuple[Source, ...] = (
    _deb("mate-backgrounds", _MATE + "Aqua.jpg", "Charles Barbin", "GPL-2+"),
    _deb("mate-backgrounds", _MATE + "Blinds.jpg", "Lennart Poettering, Andrea Cimitan", "GPL-2+"),
    _deb("mate-backgrounds", _MATE + "Dune.jpg", "Marco Cogoni, Hylke Bons", "GPL-2+"),
    _deb("mate-backgrounds", _MATE + "FreshFlower.jpg", "Jens Ansorg", "GPL-2+"),
    _deb("mate-backgrounds", _MATE + "Garden.jpg", "Charles Barbin", "GPL-2+"),
    _deb(
        "mate-backgrounds",
        _MATE + "GreenMeadow.jpg",
        "Timothy Schellhase, Lapo Calamandrei",
        "GPL-2+",
    ),
    _deb("mate-backgrounds", _MATE + "LadyBird.jpg", "Charles Barbin", "GPL-2+"),
    _deb("mate-backgrounds", _MATE + "RainDrops.jpg", "blackcombwhistler07", "GPL-2+"),
    _deb("mate-backgrounds", _MATE + "Storm.jpg", "Sergey Nazarov", "GPL-2+"),
    _deb("mate-backgrounds", _MATE + "TwoWings.jpg", "Charles Barbin, Hylke Bons", "GPL-2+"),
    _deb("mate-backgrounds", _MATE + "Wood.jpg", "Jean-François Fortin Tam", "GPL-2+"),
    _deb("mate-backgrounds", _MATE + "YellowFlower.jpg", "Charles Barbin", "GPL-2+"),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "BytheWater/contents/images/2560x1600.jpg",
        "Maciej Wiklo",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "ColdRipple/contents/images/2560x1600.jpg",
        "Risto Saukonpää",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "ColorfulCups/contents/images/2560x1600.jpg",
        "Dmitri Popov",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "DarkestHour/contents/images/2560x1600.jpg",
        "Risto Saukonpää",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "EveningGlow/contents/images/2560x1600.jpg",
        "Ian Hex",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "FallenLeaf/contents/images/2560x1600.jpg",
        "Martin Klapetek",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "Grey/contents/images/2560x1600.jpg",
        "Sigi Sagi",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "Kite/contents/images/2560x1600.jpg",
        "Risto Saukonpää",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "OneStandsOut/contents/images/2560x1600.jpg",
        "Risto Saukonpää",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "Path/contents/images/2560x1600.jpg",
        "Risto Saukonpää",
        _PLASMA_LICENCE,
    ),
    _deb(
        "plasma-workspace-wallpapers",
        _PLASMA + "summer_1am/contents/images/2560x1600.jpg",
        "Risto Saukonpää",
        _PLASMA_LICENCE,
    ),
    _deb(
        "lomiri-wallpapers-20.04",
        _LOMIRI + "Kleiber_by_Lukas_Baubkus.jpg",
        "Lukas Baubkus",
        "CC-BY-SA-3.0",
    ),
)

# The fixed held-out split (~18 %): never used for training, used for samples and
# evaluation. It spans every source and holds a face (grace_hopper) and a
# monochrome print (ColdRipple).
HELDOUT: frozenset[str] = frozenset(
    {"grace_hopper", "chelsea", "china", "LadyBird", "ColdRipple", "EveningGlow"}
)


# The fixed validation split (~12 %), carved out of the training photos: a trainer that
# chooses a setting after training (a blend strength, a threshold) chooses it here, on
# photos its model never saw, and the held-out split only ever reports. It holds a face
# (astronaut), an indoor still life and two Debian landscapes. Packs trained before this
# split existed (scratch, sketch, DDPM) were trained on these photos too (their cards
# count the photos they saw).
VALIDATION: frozenset[str] = frozenset({"astronaut", "coffee", "Storm", "Kite"})


def split_of(name: str) -> str:
    """Return "heldout" or "validation" for the fixed names, else "train"."""
    if name in HELDOUT:
        return "heldout"
    return "validation" if name in VALIDATION else "train"


@dataclass(frozen=True)
class PhotoRecord:
    """One normalised photo in the cache; ``file`` is relative to the cache folder."""

    name: str
    source: str
    package: str
    member: str
    author: str
    licence: str
    file: str
    width: int
    height: int
    split: str


@dataclass(frozen=True)
class Corpus:
    """The built corpus: its folder and one record per photo."""

    root: Path
    records: tuple[PhotoRecord, ...]

    def split(self, name: str) -> list[Path]:
        """Paths of the photos of split ``name`` ("train", "validation", "heldout"),
        in index order."""
        return [self.root / r.file for r in self.records if r.split == name]

    @property
    def train(self) -> list[Path]:
        return self.split("train")

    @property
    def validation(self) -> list[Path]:
        """Never trained on, only tuned on."""
        return self.split("validation")

    @property
    def heldout(self) -> list[Path]:
        return self.split("heldout")

    def path(self, name: str) -> Path:
        """Path of the photo called ``name``; KeyError if it is not in the corpus."""
        for r in self.records:
            if r.name == name:
                return self.root / r.file
        raise KeyError(name)


def default_cache() -> Path:
    """``$HEIRLOOM_CACHE/corpus`` if set, else ``<repo>/.cache/corpus`` (git-ignored)."""
    base = os.environ.get("HEIRLOOM_CACHE")
    return (Path(base) if base else REPO_ROOT / ".cache") / "corpus"


def patch_positions(
    width: int,
    height: int,
    size: int = PATCH,
    stride: int = PATCH_STRIDE,
    scales: Iterable[float] = PATCH_SCALES,
) -> int:
    """Count distinct size x size crops at ``stride`` px over the photo resized by each scale."""
    total = 0
    for s in scales:
        w, h = int(width * s), int(height * s)
        if w >= size and h >= size:
            total += ((w - size) // stride + 1) * ((h - size) // stride + 1)
    return total


def normalise(image: Image.Image) -> Image.Image:
    """RGB, long side at most MAX_SIDE px (Lanczos), EXIF orientation applied."""
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image).convert("RGB")
    scale = MAX_SIDE / max(image.size)
    if scale < 1:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def _python_file(src: Source) -> Path:
    if src.source == "scikit-image":
        import skimage.data

        return Path(skimage.data.__file__).parent / src.member
    if src.source == "scikit-learn":
        import sklearn.datasets

        return Path(sklearn.datasets.__file__).parent / "images" / src.member
    if src.source == "matplotlib":
        import matplotlib

        return Path(matplotlib.get_data_path()) / "sample_data" / src.member
    raise ValueError(f"not a Python-package source: {src.source}")


def _save(image: Image.Image, src: Source, root: Path) -> PhotoRecord:
    rel = f"photos/{src.name}.png"
    image.save(root / rel, optimize=False, compress_level=6)
    return _record(src, rel, image.width, image.height)


def _record(src: Source, rel: str, width: int, height: int) -> PhotoRecord:
    return PhotoRecord(
        src.name,
        src.source,
        src.package,
        src.member,
        src.author,
        src.licence,
        rel,
        width,
        height,
        split_of(src.name),
    )


def _cached(src: Source, root: Path) -> PhotoRecord | None:
    rel = f"photos/{src.name}.png"
    if not (root / rel).is_file():
        return None
    with Image.open(root / rel) as im:
        return _record(src, rel, im.width, im.height)


def _apt_download(package: str, dest: Path, log: Callable[[str], None]) -> Path | None:
    """Fetch ``package``'s .deb into ``dest`` (reused when present); None when apt fails."""
    found = sorted(dest.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    if shutil.which("apt-get") is None:
        return None
    for attempt in range(2):
        run = subprocess.run(
            ["apt-get", "download", package], cwd=dest, capture_output=True, text=True, check=False
        )
        found = sorted(dest.glob(f"{package}_*.deb"))
        if run.returncode == 0 and found:
            return found[-1]
        if attempt == 0:
            log(f"apt-get download {package} failed; running apt-get update and retrying")
            subprocess.run(["apt-get", "update"], capture_output=True, check=False)
    log(f"apt-get download {package} failed: {run.stderr.strip()[-300:]}")
    return None


def _build_debian(
    sources: list[Source], root: Path, log: Callable[[str], None]
) -> list[PhotoRecord]:
    records = []
    todo: dict[str, list[Source]] = {}
    for src in sources:
        rec = _cached(src, root)
        if rec is None:
            todo.setdefault(src.package, []).append(src)
        else:
            records.append(rec)
    if todo and shutil.which("apt-get") is None:
        log("apt-get is not available: the corpus holds only the Python-package photos")
        return records
    debs = root / "debs"
    debs.mkdir(exist_ok=True)
    for package, srcs in todo.items():
        deb = _apt_download(package, debs, log)
        if deb is None:
            log(f"skipped {len(srcs)} photos from {package}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg", "-x", str(deb), tmp], check=True)
            for src in srcs:
                path = Path(tmp) / src.member
                if not path.is_file():
                    log(f"{package}: {src.member} is missing in {deb.name}; skipped")
                    continue
                with Image.open(path) as im:
                    records.append(_save(normalise(im), src, root))
        log(f"{package}: {len(srcs)} photos unpacked from {deb.name}")
    return records


def build_corpus(
    cache: Path | None = None, *, debian: bool = True, log: Callable[[str], None] = print
) -> Corpus:
    """Build (or complete) the corpus in ``cache`` and write its index.json.

    Idempotent: photos already normalised in the cache are reused, .deb files are kept
    in ``cache/debs``. ``debian=False`` builds only the Python-package photos (no network).
    """
    root = Path(cache) if cache is not None else default_cache()
    (root / "photos").mkdir(parents=True, exist_ok=True)
    records = []
    for src in PYTHON_PHOTOS:
        rec = _cached(src, root)
        if rec is None:
            with Image.open(_python_file(src)) as im:
                rec = _save(normalise(im), src, root)
        records.append(rec)
    if debian:
        records += _build_debian(list(DEBIAN_PHOTOS), root, log)
    order = {s.name: i for i, s in enumerate(PYTHON_PHOTOS + DEBIAN_PHOTOS)}
    records.sort(key=lambda r: order[r.name])
    index = {"version": INDEX_VERSION, "max_side": MAX_SIDE, "photos": [asdict(r) for r in records]}
    (root / INDEX_NAME).write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n")
    return Corpus(root, tuple(records))


def load_corpus(cache: Path | None = None) -> Corpus:
    """Read a built corpus; FileNotFoundError when ``cache`` holds no index.json."""
    root = Path(cache) if cache is not None else default_cache()
    index = json.loads((root / INDEX_NAME).read_text())
    if index.get("version") != INDEX_VERSION:
        raise ValueError(
            f"{root / INDEX_NAME}: index version {index.get('version')}, "
            f"expected {INDEX_VERSION}; rebuild the corpus"
        )
    return Corpus(root, tuple(PhotoRecord(**r) for r in index["photos"]))


def summary(corpus: Corpus) -> str:
    """Human-readable counts: photos per split and source, distinct 256 px patches."""
    lines = [f"corpus at {corpus.root}: {len(corpus.records)} photos"]
    for split in ("train", "validation", "heldout"):
        recs = [r for r in corpus.records if r.split == split]
        by_source = Counter(r.package for r in recs)
        patches = sum(patch_positions(r.width, r.height) for r in recs)
        pixels = sum(r.width * r.height for r in recs) / 1e6
        parts = ", ".join(f"{k} {v}" for k, v in sorted(by_source.items()))
        lines.append(
            f"  {split}: {len(recs)} photos ({parts}); {pixels:.1f} Mpx; "
            f"{patches} distinct {PATCH}px patches (stride {PATCH_STRIDE}, "
            f"scales {', '.join(map(str, PATCH_SCALES))})"
        )
    return "\n".join(lines)


def photo_array(path: Path) -> np.ndarray:
    """Decode a corpus photo as uint8 HxWx3 RGB."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def main(argv: list[str] | None = None) -> None:
    """Command line entry: build the corpus and print its counts."""
    parser = argparse.ArgumentParser(
        prog="python -m training.data.corpus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cache", type=Path, default=None, help=f"cache folder (default {default_cache()})"
    )
    parser.add_argument(
        "--no-debian", action="store_true", help="skip the Debian wallpaper packages (no apt-get)"
    )
    args = parser.parse_args(argv)
    corpus = build_corpus(args.cache, debian=not args.no_debian)
    print(summary(corpus))


if __name__ == "__main__":
    main()
