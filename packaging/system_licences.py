"""Notices for the build machine's libraries that PyInstaller bundles.

Besides the wheels, the app carries shared libraries of the machine it was built on
(X11 and xcb, GLib, fontconfig, freetype, libstdc++, OpenSSL, ...): the ones the wheels
link but do not bring. Their licences must travel with them. On a Debian build machine
each belongs to a package whose ``/usr/share/doc/PACKAGE/copyright`` states them;
:func:`write_system_notices` copies those files into ``licenses/system/`` and adds a
table to ``NOTICES.md``, which the About box shows. Build-time only: not in the app.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

DOCS = Path("/usr/share/doc")
SECTION = "## Libraries from the build machine"


@dataclass(frozen=True)
class SystemPackage:
    name: str
    version: str
    libraries: tuple[str, ...]  # file names as bundled
    copyright: Path | None
    licence: str  # the licence of its ``Files: *``, where the copyright file names one


def _dpkg(*args: str) -> str | None:
    """dpkg-query's output, or None where it fails or there is no dpkg."""
    try:
        done = subprocess.run(["dpkg-query", *args], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return done.stdout if done.returncode == 0 else None


def owner(path: str) -> str | None:
    """The Debian package that installed ``path`` (``/lib`` is ``/usr/lib`` on merged-/usr)."""
    candidates = [path, os.path.realpath(path)]
    if path.startswith("/lib"):
        candidates.insert(1, "/usr" + path)
    for candidate in candidates:
        found = _dpkg("--search", candidate)
        if found:
            return found.split(":", 1)[0]  # "zlib1g:amd64: /lib/..." or "zlib1g: /lib/..."
    return None


def main_licence(copyright_text: str) -> str:
    """The ``License:`` of the ``Files: *`` paragraph of a machine-readable copyright file."""
    for paragraph in re.split(r"\n\s*\n", copyright_text):
        if re.search(r"^Files:\s*\*\s*$", paragraph, re.MULTILINE):
            match = re.search(r"^License:\s*(.+)$", paragraph, re.MULTILINE)
            if match:
                return match.group(1).strip()
    return "see the copyright file"


def system_packages(libraries: dict[str, str]) -> tuple[list[SystemPackage], list[str]]:
    """The packages owning ``libraries`` (bundled name -> build machine path), and the
    names of the libraries no package owns (or all of them, without dpkg)."""
    owned: dict[str, list[str]] = defaultdict(list)
    orphans = []
    for name, path in sorted(libraries.items()):
        package = owner(path)
        if package is None:
            orphans.append(name)
        else:
            owned[package].append(name)
    packages = []
    for package, names in sorted(owned.items()):
        version = _dpkg("--show", "--showformat=${Version}", package) or "?"
        text = DOCS / package / "copyright"
        exists = text.is_file()
        licence = main_licence(text.read_text(errors="replace")) if exists else "?"
        packages.append(
            SystemPackage(package, version, tuple(names), text if exists else None, licence)
        )
    return packages, orphans


def write_system_notices(folder: Path, libraries: dict[str, str]) -> list[str]:
    """Copy the owning packages' copyright files to ``folder/system/`` and add their
    table to ``folder/NOTICES.md``; returns the libraries left without a notice."""
    packages, orphans = system_packages(libraries)
    lines = ["", SECTION, ""]
    lines += ["Each package's copyright file says which licence covers which of its files; the"]
    lines += ["licence column is the one it gives for `Files: *`, the package's default.", ""]
    lines += ["| Debian package | version | licence | libraries | copyright |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    for package in packages:
        target = "none found"
        if package.copyright is not None:
            where = folder / "system" / f"{package.name}-{package.version.replace(':', '_')}"
            where.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(package.copyright, where / "copyright")
            target = f"system/{where.name}/copyright"
        names = ", ".join(package.libraries)
        lines += [
            f"| {package.name} | {package.version} | {package.licence} | {names} | {target} |"
        ]
    if orphans:
        lines += ["", f"No package notice found for: {', '.join(orphans)}."]
    with open(folder / "NOTICES.md", "a", encoding="utf-8") as notices:
        notices.write("\n".join(lines) + "\n")
    return orphans
