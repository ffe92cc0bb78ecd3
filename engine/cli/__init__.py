"""The ``heirloom`` command: one module per subcommand, registered in :data:`COMMANDS`.

Every command module has the protocol the checkpoint converters in
``training/convert`` use: ``HELP`` (one line), ``add_arguments(parser)`` for its own
options and ``run(args)`` returning the exit code. This package is the top layer of
the engine (cli > pipelines > ops > core, checked by import-linter): nothing below
imports it.

Exit codes: 0 success, 2 bad input (one line on stderr, never a traceback), 1 an
unexpected internal error (one line plus where the details went), 130 interrupted,
141 (quietly) when the reader of a pipe stops early.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from types import ModuleType

from engine.errors import Cancelled, HeirloomError
from engine.files import os_error_reason

# subcommand -> module; a new command is one module and one line here.
COMMANDS: dict[str, str] = {
    "info": "engine.cli.info",
    "models": "engine.cli.models",
    "detect-scratches": "engine.cli.detect_scratches",
    "restore": "engine.cli.restore",
    "edges": "engine.cli.edges",
    "sketch": "engine.cli.sketch",
    "upscale": "engine.cli.upscale",
    "fill": "engine.cli.fill",
    "colorize": "engine.cli.colorize",
    "diffuse": "engine.cli.diffuse",
    "batch": "engine.cli.batch",
}


class Parser(argparse.ArgumentParser):
    """Errors are one line and exit 2, like every other error; commands with their own
    subcommands (``models``, ``diffuse``) make their inner parsers of this class too."""

    def error(self, message: str) -> None:
        self.exit(2, f"heirloom: error: {message}\n")


def command(name: str) -> ModuleType:
    """The module of subcommand ``name``: ``HELP``, ``add_arguments(parser)``, ``run(args)``."""
    return importlib.import_module(COMMANDS[name])


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
    parser = Parser(prog="heirloom", description="Restore old photos, offline.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="what this build is")
    parser.add_argument(
        "--self-test", action=_SelfTestAction, nargs=0, help="check packs, pipelines and the GUI"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        module = command(name)
        inner = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(inner)
        inner.set_defaults(run=module.run)
    return parser


def command_names() -> set[str]:
    """The subcommands, so the packaged app's one executable can tell CLI from GUI use."""
    return set(COMMANDS)


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
        return int(args.run(args) or 0)
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
