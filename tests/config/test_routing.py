"""Each kind of work has its own exchange, queue and routing key; settings that keep work safe."""

from celery_app import QUEUES, app, queue_name


def route(task_name: str) -> dict:
    return app.amqp.router.route({}, task_name)


def test_each_kind_has_its_own_durable_direct_exchange_and_queue():
    queues = {queue.name: queue for queue in app.conf.task_queues}
    for kind in QUEUES:
        queue = queues[queue_name(kind)]
        assert queue.exchange.name == queue_name(kind)
        assert queue.exchange.type == "direct"
        assert queue.routing_key == kind
        assert queue.durable and queue.exchange.durable


def test_tasks_are_routed_to_their_kind():
    assert route("media_pipeline.tasks.process_upload")["queue"].name == queue_name("media")
    assert route("mailer.tasks.send_email")["queue"].name == queue_name("email")
    assert route("media_pipeline.tasks.sweep_stale_uploads")["queue"].name == queue_name("default")
    assert route("mailer.tasks.sweep_stale_emails")["queue"].name == queue_name("default")


def test_reliability_settings():
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit < 30 * 60
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.result_backend == "django-db" and conf.result_extended
    assert conf.task_send_sent_event and conf.worker_send_task_events
    assert conf.task_publish_retry_policy["max_retries"] <= 3


def test_beat_runs_the_sweeps_and_closes_due_digests():
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert tasks == {
        "media_pipeline.tasks.sweep_stale_uploads",
        "mailer.tasks.sweep_stale_emails",
        "mailer.digest_tasks.close_due_digests",
        "media_pipeline.tasks.sweep_direct_uploads",
    }


def test_quorum_option_declares_quorum_queues_on_topic_exchanges():
    import subprocess
    import sys

    code = (
        "import celery_app as c; "
        "print([(q.name, q.exchange.type, q.queue_arguments) for q in c.app.conf.task_queues])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "CELERY_QUEUE_TYPE": "quorum"},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("'topic', {'x-queue-type': 'quorum'}") == 3
    bad = subprocess.run(
        [sys.executable, "-c", "import celery_app"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "CELERY_QUEUE_TYPE": "x"},
        timeout=60,
    )
    assert bad.returncode != 0 and "CELERY_QUEUE_TYPE" in bad.stderr


def test_worker_command_consumes_the_named_kinds_in_this_namespace():
    from celery_app import worker_command

    command = worker_command(["media", "default"], concurrency=3)
    assert command[command.index("-Q") + 1] == f"{queue_name('media')},{queue_name('default')}"
    assert "--prefetch-multiplier=1" in command and "--concurrency=3" in command
    assert command[command.index("-n") + 1] == "media-default@%h"
    assert "--prefetch-multiplier=1" not in worker_command(["email"])
