"""The upload benchmark's baselines: the image work done inline, and storing the file alone.

Both take the same request as `POST /api/uploads/` (session login, CSRF, multipart field
`file`) and go through the same middleware, so only what the view does differs.
"""

import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from media_pipeline import imaging, services


def the_file(request: HttpRequest):
    """The one uploaded file, or a JsonResponse saying what is wrong."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Log in to use the API."}, status=401)
    files = request.FILES.getlist("file")
    if len(files) != 1:
        return JsonResponse({"error": "Send exactly one file in the field 'file'."}, status=400)
    return files[0]


@require_POST
def inline(request: HttpRequest) -> JsonResponse:
    """What the product avoids: decode and make every rendition before answering."""
    file = the_file(request)
    if isinstance(file, JsonResponse):
        return file
    try:
        info, rendered = services.render_file(file)
    except imaging.InvalidImageError as invalid:
        return JsonResponse({"error": str(invalid)}, status=400)
    folder = f"bench/inline/{uuid.uuid4().hex}"
    file.seek(0)
    default_storage.save(f"{folder}/original.{info.format}", file)
    for item in rendered:
        default_storage.save(f"{folder}/{item.name}.{item.extension}", ContentFile(item.data))
    return JsonResponse(
        {"width": info.width, "height": info.height, "renditions": len(rendered)}, status=201
    )


@require_POST
def store_only(request: HttpRequest) -> JsonResponse:
    """The floor: store the bytes under a random key; no sniffing, no database row, no task."""
    file = the_file(request)
    if isinstance(file, JsonResponse):
        return file
    name = default_storage.save(f"bench/store-only/{uuid.uuid4().hex}.bin", file)
    return JsonResponse({"name": name}, status=201)
