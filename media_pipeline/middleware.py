"""Refuse an oversized request body before anything reads it."""

from django.conf import settings
from django.http import JsonResponse
from django.template.response import TemplateResponse

# Room for the multipart envelope and the other form fields around the file.
ENVELOPE_BYTES = 256 * 1024


class RequestSizeLimitMiddleware:
    """Answer 413 from Content-Length alone, so a huge upload is never read or spooled.

    It must come before the CSRF middleware, which parses the body of every POST.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MEDIA_MAX_UPLOAD_BYTES + ENVELOPE_BYTES
        if length > limit:
            message = (
                f"The upload is {length / 1_048_576:.1f} MB; the limit is "
                f"{settings.MEDIA_MAX_UPLOAD_BYTES / 1_048_576:.0f} MB per file."
            )
            if request.path.startswith("/api/"):
                response = JsonResponse({"error": message}, status=413)
            else:
                response = TemplateResponse(
                    request, "media_pipeline/error.html", {"message": message}, status=413
                )
            # The unread body would otherwise be parsed as the next request.
            response["Connection"] = "close"
            return response
        return self.get_response(request)
