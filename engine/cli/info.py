"""``heirloom info``: versions, the providers listed and working, and why not CUDA."""

from __future__ import annotations

import argparse
import platform

HELP = "versions, devices and why CUDA is (not) used"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    import numpy
    import PIL

    from engine import runtime
    from engine.buildinfo import build_info

    report = runtime.device_report()
    print(f"{build_info().line()} on Python {platform.python_version()} ({platform.system()})")
    print(f"onnxruntime {report.ort_version}, numpy {numpy.__version__}, Pillow {PIL.__version__}")
    print(f"providers listed:  {', '.join(report.available)}")
    working = ["CPUExecutionProvider"] + (["CUDAExecutionProvider"] if report.cuda_usable else [])
    print(f"providers working: {', '.join(working)}")
    if report.cuda_listed and not report.cuda_usable:
        print(f"CUDA: listed but not usable: {report.cuda_reason}")
    elif not report.cuda_usable:
        print(f"CUDA: not available: {report.cuda_reason}")
    else:
        print("CUDA: usable")
    print(f"models run on:     {report.summary('auto')}")
    print(f"threads:           {runtime.default_threads()}")
    return 0
