"""The GUI half of the self-test opens and closes the real window, away from the user's files."""

import os

import pytest

from gui.selftest import open_window


@pytest.mark.gui
def test_the_window_opens_and_closes_without_touching_the_users_folder(qapp, home):
    detail = open_window(seconds=0.2)
    assert detail.startswith("window shown ") and " s after the process started, " in detail
    assert os.environ["HEIRLOOM_HOME"] == str(home)  # restored after the throwaway home
    assert not (home / "settings.ini").exists()


@pytest.mark.gui
def test_the_cli_self_test_opens_the_window_in_a_child_process(home):
    from engine.selftest import gui_subprocess

    assert gui_subprocess().startswith("window shown ")
