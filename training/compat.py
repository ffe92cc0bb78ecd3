"""Importing spandrel and diffusers where torchvision's compiled ops do not match torch.

spandrel imports torchvision for two pure-Python transforms (``rotate`` for LaMa,
``normalize`` for RestoreFormer), and diffusers imports it whenever it is installed.
torchvision's ``__init__`` also imports
``torchvision._meta_registrations``, which registers fake kernels for its compiled ops
(``torchvision::nms``, ...); when those ops did not load, because the installed
torchvision wheel was built against another torch (a CPU torch beside a CUDA
torchvision, as on some of our build machines), that registration raises and the whole
package fails to import. Everything spandrel needs is plain Python, so in exactly that
case we register an empty ``torchvision._meta_registrations`` and import again. With a
matching torch/torchvision pair the first import succeeds and nothing is patched.
Code that imports spandrel or diffusers calls :func:`import_spandrel` or
:func:`import_torchvision` first.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from types import ModuleType

META = "torchvision._meta_registrations"


def _forget_torchvision() -> None:
    """Drop the half-imported package so the second import starts clean."""
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]


def import_torchvision() -> ModuleType | None:
    """torchvision, without its compiled ops' fake kernels when those ops cannot load
    (None when it is not installed: diffusers then does without it)."""
    if importlib.util.find_spec("torchvision") is None:
        return None
    try:
        import torchvision
    except RuntimeError as exc:  # "operator torchvision::nms does not exist"
        if "torchvision::" not in str(exc):
            raise
        _forget_torchvision()
        sys.modules[META] = types.ModuleType(META)
        import torchvision
    return torchvision


def import_spandrel() -> ModuleType:
    """spandrel, imported through :func:`import_torchvision`: every use goes through here.

    When ``spandrel-extra-arches`` is installed its architectures (CodeFormer, DDColor,
    ...) are registered too; they are a separate package because of their licences.
    """
    import_torchvision()
    import spandrel

    try:
        import spandrel_extra_arches
    except ImportError:
        return spandrel
    spandrel_extra_arches.install(ignore_duplicates=True)  # idempotent
    return spandrel
