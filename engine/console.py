"""Moved to :mod:`engine.cli.console`; this alias keeps engine.diffusion_cli importing
until it moves into the package (issue 18)."""

import sys

from engine.cli import console as _moved

sys.modules[__name__] = _moved
