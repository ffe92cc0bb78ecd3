"""Moved to :mod:`engine.ops.texture`; this alias keeps engine.pipelines.diffusion importing
until it is split into its package (issue 18)."""

import sys

from engine.ops import texture as _moved

sys.modules[__name__] = _moved
