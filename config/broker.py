"""Broker URL and per-transport options, so every process talks to the broker alike."""

from pathlib import Path


def broker_transport_options(
    broker_url: str, *, var_dir: Path, redis_visibility_timeout: int = 3600
) -> dict:
    """Options that bound waiting on a dead broker and keep messages safe, per transport."""
    scheme = broker_url.split(":", 1)[0].lower()
    if scheme == "filesystem":
        # One folder is both inbox and outbox, so every process on the machine shares the
        # queues; the control folder carries fanout messages (Flower's events, broadcasts).
        queue_dir = var_dir / "broker" / "queue"
        control_dir = var_dir / "broker" / "control"
        for folder in (queue_dir, control_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(queue_dir),
            "data_folder_out": str(queue_dir),
            "control_folder": str(control_dir),
            "store_processed": False,
        }
    if scheme.startswith("redis") or scheme.startswith("rediss"):
        # Redis has no broker-side acks: a message taken by a worker that died reappears
        # only after the visibility timeout. It must exceed the longest task (the hard time
        # limit) or a slow task is handed to a second worker while the first still runs.
        return {
            "visibility_timeout": redis_visibility_timeout,
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        }
    # AMQP: publisher confirms, so a message the broker did not take raises instead of
    # vanishing; bounded connection retries, so a request never hangs on a dead broker.
    return {
        "confirm_publish": True,
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
