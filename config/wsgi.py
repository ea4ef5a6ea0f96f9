"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

from core.malloc import return_freed_memory_promptly

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Each gunicorn thread would otherwise get a malloc arena of its own that keeps what its
# requests freed (boto3 clients, upload buffers): capped at two arenas, with large blocks
# given back at once, a web process's peak stays flat under concurrent uploads.
return_freed_memory_promptly()
application = get_wsgi_application()
