"""Admin: the outbox by status and kind, each message as it was rendered, and resending."""

from django.contrib import admin, messages
from django.utils.html import format_html

from mailer import selectors, services
from mailer.models import DeliveryAttempt, OutgoingEmail


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "finished_at", "outcome", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    change_list_template = "mailer/admin/change_list.html"
    list_display = (
        "subject", "to", "kind", "status", "attempts", "last_reply", "created_at", "sent_at",
    )  # fmt: skip
    list_filter = ("status", "kind", "created_at")
    search_fields = ("to", "subject", "message_id", "last_error", "server_reply")
    actions = ["retry_failed", "resend_selected"]
    inlines = [DeliveryAttemptInline]
    fieldsets = (
        (None, {"fields": ("kind", "to", "subject", "message_id", "dedupe_key")}),
        (
            "Delivery",
            {"fields": ("status", "attempts", "server_reply", "last_error", "claimed_by")},
        ),
        (
            "Times",
            {
                "fields": (
                    "created_at",
                    "queued_at",
                    "published_at",
                    "claimed_at",
                    "sent_at",
                    "failed_at",
                )
            },
        ),  # fmt: skip
        ("Message as sent", {"fields": ("text_part", "html_part")}),
    )
    readonly_fields = [field.name for field in OutgoingEmail._meta.fields] + [
        "text_part",
        "html_part",
    ]

    class Media:
        css = {"all": ["mailer/admin.css"]}

    def has_add_permission(self, request):
        # Messages are only ever written by queue_email, rendered from their templates.
        return False

    @admin.display(description="Plain text")
    def text_part(self, obj: OutgoingEmail):
        return format_html('<pre class="mailer-text">{}</pre>', obj.body_text)

    @admin.display(description="HTML")
    def html_part(self, obj: OutgoingEmail):
        if not obj.body_html:
            return "—"
        # A sandboxed frame: the message's markup renders apart from the admin page, with
        # no scripts, forms or access to the admin's origin; format_html escapes srcdoc.
        return format_html(
            '<iframe class="mailer-html" sandbox="" referrerpolicy="no-referrer" '
            'title="HTML part" srcdoc="{}"></iframe>',
            obj.body_html,
        )

    @admin.display(description="server's last reply")
    def last_reply(self, obj: OutgoingEmail) -> str:
        """What the mail server last said: its acceptance, or the refusal or error."""
        reply = obj.server_reply if obj.status == OutgoingEmail.Status.SENT else obj.last_error
        return reply if len(reply) <= 90 else reply[:89] + "…"

    @admin.action(description="Try the selected failed messages again", permissions=["change"])
    def retry_failed(self, request, queryset):
        ids = list(queryset.filter(status=OutgoingEmail.Status.FAILED).values_list("id", flat=True))
        retried = services.resend(email_ids=ids)
        text = f"{retried} failed message(s) queued again, each with its Message-ID."
        if skipped := queryset.count() - retried:
            text += f" {skipped} left alone: not failed."
        self.message_user(request, text, messages.SUCCESS if retried else messages.WARNING)

    @admin.action(description="Resend selected messages (same Message-ID)", permissions=["change"])
    def resend_selected(self, request, queryset):
        ids = list(queryset.values_list("id", flat=True))
        resent = services.resend(email_ids=ids)
        text = f"{resent} message(s) queued again, each with its Message-ID."
        if skipped := len(ids) - resent:
            text += f" {skipped} left alone: queued or sending already."
        self.message_user(request, text, messages.SUCCESS if resent else messages.WARNING)

    def changelist_view(self, request, extra_context=None):
        counts = selectors.status_counts()
        extra_context = {
            **(extra_context or {}),
            "status_counts": [
                (status, label, counts[status]) for status, label in OutgoingEmail.Status.choices
            ],
        }
        return super().changelist_view(request, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: nothing to save.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context=extra_context)
