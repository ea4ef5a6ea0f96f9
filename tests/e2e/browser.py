"""Driving Debian's Chromium with Playwright: the launch, and what the tests do in a page."""

import base64
import os
import shutil
from pathlib import Path

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the tests say so and skip (or fail in CI)
    PlaywrightError = expect = sync_playwright = None

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct-horse-battery"  # the root conftest's users


def missing() -> str:
    """Why the browser tests cannot run here, or "" when they can."""
    reasons = []
    if sync_playwright is None:
        reasons.append(
            "the Python package 'playwright' is not installed"
            " (pip install -r requirements/local.txt)"
        )
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        reasons.append(
            f"no Chromium at {CHROMIUM} (scripts/install-browser installs Debian's package as root)"
        )
    return "; ".join(reasons)


def log_in(page, base_url: str, username: str) -> None:
    """Through the login form, as a person does."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def drop_files(page, selector: str, files: list[tuple[str, str, bytes]]) -> None:
    """Drop (name, type, bytes) files on the element, the way a file manager drag ends."""
    payload = [
        {"name": name, "type": kind, "data": base64.b64encode(data).decode()}
        for name, kind, data in files
    ]
    transfer = page.evaluate_handle(
        """files => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, {type: f.type}));
            }
            return transfer;
        }""",
        payload,
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


def throttle_uploads(page, bytes_per_second: int) -> None:
    """Slow the browser's sending (Chromium's network emulation) so progress can be seen."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def upload_and_wait(page, files: list[tuple[str, bytes]], *, timeout_ms: int = 120_000) -> None:
    """Choose JPEG files with the page's picker and wait until each row says ready."""
    page.locator("#id_file").set_input_files(
        [{"name": name, "mimeType": "image/jpeg", "buffer": data} for name, data in files]
    )
    for name, _ in files:
        row = page.locator("#upload-queue li.row").filter(has_text=name)
        expect(row).to_have_attribute("data-state", "ready", timeout=timeout_ms)


def wait_for_images(page, selector: str = "#gallery img") -> None:
    """Until every matching image has loaded."""
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth)",
        arg=selector,
    )


def screenshot(page, name: str, **options) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path


__all__ = ["PlaywrightError", "expect"]


def listen(page) -> None:
    """Record what screen readers hear (the live region's announcements) in window.spoken."""
    page.evaluate(
        """() => {
            window.spoken = [];
            new MutationObserver(changes => changes.forEach(change => change.addedNodes
                .forEach(node => window.spoken.push(node.textContent))))
                .observe(document.getElementById('announcer'), {childList: true});
        }"""
    )
