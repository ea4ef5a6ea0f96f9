"""Time to the first visible thumbnail: the 202 to the event announcing it, on an idle stack.

Run from the repository root: ``python -m bench first_thumbnail`` (or ``python -m
bench.bench_first_thumbnail [--rounds 8]``). gunicorn (2 workers x 4 threads) and a real
media worker (one process) on a throwaway database and queues; a plain HTTP client holds the
page's event stream (`GET /events/`) open, as a browser tab does. Each round, with the stack
idle, it posts a 12-megapixel photo-like JPEG and notes:
- the upload's round trip (POST to the 202),
- the 202 to the first `uploads` event whose upload has its thumbnail (what the page shows),
- the 202 to the thumbnail's URL answering 200 (seen by asking every 10 ms),
beside pyvips' `thumbnail` alone of the same file to the same size (one thread, as the worker
runs libvips). Prints the medians and the ratio (round trip + 202 to thumbnail shown) /
(round trip + pyvips thumbnail alone), goal <= 1.3. The stream looks for changes when
Postgres notifies it, else every MEDIA_EVENTS_CHECK_SECONDS (`--check-seconds`).
Always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from urllib3 import encode_multipart_formdata

from bench.bench_upload_latency import ROOT, logged_in_session, served
from tests.imagecorpus import photo_jpeg

GOAL = 1.3
PHOTO_SIZE = (4000, 3000)  # 12 MP
THUMB_EDGE = 320


class EventListener:
    """The page's event stream in a thread: every upload pushed, with when it arrived."""

    def __init__(self, session: requests.Session, url: str):
        self.session, self.url = session, url
        self.arrivals: queue.SimpleQueue = queue.SimpleQueue()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        last_id = f"{time.time():.6f}"
        while not self.stopped.is_set():  # each stream ends after a while: reconnect at once
            try:
                with self.session.get(
                    self.url, headers={"Last-Event-ID": last_id}, stream=True, timeout=90
                ) as response:
                    fields: dict[str, str] = {}
                    for line in response.iter_lines(decode_unicode=True):
                        if line:
                            key, _, value = line.partition(": ")
                            fields[key] = value
                            continue
                        if fields.get("event") == "uploads":
                            now = time.perf_counter()
                            last_id = fields.get("id", last_id)
                            for upload in json.loads(fields["data"])["uploads"]:
                                self.arrivals.put((now, upload))
                        fields = {}
            except requests.RequestException:
                time.sleep(0.2)

    def wait_for_thumbnail(self, upload_id: str, timeout: float = 120) -> tuple[float, dict]:
        deadline = time.monotonic() + timeout
        while True:
            at, upload = self.arrivals.get(timeout=max(0.1, deadline - time.monotonic()))
            if upload["id"] == upload_id and any(
                r["name"] == "thumb" for r in upload["renditions"]
            ):
                return at, upload


def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    namespace = env["CELERY_QUEUE_NAMESPACE"]
    command = [
        sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-Q", f"{namespace}media",
        "-n", f"firstthumb{os.getpid()}@%h", "--concurrency=1", "--prefetch-multiplier=1",
        "--without-gossip", "--without-mingle", "--loglevel=INFO",
    ]  # fmt: skip
    log = log_path.open("w")
    worker = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env={**env, "LOG_LEVEL": "INFO"}, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while "ready." not in log_path.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the media worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return worker


def pyvips_thumbnail_seconds(data: bytes) -> float:
    import pyvips

    pyvips.cache_set_max(0)
    started = time.perf_counter()
    pyvips.Image.thumbnail_buffer(data, THUMB_EDGE).jpegsave_buffer(Q=82)
    return time.perf_counter() - started


def first_200(session: requests.Session, base: str, upload_url: str, started: float) -> float:
    """Ask for the upload every 10 ms until it lists a thumbnail, then fetch that: seconds."""
    while True:
        body = session.get(base + upload_url, timeout=30).json()
        thumbs = [r for r in body["renditions"] if r["name"] == "thumb"]
        if thumbs and session.get(base + thumbs[0]["url"], timeout=30).status_code == 200:
            return time.perf_counter() - started
        time.sleep(0.01)


def wait_ready(session: requests.Session, url: str) -> None:
    while session.get(url, timeout=30).json()["status"] not in ("ready", "failed"):
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_first_thumbnail", description=__doc__
    )
    parser.add_argument("--rounds", type=int, default=8, help="uploads per measure (default 8)")
    parser.add_argument(
        "--check-seconds", type=float, default=None, help="MEDIA_EVENTS_CHECK_SECONDS (0.5)"
    )
    args = parser.parse_args(argv)
    extra = {}
    if args.check_seconds is not None:
        extra["MEDIA_EVENTS_CHECK_SECONDS"] = str(args.check_seconds)
        print(f"Events:   the stream looks for changes every {args.check_seconds} s")
    os.environ.setdefault("VIPS_CONCURRENCY", "1")
    data = photo_jpeg(*PHOTO_SIZE, quality=90, seed=17)
    body, content_type = encode_multipart_formdata({"file": ("photo.jpg", data, "image/jpeg")})
    print(
        f"Upload:   {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} photo-like JPEG q90, {len(data) / 1e6:.2f} MB"
    )

    with served("first-thumbnail", extra_env=extra) as (base, _media, _server, log, env):
        worker = start_worker(env, log.parent / "worker.log")
        try:
            session = logged_in_session(base)
            listener = EventListener(logged_in_session(base), f"{base}/events/")
            headers = {"Content-Type": content_type, "X-CSRFToken": session.cookies["csrftoken"]}
            figures: dict[str, list[float]] = {"vips": [], "trip": [], "event": [], "200": []}
            print(f"Machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
            for index in range(args.rounds + 1):  # the first round warms everything up
                vips = pyvips_thumbnail_seconds(data)
                time.sleep(0.5)  # idle again
                started = time.perf_counter()
                response = session.post(f"{base}/api/uploads/", data=body, headers=headers)
                accepted = time.perf_counter()
                upload = response.json()
                # Even rounds: the event stream; odd rounds: the URL answering 200.
                if index % 2 == 0:
                    at, _ = listener.wait_for_thumbnail(upload["id"])
                    shown, kind = at - accepted, "event"
                else:
                    shown, kind = first_200(session, base, upload["url"], accepted), "200"
                wait_ready(session, base + upload["url"])
                if index:
                    figures["vips"].append(vips)
                    figures["trip"].append(accepted - started)
                    figures[kind].append(shown)
                    trip_ms = 1000 * (accepted - started)
                    print(
                        f"  round {index}/{args.rounds}: 202 after {trip_ms:.0f}"
                        f" ms, thumbnail ({kind}) {1000 * shown:.0f} ms later; pyvips alone"
                        f" {1000 * vips:.0f} ms",
                        flush=True,
                    )
            listener.stopped.set()
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    median = {name: statistics.median(values) for name, values in figures.items() if values}
    print("\nMedians (ms)")
    print(f"  upload round trip (POST to 202)        {1000 * median['trip']:8.0f}")
    print(f"  pyvips thumbnail alone                 {1000 * median['vips']:8.0f}")
    print(f"  202 to the thumbnail's event           {1000 * median['event']:8.0f}")
    print(f"  202 to the thumbnail's URL answering   {1000 * median['200']:8.0f}")
    baseline = median["trip"] + median["vips"]
    for label, key in (("event (what the page shows)", "event"), ("URL answering 200", "200")):
        ratio = (median["trip"] + median[key]) / baseline
        verdict = "goal met" if ratio <= GOAL else "goal missed"
        print(
            f"Ratio (round trip + 202 to {label}) / (round trip + pyvips alone): "
            f"{ratio:.2f}  goal <= {GOAL}: {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
