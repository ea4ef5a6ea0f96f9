"""HTTP for operations: /metrics, HireFire's info endpoint, the admin dashboard."""

import base64
import hmac

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from ops import autoscale, broker, metrics, selectors


def _presented_token(request: HttpRequest) -> str:
    """The token of `Authorization: Bearer <token>`, or the password of basic auth."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip()).decode()
        except ValueError:
            return ""
        return decoded.partition(":")[2]
    return ""


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape; 404 unless METRICS_TOKEN is set, 401 without it."""
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are off: set METRICS_TOKEN to serve them.")
    if not hmac.compare_digest(_presented_token(request), settings.METRICS_TOKEN):
        response = HttpResponse("Send the metrics token.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)


@never_cache
@require_GET
def hirefire_info(request: HttpRequest, token: str) -> JsonResponse:
    """HireFire's custom job-queue endpoint: the oldest queued age of each worker process."""
    if not settings.HIREFIRE_TOKEN or not hmac.compare_digest(token, settings.HIREFIRE_TOKEN):
        raise Http404("No such endpoint.")
    response = JsonResponse(autoscale.hirefire_info(), safe=False)
    response["HireFire-Resource"] = "Django-media-service"
    return response


@staff_member_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    """The numbers of /metrics for people: backlog, failures, throughput, queues."""
    snap = selectors.snapshot()
    stats = broker.queue_stats() or {}
    queues = [
        {
            "name": kind,
            "queued_rows": {"media": snap.uploads["queued"], "email": snap.emails["queued"]}.get(
                kind
            ),
            "oldest_age": snap.oldest_queued_age.get(kind),
            "messages": stats.get(kind, {}).get("messages"),
            "consumers": stats.get(kind, {}).get("consumers"),
        }
        for kind in ("media", "email", "default")
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        "snap": snap,
        "queues": queues,
        "broker_up": bool(stats),
    }
    return render(request, "ops/dashboard.html", context)
