"""What an owner narrows their library to: words, state, format, dates, missing alt text.

Read from a query string (`?q=&status=&format=&since=&until=&alt=missing`), the same for
the gallery page and `GET /api/uploads/`. A value that makes no sense is reported in plain
words; the page shows it beside the form, the API answers 400.
"""

import datetime
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from media_pipeline.imaging.formats import FORMATS
from media_pipeline.models import Upload
from media_pipeline.texts import storable

MAX_QUERY_LENGTH = 200
FILTER_FIELDS = ("q", "status", "format", "since", "until", "alt")


@dataclass(frozen=True)
class LibraryFilter:
    q: str = ""
    status: str = ""
    format: str = ""
    # Bounds on when an upload was made, both included; a date alone means its whole day.
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    missing_alt: bool = False
    # The dates as the user wrote them, to put back in the form and the page links.
    since_text: str = ""
    until_text: str = ""

    @property
    def active(self) -> bool:
        return bool(
            self.q or self.status or self.format or self.since or self.until or self.missing_alt
        )

    def as_query(self) -> str:
        """The filter as a query string (without the page), to keep it across pages."""
        pairs = {
            "q": self.q,
            "status": self.status,
            "format": self.format,
            "since": self.since_text,
            "until": self.until_text,
            "alt": "missing" if self.missing_alt else "",
        }
        return urlencode({key: value for key, value in pairs.items() if value})

    def as_dict(self) -> dict:
        return asdict(self)


def _moment(text: str, *, end_of_day: bool) -> datetime.datetime:
    """An ISO date or date-time; a date alone is its first (or last) moment, here in UTC."""
    try:
        # The date first: a date-time parser also reads a bare date, as its midnight.
        day = parse_date(text)
        moment = None if day else parse_datetime(text)
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        moment = day = None
    if moment is None and day is None:
        raise ValueError
    if day is not None:
        moment = datetime.datetime.combine(
            day, datetime.time.max if end_of_day else datetime.time.min
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def parse_filter(params) -> tuple[LibraryFilter, list[str]]:
    """The filter in `params` (a QueryDict or dict), and what was wrong in it (left out)."""
    problems: list[str] = []
    fields: dict = {}

    q = " ".join(storable(params.get("q", "")).split())
    if len(q) > MAX_QUERY_LENGTH:
        problems.append(f"A search can be at most {MAX_QUERY_LENGTH} characters.")
    else:
        fields["q"] = q

    status = params.get("status", "").strip().lower()
    if status and status not in Upload.Status.values:
        problems.append(f"Unknown status '{status}': use one of {', '.join(Upload.Status.values)}.")
    else:
        fields["status"] = status

    image_format = params.get("format", "").strip().lower()
    if image_format and image_format not in FORMATS:
        problems.append(f"Unknown format '{image_format}': use one of {', '.join(FORMATS)}.")
    else:
        fields["format"] = image_format

    for name in ("since", "until"):
        text = params.get(name, "").strip()
        if not text:
            continue
        try:
            fields[name] = _moment(text, end_of_day=name == "until")
            fields[f"{name}_text"] = text
        except ValueError:
            problems.append(f"'{text}' is not a date: write {name} as YYYY-MM-DD.")
    if fields.get("since") and fields.get("until") and fields["since"] > fields["until"]:
        problems.append("The start date is after the end date.")
        for name in ("since", "until", "since_text", "until_text"):
            fields.pop(name)

    alt = params.get("alt", "").strip().lower()
    if alt and alt != "missing":
        problems.append("The alt text filter takes one value: alt=missing.")
    fields["missing_alt"] = alt == "missing"

    return LibraryFilter(**fields), problems
