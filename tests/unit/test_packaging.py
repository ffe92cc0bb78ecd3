"""The packaging helpers: the CPU variant's requirements, the installer, the image check."""

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_cpu_variant_swaps_onnxruntime_gpu_for_onnxruntime():
    requirements = load("requirements").requirements
    with open(PACKAGING.parent / "pyproject.toml", "rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    assert requirements(cpu=False) == declared
    cpu = requirements(cpu=True)
    assert not [r for r in cpu if r.startswith("onnxruntime-gpu")]
    assert cpu[-1] == "onnxruntime>=1.18"
    assert [r for r in cpu if not r.startswith("onnxruntime")] == [
        r for r in declared if not r.startswith("onnxruntime")
    ]


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_install_puts_the_app_in_the_menu_and_uninstall_removes_it(tmp_path):
    app = tmp_path / "download" / "Heirloom"
    app.mkdir(parents=True)
    for name in ("install.sh", "heirloom.desktop"):
        shutil.copy(PACKAGING / name, app / name)
    shutil.copy(PACKAGING.parent / "resources" / "icons" / "heirloom.png", app / "heirloom.png")
    (app / "Heirloom").write_text("#!/bin/sh\necho frozen app\n")
    (app / "Heirloom").chmod(0o755)
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home)}
    env.pop("XDG_DATA_HOME", None)
    subprocess.run(["sh", str(app / "install.sh")], env=env, check=True, capture_output=True)
    installed = home / ".local" / "opt" / "Heirloom"
    entry = (home / ".local/share/applications/heirloom.desktop").read_text()
    assert f'Exec="{installed}/Heirloom" %f' in entry.splitlines()
    assert (home / ".local/share/icons/hicolor/256x256/apps/heirloom.png").is_file()
    cli = subprocess.run([str(home / ".local/bin/heirloom")], capture_output=True, text=True)
    assert cli.stdout == "frozen app\n"
    uninstall = [str(installed / "install.sh"), "--uninstall"]
    subprocess.run(["sh", *uninstall], env=env, check=True, capture_output=True)
    assert not installed.exists()
    assert not (home / ".local/bin/heirloom").exists()
    assert not (home / ".local/share/applications/heirloom.desktop").exists()


@pytest.mark.parametrize(("change", "code"), [(1, 0), (2, 1)])
def test_images_agree_within_one_level(tmp_path, change, code):
    pixels = np.full((4, 5, 3), 100, np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    pixels[2, 3, 1] += change
    Image.fromarray(pixels).save(tmp_path / "b.png")
    script = [sys.executable, str(PACKAGING / "same_image.py")]
    done = subprocess.run([*script, str(tmp_path / "a.png"), str(tmp_path / "b.png")])
    assert done.returncode == code


def test_sizes_count_each_part_once_and_symlinks_not_at_all(tmp_path):
    app = tmp_path / "Heirloom"
    files = {
        "_internal/cv2/cv2.abi3.so": 700,
        "_internal/opencv_python_headless.libs/libavcodec-1.so.63": 300,
        "_internal/PySide6/Qt/lib/libQt6Core.so.6": 200,
        "_internal/libpython3.11.so.1.0": 50,
        "_internal/libX11.so.6": 20,
        "_internal/resources/models/heirloom-restore/model.onnx": 400,
        "licenses/NOTICES.md": 3,
    }
    for name, size in files.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_bytes(b"x" * size)
    (app / "_internal/libQt6Core.so.6").symlink_to("PySide6/Qt/lib/libQt6Core.so.6")
    found = load("sizes").sizes(app)
    assert sum(found.values()) == sum(files.values())
    assert found["OpenCV (cv2 and its FFmpeg, AV1 codecs, OpenBLAS)"] == 1000
    assert found["model packs"] == 400
    assert found["everything else"] == 3
    python = next(size for part, size in found.items() if part.startswith("Python"))
    system = next(size for part, size in found.items() if part.startswith("build machine"))
    assert (python, system) == (50, 20)


ZLIB = Path("/lib/x86_64-linux-gnu/libz.so.1")


@pytest.mark.skipif(
    shutil.which("dpkg-query") is None or not ZLIB.exists(),
    reason="needs a Debian build machine (dpkg-query and its x86-64 zlib)",
)
def test_the_build_machine_s_libraries_get_their_package_s_copyright(tmp_path):
    folder = tmp_path / "licenses"
    folder.mkdir()
    (folder / "NOTICES.md").write_text("# Third-party notices\n")
    libraries = {"libz.so.1": str(ZLIB), "libmine.so": str(tmp_path / "libmine.so")}
    left = load("system_licences").write_system_notices(folder, libraries)
    assert left == ["libmine.so"]
    notices = (folder / "NOTICES.md").read_text()
    assert notices.startswith("# Third-party notices\n")  # appended, not rewritten
    row = next(line for line in notices.splitlines() if line.startswith("| zlib1g |"))
    assert "| Zlib | libz.so.1 | system/zlib1g-" in row
    (copied,) = (folder / "system").glob("zlib1g-*/copyright")
    assert copied.read_bytes() == Path("/usr/share/doc/zlib1g/copyright").read_bytes()
    assert "No package notice found for: libmine.so." in notices
