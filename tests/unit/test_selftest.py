"""The self-test: sanity checks of outputs, and a report that fails when something fails."""

import io
import re
import shutil

import numpy as np
import pytest

from engine.models import BUNDLED_DIR, Registry
from engine.selftest import SelfTestError, check_image, run_check, run_self_test


def test_a_sane_output_passes():
    gradient = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4, 1)
    check_image("gradient", gradient, (3, 4, 1))


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (np.full((3, 4), 0.5, np.float32), "one flat value"),
        (np.linspace(0, 1.5, 12).reshape(3, 4), "outside 0..1"),
        (np.where(np.eye(3, 4) > 0, np.nan, 0.5), "not finite"),
        (np.linspace(0, 1, 12).reshape(4, 3), "expected (3, 4)"),
    ],
)
def test_an_insane_output_is_named(image, expected):
    with pytest.raises(SelfTestError, match=re.escape(expected)):
        check_image("output", image, (3, 4))


def test_every_bundled_pack_and_pipeline_passes(tmp_path):
    out = io.StringIO()
    code = run_self_test(lambda: "window stub", Registry(user=tmp_path / "none"), out)
    report = out.getvalue()
    assert code == 0, report
    lines = report.splitlines()
    assert lines[0].startswith("Heirloom ")
    for pack in Registry(user=tmp_path / "none").packs():
        assert any(line.startswith(f"ok     pack {pack.name} ") for line in lines)
    for name in ("restore", "sketch", "diffuse inpaint", "diffuse edit", "gui"):
        assert any(line.startswith(f"ok     {name} ") for line in lines), name
    assert lines[-1].startswith("self-test passed: ")


def test_a_damaged_pack_and_a_failing_window_fail_the_test(tmp_path):
    bundled = tmp_path / "bundled"
    shutil.copytree(BUNDLED_DIR / "heirloom-restore", bundled / "heirloom-restore")
    graph = bundled / "heirloom-restore" / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:-1] + b"\0")

    def broken_window() -> str:
        raise RuntimeError("no display")

    out = io.StringIO()
    code = run_self_test(broken_window, Registry(bundled=bundled, user=tmp_path / "no"), out)
    report = out.getvalue()
    assert code == 1
    assert "FAILED pack heirloom-restore" in report
    assert "FAILED detect scratches" in report  # no detector is bundled here
    assert "FAILED gui                    RuntimeError: no display" in report
    assert report.splitlines()[-1].startswith("self-test FAILED: gui, pack heirloom-restore, ")


def test_a_check_that_fails_without_a_message_is_named_by_its_error():
    def silent_failure() -> str:
        raise ValueError

    outcome = run_check("quiet", silent_failure)
    assert not outcome.ok and outcome.detail == "ValueError"
