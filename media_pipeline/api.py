"""JSON API over session auth: upload, read, texts, retry, bulk. HTTP only; services do the work."""

import json
import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from core import ratelimit
from media_pipeline import bulk, duplicates, filters, imaging, selectors, services

MAX_OFFSET = 10**9


def error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def login_required_json(view):
    """The API's views: 401 without a login, and every refusal as JSON, Django's own too."""

    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return error("Log in to use the API.", 401)
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return error("No such upload.", 404)
        except RequestDataTooBig:
            return error("The request is too large.", 413)
        except SuspiciousOperation as refused:  # e.g. too many fields: logged as Django does
            logging.getLogger(f"django.security.{type(refused).__name__}").error(str(refused))
            return error("The request could not be read.", 400)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def json_payload(request: HttpRequest):
    """The request's body parsed as JSON (an empty body is {}), or None when it is not JSON
    (or not UTF-8, or nested too deep for the parser)."""
    try:
        return json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


@require_http_methods(["GET", "POST"])
@login_required_json
def uploads(request: HttpRequest) -> JsonResponse:
    """POST: one file in field `file` -> 202 queued. GET: the user's uploads, newest first."""
    if request.method == "GET":
        try:
            limit = max(1, min(100, int(request.GET.get("limit", 20))))
            # Past any library, and below the bigint the database would refuse.
            offset = max(0, min(MAX_OFFSET, int(request.GET.get("offset", 0))))
        except ValueError:
            return error("limit and offset must be whole numbers.", 400)
        library_filter, problems = filters.parse_filter(request.GET)
        if problems:
            return error(" ".join(problems), 400)
        page = selectors.library_of(request.user, library_filter)[offset : offset + limit]
        return JsonResponse({"results": [selectors.upload_as_dict(u) for u in page]})

    try:
        ratelimit.check_upload(request.user)
    except ratelimit.RateLimited as limited:
        return ratelimit.too_many_json(limited)
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
    """GET the upload's state and renditions; PATCH its texts (caption, alt_text,
    description); DELETE it (an unfinished direct upload too: aborted)."""
    if request.method == "DELETE":
        from media_pipeline.api_direct import abort_if_unfinished

        aborted = abort_if_unfinished(request, upload_id)
        if aborted:
            return aborted
    upload = selectors.upload_of(request.user, upload_id)
    if request.method == "DELETE":
        services.delete_upload(upload=upload)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        payload = json_payload(request)
        if payload is None:
            return error('Send a JSON object, e.g. {"caption": "Sunset"}.', 400)
        problem = texts_problem(payload)
        if problem:
            return error(problem, 400)
        try:
            services.update_texts(upload=upload, texts=payload)
        except services.TextTooLong as too_long:
            return error(str(too_long), 400)
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


# --- the library: texts of an upload, several uploads at once -------------------------------


def texts_problem(payload) -> str:
    """What is wrong with a PATCH body of texts, or "" when it is right."""
    fields = ", ".join(services.TEXT_LIMITS)
    if not isinstance(payload, dict) or not payload:
        return f"Send a JSON object with one or more text fields: {fields}."
    unknown = sorted(set(payload) - set(services.TEXT_LIMITS))
    if unknown:
        return f"Unknown field(s) {', '.join(unknown)}: send only {fields}."
    not_text = sorted(name for name, value in payload.items() if not isinstance(value, str))
    if not_text:
        return f"{', '.join(not_text)} must be text."
    return ""


@require_http_methods(["POST"])
@login_required_json
def uploads_bulk(request: HttpRequest) -> JsonResponse:
    """{"action": "delete"|"retry", "ids": [...]} on the user's uploads: an outcome per id."""
    payload = json_payload(request)
    if not isinstance(payload, dict):
        return error('Send a JSON object, e.g. {"action": "delete", "ids": ["..."]}.', 400)
    try:
        results = bulk.bulk_action(
            owner=request.user, action=payload.get("action"), ids=payload.get("ids")
        )
    except bulk.InvalidBulkRequest as invalid:
        return error(str(invalid), 400)
    return JsonResponse({"action": payload["action"], "results": results})
