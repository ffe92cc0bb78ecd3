"""The Diffuse panel knows whether it can run before the user presses anything."""

from diffusion_graphs import eps_pack


def test_run_waits_for_a_diffusion_pack(window, qtbot, tmp_path):
    panel = window.diffuse
    window.tabs.setCurrentIndex(2)
    panel.mode.setCurrentIndex(panel.mode.findData("generate"))
    assert not panel.run.isEnabled()
    assert "Import a diffusion (ddpm-eps) pack" in panel.status.text()
    eps_pack(window.context.registry.user)  # the user imports one...
    window.tabs.setCurrentIndex(0)
    window.tabs.setCurrentIndex(2)  # ...and comes back to the panel
    assert panel.run.isEnabled()
