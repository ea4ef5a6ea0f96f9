"""One structured log line per state change of an upload or email, carrying its id.

logfmt (`upload=<id> status=ready attempts=1 decode_ms=120`), so `heroku logs | grep <id>`
tells one row's story and a log pipeline can parse every field.
"""

import json
import logging

log = logging.getLogger("state")


def _value(value) -> str:
    text = str(value)
    if not text or any(ch.isspace() or ch in '"=' for ch in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def logfmt(**fields) -> str:
    return " ".join(f"{key}={_value(value)}" for key, value in fields.items() if value is not None)


def state_changed(row_kind: str, object_id, status: str, /, **fields) -> None:
    """Log that the `row_kind` row ("upload", "email") `object_id` is now in `status`,
    with what explains it."""
    log.info(logfmt(**{row_kind: object_id, "status": status}, **fields))
