"""Development: the embedded default (no server needed) unless the environment names one."""

from .base import *  # noqa: F403
from .base import (
    BASE_DIR,
    REDIS_VISIBILITY_TIMEOUT,
    VAR_DIR,
    broker_transport_options,
    database_from_url,
    env,
)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-only-not-a-secret")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# SQLite in WAL mode under var/ unless DATABASE_URL names a server.
DATABASES = {
    "default": database_from_url(env("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"))
}

# kombu's filesystem transport under var/ unless BROKER_URL (or CLOUDAMQP_URL) names one.
CELERY_BROKER_URL = (
    env("BROKER_URL", default="") or env("CLOUDAMQP_URL", default="") or "filesystem://localhost//"
)
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(
    CELERY_BROKER_URL, var_dir=VAR_DIR, redis_visibility_timeout=REDIS_VISIBILITY_TIMEOUT
)

# Email is written to files under var/mail/, one per message, unless EMAIL_URL says otherwise.
MAILERS = {
    "default": mailer_from_url(  # noqa: F405
        EMAIL_URL or f"file://{VAR_DIR / 'mail'}", base_dir=BASE_DIR
    )
}

# Static files straight from the apps' folders, no collectstatic needed.
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
