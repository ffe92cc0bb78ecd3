"""Finding the engine's pipeline functions, which land one module at a time.

The sketch and diffusion pipelines are written alongside the app (decision 0001 fixes
their names). A panel asks for a function here; when this build has none, the panel
disables its button and says why instead of failing at click time. Options are built
from the fields the pipeline's dataclass actually declares.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any


def function(name: str, *modules: str) -> Callable[..., Any] | None:
    """``engine.pipelines.<module>.<name>`` from the first module that has it."""
    for module in modules:
        try:
            found = importlib.import_module(f"engine.pipelines.{module}")
        except ImportError:
            continue
        if hasattr(found, name):
            return getattr(found, name)
    return None


def options(module: str, cls_name: str, **wanted: Any) -> Any:
    """An options dataclass filled with the ``wanted`` values it has fields for."""
    cls = function(cls_name, module)
    if cls is None:
        return None
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in wanted.items() if k in known and v is not None})


MISSING = "This build has no {what} pipeline yet; update Heirloom to use it."
