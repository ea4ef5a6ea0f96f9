"""Start-up checks: the rendition settings and the imaging engine must work before any upload."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_renditions(app_configs=None, **kwargs):
    """MEDIA_RENDITIONS must parse, and MEDIA_IMAGE_ENGINE must be able to write its formats.

    Caught here (manage.py check, migrate on release, manage.py worker), a mistake stops the
    deploy instead of failing every upload the workers take.
    """
    from . import imaging
    from .services import rendition_specs

    try:
        specs = rendition_specs()
    except ValueError as error:
        return [
            Error(
                f"MEDIA_RENDITIONS / MEDIA_RENDITION_FORMATS: {error}",
                hint='Use "name:long edge" items, e.g. thumb:320,medium:1024, '
                "and formats among jpeg, webp, avif.",
                id="media_pipeline.E001",
            )
        ]
    try:
        # Without starting libvips: Celery runs these checks in the worker's main process,
        # which forks its pool afterwards (each pool process loads libvips as it starts).
        imaging.check_engine(settings.MEDIA_IMAGE_ENGINE, specs, load=False)
    except ValueError as error:
        return [
            Error(
                f"MEDIA_IMAGE_ENGINE={settings.MEDIA_IMAGE_ENGINE!r}: {error}",
                hint='Set MEDIA_IMAGE_ENGINE to "pillow" or "vips", and list only formats '
                "the engine can write.",
                id="media_pipeline.E002",
            )
        ]
    return []
