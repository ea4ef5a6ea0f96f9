"""Browser fixtures: one Chromium for the package, a fresh context (cookies) per test."""

import os

import pytest

from tests.e2e import browser as chromium

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="package", autouse=True)
def sync_orm_beside_playwright():
    """Let test code use the ORM while Playwright's sync API is running.

    Playwright keeps an asyncio loop running in this thread (in another greenlet), which
    Django's async-safety check takes for async code. The test code itself is plain
    synchronous code, so the check does not apply; it is lifted for this package only.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def chromium_browser(sync_orm_beside_playwright):
    """Debian's Chromium, headless; skipped with the reason when absent, failed in CI."""
    reason = chromium.missing()
    if reason:
        message = f"Browser tests cannot run: {reason}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    playwright = chromium.sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=chromium.CHROMIUM, args=chromium.CHROMIUM_ARGS, headless=True
        )
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(scope="session")
def live_server(live_server):
    """pytest-django's live server, without Django's test-only serving of MEDIA_ROOT.

    LiveServerThread answers every MEDIA_URL path straight from disk, to anybody; here
    stored files go through the owner-checking view at that path, which is what the
    browser must meet.
    """
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.handlers.wsgi import WSGIHandler

    live_server.thread.httpd.set_app(StaticFilesHandler(WSGIHandler()))
    return live_server


@pytest.fixture
def new_page(chromium_browser, live_server):
    """Pages in their own browser context (their own cookies), closed after the test."""
    contexts = []

    def make(viewport=None, **options):
        context = chromium_browser.new_context(
            base_url=live_server.url,
            viewport=viewport or {"width": 1280, "height": 900},
            device_scale_factor=1,
            **options,
        )
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    errors: list[str] = []
    make.errors = errors
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()
