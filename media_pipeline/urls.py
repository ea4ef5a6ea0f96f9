"""Routes of the pages and of the JSON API."""

from django.urls import path

from media_pipeline import api, events, views

app_name = "media_pipeline"

urlpatterns = [
    path("", views.home, name="home"),
    path("uploads/<uuid:upload_id>/", views.upload_page, name="upload"),
    path("uploads/<uuid:upload_id>/thumbnail", views.thumbnail, name="thumbnail"),
    path("media/<path:key>", views.stored_file, name="file"),
    path("api/uploads/", api.uploads, name="api-uploads"),
    path("api/uploads/<uuid:upload_id>/", api.upload_detail, name="api-upload"),
    path("api/uploads/<uuid:upload_id>/retry/", api.upload_retry, name="api-upload-retry"),
    path("api/uploads/<uuid:upload_id>/keep/", api.upload_keep, name="api-upload-keep"),
    path("events/", events.stream, name="events"),
]
