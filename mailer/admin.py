"""Admin: the outbox by status and kind, each message as it was rendered, and resending."""

from django.contrib import admin, messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_sameorigin

from mailer import selectors, services
from mailer.models import DeliveryAttempt, Digest, OutgoingEmail, Suppression

# The policy of a message's HTML part shown on its own: its inline styles and images as a
# mail client shows them, no scripts, forms or plugins, in a sandbox with an origin of its
# own, framed only by the admin page.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; "
    "frame-ancestors 'self'; sandbox"
)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "finished_at", "outcome", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


ONE_TIME_LINK_NOTE = (
    "a password-reset or confirmation link (never sent twice: the owner asks for a new one)"
)


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
        # A frame loading the part from its own address (html_preview), not a srcdoc: a
        # srcdoc document takes the admin page's policy, which blocks every inline style
        # and image the message has, so the message did not show as it was sent.
        url = reverse("admin:mailer_outgoingemail_html", args=[obj.pk])
        return format_html(
            '<iframe class="mailer-html" sandbox="" referrerpolicy="no-referrer" '
            'title="HTML part" src="{}"></iframe>',
            url,
        )

    def get_urls(self):
        preview = self.admin_site.admin_view(xframe_options_sameorigin(self.html_preview))
        return [
            path("<int:object_id>/html/", preview, name="mailer_outgoingemail_html"),
            *super().get_urls(),
        ]

    def html_preview(self, request, object_id: int):
        """The stored HTML part (secret links masked), under a policy of its own."""
        email = get_object_or_404(OutgoingEmail, pk=object_id)
        if not self.has_view_permission(request, email):
            return HttpResponse(status=403)
        response = HttpResponse(email.body_html, content_type="text/html; charset=utf-8")
        # Set here, the middleware leaves it as it is.
        response["Content-Security-Policy"] = PREVIEW_POLICY
        response["Referrer-Policy"] = "no-referrer"
        return response

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
            text += f" {skipped} left alone: not failed, or {ONE_TIME_LINK_NOTE}."
        self.message_user(request, text, messages.SUCCESS if retried else messages.WARNING)

    @admin.action(description="Resend selected messages (same Message-ID)", permissions=["change"])
    def resend_selected(self, request, queryset):
        ids = list(queryset.values_list("id", flat=True))
        resent = services.resend(email_ids=ids)
        text = f"{resent} message(s) queued again, each with its Message-ID."
        if skipped := len(ids) - resent:
            text += f" {skipped} left alone: queued or sending already, or {ONE_TIME_LINK_NOTE}."
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


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Addresses that get no more mail (bounced, manual) or no notifications (unsubscribed).
    Deleting an entry lets mail go to the address again."""

    list_display = ("address", "reason", "detail", "updated_at")
    list_filter = ("reason",)
    search_fields = ("address", "detail")
    fields = ("address", "reason", "detail", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    """Batches of upload outcomes, each mailed as one message when its window closed."""

    list_display = ("id", "user", "opened_at", "send_after", "closed_at", "email", "skipped_reason")
    list_filter = ("closed_at",)
    search_fields = ("user__username", "user__email")
    readonly_fields = ("user", "opened_at", "send_after", "closed_at", "email", "skipped_reason")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
