"""Settings of the upload benchmark's gunicorn: the local ones, the bench URLs, no debug.

The benchmark sets DATABASE_URL (a throwaway database), BROKER_URL, CELERY_QUEUE_NAMESPACE
(throwaway queues), MEDIA_ROOT and VAR_DIR (a temporary folder) in the environment.
"""

from config.settings.local import *  # noqa: F403

# As in production: no debug page, no SQL query log growing with every request.
DEBUG = False
# The product's URLs plus the two baseline views, which never appear in config.urls.
ROOT_URLCONF = "bench.urls"
# Static files are not served in the measured requests; skip the per-request file lookup.
WHITENOISE_AUTOREFRESH = False
# Thousands of uploads by one user in minutes: the limits stay in the measured path (their
# query and upsert), set where the benchmark never reaches them.
UPLOAD_RATE_LIMIT = "1000000/h"
UPLOAD_QUOTA_BYTES = 10**15
# Every client of a benchmark logs in from 127.0.0.1, at once.
LOGIN_RATE_LIMIT = LOGIN_USER_RATE_LIMIT = "1000000/h"
