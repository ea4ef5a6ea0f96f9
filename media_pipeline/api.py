"""JSON API over session auth: upload, read, caption, retry. HTTP only; services do the work."""

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from media_pipeline import duplicates, imaging, selectors, services


def error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def login_required_json(view):
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return error("Log in to use the API.", 401)
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@require_http_methods(["GET", "POST"])
@login_required_json
def uploads(request: HttpRequest) -> JsonResponse:
    """POST: one file in field `file` -> 202 queued. GET: the user's uploads, newest first."""
    if request.method == "GET":
        try:
            limit = max(1, min(100, int(request.GET.get("limit", 20))))
            offset = max(0, int(request.GET.get("offset", 0)))
        except ValueError:
            return error("limit and offset must be whole numbers.", 400)
        page = selectors.uploads_of(request.user)[offset : offset + limit]
        return JsonResponse({"results": [selectors.upload_as_dict(u) for u in page]})

    files = request.FILES.getlist("file")
    if len(files) != 1:
        return error("Send exactly one image in the form field named 'file'.", 400)
    try:
        upload = services.accept_upload(
            owner=request.user, file=files[0], caption=request.POST.get("caption", "")
        )
    except services.UploadTooLarge as too_large:
        return error(str(too_large), 413)
    except imaging.InvalidImageError as invalid:
        return error(str(invalid), 400)
    body = selectors.upload_as_dict(upload, renditions=())  # none yet: it was just accepted
    response = JsonResponse(body, status=202)
    response["Location"] = body["url"]
    return response


@require_http_methods(["GET", "PATCH", "DELETE"])
@login_required_json
def upload_detail(request: HttpRequest, upload_id) -> HttpResponse:
    """GET the upload's state and renditions; PATCH {"caption": ...}; DELETE it."""
    upload = selectors.upload_of(request.user, upload_id)
    if request.method == "DELETE":
        services.delete_upload(upload=upload)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        try:
            payload = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return error('Send a JSON object, e.g. {"caption": "Sunset"}.', 400)
        if not isinstance(payload, dict) or not isinstance(payload.get("caption"), str):
            return error("Send a JSON object with a text field 'caption'.", 400)
        if len(payload["caption"]) > 500:
            return error("A caption can be at most 500 characters.", 400)
        services.update_caption(upload=upload, caption=payload["caption"])
        upload = selectors.upload_of(request.user, upload_id)
    return JsonResponse(selectors.upload_as_dict(upload))


@require_http_methods(["POST"])
@login_required_json
def upload_retry(request: HttpRequest, upload_id) -> JsonResponse:
    """Try a failed upload again: 202 with the upload `queued`; 409 if it is not failed."""
    upload = selectors.upload_of(request.user, upload_id)
    try:
        upload = services.retry_upload(upload=upload, by="owner")
    except services.NotRetryable as not_failed:
        return error(str(not_failed), 409)
    body = selectors.upload_as_dict(upload)
    response = JsonResponse(body, status=202)
    response["Location"] = body["url"]
    return response


@require_http_methods(["POST"])
@login_required_json
def upload_keep(request: HttpRequest, upload_id) -> JsonResponse:
    """Keep an upload flagged as a duplicate: the flag is cleared (drop it with DELETE)."""
    upload = duplicates.keep(upload=selectors.upload_of(request.user, upload_id))
    return JsonResponse(selectors.upload_as_dict(upload))
