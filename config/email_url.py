"""Turn one EMAIL_URL into a Django 6.1 MAILERS entry."""

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
MEMORY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Scheme -> (use_ssl, use_tls, default port).
SMTP_SCHEMES = {
    "smtp": (False, False, 25),
    "submission": (False, True, 587),
    "smtp+tls": (False, True, 587),
    "smtp+starttls": (False, True, 587),
    "smtps": (True, False, 465),
    "smtp+ssl": (True, False, 465),
}


class EmailURLError(ValueError):
    """EMAIL_URL cannot be understood."""


def mailer_from_url(url: str, *, base_dir: Path | None = None) -> dict:
    """Return the MAILERS entry that EMAIL_URL describes.

    smtp://user:pass@host:25, smtps://... (implicit TLS, 465), smtp+tls://... (STARTTLS,
    587), console:, memory:, file:///abs/dir or file:relative/dir. User name and password
    are URL-decoded, so "p%40ss" means "p@ss". ?timeout=10 sets the socket timeout.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if scheme == "console":
        return {"BACKEND": CONSOLE_BACKEND}
    if scheme in ("memory", "locmem"):
        return {"BACKEND": MEMORY_BACKEND}
    if scheme == "file":
        raw = unquote(parts.netloc + parts.path)
        if not raw:
            raise EmailURLError("EMAIL_URL file: needs a folder, e.g. file:var/mail")
        folder = Path(raw)
        if not folder.is_absolute() and base_dir is not None:
            folder = base_dir / folder
        return {"BACKEND": FILE_BACKEND, "OPTIONS": {"file_path": str(folder)}}
    if scheme not in SMTP_SCHEMES:
        raise EmailURLError(
            f"EMAIL_URL scheme {scheme!r} is not supported; use one of smtp, smtps, "
            "smtp+tls, console, file, memory"
        )
    if not parts.hostname:
        raise EmailURLError("EMAIL_URL needs a host, e.g. smtp://mail.example.com:587")
    use_ssl, use_tls, default_port = SMTP_SCHEMES[scheme]
    if "tls" in query:
        use_tls = query["tls"].lower() in ("1", "true", "yes")
    if "ssl" in query:
        use_ssl = query["ssl"].lower() in ("1", "true", "yes")
    options = {
        "host": parts.hostname,
        "port": parts.port or default_port,
        "username": unquote(parts.username) if parts.username else "",
        "password": unquote(parts.password) if parts.password else "",
        "use_ssl": use_ssl,
        "use_tls": use_tls,
        "timeout": float(query.get("timeout", 10)),
    }
    return {"BACKEND": SMTP_BACKEND, "OPTIONS": options}
