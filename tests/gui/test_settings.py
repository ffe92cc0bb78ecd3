"""Settings: defaults on first start, a round trip through the ini file, bad values."""

from __future__ import annotations

from gui.settings import SCHEMA_VERSION, Settings, load_settings, save_settings, settings_store


def test_defaults_round_trip_and_bad_values_fall_back(home):
    assert load_settings(settings_store()) == Settings()
    changed = Settings(
        device="cpu", tile_size=256, live_mode=False, scratch_threshold=0.3, restore_smoothing=0.4
    )
    changed.remember(home / "a.jpg")
    save_settings(changed, settings_store())
    assert (home / "settings.ini").exists()
    assert load_settings(settings_store()) == changed

    store = settings_store()
    store.setValue("device", "quantum")
    store.setValue("tile_size", "huge")
    store.setValue("restore_smoothing", 7.5)
    store.sync()
    loaded = load_settings(settings_store())
    assert loaded.device == "auto" and loaded.tile_size == Settings().tile_size
    assert loaded.scratch_threshold == 0.3  # the valid values are kept
    assert loaded.restore_smoothing == 1.0  # out of range: clamped
    store.setValue("schema", SCHEMA_VERSION + 1)
    store.sync()
    assert load_settings(settings_store()) == Settings()  # a newer schema is not guessed at


def test_the_default_sensitivity_is_the_detectors_own_operating_point(heirloom_home):
    """The app and `heirloom restore` mark the same damage until the user moves the slider."""
    from engine.models import Registry

    pack = Registry().for_task("scratch-detect")
    assert Settings().scratch_threshold == round(pack.manifest.options["threshold"], 2)
