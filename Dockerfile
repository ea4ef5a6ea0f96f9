# syntax=docker/dockerfile:1
# The production image: the runtime requirements only (requirements/production.txt), run
# as a non-root user, static files collected at build, gunicorn serving the web process.
#
#   docker build -t media-service .
#   docker run --env-file .env -p 127.0.0.1:8000:8000 media-service          # web
#
# The same image runs every process of the Procfile, with the same commands:
#   python manage.py migrate --noinput                                       # release
#   python manage.py worker media --concurrency=2                            # worker-media
#   python manage.py worker email default --concurrency=2                    # worker-email
#   celery -A celery_app beat --loglevel=INFO --schedule=/app/var/celerybeat-schedule
#   celery -A celery_app flower --port=5555 --address=0.0.0.0                # needs FLOWER_BASIC_AUTH
# `manage.py worker` consumes the queues under CELERY_QUEUE_NAMESPACE, as the publisher does.
# Configuration comes from the environment only (README, "Configuration"). The `dev` stage
# adds requirements/local.txt for docker-compose.override.yml.

FROM python:3.13-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN useradd --create-home --uid 10001 --user-group app
WORKDIR /app

FROM base AS build
COPY requirements/base.txt requirements/production.txt requirements/
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir -r requirements/production.txt

FROM build AS dev
COPY requirements/local.txt requirements/
RUN pip install --no-cache-dir -r requirements/local.txt
ENV DJANGO_SETTINGS_MODULE=config.settings.local VAR_DIR=/app/var
RUN mkdir -p /app/var && chown app:app /app/var
USER app
CMD ["python", "manage.py", "runserver", "0.0.0.0:8000"]

FROM base AS production
COPY --from=build /opt/venv /opt/venv
# The code stays root's (read-only to the app); only var/ (the beat schedule, local media
# when there is no S3 bucket) is the app user's.
COPY . .
ENV DJANGO_SETTINGS_MODULE=config.settings.production \
    VAR_DIR=/app/var \
    PORT=8000 \
    WEB_CONCURRENCY=2
# Production settings refuse to load without their servers and secrets: collectstatic needs
# none of them, so it gets placeholders that exist only in this build step.
RUN DJANGO_SECRET_KEY=collectstatic-only DJANGO_ALLOWED_HOSTS=localhost SITE_URL=https://build.invalid \
    DATABASE_URL=postgres://build@localhost/build BROKER_URL=amqp://build@localhost// \
    EMAIL_URL=console: MEDIA_ALLOW_LOCAL_FILES=true \
    python manage.py collectstatic --noinput
RUN mkdir -p /app/var && chown app:app /app/var
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "scripts/healthcheck"]
# gunicorn's worker count: WEB_CONCURRENCY (2 above), as on Heroku.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--threads", "4", "--timeout", "30", "--access-logfile", "-"]
