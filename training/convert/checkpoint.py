"""Loading official checkpoints all-or-nothing, with errors that name the keys.

A converter must never ship a half-loaded net: a missing, unexpected or mis-shaped
key stops the conversion with a :class:`CheckpointError` listing the offending keys.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from engine.errors import HeirloomError

_SHOWN = 8  # keys listed per kind before "and N more"


class CheckpointError(HeirloomError):
    """A checkpoint or model folder cannot be read or does not fit the architecture."""


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``torch.save``-d state_dict on the CPU, without running pickled code.

    The result is a plain dict: like the official pix2pix loader we drop the saved
    ``_metadata``, so BatchNorm accepts checkpoints from before ``num_batches_tracked``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"'{path.name}' is not a readable torch checkpoint ({first[:160]})"
        ) from None
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise CheckpointError(f"'{path.name}' does not hold a plain state_dict of tensors")
    return dict(state)


def _listing(kind: str, keys: list[str]) -> str:
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return f"{kind}: {', '.join(keys[:_SHOWN])}{more}"


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module`` only if every key and shape matches exactly.

    ``num_batches_tracked`` may be absent (pre-0.4 checkpoints; it is a counter, not a
    weight). Anything else missing, extra or of another shape raises
    :class:`CheckpointError` naming those keys; ``module`` is then left untouched.
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = [
        _listing(kind, keys)
        for kind, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("wrong shapes (checkpoint vs net)", mismatched),
        )
        if keys
    ]
    if problems:
        raise CheckpointError(
            f"{source} does not match the {type(module).__name__} layout: " + "; ".join(problems)
        )
    module.load_state_dict(dict(state), strict=True)
