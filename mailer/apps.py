"""App configuration for the transactional email outbox."""

from django.apps import AppConfig


class MailerConfig(AppConfig):
    name = "mailer"
    verbose_name = "Outgoing email"

    def ready(self) -> None:
        # Celery's autodiscovery imports mailer.tasks only; the digest tasks live apart.
        from mailer import digest_tasks  # noqa: F401
