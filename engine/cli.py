"""The ``heirloom`` command.

Each subcommand lives in a small ``add_*`` / ``cmd_*`` pair; pipelines register
theirs in :data:`COMMANDS`. Exit codes: 0 success, 2 bad input (one line on stderr,
never a traceback), 1 an unexpected internal error (one line plus where the details
went), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import platform
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from engine.errors import Cancelled, HeirloomError
from engine.files import os_error_reason

# (module, function) pairs that add subcommands; a pipeline adds one line here.
COMMANDS: list[tuple[str, str]] = [
    ("engine.cli", "add_info"),
    ("engine.cli", "add_models"),
    ("engine.restore_cli", "add_commands"),
    ("engine.sketch_cli", "add_sketch_commands"),
    ("engine.diffusion_cli", "add_diffuse_commands"),
    ("engine.batch_cli", "add_batch_command"),
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other error
        self.exit(2, f"heirloom: error: {message}\n")


# --- info -----------------------------------------------------------------------


def add_info(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("info", help="versions, devices and why CUDA is (not) used")
    parser.set_defaults(func=cmd_info)


def cmd_info(args: argparse.Namespace) -> int:
    from engine import runtime

    report = runtime.device_report()
    import numpy
    import PIL

    from engine.buildinfo import build_info

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


# --- models ---------------------------------------------------------------------


def add_models(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="list, verify and import model packs")
    inner = parser.add_subparsers(dest="models_command", required=True, parser_class=_Parser)
    inner.add_parser("list", help="installed packs").set_defaults(func=cmd_models_list)
    verify = inner.add_parser("verify", help="check sha256, graph and I/O of packs")
    verify.add_argument("name", nargs="?", help="one pack (default: all)")
    verify.set_defaults(func=cmd_models_verify)
    imp = inner.add_parser("import", help="validate a pack folder and copy it in")
    imp.add_argument("path", type=Path)
    imp.add_argument("--overwrite", action="store_true", help="replace a pack of that name")
    imp.set_defaults(func=cmd_models_import)


def cmd_models_list(args: argparse.Namespace) -> int:
    from engine.models import Registry

    registry = Registry()
    packs = registry.packs()
    if not packs:
        print("no model packs installed")
    for pack in packs:
        m = pack.manifest
        print(f"{m.name:28s} {m.task:18s} {m.version:8s} {pack.origin:8s} {m.title}")
    for folder, reason in registry.broken.items():
        print(f"{folder.name:28s} BROKEN: {reason}")
    print(f"(user folder: {registry.user})")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    from engine.models import Registry, verify_pack

    registry = Registry()
    packs = [registry.get(args.name)] if args.name else registry.packs()
    failures = 0
    for pack in packs:
        try:
            verify_pack(pack)
            print(f"ok      {pack.name} ({pack.origin})")
        except HeirloomError as exc:
            failures += 1
            print(f"FAILED  {pack.name}: {exc}", file=sys.stderr)
    if not args.name:
        for folder, reason in registry.broken.items():
            failures += 1
            print(f"FAILED  {folder.name}: {reason}", file=sys.stderr)
    if failures:
        return 2
    print(f"{len(packs)} pack(s) verified")
    return 0


def cmd_models_import(args: argparse.Namespace) -> int:
    from engine.models import Registry

    registry = Registry()
    pack = registry.import_pack(args.path, overwrite=args.overwrite)
    print(f"imported {pack.name} ({pack.manifest.task}) into {pack.path}")
    card = pack.card_path.read_text(encoding="utf-8").strip().splitlines()
    print("\n".join(card[:12]))
    return 0


# --- entry point ----------------------------------------------------------------


class _VersionAction(argparse.Action):
    """``--version``: version, commit, build date and variant (asks git only when used)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from engine.buildinfo import build_info

        print(build_info().line())
        parser.exit(0)


class _SelfTestAction(argparse.Action):
    """``--self-test``: every bundled pack and pipeline, and the GUI offscreen; exit 0 or 1."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from engine.selftest import run_self_test

        parser.exit(run_self_test())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="heirloom", description="Restore old photos, offline.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="what this build is")
    parser.add_argument(
        "--self-test", action=_SelfTestAction, nargs=0, help="check packs, pipelines and the GUI"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module, function in COMMANDS:
        add: Callable[[argparse._SubParsersAction], None] = getattr(
            importlib.import_module(module), function
        )
        add(sub)
    return parser


def command_names() -> set[str]:
    """The subcommands, so the packaged app's one executable can tell CLI from GUI use."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (a closed terminal, a killed batch) unwinds like Ctrl+C, so every
    half-written temporary file is removed on the way out."""
    raise KeyboardInterrupt


def _log_internal_error() -> str:
    """Write the traceback to a log file; returns where, or why it could not. Never raises."""
    details = traceback.format_exc()
    for folder in (Path(tempfile.gettempdir()), Path.home()):
        log = folder / "heirloom-error.log"
        try:
            with open(log, "w", encoding="utf-8") as handle:
                handle.write(details)
            return f"details in {log}"
        except Exception:  # noqa: BLE001, S112 - any failure: try the next folder
            continue
    return "the details could not be written to a log; run again with --debug"


BROKEN_PIPE = 141  # what a shell reports for a command ended by SIGPIPE, as `yes | head`


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush at exit does not fail
    on the closed pipe again and print a traceback."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return int(args.func(args) or 0)
    except HeirloomError as exc:
        print(f"heirloom: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `heirloom models list | head`: the reader had enough
        _silence_stdout()
        return BROKEN_PIPE
    except OSError as exc:  # a full disk, a read-only folder: the user can fix these
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"heirloom: error: {where}{os_error_reason(exc)}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Cancelled) as exc:
        note = str(exc) if isinstance(exc, Cancelled) and str(exc) else "no output was written"
        print(f"heirloom: interrupted; {note}", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a bug
        if args.debug:
            raise
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        print(f"heirloom: internal error: {first} ({_log_internal_error()})", file=sys.stderr)
        return 1
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
