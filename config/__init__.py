"""Project configuration. Importing the Celery app here binds shared tasks to it."""

from celery_app import app as celery_app

__all__ = ("celery_app",)
