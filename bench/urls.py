"""The product's URL map plus the benchmark's two baselines, for the benchmark's gunicorn only."""

from django.urls import include, path

from bench import baseline_views

urlpatterns = [
    path("bench/inline/", baseline_views.inline, name="bench-inline"),
    path("bench/store-only/", baseline_views.store_only, name="bench-store-only"),
    path("", include("config.urls")),
]
