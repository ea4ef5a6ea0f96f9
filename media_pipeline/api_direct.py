"""JSON API of direct uploads (browser to media host): start, list stored parts, complete, abort.

HTTP only; media_pipeline.direct does the work. The web process never sees the file's bytes.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core import ratelimit
from media_pipeline import direct, selectors, services
from media_pipeline.api import error, json_payload, login_required_json
from media_pipeline.models import DirectUpload, Upload


def unavailable(reason: direct.Unavailable) -> JsonResponse:
    """501: this installation stores files locally; the client sends the file to the web."""
    return JsonResponse(
        {"error": str(reason), "upload_url": reverse("media_pipeline:api-uploads")}, status=501
    )


def unfinished_of(user, upload_id) -> DirectUpload | None:
    return DirectUpload.objects.filter(owner=user, id=upload_id).first()


@require_http_methods(["POST"])
@login_required_json
def start(request: HttpRequest) -> JsonResponse:
    """{"filename", "size", "content_type"} -> 201 presigned parts (or one presigned POST)."""
    payload = json_payload(request)
    if not isinstance(payload, dict):
        return error('Send a JSON object: {"filename", "size", "content_type"}.', 400)
    try:
        # One file, as through POST /api/uploads/: the same per-user rate.
        ratelimit.check_upload(request.user)
    except ratelimit.RateLimited as limited:
        return ratelimit.too_many_json(limited)
    try:
        row, instructions = direct.start(
            owner=request.user,
            filename=str(payload.get("filename") or ""),
            size=payload.get("size"),
            content_type=payload.get("content_type"),
            caption=str(payload.get("caption") or ""),
        )
    except direct.Unavailable as reason:
        return unavailable(reason)
    except direct.Refused as refused:
        return error(str(refused), refused.status)
    except services.QuotaExceeded as full:
        return error(str(full), 413)
    body = {
        "id": str(row.id),
        "complete_url": reverse("media_pipeline:api-upload-complete", args=[row.id]),
        "parts_url": reverse("media_pipeline:api-upload-parts", args=[row.id]),
        "url_expires_in": settings.MEDIA_DIRECT_URL_EXPIRE_SECONDS,
        **instructions,
    }
    return JsonResponse(body, status=201)


@require_http_methods(["GET"])
@login_required_json
def parts(request: HttpRequest, upload_id) -> JsonResponse:
    """The parts the media host holds, and fresh presigned URLs for the missing ones."""
    row = unfinished_of(request.user, upload_id)
    if row is None:
        if Upload.objects.filter(owner=request.user, id=upload_id).exists():
            return error("This upload is finished already.", 409)
        return error("No unfinished upload with this id.", 404)
    try:
        return JsonResponse(direct.resume(row))
    except direct.Unavailable as reason:
        return unavailable(reason)
    except direct.Refused as refused:
        return error(str(refused), refused.status)


@require_http_methods(["POST"])
@login_required_json
def complete(request: HttpRequest, upload_id) -> JsonResponse:
    """{"parts": [{"number", "etag"}]} -> 202 the upload, `queued`. Repeatable."""
    row = unfinished_of(request.user, upload_id)
    if row is None:
        # Completed already (the answer was lost on the way): the same answer again.
        upload = Upload.objects.filter(owner=request.user, id=upload_id).first()
        if upload is None:
            return error("No unfinished upload with this id.", 404)
    else:
        payload = json_payload(request)
        if not isinstance(payload, dict):
            return error('Send a JSON object: {"parts": [{"number", "etag"}, ...]}.', 400)
        try:
            upload = direct.complete(row=row, parts=payload.get("parts"))
        except direct.Unavailable as reason:
            return unavailable(reason)
        except direct.Refused as refused:
            return error(str(refused), refused.status)
    body = selectors.upload_as_dict(selectors.upload_of(request.user, upload.id))
    response = JsonResponse(body, status=202)
    response["Location"] = body["url"]
    return response


def abort_if_unfinished(request: HttpRequest, upload_id) -> HttpResponse | None:
    """DELETE of an unfinished direct upload: 204 once aborted; None when there is none."""
    row = unfinished_of(request.user, upload_id)
    if row is None:
        return None
    direct.abort(row)
    return HttpResponse(status=204)
