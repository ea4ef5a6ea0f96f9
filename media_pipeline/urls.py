"""Routes of the pages and of the JSON API."""

from django.urls import path

from media_pipeline import api, api_direct, events, views

app_name = "media_pipeline"

urlpatterns = [
    path("", views.home, name="home"),
    path("uploads/bulk/", views.bulk_page, name="bulk"),
    path("uploads/<uuid:upload_id>/", views.upload_page, name="upload"),
    path("uploads/<uuid:upload_id>/thumbnail", views.thumbnail, name="thumbnail"),
    path("media/<path:key>", views.stored_file, name="file"),
    path("api/uploads/", api.uploads, name="api-uploads"),
    path("api/uploads/bulk/", api.uploads_bulk, name="api-uploads-bulk"),
    path("api/uploads/<uuid:upload_id>/", api.upload_detail, name="api-upload"),
    path("api/uploads/<uuid:upload_id>/retry/", api.upload_retry, name="api-upload-retry"),
    # Straight to the media host (S3): media_pipeline/direct.py.
    path("api/uploads/direct/", api_direct.start, name="api-uploads-direct"),
    path("api/uploads/<uuid:upload_id>/parts/", api_direct.parts, name="api-upload-parts"),
    path("api/uploads/<uuid:upload_id>/complete/", api_direct.complete, name="api-upload-complete"),
    path("api/uploads/<uuid:upload_id>/keep/", api.upload_keep, name="api-upload-keep"),
    path("events/", events.stream, name="events"),
]
