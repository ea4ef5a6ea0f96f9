"""Admin: uploads with their renditions, errors and timings; actions go through the services."""

from django.contrib import admin, messages

from media_pipeline import services
from media_pipeline.models import Rendition, Upload


class RenditionInline(admin.TabularInline):
    model = Rendition
    extra = 0
    can_delete = False
    readonly_fields = ("name", "format", "width", "height", "bytes", "file", "created_at")


class HasErrorFilter(admin.SimpleListFilter):
    title = "error"
    parameter_name = "has_error"

    def lookups(self, request, model_admin):
        return (("yes", "With an error"), ("no", "Without"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(error="")
        if self.value() == "no":
            return queryset.filter(error="")
        return queryset


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = (
        "original_name",
        "owner",
        "status",
        "short_error",
        "attempts",
        "time_to_ready",
        "original_format",
        "width",
        "height",
        "created_at",
    )
    list_filter = ("status", HasErrorFilter, "original_format", "created_at", "owner")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    search_fields = ("original_name", "caption", "owner__username", "error", "id")
    readonly_fields = (
        "id",
        "owner",
        "original",
        "original_name",
        "original_format",
        "original_bytes",
        "width",
        "height",
        "status",
        "error",
        "attempts",
        "created_at",
        "updated_at",
        "queued_at",
        "published_at",
        "claimed_at",
        "finished_at",
        "time_to_ready",
    )
    inlines = [RenditionInline]
    actions = ["retry_failed", "publish_again"]

    @admin.display(description="error", ordering="error")
    def short_error(self, obj: Upload) -> str:
        return obj.error if len(obj.error) <= 90 else obj.error[:89] + "…"

    @admin.display(description="time to ready")
    def time_to_ready(self, obj: Upload) -> str:
        if obj.status != Upload.Status.READY or not obj.finished_at:
            return "—"
        return f"{(obj.finished_at - obj.queued_at).total_seconds():.1f} s"

    @admin.action(description="Try the selected failed uploads again", permissions=["change"])
    def retry_failed(self, request, queryset):
        selected = queryset.count()
        retried = len(
            services.retry_uploads(upload_ids=queryset.values_list("id", flat=True), by="admin")
        )
        text = f"{retried} upload(s) queued again, each with a fresh set of attempts."
        if skipped := selected - retried:
            text += f" {skipped} left alone: not failed."
        self.message_user(request, text, messages.SUCCESS if retried else messages.WARNING)

    @admin.action(description="Publish processing again for the selected queued uploads")
    def publish_again(self, request, queryset):
        ids = queryset.filter(status=Upload.Status.QUEUED).values_list("id", flat=True)
        published = sum(services.publish_processing(upload_id) for upload_id in ids)
        self.message_user(request, f"{published} upload(s) published.", messages.SUCCESS)
