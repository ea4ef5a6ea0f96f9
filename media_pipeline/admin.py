"""Admin: uploads with their renditions; actions go through the services."""

from django.contrib import admin, messages

from media_pipeline import services
from media_pipeline.models import Rendition, Upload


class RenditionInline(admin.TabularInline):
    model = Rendition
    extra = 0
    can_delete = False
    readonly_fields = ("name", "format", "width", "height", "bytes", "file", "created_at")


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = (
        "original_name",
        "owner",
        "status",
        "original_format",
        "width",
        "height",
        "attempts",
        "created_at",
    )
    list_filter = ("status", "original_format")
    search_fields = ("original_name", "caption", "owner__username", "id")
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
        "published_at",
        "claimed_at",
        "finished_at",
    )
    inlines = [RenditionInline]
    actions = ["publish_again"]

    @admin.action(description="Publish processing again for the selected queued uploads")
    def publish_again(self, request, queryset):
        ids = queryset.filter(status=Upload.Status.QUEUED).values_list("id", flat=True)
        published = sum(services.publish_processing(upload_id) for upload_id in ids)
        self.message_user(request, f"{published} upload(s) published.", messages.SUCCESS)
