"""Admin: each account's email preferences and whether its address is confirmed."""

from django.contrib import admin

from accounts.models import EmailPreferences


@admin.register(EmailPreferences)
class EmailPreferencesAdmin(admin.ModelAdmin):
    list_display = ("user", "notifications", "verified_email", "verified_at")
    list_filter = ("notifications",)
    search_fields = ("user__username", "user__email", "verified_email")
    raw_id_fields = ("user",)
