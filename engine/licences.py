"""Third-party notices: every bundled distribution and model pack with its licence.

Written from the installed distributions' own metadata (``importlib.metadata``), never
by hand, so the list follows the lock file: the packaged app carries a ``licenses/``
folder made by :func:`write_notices` at package time (``NOTICES.md`` plus each
package's licence files as the package ships them), and the About box shows the same
summary. Model packs' licences come from their manifests.
"""

from __future__ import annotations

import platform
import re
import shutil
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from engine.models import Registry

NOTICES_FILE = "NOTICES.md"
LICENCE_FILE = re.compile(r"(licen[cs]e|copying|notice|authors)", re.IGNORECASE)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
PYTHON_LICENCE = "PSF-2.0"
ROOT_DISTRIBUTION = "heirloom"
# A wheel whose metadata names its licence but ships no text (PySide6-Essentials,
# shiboken6, flatbuffers) gets the licence's standard text from the build machine
# (Debian keeps them here). The LGPL is a set of permissions on top of the GPL, so its
# text must travel with the GPL's.
STANDARD_TEXTS = Path("/usr/share/common-licenses")
STANDARD_TEXT_FILES: dict[str, tuple[str, ...]] = {
    "Apache-2.0": ("Apache-2.0",),
    "GPL-2.0": ("GPL-2",),
    "GPL-3.0": ("GPL-3",),
    "LGPL-2.1": ("LGPL-2.1",),
    "LGPL-3.0": ("LGPL-3", "GPL-3"),
    "MPL-2.0": ("MPL-2.0",),
}
# The Qt for Python distributions: their version is the version of the Qt they bundle
QT_DISTRIBUTIONS = ("pyside6-essentials", "pyside6-addons", "pyside6", "shiboken6")


@dataclass(frozen=True)
class Notice:
    name: str
    version: str
    licence: str
    url: str = ""
    files: tuple[Path, ...] = field(default=(), repr=False)  # licence texts, as installed
    standard: bool = False  # ``files`` are the licences' standard texts: the wheel had none


def _key(name: str) -> str:
    """A name as PEP 503 compares them: ``PySide6_Essentials`` is ``pyside6-essentials``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(dist: Distribution) -> list[str]:
    """Names a distribution needs at run time; requirements of extras are left out."""
    names = []
    for requirement in dist.requires or []:
        spec, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        match = NAME.match(spec.strip())
        if match:
            names.append(match.group(0))
    return names


def runtime_closure(root: str = ROOT_DISTRIBUTION) -> list[Distribution]:
    """``root``'s installed run-time dependencies, transitively (``root`` excluded).

    A requirement that is not installed (another platform's wheel, a marker that does
    not apply here) is not bundled either, so it is skipped.
    """
    seen: dict[str, Distribution] = {}
    todo = _requirement_names(distribution(root))
    while todo:
        name = todo.pop()
        key = _key(name)
        if key in seen:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        seen[key] = dist
        todo.extend(_requirement_names(dist))
    return sorted(seen.values(), key=lambda d: d.metadata["Name"].lower())


def licence_of(dist: Distribution) -> str:
    """The SPDX expression, else a short License field, else the licence classifiers."""
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression.strip()
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:
        return text
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    return ", ".join(classifiers) or "see the licence files"


def licence_ids(licence: str) -> list[str]:
    """The licence ids a licence names, as SPDX spells them without ``-only``/``-or-later``.

    Takes an SPDX expression (``LGPL-3.0-only OR GPL-2.0-only``) or a short License
    field as wheels write it (``Apache 2.0``).
    """
    ids = []
    for part in re.split(r"\s+(?:OR|AND|WITH)\s+|[(),]", licence):
        token = re.sub(r"(-only|-or-later|\+)$", "", part.strip()).replace(" ", "-")
        if token:
            ids.append(token)
    return ids


def standard_texts(licence: str, folder: Path = STANDARD_TEXTS) -> tuple[Path, ...]:
    """The standard texts of every licence ``licence`` names that ``folder`` holds.

    All of an ``OR`` are included: the notice then holds whichever one the user reads
    the package under.
    """
    names = [name for i in licence_ids(licence) for name in STANDARD_TEXT_FILES.get(i, ())]
    paths = (folder / name for name in dict.fromkeys(names))
    return tuple(path for path in paths if path.is_file())


def _url_of(dist: Distribution) -> str:
    meta = dist.metadata
    if meta.get("Home-page"):
        return meta["Home-page"].strip()
    for entry in meta.get_all("Project-URL") or []:
        _, _, url = entry.partition(",")
        if url.strip():
            return url.strip()
    return ""


def notice_of(dist: Distribution) -> Notice:
    """A distribution's notice with the licence files it installed.

    A distribution that installed none gets its licences' standard texts, where the
    build machine has them (:func:`standard_texts`).
    """
    installed = [
        Path(str(dist.locate_file(f)))
        for f in dist.files or []
        if LICENCE_FILE.search(f.name) and not f.name.endswith((".py", ".pyc"))
    ]
    files = tuple(sorted(p for p in installed if p.is_file()))
    licence = licence_of(dist)
    standard = () if files else standard_texts(licence)
    return Notice(
        name=dist.metadata["Name"],
        version=dist.version,
        licence=licence,
        url=_url_of(dist),
        files=files or standard,
        standard=bool(standard),
    )


def third_party() -> list[Notice]:
    """Python itself and every distribution the app needs at run time."""
    text = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    python = Notice(
        "Python",
        platform.python_version(),
        PYTHON_LICENCE,
        "https://www.python.org",
        (text,) if text.is_file() else (),
    )
    return [python, *(notice_of(d) for d in runtime_closure())]


def pack_notices(registry: Registry | None = None) -> list[Notice]:
    """The bundled model packs with the licence their manifest declares."""
    packs = (registry or Registry()).packs()
    return [
        Notice(p.name, p.manifest.version, p.manifest.licence)
        for p in packs
        if p.origin == "bundled"
    ]


def notices_markdown(packages: list[Notice], packs: list[Notice]) -> str:
    """The summary table of ``NOTICES.md`` and the About box."""
    lines = ["# Third-party notices", "", "## Packages", ""]
    lines += ["| package | version | licence | home | licence texts |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    lines += [f"| {n.name} | {n.version} | {n.licence} | {n.url} | {_texts(n)} |" for n in packages]
    lines += ["", "## Model packs", "", "| pack | version | licence |", "| --- | --- | --- |"]
    lines += [f"| {n.name} | {n.version} | {n.licence} |" for n in packs]
    lines += qt_source_note(packages)
    return "\n".join(lines) + "\n"


def _texts(notice: Notice) -> str:
    """Where the licence texts are, or that there are none (to be added by hand)."""
    if not notice.files:
        return "none shipped with the package"
    folder = f"{notice.name}-{notice.version}/"
    if notice.standard:
        names = ", ".join(path.name for path in notice.files)
        return f"{folder} (standard text of {names}; the package shipped none)"
    return f"{folder} ({len(notice.files)} file(s))"


def qt_source_note(packages: list[Notice]) -> list[str]:
    """Where the sources of the bundled Qt are, as the LGPL asks of whoever ships it.

    The LGPL lets the app ship Qt's libraries unmodified as shared libraries, which a
    user may replace, provided the recipient is told where the Library's source is.
    Empty when no Qt for Python distribution is bundled.
    """
    qt = [n for n in packages if _key(n.name) in QT_DISTRIBUTIONS]
    if not qt:
        return []
    bindings = qt[0].version
    version = ".".join(bindings.split(".")[:3])  # PySide6 6.4.0.1 is a rebuild over Qt 6.4.0
    series = ".".join(version.split(".")[:2])
    names = ", ".join(f"{n.name} {n.version}" for n in qt)
    tags = f"`v{version}`" + (f" (Qt for Python: `v{bindings}`)" if bindings != version else "")
    return [
        "",
        "## Source code of Qt and Qt for Python",
        "",
        f"Heirloom uses Qt {version} through Qt for Python ({names}) under the GNU LGPL",
        "version 3 (its text and the GPL's are in the packaged app's `licenses/` folder),",
        "unmodified, as shared libraries (in the packaged app: `_internal/PySide6/Qt/lib/`,",
        "`_internal/PySide6/` and `_internal/shiboken6/`), which you may replace with your",
        "own build of the same version. Their complete source code is at:",
        "",
        f"- Qt: https://download.qt.io/official_releases/qt/{series}/{version}/ (`single/`: all",
        "  of Qt in one archive; `submodules/`: one archive per module)",
        f"- Qt for Python: https://download.qt.io/official_releases/QtForPython/pyside6/"
        f"PySide6-{bindings}-src/",
        f"- both in Qt's git repositories, https://code.qt.io, tag {tags}",
        "",
        "Once newer releases replace it, the same paths are under",
        "https://download.qt.io/archive/ instead of `official_releases/`.",
    ]


def write_notices(folder: Path, registry: Registry | None = None) -> list[Notice]:
    """Fill ``folder`` with ``NOTICES.md`` and, per package, its licence files."""
    packages, packs = third_party(), pack_notices(registry)
    folder.mkdir(parents=True, exist_ok=True)
    for notice in packages:
        if not notice.files:
            continue
        target = folder / f"{notice.name}-{notice.version}"
        target.mkdir(exist_ok=True)
        for source in notice.files:
            shutil.copyfile(source, target / _unique_name(source, target))
    (folder / NOTICES_FILE).write_text(notices_markdown(packages, packs), encoding="utf-8")
    return packages + packs


def _unique_name(source: Path, target: Path) -> str:
    """``LICENSE`` twice in one package (vendored code) must not overwrite itself."""
    name, number = source.name, 2
    while (target / name).exists():
        name, number = f"{source.stem}-{number}{source.suffix}", number + 1
    return name


def bundled_notices() -> Path | None:
    """``licenses/NOTICES.md`` next to a packaged app's executable, if there is one."""
    if not getattr(sys, "frozen", False):
        return None
    path = Path(sys.executable).resolve().parent / "licenses" / NOTICES_FILE
    return path if path.is_file() else None


def notices_text() -> str:
    """For the About box: the packaged notices, else generated from this install."""
    path = bundled_notices()
    if path is not None:
        return path.read_text(encoding="utf-8")
    return notices_markdown(third_party(), pack_notices())
