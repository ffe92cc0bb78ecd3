"""Version and build info: stamped into a package, read from git in a checkout."""

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from engine import buildinfo
from engine.buildinfo import BuildInfo, build_info, from_source, write_build_info


def test_a_stamped_package_reads_back_what_was_written(tmp_path):
    path = tmp_path / "engine" / "build_info.json"
    written = write_build_info(path, "cpu")
    assert written.variant == "cpu"
    assert json.loads(path.read_text())["variant"] == "cpu"
    assert build_info(path) == written
    assert written.date.endswith("UTC")
    line = written.line()
    assert written.version in line and written.commit in line and "(cpu," in line


def test_a_checkout_names_its_commit_and_says_it_runs_from_source(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    head = subprocess.run(
        ["git", "-C", str(buildinfo.SOURCE_ROOT), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    info = build_info(tmp_path / "no-stamp.json")
    assert head.startswith(info.commit.removesuffix("+dirty"))
    assert info.variant == f"{buildinfo.installed_variant()}+source"
    assert datetime.strptime(info.date, "%Y-%m-%d")  # the last commit's date


def test_without_git_the_commit_is_unknown_and_nothing_breaks(monkeypatch):
    monkeypatch.setenv("PATH", "")  # `git` cannot be found
    info = from_source(datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    assert info.commit == "unknown"
    assert info.date == "2026-01-02 03:04 UTC"
    assert from_source().date == "unknown"


def test_a_stamp_missing_fields_reads_as_unknown(tmp_path):
    path = tmp_path / "build_info.json"
    path.write_text(json.dumps({"version": "9.9", "variant": "gpu"}))
    assert build_info(path) == BuildInfo("9.9", "unknown", "unknown", "gpu")


def test_version_option_prints_one_line_and_exits_zero():
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("Heirloom ") and done.stdout.count("\n") == 1
    assert "commit " in done.stdout and "built " in done.stdout
