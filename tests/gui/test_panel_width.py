"""Side panels fit their area: nothing is cut off on the right, whatever a pack is called."""

from __future__ import annotations


def test_every_panel_fits_beside_its_scroll_bar(window, qtbot):
    for index, panel in enumerate(window.workspaces):
        window.tabs.setCurrentIndex(index)
        qtbot.wait(20)
        viewport = window.tabs.widget(index).viewport()
        assert panel.minimumSizeHint().width() <= viewport.width(), panel.title
        assert panel.width() <= viewport.width(), panel.title


def test_a_long_model_title_does_not_widen_the_sketch_panel(window, qtbot):
    panel = window.sketch
    window.tabs.setCurrentIndex(window.workspaces.index(panel))
    before = panel.minimumSizeHint().width()
    panel.model.addItem("A converted edges2shoes generator with a very long title " * 3, "x")
    qtbot.wait(20)
    assert panel.minimumSizeHint().width() == before
    assert panel.width() <= window.tabs.currentWidget().viewport().width()
    panel.model.showPopup()  # the open list still shows the whole title
    qtbot.wait(20)
    assert panel.model.view().width() > panel.model.width()
    panel.model.hidePopup()
