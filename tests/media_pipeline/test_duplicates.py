"""Placeholders from the 202, duplicates flagged at upload, exact copies sharing rendition files."""

import io
import random
import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageOps

from mailer.models import Digest
from media_pipeline import duplicates, services
from media_pipeline.imaging import DEFAULT_RENDITIONS, Limits, inspect_image, render_renditions
from media_pipeline.imaging.glance import MIN_DETAIL, glance, glance_at_image
from media_pipeline.imaging.phash import distance
from media_pipeline.models import Rendition, Upload
from tests.factories import image_file
from tests.imagecorpus import (
    orientation_exif,
    photo_image,
    photo_jpeg,
    save_as,
    with_exif_thumbnail,
)
from tests.threads import run_at_once

pytestmark = pytest.mark.django_db


def post(client, name: str, data: bytes):
    response = client.post("/api/uploads/", {"file": image_file(name, data)})
    assert response.status_code == 202, response.content
    return response.json()


def process_watching_stores(monkeypatch, upload_id, field: str) -> list:
    """Process the upload; the upload's `field` as each set of renditions was stored."""
    seen = []
    store = services.store_renditions

    def watching(upload, rendered, timer):
        seen.append(getattr(Upload.objects.get(id=upload.id), field))
        store(upload, rendered, timer)

    monkeypatch.setattr(services, "store_renditions", watching)
    services.process_upload(upload_id=upload_id)
    return seen


def processed(client, body):
    """The upload as the API shows it once the worker has made it."""
    services.process_upload(upload_id=body["id"])
    return client.get(body["url"]).json()


def test_the_202_carries_the_placeholder(alice_client):
    body = post(alice_client, "beach.jpg", photo_jpeg(640, 480, seed=1))
    assert body["placeholder"]["color"].startswith("#") and len(body["placeholder"]["color"]) == 7
    assert 20 <= len(body["placeholder"]["thumbhash"]) <= 40  # base64 of about 25 bytes
    assert body["duplicate_of"] is None
    page = alice_client.get("/").content.decode()
    assert f'data-thumbhash="{body["placeholder"]["thumbhash"]}"' in page
    assert f'fill="{body["placeholder"]["color"]}"' in page  # the colour box, without JavaScript
    detail = alice_client.get(body["page"]).content.decode()
    assert "data-thumbhash" in detail


def test_placeholders_can_be_switched_off(alice_client, settings):
    settings.MEDIA_PLACEHOLDERS = False
    body = post(alice_client, "beach.jpg", photo_jpeg(640, 480, seed=1))
    assert body["placeholder"] == {"thumbhash": "", "color": ""}
    assert Upload.objects.get(id=body["id"]).phash is None


def test_a_near_duplicate_is_flagged_then_kept(alice_client):
    original = photo_image(800, 600, seed=2)
    first = post(alice_client, "a.jpg", save_as(original, "JPEG", quality=92))
    assert first["placeholder"]["thumbhash"] == ""  # too big to glance at in the 202
    services.process_upload(upload_id=first["id"])  # the worker takes the look
    copy = original.resize((400, 300)).crop((6, 4, 394, 296))
    second = post(alice_client, "a-small.jpg", save_as(copy, "JPEG", quality=60))
    assert second["placeholder"]["thumbhash"]  # small: looked at in the 202...
    assert second["duplicate_of"] is None  # ...and its duplicates looked for by the worker
    assert processed(alice_client, second)["duplicate_of"] == first["id"]
    page = alice_client.get(second["page"]).content.decode()
    assert "This looks like" in page and f"/uploads/{first['id']}/" in page

    kept = alice_client.post(f"{second['url']}keep/")
    assert kept.status_code == 200 and kept.json()["duplicate_of"] is None
    assert Upload.objects.get(id=second["id"]).duplicate_of is None
    assert Upload.objects.filter(id=first["id"]).exists()
    # Processed again (a retry): what the owner kept is not flagged again.
    Upload.objects.filter(id=second["id"]).update(status="queued")
    assert processed(alice_client, second)["duplicate_of"] is None


def test_two_copies_are_never_each_the_others_duplicate(alice_client):
    """Both looked at in their 202s; the worker takes them in either order."""
    data = photo_jpeg(320, 240, seed=14)
    first = post(alice_client, "t.jpg", data)
    second = post(alice_client, "t-again.jpg", save_as(Image.open(io.BytesIO(data)), "PNG"))
    assert processed(alice_client, second)["duplicate_of"] == first["id"]
    assert processed(alice_client, first)["duplicate_of"] is None  # nothing came before it


def large_copies(client, count: int, seed: int) -> list[dict]:
    """`count` uploads of one picture at slightly different sizes, each too big for the
    202's look: the worker takes each one's hash, in whatever order it processes them."""
    picture = photo_image(1600, 1200, seed=seed)
    sizes = [(1600 - 40 * n, 1200 - 30 * n) for n in range(count)]
    return [
        post(client, f"copy{n}.jpg", save_as(picture.resize(size), "JPEG"))
        for n, size in enumerate(sizes)
    ]


def duplicate_of(body) -> str | None:
    flag = Upload.objects.get(id=body["id"]).duplicate_of_id
    return str(flag) if flag else None


def test_an_earlier_upload_whose_hash_comes_last_flags_the_later_copy(alice_client):
    """Two workers: the later upload is looked at first, when the earlier one has no hash."""
    first, second = large_copies(alice_client, 2, seed=15)
    assert first["placeholder"]["thumbhash"] == "" == second["placeholder"]["thumbhash"]
    services.process_upload(upload_id=second["id"])
    assert duplicate_of(second) is None  # nothing earlier has a hash yet
    services.process_upload(upload_id=first["id"])
    assert duplicate_of(second) == first["id"]
    assert duplicate_of(first) is None  # never the later one's duplicate


def test_a_kept_upload_stays_kept_when_an_earlier_hash_arrives(alice_client):
    earliest, middle, latest = large_copies(alice_client, 3, seed=16)
    services.process_upload(upload_id=middle["id"])
    services.process_upload(upload_id=latest["id"])
    assert duplicate_of(latest) == middle["id"]
    assert alice_client.post(f"{latest['url']}keep/").status_code == 200
    services.process_upload(upload_id=earliest["id"])
    assert duplicate_of(middle) == earliest["id"]  # was looked at before the earliest had a hash
    assert duplicate_of(latest) is None  # its owner kept it
    # A retry of the kept one does not flag it again either.
    Upload.objects.filter(id=latest["id"]).update(status="queued")
    services.process_upload(upload_id=latest["id"])
    assert duplicate_of(latest) is None


@pytest.mark.django_db(transaction=True)
def test_two_hashes_recorded_at_the_same_moment_see_each_other(alice_client, monkeypatch):
    """Each worker's lookup waits for the other's: without the owner's lock both would
    look while the other's hash was not committed, and neither would be flagged."""
    first, second = large_copies(alice_client, 2, seed=17)
    pictures = {
        body["id"]: Image.open(Upload.objects.get(id=body["id"]).original.open("rb"))
        for body in (first, second)
    }
    flag_both_ways = duplicates.flag_both_ways

    written, looked = threading.Barrier(2), threading.Barrier(2)

    def meet(barrier):  # wait for the other thread, for 1 s at most
        try:
            barrier.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass

    def slowly(upload):
        # Without the lock both threads write their hash, then both look, then both commit:
        # neither sees the other's. With it the second waits for the lock, the first goes on
        # alone (after 1 s at each meeting), and the second looks after the first committed.
        meet(written)
        flag_both_ways(upload)
        meet(looked)

    monkeypatch.setattr(duplicates, "flag_both_ways", slowly)

    def record(upload_id):
        duplicates.record_glance(Upload.objects.get(id=upload_id), pictures[upload_id])

    assert not run_at_once(record, list(pictures))
    assert (duplicate_of(first), duplicate_of(second)) == (None, first["id"])


def test_an_exact_copy_processed_before_its_original_still_flags_the_later_one(alice_client):
    """The earlier upload reuses the renditions of the later one (the oldest ready copy);
    the later one is the duplicate all the same."""
    data = save_as(photo_image(1600, 1200, seed=18), "JPEG")
    first = post(alice_client, "same.jpg", data)
    second = post(alice_client, "same-again.jpg", data)
    services.process_upload(upload_id=second["id"])
    services.process_upload(upload_id=first["id"])  # reuses the second's files
    assert Upload.objects.get(id=first["id"]).status == "ready"
    assert (duplicate_of(first), duplicate_of(second)) == (None, first["id"])


@pytest.mark.django_db(transaction=True)
def test_a_lookup_in_progress_lets_the_owner_upload_and_get_digests(user):
    """The owner's lock is FOR NO KEY UPDATE: inserting a row that points at the owner (a
    new upload, a digest) does not wait for it, so a worker finishing an upload and opening
    the owner's digest cannot deadlock with a lookup."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: Postgres (SQLite takes one writer at a time)")
    locked, done = threading.Event(), threading.Event()

    def lookup():
        with transaction.atomic():
            duplicates.lock_owner(user.id)
            locked.set()
            done.wait(timeout=10)

    def insert():
        assert locked.wait(timeout=10)
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                Upload.objects.create(owner=user, original="originals/x.jpg")
                Digest.objects.create(user=user, send_after=timezone.now())
        finally:
            done.set()

    assert not run_at_once(lambda task: task(), [lookup, insert])


def test_the_duplicate_lookup_comes_before_any_rendition(alice_client, monkeypatch):
    data = photo_jpeg(320, 240, seed=12)
    first = post(alice_client, "s.jpg", data)
    second = post(alice_client, "s.png", save_as(Image.open(io.BytesIO(data)), "PNG"))
    flags_when_stored = process_watching_stores(monkeypatch, second["id"], "duplicate_of_id")
    assert flags_when_stored and {str(flag) for flag in flags_when_stored} == {first["id"]}


def test_a_near_duplicate_is_dropped_by_deleting_it(alice_client):
    data = photo_jpeg(640, 480, seed=3)
    first = post(alice_client, "b.jpg", data)
    second = post(alice_client, "b-again.jpg", save_as(Image.open(io.BytesIO(data)), "PNG"))
    services.process_upload(upload_id=second["id"])  # a 670 KB PNG: glanced at by the worker
    assert alice_client.get(second["url"]).json()["duplicate_of"] == first["id"]
    assert alice_client.delete(second["url"]).status_code == 204
    assert list(Upload.objects.values_list("id", flat=True)) == [Upload.objects.get().id]


def test_keep_without_javascript(alice_client):
    data = photo_jpeg(640, 480, seed=4)
    post(alice_client, "c.jpg", data)
    second = post(alice_client, "c2.jpg", data)
    assert processed(alice_client, second)["duplicate_of"]
    response = alice_client.post(second["page"], {"action": "keep", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert Upload.objects.get(id=second["id"]).duplicate_of is None


def test_different_pictures_and_other_owners_are_not_duplicates(alice_client, client, other_user):
    post(alice_client, "d.jpg", photo_jpeg(640, 480, seed=5))
    other_picture = post(alice_client, "e.jpg", photo_jpeg(640, 480, seed=6))
    assert processed(alice_client, other_picture)["duplicate_of"] is None
    client.force_login(other_user)
    theirs = post(client, "d.jpg", photo_jpeg(640, 480, seed=5))
    assert processed(client, theirs)["duplicate_of"] is None


def test_keep_of_another_users_upload_is_404(alice_client, client, other_user):
    theirs = post(alice_client, "f.jpg", photo_jpeg(320, 240, seed=7))
    client.force_login(other_user)
    assert client.post(f"{theirs['url']}keep/").status_code == 404
    assert client.get(f"{theirs['url']}keep/").status_code in (401, 404, 405)


def test_an_exact_copy_reuses_the_renditions_and_deletion_keeps_shared_files(alice_client):
    data = photo_jpeg(900, 600, seed=8)
    first = post(alice_client, "g.jpg", data)
    services.process_upload(upload_id=first["id"])
    second = post(alice_client, "g-copy.jpg", data)
    services.process_upload(upload_id=second["id"])
    assert alice_client.get(second["url"]).json()["duplicate_of"] == first["id"]

    first_files = sorted(
        Rendition.objects.filter(upload_id=first["id"]).values_list("file", flat=True)
    )
    second_files = sorted(
        Rendition.objects.filter(upload_id=second["id"]).values_list("file", flat=True)
    )
    assert Upload.objects.get(id=second["id"]).status == "ready"
    assert second_files == first_files  # pointed at, not rendered again
    assert all(default_storage.exists(name) for name in first_files)

    with pytest.MonkeyPatch.context() as patch:  # run the deletion's on_commit at once
        patch.setattr("django.db.transaction.on_commit", lambda func, **kwargs: func())
        assert alice_client.delete(first["url"]).status_code == 204
        assert all(default_storage.exists(name) for name in second_files)  # still used
        assert alice_client.delete(second["url"]).status_code == 204
    assert not any(default_storage.exists(name) for name in second_files)


def test_a_copy_rendered_under_other_settings_is_rendered_afresh(alice_client, settings):
    data = photo_jpeg(900, 600, seed=9)
    first = post(alice_client, "h.jpg", data)
    services.process_upload(upload_id=first["id"])
    settings.MEDIA_RENDITION_FORMATS = ["jpeg"]
    settings.MEDIA_RENDITIONS = ["thumb:200", "big:800"]
    second = post(alice_client, "h2.jpg", data)
    services.process_upload(upload_id=second["id"])
    names = set(Rendition.objects.filter(upload_id=second["id"]).values_list("name", "file"))
    assert names == {
        ("thumb", f"renditions/{second['id']}/thumb.jpg"),
        ("big", f"renditions/{second['id']}/big.jpg"),
    }


def test_a_large_png_gets_its_placeholder_and_duplicate_flag_from_the_worker(alice_client):
    picture = photo_image(1800, 1200, seed=10)  # over the web process's 2 MP decode budget
    first = post(alice_client, "wide.jpg", save_as(picture, "JPEG", quality=90))
    services.process_upload(upload_id=first["id"])
    body = post(alice_client, "wide.png", save_as(picture, "PNG"))
    assert body["placeholder"] == {"thumbhash": "", "color": ""}
    assert body["duplicate_of"] is None
    services.process_upload(upload_id=body["id"])
    done = alice_client.get(body["url"]).json()
    assert done["status"] == "ready"
    assert done["placeholder"]["thumbhash"] and done["placeholder"]["color"].startswith("#")
    assert done["duplicate_of"] == first["id"]


def test_a_jpeg_too_big_for_the_202s_glance_gets_it_before_its_thumbnail_is_stored(
    alice_client, monkeypatch
):
    data = photo_jpeg(2400, 1600, seed=13)  # no EXIF thumbnail: a 1/8 decode of 1 MB
    body = post(alice_client, "big.jpg", data)
    assert body["placeholder"] == {"thumbhash": "", "color": ""}
    seen_when_stored = process_watching_stores(monkeypatch, body["id"], "thumbhash")
    assert seen_when_stored and all(seen_when_stored)  # already there for the thumbnail
    done = alice_client.get(body["url"]).json()
    assert done["status"] == "ready" and done["placeholder"]["color"].startswith("#")
    assert Upload.objects.get(id=body["id"]).phash is not None


# What decides: the looks the web process and the worker take, compared as a lookup does.


def web_look(data: bytes):
    info = inspect_image(io.BytesIO(data), limits=Limits())
    return glance(io.BytesIO(data), info, Limits())


def worker_look(data: bytes):
    decoded = []
    thumb = [spec for spec in DEFAULT_RENDITIONS if spec.name == "thumb"]
    render_renditions(io.BytesIO(data), thumb, limits=Limits(), on_decoded=decoded.append)
    return glance_at_image(decoded[0])


def copies(a, b) -> bool:
    """Whether uploads of these looks (not the same bytes) would be flagged: within the
    default 8 bits, then colour and detail."""
    look_a = duplicates.Look(a.phash, a.detail, a.thumbhash, "")
    look_b = duplicates.Look(b.phash, b.detail, b.thumbhash, "")
    return distance(a.phash, b.phash) <= 8 and duplicates.is_copy(look_a, look_b)


def jpeg(image, **kwargs) -> bytes:
    return save_as(image, "JPEG", quality=kwargs.pop("quality", 90), **kwargs)


@pytest.mark.parametrize("seed", [1, 2, 14])
def test_true_copies_stay_duplicates(seed):
    picture = photo_image(1200, 900, seed=seed)
    original = worker_look(jpeg(picture))
    assert original.detail >= MIN_DETAIL
    variants = {
        "resized": jpeg(picture.resize((600, 450))),
        "JPEG q30": jpeg(picture, quality=30),
        "slightly cropped": jpeg(picture.crop((20, 15, 1180, 885))),
        "EXIF-rotated": jpeg(
            picture.transpose(Image.Transpose.ROTATE_90), exif=orientation_exif(6)
        ),
        "PNG": save_as(picture, "PNG"),
        "CMYK": jpeg(picture.convert("CMYK")),
        "small, the web's look": jpeg(picture.resize((320, 240)), quality=70),
    }
    for what, data in variants.items():
        seen = web_look(data) if what.startswith("small") else worker_look(data)
        assert copies(original, seen), what


def test_a_greyscale_version_of_a_colour_photo_is_not_a_copy():
    """Decided: a black-and-white version is an edit its owner made, not a copy. A photo
    that looks grey anyway (colourfulness at most 2) still matches its grey version."""
    picture = photo_image(1200, 900, seed=3)
    grey = ImageOps.grayscale(picture)
    assert distance(worker_look(jpeg(picture)).phash, worker_look(jpeg(grey)).phash) <= 2
    assert not copies(worker_look(jpeg(picture)), worker_look(jpeg(grey)))
    washed = Image.blend(picture, grey.convert("RGB"), 0.97)  # nearly no colour left
    assert copies(worker_look(jpeg(washed)), worker_look(jpeg(grey)))


def text_page(seed: int) -> Image.Image:
    rnd = random.Random(seed)
    page = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(page)
    for y in range(80, 1000, 20):
        words = [
            "".join(rnd.choice("abcdefghij") for _ in range(rnd.randrange(2, 9)))
            for _ in range(rnd.randrange(6, 14))
        ]
        draw.text((70, y), " ".join(words), fill="black")
    return page


def circles_picture() -> Image.Image:
    rnd = random.Random(1)
    image = Image.new("RGB", (800, 600), (122, 118, 124))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, r = rnd.randrange(800), rnd.randrange(600), rnd.randrange(20, 200)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rnd.randrange(256) for _ in "rgb"))
    return image


def flat(colour, size=(800, 600)) -> Image.Image:
    return Image.new("RGB", size, colour)


def vertical(top, bottom) -> Image.Image:
    ramp = Image.linear_gradient("L").resize((800, 600))
    channels = [
        ramp.point(lambda v, a=a, b=b: a + (b - a) * v // 255)
        for a, b in zip(top, bottom, strict=True)
    ]
    return Image.merge("RGB", channels)


def test_look_alikes_that_are_different_pictures_are_not_copies():
    transparent_circle = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(transparent_circle).ellipse([50, 50, 350, 350], fill=(255, 0, 0, 255))
    transparent_square = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(transparent_square).rectangle([50, 50, 350, 350], fill=(0, 0, 255, 255))
    split = flat((255, 0, 0))
    split.paste((0, 0, 255), (400, 0, 800, 600))
    pairs = {
        "red and blue": (flat("red"), flat("blue")),
        "red and green": (flat("red"), flat("lime")),
        "white and black": (flat("white"), flat("black")),
        "1 x 1 green and red": (flat((10, 200, 30), (1, 1)), flat((200, 10, 30), (1, 1))),
        "vertical gradients": (
            vertical((0, 0, 0), (255, 255, 255)),
            vertical((255, 0, 0), (0, 0, 255)),
        ),
        "text pages 1 and 2": (text_page(1), text_page(2)),
        "text pages 2 and 3": (text_page(2), text_page(3)),
        "circle and square": (transparent_circle, transparent_square),
        "circles and a split": (circles_picture(), split),
    }
    for what, (a, b) in pairs.items():
        look_a, look_b = (worker_look(save_as(image, "PNG")) for image in (a, b))
        assert not copies(look_a, look_b), what
    # Why: the hash alone makes flat pictures alike, and tells too little of these.
    red, blue = worker_look(save_as(flat("red"), "PNG")), worker_look(jpeg(flat("blue")))
    assert red.phash == 0 == blue.phash
    assert worker_look(save_as(text_page(1), "PNG")).detail < MIN_DETAIL
    assert worker_look(save_as(split, "PNG")).detail < MIN_DETAIL


def test_flat_pictures_are_not_flagged_but_an_exact_copy_of_one_is(alice_client):
    bodies = [
        post(alice_client, f"{name}.png", save_as(flat(name), "PNG"))
        for name in ("red", "blue", "white", "black")
    ]
    again = post(alice_client, "red-again.png", save_as(flat("red"), "PNG"))
    for body in [*bodies, again]:
        services.process_upload(upload_id=body["id"])
    assert [duplicate_of(body) for body in bodies] == [None] * 4
    assert duplicate_of(again) == bodies[0]["id"]  # the same bytes: a copy however plain


def test_a_failed_upload_is_never_the_original(alice_client):
    """Dropping the copy of a failed upload would lose the picture."""
    picture = photo_image(640, 480, seed=21)
    cropped = post(alice_client, "crop.jpg", jpeg(picture.crop((8, 6, 632, 474)), quality=80))
    failed = post(alice_client, "first.jpg", jpeg(picture.resize((320, 240))))
    copy = post(alice_client, "copy.jpg", jpeg(picture.resize((320, 240)), quality=85))
    services.fail_upload(upload_id=failed["id"], reason="broken")
    services.process_upload(upload_id=copy["id"])
    assert duplicate_of(copy) == cropped["id"]  # not the nearer, failed one
    services.fail_upload(upload_id=cropped["id"], reason="broken")  # that one fails later
    assert duplicate_of(copy) is None  # no earlier upload left that has not failed
    # A retried upload that comes out ready is an original again.
    services.retry_upload(upload=Upload.objects.get(id=failed["id"]))
    services.process_upload(upload_id=failed["id"])
    assert duplicate_of(copy) == failed["id"]


def test_a_target_that_fails_hands_its_copies_to_an_earlier_one(alice_client):
    picture = photo_image(640, 480, seed=22)
    earliest = post(alice_client, "e.jpg", jpeg(picture.crop((8, 6, 632, 474)), quality=80))
    nearer = post(alice_client, "n.jpg", jpeg(picture.resize((320, 240))))
    copy = post(alice_client, "c.png", save_as(picture.resize((320, 240)), "PNG"))
    services.process_upload(upload_id=copy["id"])
    assert duplicate_of(copy) == nearer["id"]
    services.fail_upload(upload_id=nearer["id"], reason="broken")
    assert duplicate_of(copy) == earliest["id"]


def stale_thumbnail(picture: bytes, other: bytes) -> bytes:
    """`picture` carrying the EXIF thumbnail of `other` (an editor that left it stale)."""
    app1 = with_exif_thumbnail(other)[2 : -(len(other) - 2)]
    assert app1[:2] == b"\xff\xe1"
    return picture[:2] + app1 + picture[2:]


def test_a_stale_exif_thumbnail_is_corrected_from_the_pixels(alice_client):
    other = photo_jpeg(1600, 1200, seed=23)
    first = post(alice_client, "other.jpg", other)
    services.process_upload(upload_id=first["id"])
    mine = photo_jpeg(1600, 1200, seed=24)
    body = post(alice_client, "mine.jpg", stale_thumbnail(mine, other))
    wrong = Upload.objects.get(id=body["id"])
    assert distance(wrong.phash, Upload.objects.get(id=first["id"]).phash) <= 2  # the other's
    assert processed(alice_client, body)["duplicate_of"] is None
    right = Upload.objects.get(id=body["id"])
    assert right.thumbhash != wrong.thumbhash and right.dominant_color != wrong.dominant_color
    assert distance(right.phash, worker_look(mine).phash) <= 2  # its own
    assert distance(right.phash, wrong.phash) > 8
    # And duplicates are found by the right look: a copy of this picture is flagged.
    small = jpeg(Image.open(io.BytesIO(mine)).resize((320, 240)))
    copy = post(alice_client, "mine-small.jpg", small)
    assert processed(alice_client, copy)["duplicate_of"] == body["id"]


def test_a_wrong_flag_from_a_stale_thumbnail_is_cleared_unless_kept(alice_client):
    other = photo_jpeg(1600, 1200, seed=25)
    first = post(alice_client, "other.jpg", other)
    services.process_upload(upload_id=first["id"])
    flagged = post(alice_client, "a.jpg", stale_thumbnail(photo_jpeg(1600, 1200, seed=26), other))
    kept = post(alice_client, "b.jpg", stale_thumbnail(photo_jpeg(1600, 1200, seed=27), other))
    # As the worker left them before it checked the web's look against the pixels.
    Upload.objects.filter(id=flagged["id"]).update(duplicate_of=first["id"])
    Upload.objects.filter(id=kept["id"]).update(duplicate_kept=True)
    services.process_upload(upload_id=flagged["id"])
    services.process_upload(upload_id=kept["id"])
    assert duplicate_of(flagged) is None
    assert duplicate_of(kept) is None and Upload.objects.get(id=kept["id"]).duplicate_kept


def test_a_right_exif_thumbnail_keeps_the_look_of_the_202(alice_client):
    body = post(alice_client, "phone.jpg", with_exif_thumbnail(photo_jpeg(1600, 1200, seed=28)))
    assert body["placeholder"]["thumbhash"]
    assert processed(alice_client, body)["placeholder"] == body["placeholder"]
