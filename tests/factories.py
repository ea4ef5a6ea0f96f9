"""Small builders for test inputs: image files as a browser would send them."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def jpeg_bytes(
    width: int = 1200, height: int = 900, *, exif_orientation: int | None = None
) -> bytes:
    """A JPEG with a gradient, so it is not trivially compressible; optional EXIF rotation."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    exif = Image.Exif()
    if exif_orientation:
        exif[0x0112] = exif_orientation
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def distinct_jpeg(data: bytes, number: int) -> bytes:
    """The same JPEG with a comment of its own: other bytes, the same pixels. Uploads that
    are byte copies are not rendered again (an exact copy reuses the first one's renditions),
    so tests that need the work done each time send these."""
    comment = f"copy {number}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return data[:2] + segment + data[2:]  # right after the start-of-image marker


def image_file(
    name: str = "photo.jpg", data: bytes | None = None, content_type: str = "image/jpeg"
):
    return SimpleUploadedFile(name, data if data is not None else jpeg_bytes(), content_type)
