"""Start-up checks of the rendition settings and the imaging engine."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


@pytest.mark.parametrize("engine", ["pillow", "vips"])
def test_both_engines_pass_the_checks(engine, settings):
    settings.MEDIA_IMAGE_ENGINE = engine
    call_command("check")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"MEDIA_IMAGE_ENGINE": "magick"}, "unknown imaging engine 'magick'"),
        ({"MEDIA_RENDITIONS": ["thumb:wide"]}, "MEDIA_RENDITIONS"),
        ({"MEDIA_RENDITIONS": ["thumb:320"], "MEDIA_RENDITION_FORMATS": ["gif"]}, "'gif'"),
    ],
)
def test_a_bad_setting_stops_start_up_with_its_name(overrides, message, settings):
    for name, value in overrides.items():
        setattr(settings, name, value)
    with pytest.raises(SystemCheckError, match=message):
        call_command("check")


def test_an_engine_that_is_not_installed_stops_start_up(settings, monkeypatch):
    monkeypatch.setattr("media_pipeline.imaging.vips.available", lambda: False)
    settings.MEDIA_IMAGE_ENGINE = "vips"
    with pytest.raises(SystemCheckError, match="media_pipeline.E002.*needs pyvips"):
        call_command("check")
