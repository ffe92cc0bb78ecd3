"""PyInstaller entry script: one executable for the app, the CLI and the self-test.

Heirloom [PHOTO]               the desktop app (as `heirloom-gui`)
Heirloom restore IN -o OUT     any `heirloom` command, --version included
Heirloom --self-test           packs, pipelines and the window offscreen; exit 0 or 1
"""

import multiprocessing
import sys

from engine import cli

multiprocessing.freeze_support()  # `Heirloom batch` workers re-enter here, frozen
args = sys.argv[1:]
if args[:1] == ["--self-test"]:  # in process: there is no `python -m gui.selftest` here
    from engine.selftest import run_self_test
    from gui.app import exit_now
    from gui.selftest import open_window

    exit_now(run_self_test(gui_check=open_window))
elif args[:1] in (["--version"], ["--debug"]) or (args and args[0] in cli.command_names()):
    sys.exit(cli.main(args))
else:
    from gui.app import main

    main()
