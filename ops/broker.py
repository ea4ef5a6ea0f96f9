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
    except conn.channel_errors:  # not declared yet, or deleted: nothing waits in it
        messages, consumers = 0, 0
        _redeclare(conn, name)
    finally:
        with contextlib.suppress(Exception):  # a channel the broker's 404 closed is gone
            channel.close()
    virtual = getattr(conn.transport, "driver_type", "") in ("redis", "filesystem")
    return {"queue": name, "messages": messages, "consumers": None if virtual else consumers}


def _redeclare(conn, name: str) -> None:
    """Declare a queue of ours that is missing (deleted, or its broker restarted without
    it), so that what is published to it again is routed into it, not dropped by the
    exchange. Idempotent: on Redis an empty queue is simply absent, and this re-adds only
    its binding."""
    queue = app.amqp.queues.get(name)
    if queue is None:
        return
    channel = conn.channel()
    try:
        queue.bind(channel).declare()
    finally:
        with contextlib.suppress(Exception):
            channel.close()


def messages_waiting(kind: str) -> int | None:
    """Messages waiting in the queue of one kind of work, or None if the broker is away."""
    stats = queue_stats((kind,))
    return None if stats is None else stats[kind]["messages"]
