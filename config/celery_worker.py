"""How a worker consumes when the broker URL lists the nodes of one RabbitMQ cluster.

Celery sets up native delayed delivery (quorum queues) once per URL of a `;`-separated
list, taking each for a broker of its own: with one node down, every worker start and every
reconnect first waits out retries against the dead node (measured: about 17.5 s without
consuming after a node was lost). The listed nodes are one cluster, so here the whole list is
one failover URL: set up once, on whichever node answers (0.6 s).
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


class ClusterConsumer(Consumer):
    class Blueprint(Consumer.Blueprint):
        default_steps = [
            "config.celery_worker:ClusterDelayedDelivery" if step == STOCK_STEP else step
            for step in Consumer.Blueprint.default_steps
        ]
