"""Start-up checks of the rendition settings and the imaging engine."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

ROOT = Path(__file__).resolve().parents[2]


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
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "pyvips" else real_find_spec(name, *args),
    )
    settings.MEDIA_IMAGE_ENGINE = "vips"
    with pytest.raises(SystemCheckError, match="media_pipeline.E002.*needs pyvips"):
        call_command("check")


def test_the_checks_do_not_start_libvips():
    """Celery runs the checks in the worker's main process before it forks the pool: libvips
    must start in each pool process, not in the parent."""
    code = (
        "import sys, django; django.setup(); "
        "from django.core.management import call_command; call_command('check'); "
        "print('pyvips loaded' if 'pyvips' in sys.modules else 'pyvips not loaded')"
    )
    env = {
        **os.environ,
        "MEDIA_IMAGE_ENGINE": "vips",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pyvips not loaded" in result.stdout
