"""URL map: pages and JSON API, accounts, admin and the health check."""

from django.contrib import admin
from django.urls import include, path

from config import health

urlpatterns = [
    path("", include("media_pipeline.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("ops.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
]
