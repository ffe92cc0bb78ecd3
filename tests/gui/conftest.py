"""GUI fixtures (``home`` and ``window`` are in tests/conftest.py, shared with the fault suite)."""

from __future__ import annotations

import pytest

import graphs


@pytest.fixture
def helpers():
    """tests/graphs.py: builders of tiny real ONNX graphs and packs."""
    return graphs


@pytest.fixture
def press(qtbot):  # noqa: ANN001 - qtbot: pytest-qt
    """``press(window, key, modifier)``: a key press as the user makes it, into the
    active window, where the window's shortcuts live."""
    from PySide6.QtCore import Qt

    def press_key(window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:  # noqa: ANN001
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        qtbot.keyClick(window, key, modifier)

    return press_key
