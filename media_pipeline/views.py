"""Pages: upload form and gallery, an upload's page, its stored files. HTTP only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from media_pipeline import imaging, selectors, services
from media_pipeline.models import Upload

PENDING = (Upload.Status.QUEUED, Upload.Status.PROCESSING)


@login_required
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """The upload form and the user's gallery; a plain form post works without JavaScript."""
    if request.method == "POST":
        files = request.FILES.getlist("file")
        if not files:
            messages.error(request, "Choose at least one image to upload.")
        for file in files:
            try:
                services.accept_upload(owner=request.user, file=file)
            except (services.UploadTooLarge, imaging.InvalidImageError) as refused:
                messages.error(request, f"{services.clean_file_name(file.name)}: {refused}")
            else:
                messages.success(request, f"{services.clean_file_name(file.name)}: queued.")
        return redirect("media_pipeline:home")

    page = Paginator(selectors.uploads_of(request.user), 24).get_page(request.GET.get("page"))
    uploads = [selectors.upload_as_dict(upload) for upload in page]
    return render(
        request,
        "media_pipeline/home.html",
        {
            "page": page,
            "uploads": uploads,
            "pending": any(u["status"] in PENDING for u in uploads),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload_page(request: HttpRequest, upload_id) -> HttpResponse:
    """One upload: its state, every rendition and its size, caption and delete forms."""
    upload = selectors.upload_of(request.user, upload_id)
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            services.delete_upload(upload=upload)
            messages.success(request, f"{upload.original_name} deleted.")
            return redirect("media_pipeline:home")
        services.update_caption(upload=upload, caption=request.POST.get("caption", ""))
        return redirect("media_pipeline:upload", upload_id=upload.id)
    data = selectors.upload_as_dict(upload)
    return render(
        request,
        "media_pipeline/upload.html",
        {"upload": data, "pending": data["status"] in PENDING},
    )


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
