"""The send task: its queue and acknowledgement."""

from mailer.tasks import send_email


def test_send_task_is_routed_to_the_email_queue_and_acknowledged_late():
    from celery_app import app, queue_name

    route = app.amqp.router.route({}, send_email.name)
    assert route["queue"].name == queue_name("email")
    assert send_email.acks_late and send_email.ignore_result
