"""Continue training from a shipped pack: its ONNX initializers back into the torch net.

Our exporters keep parameter names (``net.stem.0.weight`` ...), so a pack's graph holds
every tensor of the module it was exported from. Loading is strict, like the checkpoint
converters: a missing, extra or mis-shaped tensor is an error that lists them, never a
silently half-initialised net.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import torch
from onnx import numpy_helper
from torch import nn

from engine.models import MODEL_FILE, read_pack


def load_pack_weights(module: nn.Module, pack_dir: Path) -> str:
    """Copy the pack's weights into ``module`` (the exported wrapper); returns a provenance
    line naming the pack, its version and how it was trained."""
    pack = read_pack(Path(pack_dir))
    graph = onnx.load(str(pack.path / MODEL_FILE))
    weights = {t.name: numpy_helper.to_array(t) for t in graph.graph.initializer}
    state = module.state_dict()
    missing = [k for k in state if k not in weights]
    wrong = [k for k in state if k in weights and tuple(weights[k].shape) != tuple(state[k].shape)]
    if missing or wrong:
        raise ValueError(
            f"{pack.name} does not fit this net: missing {missing[:8]}, mis-shaped {wrong[:8]}"
        )
    module.load_state_dict({k: torch.from_numpy(weights[k].copy()) for k in state})
    trained = pack.manifest.provenance
    return (
        f"{pack.name} {pack.manifest.version} ({trained.get('steps', '?')} steps, "
        f"{trained.get('minutes', '?')} min)"
    )
