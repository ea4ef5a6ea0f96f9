"""Direct uploads: the web process's peak memory while 20 clients send 100 MB each, beside the
same files through `POST /api/uploads/`.

Run from the repository root: ``python -m bench direct_upload`` (``-- --small`` for a quick
run: 5 clients, 12 MB each). A moto S3 server (its own process) is the media host; gunicorn
serves the product as bench_upload_latency does (2 workers × 4 threads), on a throwaway
database and queues, once for each path, so each path's peak is its own:

- direct: each client asks the API for presigned part URLs, PUTs the parts (5 MB, a few
  at a time) straight to moto, and completes the upload: the web process sees JSON only;
- web: each client posts the whole file to `POST /api/uploads/` (streamed from disk, with
  MEDIA_MAX_UPLOAD_BYTES raised so that 100 MB is accepted), and the web process stores it
  on the media host.

The file is a valid PNG of random pixels (tests/bigfiles.py), made once. Prints each path's
time, the peak resident memory (VmHWM) of its largest gunicorn worker and of all its
workers together, and the ratio web / direct. Target: direct under 150 MB per worker.
Always exits 0: it measures, it does not gate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.bench_upload_latency import PYTHON, ROOT, free_port, logged_in_session, served
from tests.bigfiles import write_noise_png

MB = 1024 * 1024
BUCKET = "bench-direct"
TARGET_DIRECT_MB = 150
PARTS_AT_ONCE = 4  # per client, as the page sends them


# --- the media host ---------------------------------------------------------------------------


def start_moto(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = (folder / "moto.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TMPDIR": str(folder)},  # parts over 5 MB spool to disk here
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(endpoint, timeout=2)
            break
        except requests.RequestException:
            time.sleep(0.2)
    return process, endpoint


def s3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106
    )


def media_host_env(endpoint: str) -> dict[str, str]:
    return {
        "MEDIA_S3_BUCKET": BUCKET,
        "MEDIA_S3_ENDPOINT_URL": endpoint,
        "MEDIA_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "MEDIA_S3_ADDRESSING_STYLE": "path",
        "MEDIA_MAX_UPLOAD_BYTES": str(200 * MB),  # the web path takes the same files
        "MEDIA_DIRECT_MAX_UPLOAD_BYTES": str(200 * MB),
    }


# --- memory of the web process ----------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def peak_kb(pid: int) -> int:
    """The process's peak resident size so far (VmHWM), KB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# --- the clients ------------------------------------------------------------------------------


class Mapped:
    """A file read for a request body in pieces, with its length (so it is not chunked)."""

    def __init__(self, head: bytes, path: Path, tail: bytes):
        self.pieces = [head, path, tail]
        self.length = len(head) + path.stat().st_size + len(tail)
        self.current = None
        self.index = 0

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        while self.index < len(self.pieces):
            piece = self.pieces[self.index]
            if isinstance(piece, Path):
                if self.current is None:
                    self.current = piece.open("rb")
                data = self.current.read(size if size and size > 0 else 1 << 20)
                if data:
                    return data
                self.current.close()
                self.current = None
                self.index += 1
                continue
            self.index += 1
            if piece:
                return piece
        return b""


def web_upload(base: str, session: requests.Session, path: Path) -> int:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    body = Mapped(head, path, f"\r\n--{boundary}--\r\n".encode())
    response = session.post(
        f"{base}/api/uploads/",
        data=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-CSRFToken": session.cookies["csrftoken"],
        },
        timeout=600,
    )
    return response.status_code


def direct_upload(base: str, session: requests.Session, path: Path) -> int:
    headers = {"X-CSRFToken": session.cookies["csrftoken"]}
    size = path.stat().st_size
    started = session.post(
        f"{base}/api/uploads/direct/",
        json={"filename": path.name, "size": size, "content_type": "image/png"},
        headers=headers,
        timeout=60,
    )
    if started.status_code != 201:
        return started.status_code
    body = started.json()
    part_size = body["part_size"]

    def put(part: dict) -> dict:
        with path.open("rb") as handle:
            handle.seek((part["number"] - 1) * part_size)
            data = handle.read(part_size)
        answer = requests.put(part["url"], data=data, timeout=600)
        answer.raise_for_status()
        return {"number": part["number"], "etag": answer.headers["ETag"]}

    with ThreadPoolExecutor(PARTS_AT_ONCE) as pool:
        parts = list(pool.map(put, body["parts"]))
    done = session.post(
        base + body["complete_url"], json={"parts": parts}, headers=headers, timeout=60
    )
    return done.status_code


def run_path(label: str, send, base: str, path: Path, clients: int, server) -> dict:
    workers = children(server.pid)
    statuses: list[int] = []
    lock = threading.Lock()
    # Logged in one after the other first: password hashing is not what is measured.
    sessions = [logged_in_session(base) for _ in range(clients)]
    before = max(peak_kb(pid) for pid in workers) / 1024  # serving pages and logins only

    def client(session: requests.Session) -> None:
        try:
            status = send(base, session, path)
        except requests.RequestException as error:
            status = 0
            print(f"  {label}: {type(error).__name__}: {error}", file=sys.stderr)
        with lock:
            statuses.append(status)

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, sessions))
    seconds = time.perf_counter() - began
    peaks = [peak_kb(pid) for pid in workers]
    return {
        "seconds": seconds,
        "statuses": statuses,
        "before_mb": before,
        "peak_mb": max(peaks) / 1024,
        "sum_mb": sum(peaks) / 1024,
        "workers": len(workers),
    }


def empty_bucket(endpoint: str) -> None:
    client = s3_client(endpoint)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench direct_upload", description=__doc__)
    parser.add_argument("--clients", type=int, default=20, help="concurrent uploads (20)")
    parser.add_argument("--mb", type=int, default=100, help="size of each file in MB (100)")
    parser.add_argument("--small", action="store_true", help="quick run: 5 clients, 12 MB")
    args = parser.parse_args(argv)
    if args.small:
        args.clients, args.mb = 5, 12

    folder = Path(tempfile.mkdtemp(prefix="bench-direct-"))
    moto, endpoint = start_moto(folder)
    try:
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        path = write_noise_png(folder / "photo.png", args.mb * MB)
        print(
            f"Files:    {args.clients} × {path.stat().st_size / MB:.1f} MB "
            "(a valid PNG of random pixels)"
        )
        print(f"Media:    moto S3 server at {endpoint} (its own process)")
        os.environ.update(media_host_env(endpoint))
        results = {}
        for label, send in (("direct", direct_upload), ("web", web_upload)):
            with served(f"direct{label}") as (base, _, server, log):
                print(f"-- {label}: {args.clients} clients at once", flush=True)
                results[label] = run_path(label, send, base, path, args.clients, server)
                odd = [s for s in results[label]["statuses"] if s != 202]
                if odd:
                    print(f"  answers other than 202: {odd}")
                    print(f"  the server's log, last lines:\n{log.read_text()[-3000:]}")
            empty_bucket(endpoint)
    finally:
        moto.terminate()
        moto.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    print(
        f"\n{'path':<8}{'seconds':>9}{'202s':>7}{'peak RSS, largest worker':>27}"
        f"{'all workers':>14}{'before the uploads':>21}"
    )
    for label, result in results.items():
        accepted = result["statuses"].count(202)
        print(
            f"{label:<8}{result['seconds']:>9.1f}{accepted:>5}/{len(result['statuses']):<2}"
            f"{result['peak_mb']:>24.1f} MB{result['sum_mb']:>11.1f} MB"
            f"{result['before_mb']:>18.1f} MB"
        )
    direct, web = results["direct"], results["web"]
    ratio = web["peak_mb"] / direct["peak_mb"] if direct["peak_mb"] else float("nan")
    met = "target met" if direct["peak_mb"] < TARGET_DIRECT_MB else "target missed"
    print(f"\nweb / direct peak RSS (largest worker): {ratio:.2f}")
    print(f"direct: {direct['peak_mb']:.1f} MB per worker, target < {TARGET_DIRECT_MB} MB: {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
