"""Tests: the local settings, with real servers where the environment names them."""

import os
import tempfile

from .local import *  # noqa: F403
from .local import VAR_DIR, env

DEBUG = False
SECRET_KEY = "test-only-not-a-secret"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A run id keeps parallel test runs on one machine apart: each gets its own test database
# (and, through CELERY_QUEUE_NAMESPACE, its own queues). SQLite tests use a file, not an
# in-memory database, so that a worker subprocess sees what the test wrote.
TEST_RUN_ID = env("TEST_RUN_ID", default="")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(VAR_DIR / f"test-db{TEST_RUN_ID}.sqlite3")
    }
elif TEST_RUN_ID:
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": f"test_{DATABASES['default']['NAME']}_{TEST_RUN_ID}"  # noqa: F405
    }

MEDIA_ROOT = env("MEDIA_ROOT", default=tempfile.mkdtemp(prefix="media-test-"))
if STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):  # noqa: F405
    STORAGES["default"]["OPTIONS"]["location"] = str(MEDIA_ROOT)  # noqa: F405
os.makedirs(MEDIA_ROOT, exist_ok=True)

MAILERS = {"default": mailer_from_url(env("EMAIL_URL", default="memory:"))}  # noqa: F405

# Hundreds of uploads by one test user within minutes (the fault and cluster cases): no
# upload rate by default here; the cases of the limits set their own.
UPLOAD_RATE_LIMIT = env("UPLOAD_RATE_LIMIT", default="")
