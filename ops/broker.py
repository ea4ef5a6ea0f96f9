"""What only the broker knows: messages waiting and consumers, per queue.

A passive declare asks without creating or touching anything: RabbitMQ answers with the
queue's message and consumer counts; kombu's virtual transports (Redis: LLEN; the
filesystem transport: files in the folder) answer with the message count and no consumer
count. A queue that does not exist yet holds nothing.
"""

import contextlib
import logging

from celery_app import QUEUES, app, queue_name

log = logging.getLogger(__name__)


def queue_stats(
    kinds=QUEUES, *, timeout: float = 2.0, broker_url: str | None = None
) -> dict[str, dict] | None:
    """{kind: {"queue", "messages", "consumers"}} for each kind of work, or None if the
    broker cannot be reached (within about `timeout` seconds).

    Uses the process's connection pool (a scrape opens no new connection), or a connection
    of its own to `broker_url`.
    """
    try:
        connection = (
            app.connection_for_read(broker_url)
            if broker_url
            else app.pool.acquire(block=True, timeout=timeout)
        )
        with connection as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            return {kind: _declare_passive(conn, queue_name(kind)) for kind in kinds}
    except Exception as error:  # any failure means "broker unknown now"; scrape goes on
        log.warning("Broker queue stats unavailable: %r", error)
        return None


def _declare_passive(conn, name: str) -> dict:
    channel = conn.channel()
    try:
        _, messages, consumers = channel.queue_declare(queue=name, passive=True)
    except conn.channel_errors:  # not declared yet: nothing waits in it
        messages, consumers = 0, 0
    finally:
        with contextlib.suppress(Exception):  # a channel the broker's 404 closed is gone
            channel.close()
    virtual = getattr(conn.transport, "driver_type", "") in ("redis", "filesystem")
    return {"queue": name, "messages": messages, "consumers": None if virtual else consumers}
