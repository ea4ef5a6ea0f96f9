"""How a worker consumes: failover along a RabbitMQ cluster, and unconfirmed monitoring events.

Celery sets up native delayed delivery (quorum queues) once per URL of a `;`-separated
list, taking each for a broker of its own: with one node down, every worker start and every
reconnect first waits out retries against the dead node (measured: about 17.5 s without
consuming after a node was lost). The listed nodes are one cluster, so here the whole list is
one failover URL: set up once, on whichever node answers (0.6 s).

The worker's monitoring events (Flower's feed) go out without publisher confirms: see
ServiceConsumer.connection_for_write.
"""

from celery.worker.consumer import Consumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery

STOCK_STEP = "celery.worker.consumer.delayed_delivery:DelayedDelivery"


class ClusterDelayedDelivery(DelayedDelivery):
    def _validate_broker_urls(self, broker_urls):
        urls = super()._validate_broker_urls(broker_urls)  # its checks and messages
        if isinstance(broker_urls, str):
            return {broker_urls}  # kombu fails over along the list by itself
        return {";".join(broker_urls)} if urls else urls


class ServiceConsumer(Consumer):
    class Blueprint(Consumer.Blueprint):
        default_steps = [
            "config.celery_worker:ClusterDelayedDelivery" if step == STOCK_STEP else step
            for step in Consumer.Blueprint.default_steps
        ]

    def connection_for_write(self, url=None, heartbeat=None):
        """The connection of the worker's event dispatcher (its only caller): without
        publisher confirms.

        The broker options turn confirms on for every connection, so that a task message
        the broker did not take raises. For events that costs a round trip each: the main
        process flushes its task events (received, started, succeeded: three per task) one
        confirmed publish after the other, and hands no message to its pool meanwhile
        (py-spy: half its time on a busy email worker). An event is a report for
        monitoring; one lost with a dying broker costs a line in Flower, never a task.
        """
        return self.ensure_connected(
            self.app.connection_for_write(
                url=url, heartbeat=heartbeat, transport_options={"confirm_publish": False}
            )
        )
