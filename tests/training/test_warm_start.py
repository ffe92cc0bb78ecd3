"""A new run can start from a shipped pack's weights, loaded strictly by name."""

from __future__ import annotations

import pytest
import torch

from engine.models import BUNDLED_DIR
from training.nets.unet import UNet
from training.train_scratch import WithSigmoid, make_net
from training.warm_start import load_pack_weights


def test_the_shipped_detector_loads_back_into_its_net():
    net = WithSigmoid(make_net())
    note = load_pack_weights(net, BUNDLED_DIR / "heirloom-scratch")
    assert note.startswith("heirloom-scratch ")
    fresh = WithSigmoid(make_net())
    differs = [k for k, v in net.state_dict().items() if not torch.equal(v, fresh.state_dict()[k])]
    assert differs  # the weights were replaced, not left at their random start
    with torch.no_grad():
        prob = net(torch.rand(1, 1, 64, 64))
    assert prob.shape == (1, 1, 64, 64) and 0.0 <= float(prob.min()) <= float(prob.max()) <= 1.0


def test_a_net_of_another_shape_is_refused_with_the_keys():
    wider = WithSigmoid(UNet(in_ch=1, out_ch=1, base=24, levels=4))
    with pytest.raises(ValueError, match="mis-shaped"):
        load_pack_weights(wider, BUNDLED_DIR / "heirloom-scratch")
