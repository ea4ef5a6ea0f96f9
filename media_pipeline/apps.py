"""App configuration for uploads and renditions."""

from django.apps import AppConfig


class MediaPipelineConfig(AppConfig):
    name = "media_pipeline"
    verbose_name = "Media pipeline"

    def ready(self):
        from . import checks  # noqa: F401 - registers the start-up checks
