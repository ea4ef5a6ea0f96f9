"""Turn one EMAIL_URL (or what Heroku's mail add-ons set) into a Django 6.1 MAILERS entry."""

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

# Django's SMTP backend, also recording the server's reply to each accepted message.
SMTP_BACKEND = "mailer.backends.smtp.EmailBackend"
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


def email_url_from_environ(environ: Mapping[str, str]) -> str:
    """EMAIL_URL, or one built from Heroku's Mailgun or SendGrid add-on; "" when none is set.

    EMAIL_URL wins; then Mailgun (MAILGUN_SMTP_SERVER, _PORT, _LOGIN, _PASSWORD); then
    SendGrid (SENDGRID_API_KEY, or the older SENDGRID_USERNAME and SENDGRID_PASSWORD).
    Both providers take STARTTLS on 587; port 465 means implicit TLS.
    """
    if environ.get("EMAIL_URL", "").strip():
        return environ["EMAIL_URL"].strip()
    if environ.get("MAILGUN_SMTP_SERVER"):
        login, password = _both(environ, "MAILGUN_SMTP_LOGIN", "MAILGUN_SMTP_PASSWORD")
        port = environ.get("MAILGUN_SMTP_PORT") or "587"
        if not port.isdigit():
            raise EmailURLError(f"MAILGUN_SMTP_PORT must be a number, not {port!r}")
        return _smtp_url(login, password, environ["MAILGUN_SMTP_SERVER"], int(port))
    if environ.get("SENDGRID_API_KEY"):
        return _smtp_url("apikey", environ["SENDGRID_API_KEY"], "smtp.sendgrid.net", 587)
    if environ.get("SENDGRID_USERNAME") or environ.get("SENDGRID_PASSWORD"):
        login, password = _both(environ, "SENDGRID_USERNAME", "SENDGRID_PASSWORD")
        return _smtp_url(login, password, "smtp.sendgrid.net", 587)
    return ""


def _both(environ: Mapping[str, str], user_key: str, password_key: str) -> tuple[str, str]:
    missing = [key for key in (user_key, password_key) if not environ.get(key)]
    if missing:
        raise EmailURLError(
            f"EMAIL_URL is unset and the mail add-on's variables are incomplete: "
            f"set {' and '.join(missing)}, or set EMAIL_URL"
        )
    return environ[user_key], environ[password_key]


def _smtp_url(user: str, password: str, host: str, port: int) -> str:
    scheme = "smtps" if port == 465 else "smtp+tls"
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host.strip()}:{port}"


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
