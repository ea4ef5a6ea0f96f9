"""The outbox admin as a superuser sees it: counts, filters, the message, resending."""

import pytest

from mailer import services
from mailer.models import OutgoingEmail

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/mailer/outgoingemail/"


def make(status, *, kind="upload_ready", caption="Sunset", to="alice@example.com"):
    class Upload:
        original_name = "beach.jpg"
        error = "too large"

    Upload.caption = caption
    email = services.queue_email(
        kind=kind, to=to, context={"upload": Upload, "user": None, "page_url": "http://x/"}
    )
    OutgoingEmail.objects.filter(id=email.id).update(status=status)
    return OutgoingEmail.objects.get(id=email.id)


def test_changelist_counts_every_status(admin_client):
    for status in ["queued", "sent", "sent", "failed", "sending"]:
        make(status)
    page = admin_client.get(CHANGELIST).content.decode()
    for status, count in [("queued", 1), ("sending", 1), ("sent", 2), ("failed", 1)]:
        assert f'data-status="{status}"><strong>{count}</strong> {status}</a>' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status__exact=failed", {"failed@example.com"}),
        ("status__exact=sent", {"sent@example.com"}),
        ("kind=upload_failed", {"failed@example.com"}),
        ("kind=upload_ready&status__exact=sent", {"sent@example.com"}),
    ],
)
def test_changelist_filters_by_status_and_kind(admin_client, query, expected):
    make("sent", to="sent@example.com")
    make("failed", kind="upload_failed", to="failed@example.com")
    response = admin_client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    shown = {email.to for email in response.context["cl"].result_list}
    assert shown == expected


def test_message_page_shows_both_parts_safely(admin_client):
    email = make("sent", caption='<script>alert("x")</script> & "quotes"')
    response = admin_client.get(f"{CHANGELIST}{email.id}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert" not in page
    # The plain part, escaped into the page.
    assert (
        "Caption: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;"
        in page
    )
    # The HTML part, in a sandboxed frame loading it from its own address.
    assert '<iframe class="mailer-html" sandbox="" referrerpolicy="no-referrer"' in page
    assert f'src="{CHANGELIST}{email.id}/html/"' in page
    assert email.message_id.replace("<", "&lt;").replace(">", "&gt;") in page
    assert 'name="_save"' not in page  # read-only: nothing to save


def test_resend_selected_queues_sent_and_failed_again(
    admin_client, django_capture_on_commit_callbacks
):
    sent, failed, sending = make("sent"), make("failed"), make("sending")
    with django_capture_on_commit_callbacks() as published:
        response = admin_client.post(
            CHANGELIST,
            {"action": "resend_selected", "_selected_action": [sent.id, failed.id, sending.id]},
            follow=True,
        )
    assert response.status_code == 200
    assert "2 message(s) queued again" in response.content.decode()
    assert "1 left alone" in response.content.decode()
    assert len(published) == 1  # one publish callback for the resent rows
    statuses = dict(OutgoingEmail.objects.values_list("id", "status"))
    assert statuses == {sent.id: "queued", failed.id: "queued", sending.id: "sending"}
    assert OutgoingEmail.objects.get(id=sent.id).message_id == sent.message_id


def test_no_add_page(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_staff_without_permission_cannot_resend(client, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="pw-123456", is_staff=True)
    client.force_login(staff)
    email = make("failed")
    response = client.post(
        CHANGELIST, {"action": "resend_selected", "_selected_action": [email.id]}
    )
    assert response.status_code == 403
    assert OutgoingEmail.objects.get(id=email.id).status == "failed"


def test_html_preview_is_the_stored_part_under_a_sandboxing_policy(admin_client, client):
    email = make("sent", caption='<script>alert("x")</script>')
    response = admin_client.get(f"{CHANGELIST}{email.id}/html/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response.content.decode() == email.body_html
    assert "<p>Caption: &lt;script&gt;alert" in email.body_html  # escaped when rendered
    policy = response["Content-Security-Policy"]
    # The message's inline styles apply (the admin's policy blocked them); no script runs.
    assert "style-src 'unsafe-inline'" in policy and "script-src" not in policy
    assert "default-src 'none'" in policy and policy.endswith("sandbox")
    assert "frame-ancestors 'self'" in policy and response["X-Frame-Options"] == "SAMEORIGIN"
    # Only for the admin's staff.
    anonymous = client.get(f"{CHANGELIST}{email.id}/html/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
