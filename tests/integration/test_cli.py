"""The `heirloom` command as a user runs it: a subprocess, exit codes, one-line errors."""

import onnxruntime as ort
import pytest

from commands import heirloom
from engine.models import TensorSpec, write_pack
from graphs import build_conv_model, tiny_manifest


def test_info_tells_the_truth_about_cuda(tmp_path):
    result = heirloom("info", home=tmp_path)
    assert result.returncode == 0
    assert "providers working: CPUExecutionProvider" in result.stdout
    if (
        "CUDAExecutionProvider" in ort.get_available_providers()
        and "CUDA: usable" not in result.stdout
    ):
        assert "CUDA: listed but not usable: " in result.stdout
        assert "models run on:     CPU (CUDA not usable:" in result.stdout


def test_verify_catches_altered_bytes_and_wrong_inputs(tmp_path):
    home = tmp_path / "home"
    good = write_pack(
        tmp_path / "src" / "good",
        build_conv_model(tmp_path / "a.onnx"),
        tiny_manifest("good"),
        "# Good\n",
    )
    result = heirloom("models", "import", str(good.path), home=home)
    assert result.returncode == 0, result.stderr
    assert "imported good" in result.stdout
    assert heirloom("models", "verify", "good", home=home).returncode == 0

    installed = home / "models" / "good" / "model.onnx"
    data = bytearray(installed.read_bytes())
    data[100] ^= 0x55
    installed.write_bytes(bytes(data))
    result = heirloom("models", "verify", "good", home=home)
    assert result.returncode == 2
    assert "good" in result.stderr and "does not match its manifest sha256" in result.stderr
    assert "Traceback" not in result.stderr

    write_pack(
        home / "models" / "wrong",
        build_conv_model(tmp_path / "b.onnx"),
        tiny_manifest("wrong", inputs=(TensorSpec("edges", "NCHW", 3),)),
        "#\n",
    )
    result = heirloom("models", "verify", "wrong", home=home)
    assert result.returncode == 2
    assert (
        "'wrong': the graph's inputs are ['image'] but the manifest says ['edges']" in result.stderr
    )


def test_import_of_a_damaged_pack_is_refused(tmp_path):
    pack = write_pack(
        tmp_path / "src" / "p", build_conv_model(tmp_path / "a.onnx"), tiny_manifest("p"), "#\n"
    )
    pack.model_path.write_bytes(b"garbage")
    result = heirloom("models", "import", str(pack.path), home=tmp_path / "home")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert not (tmp_path / "home" / "models" / "p").exists()


@pytest.mark.parametrize(
    "args",
    [("nonsense",), ("models", "verify", "no-such-pack"), ("models", "import", "/no/such/folder")],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args):
    result = heirloom(*args, home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("heirloom: error:") and result.stderr.count("\n") == 1


def test_every_command_module_has_the_converters_protocol():
    """HELP, add_arguments(parser), run(args): one way to add a command."""
    import argparse

    from engine import cli

    for name in cli.COMMANDS:
        module = cli.command(name)
        assert isinstance(module.HELP, str) and module.HELP, name
        parser = argparse.ArgumentParser(prog=name)
        module.add_arguments(parser)  # registers without touching anything
        assert callable(module.run), name
    assert cli.command_names() == set(cli.COMMANDS)
