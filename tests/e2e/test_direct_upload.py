"""Direct uploads in Chromium: a 120 MB photo goes in parts straight to the media host (moto's
S3 server) over a throttled connection, survives a reload halfway by resuming from the parts
already stored, and can be paused, resumed and cancelled (leaving nothing behind).

The file is a valid 120 MB PNG of random pixels stored uncompressed (tests/bigfiles.py):
honest to every check, and cheap to make. No worker runs here: the upload ends `queued`,
which is where the browser's part ends.
"""

import re
from urllib.parse import parse_qs, urlparse

import pytest

from media_pipeline.models import DirectUpload, Upload
from tests.bigfiles import write_noise_png
from tests.e2e.browser import expect, log_in, screenshot, throttle_uploads
from tests.media_pipeline.test_s3_storage import BUCKET, keys, s3_server, s3_settings
from tests.servers import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]
MB = 1024 * 1024
PART = 5 * MB
__all__ = ["s3_server", "s3_settings"]  # fixtures


@pytest.fixture
def direct_page(s3_server, s3_settings, settings, live_server, new_page):
    """The upload page of a site whose media host is moto, with the CORS rule it needs."""
    import requests

    requests.post(f"{s3_server.endpoint}/moto-api/reset", timeout=10).raise_for_status()
    s3_server.client.create_bucket(Bucket=BUCKET)
    # What production needs on its bucket too (README): the page's origin may PUT and POST,
    # and may read the ETag of each part.
    s3_server.client.put_bucket_cors(
        Bucket=BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [live_server.url],
                    "AllowedMethods": ["PUT", "POST", "GET"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    settings.MEDIA_DIRECT_PART_BYTES = PART
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "connect-src": ["'self'", s3_server.endpoint],
    }
    page = new_page()
    log_in(page, live_server.url, "alice")
    return page


def stored_parts(s3_server) -> list[int]:
    """Part numbers the media host holds of the one unfinished upload (none: [])."""
    uploads = s3_server.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    if not uploads:
        return []
    (one,) = uploads
    listed = s3_server.client.list_parts(Bucket=BUCKET, Key=one["Key"], UploadId=one["UploadId"])
    return [p["PartNumber"] for p in listed.get("Parts", [])]


def part_puts(page) -> list[int]:
    """Record the part number of every PUT the page sends from now on."""
    sent: list[int] = []

    def seen(request):
        if request.method == "PUT" and "partNumber=" in request.url:
            sent.append(int(parse_qs(urlparse(request.url).query)["partNumber"][0]))

    page.on("request", seen)
    return sent


def row(page, name: str):
    return page.locator("#upload-queue li.row").filter(has_text=name)


def test_a_large_file_resumes_after_a_reload_from_the_parts_stored(
    user, direct_page, s3_server, tmp_path
):
    page = direct_page
    size_hint = 120 * MB
    big = write_noise_png(tmp_path / "holiday.png", size_hint)
    size = big.stat().st_size
    parts_total = -(-size // PART)
    page.goto("/")
    expect(page.locator("#upload-form")).to_have_attribute("data-direct-url", re.compile("."))
    expect(page.locator("#upload-hint")).to_contain_text("200 MB")
    # About 4 MB/s: half the file in some 15 s, the whole of it in 30.
    throttle_uploads(page, 4 * MB)
    page.locator("#id_file").set_input_files(str(big))
    expect(row(page, "holiday.png")).to_have_attribute("data-state", "uploading")
    summary = page.locator("#direct-progress")
    expect(summary).to_contain_text(re.compile(r"of 120\.\d MB · [\d.]+ MB/s · about \d+"))
    wait_for(
        lambda: len(stored_parts(s3_server)) >= parts_total // 2,
        timeout=120,
        what="half of the parts to be stored",
    )
    screenshot(page, "direct-upload-halfway")

    page.reload()  # the page is gone, its sending with it
    stored_at_reload = set(stored_parts(s3_server))
    assert 0 < len(stored_at_reload) < parts_total
    offer = page.locator("#direct-unfinished")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text("holiday.png")
    expect(offer).to_contain_text(re.compile(r"\d+\.\d MB of 120\.\d MB stored"))
    screenshot(page, "direct-upload-offer-to-resume")
    throttle_uploads(page, 4 * MB)
    after = part_puts(page)
    page.locator("#id_file").set_input_files(str(big))  # the same file, chosen again

    expect(row(page, "holiday.png")).to_have_attribute("data-state", "queued", timeout=120_000)
    expect(offer).to_be_hidden()
    screenshot(page, "direct-upload-resumed-and-queued")
    # Only the missing parts went again: fewer bytes than the file after the reload.
    stored_now = set(stored_parts(s3_server)) or set(range(1, parts_total + 1))
    assert stored_now == set(range(1, parts_total + 1))
    assert set(after).isdisjoint(stored_at_reload)
    sent_after = sum(min(PART, size - (n - 1) * PART) for n in after)
    assert sent_after < size
    assert sent_after >= size - len(stored_at_reload) * PART
    print(
        f"\n[direct] {size / MB:.1f} MB in {parts_total} parts; stored at the reload: "
        f"{len(stored_at_reload)}; sent after it: {len(after)} parts, {sent_after / MB:.1f} MB"
    )

    upload = Upload.objects.get()
    assert upload.status == "queued" and upload.original_bytes == size
    head = s3_server.client.head_object(Bucket=BUCKET, Key=upload.original.name)
    assert head["ContentLength"] == size
    assert s3_server.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert not DirectUpload.objects.exists()
    assert page.evaluate("localStorage.getItem('media.directUploads')") == "{}"


def test_pause_resume_and_cancel_leave_nothing_behind(user, direct_page, s3_server, tmp_path):
    page = direct_page
    # 12 parts: however far the first four in flight got when paused, more are left to send.
    photo = write_noise_png(tmp_path / "pano.png", 60 * MB, seed=3)
    page.goto("/")
    throttle_uploads(page, 2 * MB)
    sent = part_puts(page)
    page.locator("#id_file").set_input_files(str(photo))
    entry = row(page, "pano.png")
    expect(entry).to_have_attribute("data-state", "uploading")
    wait_for(lambda: stored_parts(s3_server), timeout=60, what="a first part to be stored")

    entry.get_by_role("button", name="Pause pano.png").click()
    expect(entry).to_have_attribute("data-state", "paused")
    expect(entry.locator(".pill")).to_have_text("Paused")
    expect(page.locator("#direct-progress")).to_contain_text("paused")
    screenshot(page, "direct-upload-paused")
    paused_at = len(sent)
    page.wait_for_timeout(1500)
    assert len(sent) == paused_at  # nothing is sent while paused

    entry.get_by_role("button", name="Resume pano.png").click()
    expect(entry).to_have_attribute("data-state", "uploading")
    # (Playwright hands events over only while it is called: let it run while waiting.)
    wait_for(
        lambda: page.wait_for_timeout(100) or len(sent) > paused_at,
        timeout=30,
        what="sending to go on",
    )

    entry.get_by_role("button", name="Cancel pano.png").click()
    expect(entry).to_have_attribute("data-state", "cancelled")
    wait_for(lambda: not DirectUpload.objects.exists(), timeout=30, what="the abort")
    assert s3_server.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert keys(s3_server.client) == []
    assert not Upload.objects.exists()
    assert page.evaluate("localStorage.getItem('media.directUploads')") == "{}"
    screenshot(page, "direct-upload-cancelled")


def test_an_unfinished_upload_offered_after_a_reload_can_be_discarded(
    user, direct_page, s3_server, tmp_path
):
    page = direct_page
    photo = write_noise_png(tmp_path / "scan.png", 12 * MB, seed=5)
    page.goto("/")
    throttle_uploads(page, 2 * MB)
    page.locator("#id_file").set_input_files(str(photo))
    wait_for(lambda: stored_parts(s3_server), timeout=60, what="a first part to be stored")
    page.reload()
    offer = page.locator("#direct-unfinished")
    expect(offer).to_contain_text("scan.png")
    offer.get_by_role("button", name="Discard the unfinished upload of scan.png").click()
    expect(offer).to_be_hidden()
    wait_for(lambda: not DirectUpload.objects.exists(), timeout=30, what="the abort")
    assert s3_server.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert page.evaluate("localStorage.getItem('media.directUploads')") == "{}"


def test_a_part_that_fails_is_sent_again(user, direct_page, s3_server, tmp_path):
    page = direct_page
    photo = write_noise_png(tmp_path / "street.png", 12 * MB, seed=7)
    page.goto("/")
    attempts: list[int] = []

    def flaky(route):
        number = int(parse_qs(urlparse(route.request.url).query)["partNumber"][0])
        attempts.append(number)
        if number == 2 and attempts.count(2) == 1:
            route.abort("connectionreset")  # the first try of part 2 is lost on the way
        else:
            route.continue_()

    page.route(re.compile(r".*partNumber=\d+.*"), flaky)
    page.locator("#id_file").set_input_files(str(photo))
    expect(row(page, "street.png")).to_have_attribute("data-state", "queued", timeout=60_000)
    assert attempts.count(2) == 2 and attempts.count(1) == attempts.count(3) == 1
    upload = Upload.objects.get()
    head = s3_server.client.head_object(Bucket=BUCKET, Key=upload.original.name)
    assert head["ContentLength"] == photo.stat().st_size
