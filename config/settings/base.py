"""Settings shared by every environment. Every value that varies comes from the environment."""

from pathlib import Path

import environ
from django.utils.csp import CSP

from config.broker import broker_transport_options
from config.email_url import email_url_from_environ, mailer_from_url

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()

# Where the embedded default keeps its database, queue folders, media and mail.
VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SITE_NAME = env("SITE_NAME", default="Media service")
# The public address, for links in emails (no trailing slash). Production requires it
# (production.py); `make run` sets it to the address it serves on.
SITE_URL = env("SITE_URL", default="http://localhost:8000").rstrip("/")

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_results",
    "core",
    "accounts",
    "media_pipeline",
    "mailer",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "core.background.BackgroundWorkMiddleware",
    "media_pipeline.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASE: DATABASE_URL, e.g. postgres://user:pass@host:5432/name
# ------------------------------------------------------------------------------
CONN_HEALTH_CHECKS = True


def database_from_url(url: str) -> dict:
    """One DATABASES entry from a URL; SQLite gets WAL so web and workers can share it."""
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        config["OPTIONS"] = {
            # WAL lets readers proceed while a worker writes; IMMEDIATE takes the write
            # lock at BEGIN so concurrent writers wait (busy timeout) instead of failing.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        config["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
    return config


# AUTH
# ------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "media_pipeline:home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# STATIC AND MEDIA
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Media host: S3-compatible object storage when MEDIA_S3_BUCKET is set, local files
# otherwise. Renditions have deterministic names, so storage must overwrite on save.
MEDIA_S3_BUCKET = env("MEDIA_S3_BUCKET", default="")


def media_storage() -> dict:
    """The STORAGES["default"] entry: S3 when a bucket is configured, else MEDIA_ROOT."""
    if MEDIA_S3_BUCKET:
        # https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
        return {
            "BACKEND": "media_pipeline.storage.MediaS3Storage",
            "OPTIONS": {
                "bucket_name": MEDIA_S3_BUCKET,
                "endpoint_url": env("MEDIA_S3_ENDPOINT_URL", default=None),
                "region_name": env("MEDIA_S3_REGION", default=None),
                "access_key": env("AWS_ACCESS_KEY_ID", default=None),
                "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
                "addressing_style": env("MEDIA_S3_ADDRESSING_STYLE", default="path"),
                "custom_domain": env("MEDIA_CDN_DOMAIN", default=None),
                # Private objects, reached through short-lived signed URLs, unless a
                # public CDN domain serves them.
                "default_acl": None,
                "querystring_auth": not env("MEDIA_CDN_DOMAIN", default=""),
                "querystring_expire": env.int("MEDIA_URL_EXPIRE_SECONDS", default=3600),
                "file_overwrite": True,
                # A worker reading a large original spools it to disk above this size.
                "max_memory_size": 16 * 1024 * 1024,
            },
        }
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "allow_overwrite": True},
    }


# Where browsers fetch media from: the page's CSP must allow it.
MEDIA_HOSTS = [
    host
    for host in (
        env("MEDIA_CDN_DOMAIN", default="") and f"https://{env('MEDIA_CDN_DOMAIN')}",
        MEDIA_S3_BUCKET and env("MEDIA_S3_ENDPOINT_URL", default="https://*.amazonaws.com"),
    )
    if host
]

STORAGES = {
    "default": media_storage(),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# UPLOADS
# ------------------------------------------------------------------------------
MEDIA_MAX_UPLOAD_BYTES = env.int("MEDIA_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
MEDIA_MAX_PIXELS = env.int("MEDIA_MAX_PIXELS", default=64_000_000)
MEDIA_MAX_DIMENSION = env.int("MEDIA_MAX_DIMENSION", default=12_000)
MEDIA_MAX_TOTAL_PIXELS = env.int("MEDIA_MAX_TOTAL_PIXELS", default=256_000_000)
# Renditions, "name:long edge" each, and their formats (jpeg, webp, avif). Empty: the
# defaults, thumb 320, medium 1024 and large 2048, in JPEG and WebP.
MEDIA_RENDITIONS = env.list("MEDIA_RENDITIONS", default=[])
MEDIA_RENDITION_FORMATS = env.list("MEDIA_RENDITION_FORMATS", default=["jpeg", "webp"])
# What makes the renditions: "vips" (libvips, installed with the requirements: faster on
# phone-size photos, sharper, less memory; see `make bench`) or "pillow". Both accept and
# refuse the same files and write the same sizes and encodings.
MEDIA_IMAGE_ENGINE = env("MEDIA_IMAGE_ENGINE", default="vips")
# Claims of one upload before it ends `failed` (a worker killed by it each time), and
# retries of transient errors (storage or database away) with exponential backoff.
MEDIA_MAX_ATTEMPTS = env.int("MEDIA_MAX_ATTEMPTS", default=5)
MEDIA_MAX_RETRIES = env.int("MEDIA_MAX_RETRIES", default=6)
MEDIA_RETRY_BACKOFF_SECONDS = env.float("MEDIA_RETRY_BACKOFF_SECONDS", default=2.0)
# Seconds a worker may hold an upload in `processing` before the sweep hands it out again.
MEDIA_PROCESSING_LEASE = env.int("MEDIA_PROCESSING_LEASE", default=600)
# Placeholder (ThumbHash, dominant colour) and perceptual hash taken at upload time; an
# upload within MEDIA_DUPLICATE_DISTANCE differing bits of an earlier one is flagged.
MEDIA_PLACEHOLDERS = env.bool("MEDIA_PLACEHOLDERS", default=True)
MEDIA_DUPLICATE_DISTANCE = env.int("MEDIA_DUPLICATE_DISTANCE", default=8)
# The live page's event stream: how long one response lasts (the browser then reconnects;
# under sync workers it holds a thread that long) and how often it looks for changes.
MEDIA_EVENTS_STREAM_SECONDS = env.float("MEDIA_EVENTS_STREAM_SECONDS", default=30.0)
MEDIA_EVENTS_CHECK_SECONDS = env.float("MEDIA_EVENTS_CHECK_SECONDS", default=0.5)
# Uploads are streamed to disk above this size instead of being held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Direct uploads (an S3 media host only): the browser sends the file straight to the media
# host through presigned URLs (media_pipeline/direct.py), in parts of MEDIA_DIRECT_PART_BYTES
# (S3's least is 5 MB), each URL valid MEDIA_DIRECT_URL_EXPIRE_SECONDS; an unfinished upload
# is aborted by the sweep MEDIA_DIRECT_UPLOAD_EXPIRY seconds after it started.
MEDIA_DIRECT_MAX_UPLOAD_BYTES = env.int("MEDIA_DIRECT_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
MEDIA_DIRECT_PART_BYTES = env.int("MEDIA_DIRECT_PART_BYTES", default=5 * 1024 * 1024)
MEDIA_DIRECT_URL_EXPIRE_SECONDS = env.int("MEDIA_DIRECT_URL_EXPIRE_SECONDS", default=900)
MEDIA_DIRECT_UPLOAD_EXPIRY = env.int("MEDIA_DIRECT_UPLOAD_EXPIRY", default=24 * 3600)

# ABUSE LIMITS
# Attempts per client in a window, "count/window" with the window in s, m, h or d, and an
# optional number ("10/5m": 10 in 5 minutes). Empty: no limit. Counted in the database
# (core.ratelimit), so the limits hold across every web process and host.
# ------------------------------------------------------------------------------
UPLOAD_RATE_LIMIT = env("UPLOAD_RATE_LIMIT", default="120/h")  # files per user, API and page
SIGNUP_RATE_LIMIT = env("SIGNUP_RATE_LIMIT", default="10/h")  # sign-ups per IP address
LOGIN_RATE_LIMIT = env("LOGIN_RATE_LIMIT", default="30/10m")  # log-in attempts per IP address
LOGIN_USER_RATE_LIMIT = env("LOGIN_USER_RATE_LIMIT", default="10/10m")  # per user name
# The sum of a user's originals, in bytes; an upload that would pass it is refused. 0: none.
UPLOAD_QUOTA_BYTES = env.int("UPLOAD_QUOTA_BYTES", default=5 * 1024**3)
# Proxies in front of the web process that append the client's address to X-Forwarded-For
# (Heroku's router: 1). 0: the address is the connection's own (REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# EMAIL: EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587
# https://docs.djangoproject.com/en/6.1/topics/email/#mailers
# ------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Media service <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Without EMAIL_URL, the variables of Heroku's Mailgun or SendGrid add-on are used.
EMAIL_URL = email_url_from_environ(env.ENVIRON)
MAILERS = {"default": mailer_from_url(EMAIL_URL, base_dir=BASE_DIR)} if EMAIL_URL else {}
# Seconds a worker may hold an email in `sending` before the sweep hands it out again.
MAILER_SENDING_LEASE = env.int("MAILER_SENDING_LEASE", default=300)
# Attempts per message (temporary failures), after which it ends `failed`.
MAILER_MAX_ATTEMPTS = env.int("MAILER_MAX_ATTEMPTS", default=6)
# The first retry waits about this long, each next one twice as long (with jitter).
MAILER_RETRY_BACKOFF_SECONDS = env.float("MAILER_RETRY_BACKOFF_SECONDS", default=2.0)
# Send rate of each email worker (all its processes together), in Celery's notation
# ("10/s", "600/m"): providers throttle senders. Empty: no limit.
MAILER_RATE_LIMIT = env("MAILER_RATE_LIMIT", default="") or None
# Upload notifications chosen as a digest: one message per owner for a batch, the uploads
# that finished less than this many seconds apart; sent at most this long after the first.
MAILER_DIGEST_WINDOW_SECONDS = env.float("MAILER_DIGEST_WINDOW_SECONDS", default=300.0)
MAILER_DIGEST_MAX_WAIT_SECONDS = env.float("MAILER_DIGEST_MAX_WAIT_SECONDS", default=1800.0)
# A sign-up's address confirmation link: how long it works, and at most one message per
# address this often however often "send again" is pressed.
ACCOUNTS_CONFIRM_MAX_AGE = env.int("ACCOUNTS_CONFIRM_MAX_AGE", default=3 * 24 * 3600)
ACCOUNTS_CONFIRM_THROTTLE_SECONDS = env.int("ACCOUNTS_CONFIRM_THROTTLE_SECONDS", default=600)
# Queued messages one email task may claim and send together on its connection (1: one
# each). A rate limit sends one per task. Why and what it buys: mailer/sending.py.
MAILER_BATCH_SIZE = env.int("MAILER_BATCH_SIZE", default=25)

# CELERY
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ------------------------------------------------------------------------------
# BROKER_URL names the broker; Heroku's CloudAMQP add-on sets CLOUDAMQP_URL instead.
CELERY_BROKER_URL = env("BROKER_URL", default="") or env("CLOUDAMQP_URL", default="")
# Redis only: seconds before a message taken by a worker that died is handed out again.
# Above the hard time limit, or a slow task would run twice.
REDIS_VISIBILITY_TIMEOUT = env.int("REDIS_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    broker_transport_options(
        CELERY_BROKER_URL, var_dir=VAR_DIR, redis_visibility_timeout=REDIS_VISIBILITY_TIMEOUT
    )
    if CELERY_BROKER_URL
    else {}
)
# A dead broker must cost a request about a second, never a hang: short connect timeout,
# bounded publish retries. Work that could not be published is republished by the sweep.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_HEARTBEAT = 30
CELERY_BROKER_POOL_LIMIT = 10
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
# Acknowledge after the task ran, and give the message back if the worker process dies:
# every task here is idempotent, so a redelivery is safe and a lost message is not.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tasks a worker process runs on one Postgres connection (Celery's Django fixup closes it
# around every task unless this is set); checked and aged (CONN_MAX_AGE) before each task by
# mailer.tasks. The email worker sets it (Procfile): its tasks are a few quick queries, and
# opening a connection cost as much as they did. Unset: a new connection for every task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=0) or None
# Well below RabbitMQ's 30-minute consumer (delivery-ack) timeout.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_TRACK_STARTED = True
# Events for Flower.
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# A pool process whose resident memory grew past this (KB) is replaced after its task, so
# a worker stays inside its dyno's memory (README: measured peaks and dyno sizes). 0: never.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = (
    env.int("WORKER_MAX_MEMORY_PER_CHILD_KB", default=400_000) or None
)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The sweeps republish work whose message was never published or whose worker died:
# a row still `queued` with no publish UNPUBLISHED_GRACE_SECONDS after it was written (the
# broker was down, or the web process died before on_commit ran); a row published
# REPUBLISH_AFTER_SECONDS ago and still unclaimed (its message was lost); a row claimed
# longer ago than its lease (its worker died and nothing redelivered it).
UNPUBLISHED_GRACE_SECONDS = env.int("UNPUBLISHED_GRACE_SECONDS", default=10)
REPUBLISH_AFTER_SECONDS = env.int("REPUBLISH_AFTER_SECONDS", default=600)
SWEEP_INTERVAL_SECONDS = env.float("SWEEP_INTERVAL_SECONDS", default=30.0)
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-uploads": {
        "task": "media_pipeline.tasks.sweep_stale_uploads",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    "sweep-stale-emails": {
        "task": "mailer.tasks.sweep_stale_emails",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    "close-due-digests": {
        "task": "mailer.digest_tasks.close_due_digests",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    # Unfinished direct uploads past MEDIA_DIRECT_UPLOAD_EXPIRY: hourly is plenty.
    "sweep-direct-uploads": {
        "task": "media_pipeline.tasks.sweep_direct_uploads",
        "schedule": env.float("DIRECT_SWEEP_INTERVAL_SECONDS", default=3600.0),
        "options": {"expires": 600},
    },
}
# Judoscale's add-on sets JUDOSCALE_URL: beat then reports the queue ages every 10 s.
JUDOSCALE_URL = env("JUDOSCALE_URL", default="")
if JUDOSCALE_URL:
    CELERY_BEAT_SCHEDULE["report-queue-age"] = {
        "task": "ops.tasks.report_queue_age",
        "schedule": 10.0,
        "options": {"expires": 10.0},
    }

# OPERATIONS
# ------------------------------------------------------------------------------
# GET /metrics (Prometheus) answers only with this token (Bearer, or basic auth's
# password); unset, /metrics does not exist.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# HireFire polls /hirefire/<HIREFIRE_TOKEN>/info; unset, that endpoint does not exist.
HIREFIRE_TOKEN = env("HIREFIRE_TOKEN", default="")

# FLOWER (reads FLOWER_BASIC_AUTH="user:password" from the environment itself)
# ------------------------------------------------------------------------------
FLOWER_PORT = env.int("FLOWER_PORT", default=5555)

# SECURITY
# ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the upload page's script reads it for the API
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", "blob:", *MEDIA_HOSTS, *env.list("CSP_IMG_HOSTS", default=[])],
    # Direct uploads send the file from the page straight to the media host.
    "connect-src": [CSP.SELF, *MEDIA_HOSTS],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(processName)s: %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": env("LOG_LEVEL", default="INFO")},
        # One logfmt line per state change of an upload or email (core.statelog).
        "state": {"level": "INFO"},
    },
}
