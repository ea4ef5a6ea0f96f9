"""Uploads that fail for real in the worker, and the checks after they are tried again."""

import io
import random
import re
import struct
import zlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from media_pipeline import services
from media_pipeline.imaging import planned_renditions
from media_pipeline.models import Rendition, Upload
from tests.imagecorpus import photo_image
from tests.servers import wait_for

READY_TIMEOUT = 120_000  # ms; the worker shares two cores with everything else
RENDITION_URL = re.compile(r"/media/renditions/")


def png(width: int, height: int, seed: int) -> bytes:
    buffer = io.BytesIO()
    photo_image(width, height, seed=seed).save(buffer, "PNG")
    return buffer.getvalue()


def damaged(data: bytes) -> bytes:
    """The PNG with its first block of pixel data garbled, chunk lengths and CRCs still right.

    Every header and trailer check passes, so the upload is accepted; only decoding finds
    the damage, so its worker ends it `failed`.
    """
    data = bytearray(data)
    start = data.index(b"IDAT") - 4
    length = struct.unpack(">I", data[start : start + 4])[0]
    garbage = random.Random(length).randbytes(length)
    data[start + 8 : start + 8 + length] = garbage
    data[start + 8 + length : start + 12 + length] = struct.pack(
        ">I", zlib.crc32(b"IDAT" + garbage)
    )
    return bytes(data)


def accepted(user, name: str, data: bytes) -> Upload:
    """Through the same door as the upload form: checked, stored, queued and published."""
    return services.accept_upload(owner=user, file=SimpleUploadedFile(name, data, "image/png"))


def until_final(upload: Upload) -> Upload:
    return wait_for(
        lambda: (row := Upload.objects.get(id=upload.id)).status in ("ready", "failed") and row,
        timeout=READY_TIMEOUT / 1000,
        what=f"{upload.original_name} to be ready or failed",
    )


def failed_for_real(user, name: str, good: bytes) -> Upload:
    """An upload of a damaged copy of `good` that the real worker has failed."""
    upload = until_final(accepted(user, name, damaged(good)))
    assert upload.status == "failed"
    assert upload.error and "Traceback" not in upload.error
    return upload


def repair(upload: Upload, good: bytes) -> None:
    """Put the undamaged bytes under the original's key: trying again keeps the original."""
    storage = upload.original.storage
    storage.delete(upload.original.name)
    assert storage.save(upload.original.name, ContentFile(good)) == upload.original.name


def rendition_count(upload: Upload) -> int:
    """The renditions made of the upload: each size once per format (distinct_sizes)."""
    upload.refresh_from_db()
    planned = planned_renditions((upload.width, upload.height), services.rendition_specs())
    return sum(len(spec.formats) for spec in planned)


def assert_one_set_of_renditions(upload: Upload) -> None:
    renditions = Rendition.objects.filter(upload=upload)
    kinds = list(renditions.values_list("name", "format"))
    assert len(kinds) == rendition_count(upload)
    assert len(set(kinds)) == len(kinds)
    assert len(default_storage.listdir(f"renditions/{upload.id}")[1]) == len(kinds)


def script_errors(errors: list[str]) -> list[str]:
    """Errors of the page's own code or of its CSP; the 409 the test provokes is expected."""
    return [e for e in errors if "Failed to load resource" not in e]
