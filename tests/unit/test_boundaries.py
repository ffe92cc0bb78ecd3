"""The architecture's import rules, checked as facts rather than hoped for."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_linter_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: " in result.stdout and "0 broken" in result.stdout


def test_engine_loads_without_qt_torch_or_training():
    modules = sorted(
        "engine." + ".".join(p.relative_to(ROOT / "engine").with_suffix("").parts)
        for p in (ROOT / "engine").rglob("*.py")
        if p.name != "__init__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'PySide6', 'training', 'gui', 'diffusers', 'onnx', 'ray'})\n"
        "print(len(sys.modules)); assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_nothing_but_tests_imports_training():
    offenders = [
        str(p.relative_to(ROOT))
        for room in ("engine", "gui", "bench")
        for p in (ROOT / room).rglob("*.py")
        if any(
            line.lstrip().startswith(("import training", "from training"))
            for line in p.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
