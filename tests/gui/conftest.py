"""GUI fixtures (``home`` and ``window`` are in tests/conftest.py, shared with the fault suite)."""

from __future__ import annotations

import pytest

import graphs


@pytest.fixture
def helpers():
    """tests/graphs.py: builders of tiny real ONNX graphs and packs."""
    return graphs
