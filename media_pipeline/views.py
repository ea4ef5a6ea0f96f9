"""Pages: upload form and gallery, an upload's page, its stored files. HTTP only."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from core import ratelimit
from media_pipeline import bulk, direct, duplicates, filters, imaging, selectors, services
from media_pipeline.imaging.formats import FORMATS, accepted_labels
from media_pipeline.models import Upload

PENDING = (Upload.Status.QUEUED, Upload.Status.PROCESSING)
GALLERY_PAGE_SIZE = 24
# Best first: the browser takes the first <source> whose type it can show.
SOURCE_FORMATS = (("avif", "image/avif"), ("webp", "image/webp"))


def picture(upload: dict) -> dict | None:
    """The srcset of each format for a <picture>, with a JPEG <img> every browser shows."""
    by_format: dict[str, list[dict]] = {}
    for rendition in upload["renditions"]:
        by_format.setdefault(rendition["format"], []).append(rendition)
    fallback = by_format.get("jpeg")
    # The thumbnail is shown as soon as it exists, while the larger sizes are still made.
    if upload["status"] == Upload.Status.FAILED or not fallback:
        return None

    def srcset(renditions: list[dict]) -> str:
        return ", ".join(f"{r['url']} {r['width']}w" for r in renditions)

    smallest = min(fallback, key=lambda r: r["width"])
    # The img's size is the largest rendition's: a page shows the picture no bigger than that
    # (a 40 px source stays 40 px), and the browser still picks from the srcset.
    largest = max(fallback, key=lambda r: r["width"])
    return {
        "sources": [
            {"type": mime, "srcset": srcset(by_format[name])}
            for name, mime in SOURCE_FORMATS
            if name in by_format
        ],
        "srcset": srcset(fallback),
        "src": smallest["url"],
        "width": largest["width"],
        "height": largest["height"],
    }


def for_page(upload: Upload) -> dict:
    data = selectors.upload_as_dict(upload)
    for rendition in data["renditions"]:
        known = FORMATS.get(rendition["format"])
        rendition["label"] = known.label if known else rendition["format"].upper()
    data["picture"] = picture(data)
    data["pending"] = data["status"] in PENDING
    return data


def back_to(request: HttpRequest, default: str) -> str:
    """Where a form post returns: its `next` field when it is a page of this site."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """The upload form and the user's gallery; a plain form post works without JavaScript."""
    if request.method == "POST":
        files = request.FILES.getlist("file")
        if not files:
            messages.error(request, "Choose at least one image to upload.")
        for index, file in enumerate(files):
            try:
                ratelimit.check_upload(request.user)
            except ratelimit.RateLimited as limited:
                if index == 0:  # nothing accepted: the whole post is refused
                    return ratelimit.too_many_page(request, limited)
                messages.error(request, f"{services.clean_file_name(file.name)}: {limited}")
                continue
            try:
                services.accept_upload(owner=request.user, file=file)
            except (services.UploadTooLarge, imaging.InvalidImageError) as refused:
                messages.error(request, f"{services.clean_file_name(file.name)}: {refused}")
            else:
                messages.success(request, f"{services.clean_file_name(file.name)}: queued.")
        return redirect("media_pipeline:home")

    library = library_state(request)
    page = Paginator(library["uploads"], GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    uploads = [for_page(upload) for upload in page]
    # With an S3 media host the page sends files straight there (direct_upload.js), and
    # the larger limit of that path applies.
    straight = direct.available()
    max_bytes = (
        settings.MEDIA_DIRECT_MAX_UPLOAD_BYTES if straight else settings.MEDIA_MAX_UPLOAD_BYTES
    )
    return render(
        request,
        "media_pipeline/home.html",
        {
            "page": page,
            "uploads": uploads,
            "pending": any(u["pending"] for u in uploads),
            "max_bytes": max_bytes,
            # Said as the server's refusal says it.
            "max_size": f"{max_bytes / 1_048_576:.0f} MB",
            "accepted": accepted_labels(),
            "library": library,
            "direct_url": reverse("media_pipeline:api-uploads-direct") if straight else "",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload_page(request: HttpRequest, upload_id) -> HttpResponse:
    """One upload: its state, every rendition and its size; caption, retry and delete forms."""
    upload = selectors.upload_of(request.user, upload_id)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "delete":
            services.delete_upload(upload=upload)
            messages.success(request, f"{upload.original_name} deleted.")
            return redirect(back_to(request, "media_pipeline:home"))
        if action == "keep":
            duplicates.keep(upload=upload)
            messages.success(request, f"{upload.original_name}: kept.")
            return redirect(back_to(request, reverse("media_pipeline:upload", args=[upload.id])))
        if action == "retry":
            try:
                services.retry_upload(upload=upload)
            except services.NotRetryable as refused:
                messages.error(request, f"{upload.original_name}: {refused}")
            else:
                messages.success(request, f"{upload.original_name}: queued again.")
            return redirect(back_to(request, reverse("media_pipeline:upload", args=[upload.id])))
        if action == "texts":
            return save_texts(request, upload)
        here = back_to(request, reverse("media_pipeline:upload", args=[upload.id]))
        if action or "caption" not in request.POST:  # never a caption wiped by a stray post
            messages.error(request, "Nothing was changed: that form is not known here.")
            return redirect(here)
        services.update_caption(upload=upload, caption=request.POST["caption"])
        messages.success(request, f"Caption of {upload.original_name} saved.")
        return redirect(here)
    data = for_page(upload)
    return render(
        request,
        "media_pipeline/upload.html",
        {"upload": data, "pending": data["pending"]},
    )


@login_required
@require_GET
def thumbnail(request: HttpRequest, upload_id) -> HttpResponse:
    """The upload's smallest JPEG rendition (the link in the ready email), to its owner."""
    data = for_page(selectors.upload_of(request.user, upload_id))
    if not data["picture"]:
        raise Http404("No thumbnail yet.")
    return redirect(data["picture"]["src"])


@login_required
def stored_file(request: HttpRequest, key: str) -> FileResponse:
    """A stored original or rendition, to its owner only (local storage)."""
    field_file = selectors.owned_file(request.user, key)
    if field_file is None:
        raise Http404("No such file.")
    try:
        handle = field_file.storage.open(field_file.name, "rb")
    except FileNotFoundError as missing:
        raise Http404("No such file.") from missing
    response = FileResponse(handle)
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- the library: filters, texts and several uploads at once, without JavaScript too --------


def library_state(request: HttpRequest) -> dict:
    """The gallery's filter (from the query string), what it finds, and what to show of it."""
    library_filter, problems = filters.parse_filter(request.GET)
    return {
        "filter": library_filter,
        "problems": problems,
        "query": library_filter.as_query(),
        "uploads": selectors.library_of(request.user, library_filter),
        "missing_alt": selectors.missing_alt_text_count(request.user),
        "statuses": Upload.Status.choices,
        "formats": [(name, known.label) for name, known in FORMATS.items()],
    }


def save_texts(request: HttpRequest, upload: Upload) -> HttpResponse:
    """The alt text and description form of an upload's page."""
    texts = {
        name: request.POST[name] for name in ("alt_text", "description") if name in request.POST
    }
    try:
        services.update_texts(upload=upload, texts=texts)
    except services.TextTooLong as too_long:
        messages.error(request, f"{upload.original_name}: {too_long} Nothing was changed.")
    else:
        messages.success(request, f"Alt text and description of {upload.original_name} saved.")
    return redirect(back_to(request, reverse("media_pipeline:upload", args=[upload.id])))


@login_required
@require_http_methods(["POST"])
def bulk_page(request: HttpRequest) -> HttpResponse:
    """The gallery's "selected" buttons: delete or try again the ticked uploads."""
    action = request.POST.get("action")
    try:
        results = bulk.bulk_action(
            owner=request.user, action=action, ids=request.POST.getlist("ids")
        )
    except bulk.InvalidBulkRequest as invalid:
        nothing_ticked = action in bulk.ACTIONS and not request.POST.getlist("ids")
        messages.error(
            request, "Tick at least one image first." if nothing_ticked else str(invalid)
        )
        return redirect(back_to(request, reverse("media_pipeline:home")))
    done = sum(r["outcome"] in ("deleted", "queued") for r in results)
    if action == "delete":
        messages.success(request, f"{done} deleted.")
    else:
        messages.success(request, f"{done} queued again.")
        if skipped := sum(r["outcome"] == "not_retryable" for r in results):
            messages.info(request, f"{skipped} left alone: only a failed upload is tried again.")
    return redirect(back_to(request, reverse("media_pipeline:home")))
