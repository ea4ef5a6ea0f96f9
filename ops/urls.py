"""Routes for operations: the scrape, the autoscaler's endpoint, the admin dashboard."""

from django.urls import path

from ops import views

urlpatterns = [
    path("metrics", views.metrics_view, name="metrics"),
    path("hirefire/<str:token>/info", views.hirefire_info, name="hirefire-info"),
    path("admin/dashboard/", views.dashboard, name="ops-dashboard"),
]
