"""The 202's cost of the placeholder: `POST /api/uploads/` with and without it, in one run.

Run from the repository root: ``python -m bench placeholder_latency`` (or ``python -m
bench.bench_placeholder_latency [--n 120] [--clients 8]``). Two gunicorns with the same
configuration (2 workers x 4 threads), each on its own throwaway database and queues, one
with MEDIA_PLACEHOLDERS on (the default) and one with it off; 8 logged-in clients post the
same ~3 MB photo-like 3000 x 2000 JPEG, once as a phone writes it (with its EXIF thumbnail,
which the glance decodes) and once without one (the glance then decodes the JPEG at 1/8).
The four variants take turns in rounds, so that load from elsewhere falls on all alike.
Prints the medians and p95s and the ratios on / off against the 1.10 goal. Always exits 0.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
from contextlib import ExitStack

from urllib3 import encode_multipart_formdata

from bench.bench_upload_latency import (
    PHOTO_QUALITY,
    PHOTO_SIZE,
    Sample,
    clear_media,
    logged_in_session,
    percentile,
    run_batch,
    served,
)
from tests.imagecorpus import photo_jpeg, with_exif_thumbnail

GOAL = 1.10  # the placeholder may slow the 202 by 10 % at most
SERVERS = {"on": {}, "off": {"MEDIA_PLACEHOLDERS": "false"}}
PHOTOS = ("phone photo (EXIF thumbnail)", "no EXIF thumbnail")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_placeholder_latency", description=__doc__
    )
    parser.add_argument("--n", type=int, default=120, help="timed requests per variant")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--rounds", type=int, default=6, help="turns per variant (default 6)")
    parser.add_argument("--warmup", type=int, default=8, help="untimed requests per variant first")
    args = parser.parse_args(argv)

    plain = photo_jpeg(*PHOTO_SIZE, quality=PHOTO_QUALITY, seed=7)
    bodies = {
        PHOTOS[0]: encode_multipart_formdata(
            {"file": ("photo.jpg", with_exif_thumbnail(plain), "image/jpeg")}
        ),
        PHOTOS[1]: encode_multipart_formdata({"file": ("photo.jpg", plain, "image/jpeg")}),
    }
    print(
        f"Upload:   {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} photo-like JPEG q{PHOTO_QUALITY}, "
        f"{len(plain) / 1e6:.2f} MB"
    )
    with ExitStack() as stack:
        servers = {
            name: stack.enter_context(served(f"placeholders-{name}", extra_env=extra))
            for name, extra in SERVERS.items()
        }
        print(f"Machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        sessions = {
            name: [logged_in_session(s[0]) for _ in range(args.clients)]
            for name, s in servers.items()
        }
        variants = list(itertools.product(SERVERS, PHOTOS))
        for server, photo in variants:
            base = servers[server][0]
            run_batch(
                sessions[server], f"{base}/api/uploads/", bodies[photo], args.warmup, Sample()
            )
        samples = {variant: Sample() for variant in variants}
        for index in range(args.rounds):
            count = args.n // args.rounds + (index < args.n % args.rounds)
            order = variants if index % 2 == 0 else list(reversed(variants))
            for server, photo in order:
                base, media = servers[server][:2]
                sample = samples[(server, photo)]
                before = len(sample.latencies)
                run_batch(sessions[server], f"{base}/api/uploads/", bodies[photo], count, sample)
                sample.rounds.append(statistics.median(sample.latencies[before:]))
                clear_media(media)
            print(
                f"  round {index + 1}/{args.rounds}: {count} timed requests per variant", flush=True
            )
        print(f"Load average {os.getloadavg()[0]:.2f} at the end\n")

    print(f"{'placeholders':<14}{'photo':<31}{'n':>5}{'median ms':>11}{'p95 ms':>9}  answers")
    medians = {}
    for (server, photo), sample in samples.items():
        ms = [value * 1000 for value in sample.latencies]
        medians[(server, photo)] = statistics.median(ms)
        answers = ", ".join(f"{c}x {s}" for s, c in sorted(sample.statuses.items()))
        print(
            f"{server:<14}{photo:<31}{len(ms):>5}{medians[(server, photo)]:>11.1f}"
            f"{percentile(ms, 0.95):>9.1f}  {answers}"
        )
    print(f"\nRatio of the medians, placeholders on / off (goal <= {GOAL:.2f})")
    for photo in PHOTOS:
        ratio = medians[("on", photo)] / medians[("off", photo)]
        per_round = [
            a / b
            for a, b in zip(
                samples[("on", photo)].rounds, samples[("off", photo)].rounds, strict=True
            )
        ]
        verdict = "goal met" if ratio <= GOAL else "goal missed"
        print(
            f"  {photo:<31}{ratio:6.2f}  {verdict}  (per round: median "
            f"{statistics.median(per_round):.2f}, {min(per_round):.2f} to {max(per_round):.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
