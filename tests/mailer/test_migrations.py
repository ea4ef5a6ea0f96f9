"""The data migrations: existing accounts count as confirmed; stored reset links masked."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("accounts", None), ("mailer", "0003_queued_at_failed_at_and_ops_indexes")]
AFTER = [("accounts", "0001_email_preferences"), ("mailer", "0004_suppression_digests_redaction")]


def migrate(targets):
    """Migrate to `targets`; the models as they are then (auth's at its latest)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    auth = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "auth"]
    return executor.loader.project_state([t for t in targets if t[1]] + auth).apps


@pytest.fixture
def before_and_after():
    old = migrate(BEFORE)
    try:
        yield old, lambda: migrate(AFTER)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_existing_accounts_are_confirmed_and_reset_links_masked(before_and_after):
    old, forward = before_and_after
    User = old.get_model("auth", "User")
    ivy = User.objects.create(username="ivy", email="ivy@example.com", password="!")
    Email = old.get_model("mailer", "OutgoingEmail")
    link = "http://h/accounts/reset/MQ/cz7-5f0a9e1b2c3d/"
    common = {"kind": "password_reset", "to": "ivy@example.com", "subject": "Reset"}
    sent = Email.objects.create(
        **common, status="sent", message_id="<1@h>", body_text=f"Here: {link}",
        body_html=f'<a href="{link}">Reset</a>',
    )  # fmt: skip
    waiting = Email.objects.create(
        **common, status="queued", message_id="<2@h>", body_text=f"Here: {link}"
    )

    new = forward()
    preferences = new.get_model("accounts", "EmailPreferences").objects.get(user_id=ivy.pk)
    assert preferences.verified_email == "ivy@example.com" and preferences.verified_at
    assert preferences.notifications == "digest"
    Email = new.get_model("mailer", "OutgoingEmail")
    masked = "http://h/accounts/reset/MQ/REDACTED-LINK-TOKEN/"
    sent, waiting = Email.objects.get(id=sent.id), Email.objects.get(id=waiting.id)
    assert sent.body_text == f"Here: {masked}" and masked in sent.body_html
    assert sent.secret == ""  # sent already: its token is gone
    # Not sent yet: the worker puts its token back.
    assert waiting.body_text == f"Here: {masked}" and waiting.secret == "cz7-5f0a9e1b2c3d"
