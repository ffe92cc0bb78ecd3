"""The photo corpus: real photographs shipped by package registries, with a fixed split.

Sources are Python packages already in the training environment (scikit-image,
scikit-learn, matplotlib sample photos) and Debian packages fetched with
``apt-get download`` and unpacked with ``dpkg -x`` (never installed): wallpapers, the
photos of GCompris activities (inside Qt resource files), Tux Paint templates, the OpenCV
sample data, Palapeli puzzles and the 1927 Solvay conference group photo (ViSP). Small
sources are allowlists of files looked at by hand; GCompris, Scratch and Kalzium go
through rules (training/data/photo_rules.py: no cut-outs, drawings, tiny images) plus an
exclusion list, and one copy of each near-duplicate picture is kept. Author and licence
come from the allowlist or, for rule-picked files, from the package's copyright file.

The split is by source unit (``SPLIT_BY_UNIT``), not by photo; training/data/CORPUS.md
has the counts, licences and reasons.

``python -m training.data.corpus [--cache DIR] [--no-debian]`` builds the cache folder
(default ``$HEIRLOOM_CACHE/corpus`` or ``<repo>/.cache/corpus``): one PNG per photo, RGB,
long side at most 1536 px, plus ``index.json``. Rebuilding reuses what is already there.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.data import photo_rules as rules

MAX_SIDE = 1536
INDEX_NAME = "index.json"
INDEX_VERSION = 3  # 2: the validation split; 3: split by source unit, ddpm-only photos
PATCH = 256
PATCH_STRIDE = 64
PATCH_SCALES = (0.5, 0.75, 1.0)
SPLITS = ("train", "validation", "heldout")

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Source:
    """One photograph: where it comes from, under which terms, and which split unit holds it.

    ``unit`` groups photos that must share a split (one photographer, one GCompris
    activity, one small package); empty means the whole package. ``use`` is "all", or
    "ddpm" for photos too small or too plain for restoration, kept for the 64 px model.
    """

    name: str
    source: str  # "scikit-image", "scikit-learn", "matplotlib" or "debian"
    package: str  # Python distribution or Debian package that ships it
    member: str  # file name inside the package data folder or the .deb
    author: str
    licence: str
    unit: str = ""
    use: str = "all"

    @property
    def split_unit(self) -> str:
        return self.unit or self.package


def _skimage(name: str, member: str, author: str, licence: str) -> Source:
    return Source(name, "scikit-image", "scikit-image", member, author, licence)


def _deb(package: str, member: str, author: str, licence: str) -> Source:
    """A wallpaper named after its file (MATE, Lomiri) or its Plasma folder; its split unit
    is its photographer (the first author named), since wallpaper packages gather the work
    of unrelated photographers."""
    if "/contents/" in member:
        name = member.split("/contents/")[0].rsplit("/", 1)[1]
    else:
        name = Path(member).stem.split("_by_")[0]
    unit = f"{package}:{author.split(',')[0]}"
    return Source(name, "debian", package, member, author, licence, unit)


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

_TUXPAINT = "usr/share/tuxpaint/templates/"
_OPENCV = "usr/share/doc/opencv-doc/examples/"
_PALAPELI = "usr/share/palapeli/collection/"
_SOLVAY = "usr/share/visp-images-data/ViSP-images/Solvay/"


def _file(package: str, prefix: str, member: str, author: str = "", licence: str = "") -> Source:
    """A hand-picked file of a small package, named ``<prefix>-<file stem>``; empty author
    and licence are read from the package's copyright file at build time."""
    name = f"{prefix}-{Path(member).stem}"
    return Source(name, "debian", package, member, author, licence)


# Every photo of these packages was looked at on a contact sheet. Tux Paint: all 19
# starter templates are photographs. OpenCV: the real photos among the sample data (no
# test patterns, drawings, renders, logos or ground-truth maps), one of each stereo or
# before/after pair, and four of the 26 calibration shots of a man holding a chessboard.
TUXPAINT_PHOTOS: tuple[Source, ...] = tuple(
    _file("tuxpaint-data", "tuxpaint", _TUXPAINT + f"{stem}.jpg")
    for stem in (
        "burnt_bark", "cliff", "corn_maze", "jellyfish", "lighthouse", "mossy_bark",
        "mossy_log", "mudstone", "ocean_splash", "ocean_waves", "redwoods_above", "rocks",
        "sheep", "spiders_web", "sun_behind_clouds", "sun_behind_leaves", "trees_above",
        "trees_at_dusk", "wool_mill_machine",
    )
)  # fmt: skip
OPENCV_PHOTOS: tuple[Source, ...] = tuple(
    _file("opencv-doc", "opencv", _OPENCV + member)
    for member in (
        "data/aero1.jpg", "data/aero3.jpg", "data/aloeL.jpg", "data/apple.jpg",
        "data/baboon.jpg", "data/basketball1.png", "data/board.jpg", "data/building.jpg",
        "data/butterfly.jpg", "data/chicky_512.png", "data/ela_original.jpg",
        "data/fruits.jpg", "data/graf1.png", "data/home.jpg", "data/left.jpg",
        "data/left01.jpg", "data/left04.jpg", "data/left07.jpg", "data/left12.jpg",
        "data/leuvenA.jpg", "data/messi5.jpg", "data/orange.jpg", "data/rubberwhale1.png",
        "data/squirrel_cls.jpg", "data/stuff.jpg", "data/sudoku.png",
        "text/scenetext01.jpg", "text/scenetext02.jpg", "text/scenetext03.jpg",
        "text/scenetext04.jpg", "text/scenetext05.jpg", "text/scenetext06.jpg",
    )
)  # fmt: skip
# Palapeli's copyright file covers only the software; each puzzle's .desktop file names
# the photographer and the licence.
PALAPELI_PHOTOS: tuple[Source, ...] = (
    _file("palapeli-data", "palapeli", _PALAPELI + "castle-maintenon.jpg", "Eric Pouhier", "GFDL"),
    _file(
        "palapeli-data", "palapeli", _PALAPELI + "cincinnati-bridge.jpg", "Derek Jensen",
        "public domain",
    ),
    _file(
        "palapeli-data", "palapeli", _PALAPELI + "citrus-fruits.jpg",
        "US Department of Agriculture", "public domain",
    ),
    _file(
        "palapeli-data", "palapeli", _PALAPELI + "european-honey-bee.jpg", "John Severns",
        "public domain",
    ),
    _file(
        "palapeli-data", "palapeli", _PALAPELI + "panther-chameleon-female.jpg",
        "B. Navez and others", "GFDL",
    ),
)  # fmt: skip
# ViSP ships the photo (Benjamin Couprie, 1927, public domain) at four sizes: the largest.
SOLVAY = Source(
    "solvay_1927",
    "debian",
    "visp-images-data",
    _SOLVAY + "Solvay_conference_1927_Version2_2126x1463.jpg",
    "Benjamin Couprie (Institut International de Physique Solvay), 1927",
    "public domain (photograph of 1927); package: GPL-2, Inria (debian/copyright)",
)
ALLOWLISTED: tuple[Source, ...] = TUXPAINT_PHOTOS + OPENCV_PHOTOS + PALAPELI_PHOTOS + (SOLVAY,)

# GCompris activities that hold photographs, in its Qt resource files; each activity is a
# split unit. Every image under */resource/ passes the rules or is dropped; the paintings
# of "details" are what the rules cannot tell from photos.
GCOMPRIS_RCC = "usr/share/gcompris-qt/rcc/"
GCOMPRIS_ACTIVITIES: tuple[str, ...] = (
    "erase",
    "explore_farm_animals",
    "explore_monuments",
    "explore_world_animals",
    "explore_world_music",
    "clickgame",
    "categorization",
    "details",
)
GCOMPRIS_EXCLUDED: frozenset[str] = frozenset(
    {
        "details-image-Eglise_dAuvers-sur-Oise_background",
        "details-image-Gogh4_background",
        "details-image-PortraitOfPereTanguy_background",
        "details-image-Van_Gogh_The_Night_Cafe_background",
        "details-image-VincentVanGogh0012_background",
        "details-image-VincentVanGogh0013_background",
        "details-image-VincentVanGogh0019_background",
        "details-image-VincentVanGoghBridge_background",
    }
)


@dataclass(frozen=True)
class GlobRule:
    """Photos picked by rule from a package: members matching ``pattern`` that pass the
    automatic checks, minus ``excluded`` names."""

    package: str
    pattern: str
    prefix: str
    use: str
    excluded: frozenset[str] = frozenset()


# Only for the 64 px diffusion model (use "ddpm"): Scratch's 480x360 stage backgrounds
# and Kalzium's small photos of lab tools, too small or plain for restoration crops.
DDPM_RULES: tuple[GlobRule, ...] = (
    GlobRule(
        "scratch",
        "usr/share/scratch/Media/Backgrounds/*/*.jpg",
        "scratch",
        "ddpm",
        frozenset({"scratch-brick-wall1"}),  # a drawing the rules let through
    ),
    GlobRule("kalzium-data", "usr/share/kalzium/data/toolpics/*.jpg", "kalzium", "ddpm"),
)

# Where a package's installed files sit in its upstream tree, for the copyright file's
# ``Files:`` patterns: (installed prefix, upstream prefix).
UPSTREAM_PATHS: dict[str, tuple[str, str]] = {
    "gcompris-qt-data": (":/gcompris/", ""),
    "tuxpaint-data": ("usr/share/tuxpaint/", ""),
    "opencv-doc": (_OPENCV, "samples/"),
    "scratch": ("usr/share/scratch/", ""),
    "kalzium-data": ("usr/share/kalzium/", ""),
}

# The split is by source unit, never by photo: photos of one unit share a photographer,
# a camera, a subject or an editor's taste, so a model that trained on some of them has
# effectively seen the others. Held-out units are never trained or tuned on; they hold
# people (the musicians, the Solvay group photo, OpenCV's football and calibration
# shots, grace_hopper) and every source of the bundled samples (resources/samples:
# grace_hopper, ColdRipple and EveningGlow, LadyBird). Validation units are for choosing
# settings after training and hold a face (astronaut, used by tune_face_pass). Every
# other unit trains.
SPLIT_BY_UNIT: dict[str, str] = {
    "matplotlib": "heldout",
    "mate-backgrounds:Charles Barbin": "heldout",
    "plasma-workspace-wallpapers:Risto Saukonpää": "heldout",
    "plasma-workspace-wallpapers:Ian Hex": "heldout",
    "gcompris:explore_world_music": "heldout",
    "gcompris:explore_farm_animals": "heldout",
    "palapeli-data": "heldout",
    "opencv-doc": "heldout",
    "visp-images-data": "heldout",
    "scikit-image": "validation",
    "lomiri-wallpapers-20.04:Lukas Baubkus": "validation",
    "tuxpaint-data": "validation",
    "gcompris:explore_world_animals": "validation",
}


def split_of(unit: str) -> str:
    """The split of every photo of source unit ``unit``: its entry, else "train"."""
    return SPLIT_BY_UNIT.get(unit, "train")


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
    unit: str = ""
    use: str = "all"


@dataclass(frozen=True)
class Corpus:
    """The built corpus: its folder and one record per photo."""

    root: Path
    records: tuple[PhotoRecord, ...]

    def split(self, name: str, include_ddpm: bool = False) -> list[Path]:
        """Paths of the photos of split ``name`` ("train", "validation", "heldout"), in
        index order; ddpm-only photos (always "train") only with ``include_ddpm``."""
        return [
            self.root / r.file
            for r in self.records
            if r.split == name and (include_ddpm or r.use == "all")
        ]

    @property
    def train(self) -> list[Path]:
        """What restoration and detection models train on (no ddpm-only photos)."""
        return self.split("train")

    @property
    def ddpm_train(self) -> list[Path]:
        """What the 64 px diffusion model trains on: ``train`` plus the ddpm-only photos."""
        return self.split("train", include_ddpm=True)

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


def _rel(src: Source) -> str:
    return f"photos/{src.name}.png"


def _record(src: Source, width: int, height: int) -> PhotoRecord:
    return PhotoRecord(
        src.name,
        src.source,
        src.package,
        src.member,
        src.author,
        src.licence,
        _rel(src),
        width,
        height,
        split_of(src.split_unit),
        src.split_unit,
        src.use,
    )


_BY_HAND = frozenset(s.name for s in PYTHON_PHOTOS + DEBIAN_PHOTOS + ALLOWLISTED)


@dataclass(frozen=True)
class _Candidate:
    """A photo that passed the rules, with what deduplication and saving need."""

    src: Source
    load: Callable[[], Image.Image]
    hash: int
    size: tuple[int, int]  # after normalisation


def _normalised_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height))
    return round(width * scale), round(height * scale)


def _candidate(
    src: Source, load: Callable[[], Image.Image], root: Path, log: Callable[[str], None]
) -> _Candidate | None:
    """Check a rule-picked photo against the rules; hand-picked ones skip them (the rules
    reject some real photos, such as the smooth monochrome ColdRipple), cached ones
    passed them before."""
    cached = root / _rel(src)
    if cached.is_file():
        with Image.open(cached) as im:
            return _Candidate(src, load, rules.dhash(im), im.size)
    with load() as im:
        reason = None if src.name in _BY_HAND else rules.rejection(im, src.use)
        if reason is not None:
            log(f"  rejected {src.name}: {reason}")
            return None
        return _Candidate(src, load, rules.dhash(im), _normalised_size(*im.size))


def deduplicate(
    candidates: list[_Candidate], log: Callable[[str], None] = print
) -> list[_Candidate]:
    """Keep one copy of each near-duplicate picture: the largest (then first by name)."""
    kept: list[_Candidate] = []
    for c in sorted(candidates, key=lambda c: (-c.size[0] * c.size[1], c.src.name)):
        twin = next(
            (k for k in kept if rules.hash_distance(k.hash, c.hash) <= rules.HASH_DISTANCE_MAX),
            None,
        )
        if twin is None:
            kept.append(c)
        else:
            log(f"  near-duplicate {c.src.name} of {twin.src.name}: dropped")
    return kept


def _save(c: _Candidate, root: Path) -> PhotoRecord:
    """Normalise and write the photo unless the cache already holds it."""
    path = root / _rel(c.src)
    if path.is_file():
        with Image.open(path) as im:
            return _record(c.src, im.width, im.height)
    with c.load() as im:
        image = normalise(im)
    image.save(path, optimize=False, compress_level=6)
    return _record(c.src, image.width, image.height)


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


def _opener(path: Path) -> Callable[[], Image.Image]:
    return lambda: Image.open(path)


def _bytes_opener(data: bytes) -> Callable[[], Image.Image]:
    return lambda: Image.open(io.BytesIO(data))


def rcc_images(rcc: Path) -> Iterator[tuple[str, bytes]]:
    """(Qt path, bytes) of the photo-like files under */resource/ of a Qt resource file."""
    from PySide6.QtCore import QDirIterator, QFile, QIODevice, QResource

    if not QResource.registerResource(str(rcc)):
        raise ValueError(f"{rcc}: not a Qt resource file")
    try:
        found = []
        it = QDirIterator(":/", QDirIterator.IteratorFlag.Subdirectories)
        while it.hasNext():
            path = it.next()
            if "/resource/" in path and path.lower().endswith((".jpg", ".jpeg", ".webp", ".png")):
                f = QFile(path)
                f.open(QIODevice.OpenModeFlag.ReadOnly)
                found.append((path, bytes(f.readAll().data())))
                f.close()
    finally:
        QResource.unregisterResource(str(rcc))
    yield from sorted(found)


def gcompris_name(activity: str, qt_path: str) -> str:
    """``<activity>-<path under resource/, dashes for slashes, no extension>``."""
    rel = qt_path.split("/resource/", 1)[1]
    return f"{activity}-{str(Path(rel).with_suffix('')).replace('/', '-')}"


class _Package:
    """An unpacked .deb and its copyright file, for the photos taken from it."""

    def __init__(self, package: str, folder: Path) -> None:
        self.package, self.folder = package, folder
        text = (folder / "usr/share/doc" / package / "copyright").read_text(errors="replace")
        self.stanzas = rules.parse_copyright(text)

    def credit(self, src: Source) -> Source:
        """``src`` with author and licence from the copyright file when it has none."""
        if src.author and src.licence:
            return src
        installed, upstream = UPSTREAM_PATHS.get(self.package, ("", ""))
        member = src.member.split(":", 1)[1] if ".rcc:" in src.member else src.member
        path = upstream + member.removeprefix(installed)
        author, licence = rules.copyright_of(self.stanzas, path)
        return Source(
            src.name, src.source, src.package, src.member, author, licence, src.unit, src.use
        )


def _gcompris(pkg: _Package) -> Iterator[tuple[Source, Callable[[], Image.Image]]]:
    for activity in GCOMPRIS_ACTIVITIES:
        rcc = pkg.folder / GCOMPRIS_RCC / f"{activity}.rcc"
        for qt_path, data in rcc_images(rcc):
            name = gcompris_name(activity, qt_path)
            if name in GCOMPRIS_EXCLUDED:
                continue
            member = f"{GCOMPRIS_RCC}{activity}.rcc:{qt_path}"
            src = Source(name, "debian", pkg.package, member, "", "", f"gcompris:{activity}")
            yield pkg.credit(src), _bytes_opener(data)


def _globbed(pkg: _Package, rule: GlobRule) -> Iterator[tuple[Source, Callable[[], Image.Image]]]:
    for path in sorted(pkg.folder.glob(rule.pattern)):
        name = f"{rule.prefix}-{path.stem}"
        if name in rule.excluded:
            continue
        member = str(path.relative_to(pkg.folder))
        src = Source(name, "debian", pkg.package, member, "", "", "", rule.use)
        yield pkg.credit(src), _opener(path)


def _debian_candidates(
    root: Path, tmp: Path, log: Callable[[str], None]
) -> Iterator[tuple[Source, Callable[[], Image.Image]]]:
    """Every Debian photo, allowlisted or picked by rule. Each .deb is unpacked again on a
    rebuild (the rules and the copyright file need its files; the saved PNGs are reused)."""
    listed = DEBIAN_PHOTOS + ALLOWLISTED
    packages = list(dict.fromkeys([s.package for s in listed] + ["gcompris-qt-data"]))
    packages += [r.package for r in DDPM_RULES]
    debs = root / "debs"
    debs.mkdir(exist_ok=True)
    for package in packages:
        own = [s for s in listed if s.package == package]
        deb = _apt_download(package, debs, log)
        if deb is None:
            log(f"skipped {package}")
            continue
        folder = tmp / package
        subprocess.run(["dpkg", "-x", str(deb), str(folder)], check=True)
        pkg = _Package(package, folder)
        log(f"{package}: unpacked {deb.name}")
        for src in own:
            if (folder / src.member).is_file():
                yield pkg.credit(src), _opener(folder / src.member)
            else:
                log(f"{package}: {src.member} is missing in {deb.name}; skipped")
        if package == "gcompris-qt-data":
            yield from _gcompris(pkg)
        for rule in DDPM_RULES:
            if rule.package == package:
                yield from _globbed(pkg, rule)


def build_corpus(
    cache: Path | None = None, *, debian: bool = True, log: Callable[[str], None] = print
) -> Corpus:
    """Build (or complete) the corpus in ``cache`` and write its index.json.

    Idempotent: photos already normalised in the cache are reused, .deb files are kept
    in ``cache/debs``. ``debian=False`` builds only the Python-package photos (no network).
    """
    root = Path(cache) if cache is not None else default_cache()
    (root / "photos").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        found = [(s, _opener(_python_file(s))) for s in PYTHON_PHOTOS]
        if debian and shutil.which("dpkg") is None:
            log("dpkg is not available: the corpus holds only the Python-package photos")
        elif debian:
            found += _debian_candidates(root, Path(tmp), log)
        candidates = [c for s, load in found if (c := _candidate(s, load, root, log))]
        records = [_save(c, root) for c in deduplicate(candidates, log)]
    order = {p: i for i, p in enumerate(dict.fromkeys(s.package for s, _ in found))}
    records.sort(key=lambda r: (order[r.package], r.unit, r.name))
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
    """Human-readable counts: photos per split and source unit, pixels, 256 px patches."""
    lines = [f"corpus at {corpus.root}: {len(corpus.records)} photos"]
    for split in SPLITS:
        for use in ("all", "ddpm"):
            recs = [r for r in corpus.records if r.split == split and r.use == use]
            if not recs:
                continue
            by_unit = Counter(r.unit for r in recs)
            patches = sum(patch_positions(r.width, r.height) for r in recs)
            pixels = sum(r.width * r.height for r in recs) / 1e6
            label = split if use == "all" else f"{split} (ddpm only)"
            lines.append(
                f"  {label}: {len(recs)} photos; {pixels:.1f} Mpx; {patches} distinct "
                f"{PATCH}px patches (stride {PATCH_STRIDE}, scales "
                f"{', '.join(map(str, PATCH_SCALES))})"
            )
            lines += [f"    {unit}: {n}" for unit, n in sorted(by_unit.items())]
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
        "--no-debian", action="store_true", help="skip the Debian packages (no apt-get)"
    )
    args = parser.parse_args(argv)
    corpus = build_corpus(args.cache, debian=not args.no_debian)
    print(summary(corpus))


if __name__ == "__main__":
    main()
