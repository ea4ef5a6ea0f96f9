"""Several of an owner's uploads at once: delete them or try them again, one outcome per id.

Only the owner's uploads are touched; an id that is not theirs (or not anybody's) is
reported `not_found`, exactly like one that does not exist.
"""

import uuid

from media_pipeline import services
from media_pipeline.models import Upload

ACTIONS = ("delete", "retry")
MAX_IDS = 100


class InvalidBulkRequest(ValueError):
    pass


def checked_request(action, ids) -> tuple[str, list[str]]:
    """The action and the ids (each once, in order) if they make sense; else InvalidBulkRequest."""
    if action not in ACTIONS:
        raise InvalidBulkRequest(f"Unknown action: use one of {', '.join(ACTIONS)}.")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidBulkRequest("Send 'ids' as a list of upload ids (text), at least one.")
    # Once per upload, however it is spelt (capitals, braces, no hyphens): a delete done
    # twice would fail on the second, after the first had deleted it.
    unique: dict = {}
    for text in ids:
        unique.setdefault(_as_uuid(text) or text, text)
    unique = list(unique.values())
    if len(unique) > MAX_IDS:
        raise InvalidBulkRequest(f"At most {MAX_IDS} uploads at once.")
    return action, unique


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def bulk_action(*, owner, action: str, ids: list[str]) -> list[dict]:
    """Do `action` to each of the owner's uploads among `ids`: [{"id", "outcome", ...}].

    Outcomes: `deleted`; `queued` (tried again); `not_retryable` (with its `status`: only a
    failed upload is tried again); `not_found`.
    """
    action, ids = checked_request(action, ids)
    wanted = {text: _as_uuid(text) for text in ids}
    owned = {
        upload.id: upload
        for upload in Upload.objects.filter(
            owner=owner, id__in=[u for u in wanted.values() if u]
        ).prefetch_related("renditions")
    }
    retried = set()
    if action == "retry":
        retried = set(services.retry_uploads(upload_ids=list(owned), by="owner"))

    results = []
    for text, upload_id in wanted.items():
        upload = owned.get(upload_id)
        if upload is None:
            results.append({"id": text, "outcome": "not_found"})
        elif action == "delete":
            services.delete_upload(upload=upload)
            results.append({"id": text, "outcome": "deleted"})
        elif upload_id in retried:
            results.append({"id": text, "outcome": "queued"})
        else:
            current = Upload.objects.filter(id=upload_id).values_list("status", flat=True).first()
            results.append({"id": text, "outcome": "not_retryable", "status": current})
    return results
