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


def _training_imports(room: str) -> list[tuple[str, str]]:
    """(file, imported module) for every line of ``room`` that imports from training."""
    found = []
    for path in (ROOT / room).rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and words[1].split(".")[0] == "training":
                found.append((str(path.relative_to(ROOT)), words[1]))
    return found


def test_engine_and_gui_never_import_training():
    assert _training_imports("engine") + _training_imports("gui") == []


def test_bench_reaches_training_only_through_eval():
    """bench measures with training.eval's cases, metrics and baselines (the same ones
    the model cards use) and nothing else of training: no nets, trainers or torch."""
    offenders = [
        (path, module)
        for path, module in _training_imports("bench")
        if module != "training.eval" and not module.startswith("training.eval.")
    ]
    assert offenders == []
