"""Production (Heroku, containers): every secret and server must be named; nothing embedded."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    BASE_DIR,
    REDIS_VISIBILITY_TIMEOUT,
    VAR_DIR,
    broker_transport_options,
    database_from_url,
    env,
)


def required(name: str, hint: str) -> str:
    """The variable's value, or a start-up failure that says what is missing and why."""
    value = env(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set {name}: {hint}")
    return value


DEBUG = False
SECRET_KEY = required("DJANGO_SECRET_KEY", "a long random string that signs sessions.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set DJANGO_ALLOWED_HOSTS: the host names this site answers to.")


def site_url() -> str:
    """The public address for links in emails: SITE_URL, or the app's Heroku domain.

    Heroku's dyno metadata (`heroku labs:enable runtime-dyno-metadata`) names the app's own
    domain in HEROKU_APP_DEFAULT_DOMAIN_NAME, which is where the app answers. The first of
    DJANGO_ALLOWED_HOSTS is not taken: that list may hold several names, wildcards or
    internal ones, and its order says nothing about which one users should be sent to.
    """
    url = env("SITE_URL", default="")
    if not url and env("HEROKU_APP_DEFAULT_DOMAIN_NAME", default=""):
        url = f"https://{env('HEROKU_APP_DEFAULT_DOMAIN_NAME')}"
    if not url:
        raise ImproperlyConfigured(
            "Set SITE_URL: the public address that links in emails point to, e.g. "
            "https://media.example.com (on Heroku, enabling runtime-dyno-metadata "
            "supplies the app's herokuapp.com domain instead)."
        )
    if not url.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"SITE_URL {url!r} must start with https:// or http://.")
    return url.rstrip("/")


SITE_URL = site_url()

DATABASES = {"default": database_from_url(required("DATABASE_URL", "the Postgres URL."))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("DATABASE_URL names SQLite; production needs a database server.")

CELERY_BROKER_URL = env("BROKER_URL", default="") or env("CLOUDAMQP_URL", default="")
if not CELERY_BROKER_URL:
    raise ImproperlyConfigured("Set BROKER_URL (or add CloudAMQP, which sets CLOUDAMQP_URL).")
if CELERY_BROKER_URL.startswith(("filesystem", "memory")):
    raise ImproperlyConfigured(f"BROKER_URL {CELERY_BROKER_URL!r} is for development only.")
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(
    CELERY_BROKER_URL, var_dir=VAR_DIR, redis_visibility_timeout=REDIS_VISIBILITY_TIMEOUT
)

if not EMAIL_URL:  # noqa: F405 (EMAIL_URL falls back to Heroku's Mailgun or SendGrid add-on)
    raise ImproperlyConfigured(
        "Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587 "
        "(or add Heroku's Mailgun or SendGrid add-on)."
    )
MAILERS = {"default": mailer_from_url(EMAIL_URL, base_dir=BASE_DIR)}  # noqa: F405

if not MEDIA_S3_BUCKET and not env.bool("MEDIA_ALLOW_LOCAL_FILES", default=False):  # noqa: F405
    raise ImproperlyConfigured(
        "Set MEDIA_S3_BUCKET (and MEDIA_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY): a dyno's disk is lost on restart. "
        "Set MEDIA_ALLOW_LOCAL_FILES=true only for a host with a persistent volume."
    )

# The client's address for the rate limits: Heroku's router appends it to X-Forwarded-For.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)

# HTTPS behind the platform's router.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Preloading HSTS into browsers is a lasting promise of HTTPS for every subdomain: opt in
# with DJANGO_SECURE_HSTS_PRELOAD=true once DJANGO_SECURE_HSTS_SECONDS is a year or more.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
