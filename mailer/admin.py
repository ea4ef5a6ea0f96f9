"""Admin: the outbox, filterable by status and kind, with its rendered messages."""

from django.contrib import admin
from django.db.models import Count

from mailer.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ("subject", "to", "kind", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("to", "subject", "message_id")
    readonly_fields = [field.name for field in OutgoingEmail._meta.fields]

    def changelist_view(self, request, extra_context=None):
        counts = dict(
            OutgoingEmail.objects.values_list("status").annotate(n=Count("id")).order_by()
        )
        extra_context = {**(extra_context or {}), "title": "Outgoing email — " + ", ".join(
            f"{counts.get(status, 0)} {status}" for status in OutgoingEmail.Status.values
        )}
        return super().changelist_view(request, extra_context=extra_context)
