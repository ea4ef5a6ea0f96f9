"""Rendition benchmark: ours vs naive Pillow vs pyvips on generated 12 MP and 48 MP photos.

Run from the repository root: ``python -m bench.bench_imaging [--reps N]``. pyvips comes with
the requirements (without it the libvips columns are skipped). Prints a table, decode +
resize apart from encoding (against Image.open().convert() and LANCZOS per size, with the
decode alone as the floor under it), a quality check, peak memory measured in fresh child
processes, and "target met" or "target missed" per target. Always exits 0: it measures, it
does not gate.
"""

from __future__ import annotations

import os

os.environ.setdefault("VIPS_CONCURRENCY", "1")  # must be set before pyvips is imported

import argparse
import contextlib
import functools
import gc
import io
import math
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import PIL
from PIL import Image, ImageChops

from media_pipeline.imaging import DEFAULT_RENDITIONS, Limits, render_renditions
from media_pipeline.imaging import render as render_module
from media_pipeline.imaging import vips as vips_engine
from media_pipeline.imaging.encode import encode, encoder_settings
from media_pipeline.imaging.vips import jpeg_shrink
from tests.imagecorpus import photo_jpeg

try:
    import pyvips

    pyvips.cache_set_max(0)  # no operation cache: every repetition does the full work
except (ImportError, OSError):  # not installed, or libvips missing
    pyvips = None

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench"
PHOTOS = [("12 MP", 4000, 3000), ("48 MP", 8000, 6000)]
PHOTO_QUALITY = 90
GENERATOR_VERSION = 1  # bump when tests.imagecorpus.photo_image changes
LIMITS = Limits()
SPECS = DEFAULT_RENDITIONS
FORMATS = ("jpeg", "webp")
NAIVE_QUALITY = {
    "jpeg": encoder_settings("jpeg", 2048)["quality"],
    "webp": encoder_settings("webp", 2048)["quality"],
}
TARGET_VS_VIPS = 1.0
# Decode + resize (every size made, nothing encoded), judged on CPU time: every contender
# there runs on one thread, so its CPU time is its wall time on a core of its own, while on a
# shared machine its wall time is mostly waiting for a core (measured: 2 s wall for 0.44 s CPU).
TARGET_PIXELS_VS_NAIVE = 5.0
TARGET_RSS_MB = 150
TARGET_PSNR_DB = 35.0


# --- inputs --------------------------------------------------------------------------------------


def photo_path(width: int, height: int) -> Path:
    """Generate the photo once and cache it under var/bench/."""
    path = CACHE / f"photo_{width}x{height}_q{PHOTO_QUALITY}_v{GENERATOR_VERSION}.jpg"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        data = photo_jpeg(width, height, quality=PHOTO_QUALITY, seed=42)
        path.with_suffix(".tmp").write_bytes(data)
        path.with_suffix(".tmp").rename(path)
        print(f"  generated {path.relative_to(ROOT)} in {time.perf_counter() - started:.1f} s")
    return path


def targets(width: int, height: int) -> list[tuple[str, int, int]]:
    """(name, w, h) per spec, largest first, fitted the same way as the library does."""
    out = []
    for spec in sorted(SPECS, key=lambda s: -s.long_edge):
        scale = min(1.0, spec.long_edge / max(width, height))
        out.append((spec.name, max(1, round(width * scale)), max(1, round(height * scale))))
    return out


# --- the three contenders ------------------------------------------------------------------------


def run_ours(data: bytes, engine: str = "pillow") -> int:
    _, rendered = render_renditions(io.BytesIO(data), SPECS, limits=LIMITS, engine=engine)
    return sum(len(r.data) for r in rendered)


def naive_pixels(data: bytes) -> list[Image.Image]:
    """Full decode, then LANCZOS from the original for every size."""
    im = Image.open(io.BytesIO(data))
    im.load()
    return [im.resize((w, h), Image.Resampling.LANCZOS) for _, w, h in targets(*im.size)]


def naive_decode_resize(data: bytes) -> list[Image.Image]:
    """The decode + resize baseline: Image.open().convert(), then LANCZOS per size."""
    im = Image.open(io.BytesIO(data)).convert("RGB")
    return [im.resize((w, h), Image.Resampling.LANCZOS) for _, w, h in targets(*im.size)]


def decode_only(data: bytes, engine: str) -> int:
    """Only the decode our engine does for the largest rendition (the same DCT-domain shrink),
    nothing resized: a floor under its decode + resize time."""
    width, height = Image.open(io.BytesIO(data)).size
    _, w, h = targets(width, height)[0]
    shrink = jpeg_shrink((width, height), (w, h))
    if engine == "vips":
        # As the engine reads it: top to bottom once, from memory. (A random-access load
        # of the same file measured 30 to 50 % slower, which made too high a floor.)
        source = pyvips.Source.new_from_memory(data)
        image = pyvips.Image.new_from_source(source, "", access="sequential", shrink=shrink)
        return image.copy_memory().width
    im = Image.open(io.BytesIO(data))
    if shrink > 1:
        im.draft("RGB", (width // shrink, height // shrink))
    im.load()
    return im.width


def naive_encode(small: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    small.save(buffer, fmt.upper(), quality=NAIVE_QUALITY[fmt])
    return buffer.getvalue()


def run_naive(data: bytes) -> int:
    """What most code does: full decode, LANCZOS from it per size, Pillow's default encoders."""
    return sum(len(naive_encode(small, fmt)) for small in naive_pixels(data) for fmt in FORMATS)


# pyvips saves with our libvips engine's encoder: the same settings as ours, by construction.
# Bound here, so encoders_replaced() below (which swaps the engine's) never touches the baseline.
vips_save = vips_engine.encode


def run_vips(data: bytes, save: bool = True) -> int:
    """thumbnail to the largest size, then each smaller one from the previous, same encoders."""
    total, previous = 0, None
    for spec in sorted(SPECS, key=lambda s: -s.long_edge):
        if previous is None:
            image = pyvips.Image.thumbnail_buffer(
                data, spec.long_edge, height=spec.long_edge, size="down"
            )
        else:
            image = previous.thumbnail_image(spec.long_edge, height=spec.long_edge, size="down")
        image = image.copy_memory()  # the next size is made from these pixels
        for fmt in spec.formats if save else ():
            total += len(vips_save(image, fmt, spec.long_edge))
        previous = image
    return total


# --- measuring -----------------------------------------------------------------------------------


class Timing(NamedTuple):
    wall_ms: float  # median wall-clock time: what the targets are judged on
    cpu_ms: float  # median CPU time of the whole process (all threads): robust to other load
    bytes_out: int


class Ratio(NamedTuple):
    wall: float  # naive / ours on median wall-clock times
    cpu: float  # the same on CPU times: what the decode + resize target is judged on


def median_times(contenders: dict[str, Callable[[], int]], reps: int) -> dict[str, Timing]:
    """Interleaved repetitions (so drift hits every contender alike) after one warm-up each."""
    for run in contenders.values():
        run()
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    sizes: dict[str, int] = {}
    for _ in range(reps):
        for name, run in contenders.items():
            gc.collect()
            started, started_cpu = time.perf_counter(), time.process_time()
            sizes[name] = run()
            cpu[name].append((time.process_time() - started_cpu) * 1000)
            wall[name].append((time.perf_counter() - started) * 1000)
    return {
        name: Timing(statistics.median(wall[name]), statistics.median(cpu[name]), sizes[name])
        for name in contenders
    }


def psnr(a: Image.Image, b: Image.Image) -> float:
    histogram = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    squared = sum(count * (i % 256) ** 2 for i, count in enumerate(histogram))
    mse = squared / (a.size[0] * a.size[1] * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


@contextlib.contextmanager
def encoders_replaced(replacement: Callable[..., bytes]) -> Iterator[None]:
    """Both engines call `replacement(pixels, fmt, long_edge)` instead of their encoder."""
    real = render_module.encode, vips_engine.encode
    render_module.encode = vips_engine.encode = replacement
    try:
        yield
    finally:
        render_module.encode, vips_engine.encode = real


def resize_quality(data: bytes, engine: str = "pillow") -> dict[str, float]:
    """PSNR of our pixels (before encoding) against LANCZOS from the fully decoded original."""
    captured: dict[int, Image.Image] = {}

    def capture(im, fmt, long_edge):
        if engine == "vips":  # a pyvips image: hand its pixels to Pillow
            im = Image.frombytes(
                "RGB" if im.bands == 3 else "RGBA", (im.width, im.height), im.write_to_memory()
            )
        captured.setdefault(long_edge, im.copy())
        return b""

    with encoders_replaced(capture):
        render_renditions(io.BytesIO(data), SPECS, limits=LIMITS, engine=engine)
    full = Image.open(io.BytesIO(data)).convert("RGB")
    by_name = {spec.long_edge: spec.name for spec in SPECS}
    return {
        by_name[edge]: psnr(im, full.resize(im.size, Image.Resampling.LANCZOS))
        for edge, im in captured.items()
    }


CHILD = """
import os, resource, sys
engine, mode, path = sys.argv[1:4]
if engine.startswith("ours"):
    from media_pipeline.imaging import DEFAULT_RENDITIONS, Limits, render_renditions
    from media_pipeline.imaging import vips
    from PIL import Image
    Image.init()
    name = "vips" if engine == "ours-vips" else "pillow"
    if name == "vips":
        vips.available()  # libvips loaded in the idle child too
    if mode == "run":
        with open(path, "rb") as stream:
            render_renditions(stream, DEFAULT_RENDITIONS, limits=Limits(), engine=name)
elif engine == "naive":
    from bench.bench_imaging import run_naive
    from PIL import Image
    Image.init()
    if mode == "run":
        run_naive(open(path, "rb").read())
else:
    from bench.bench_imaging import run_vips
    if mode == "run":
        run_vips(open(path, "rb").read())
status = open("/proc/self/status").read().splitlines()
hwm = next((line.split()[1] for line in status if line.startswith("VmHWM:")), "0")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm)
"""
# Linux carries the parent's resident high-water mark into ru_maxrss across fork/exec, and this
# benchmark's process is large by then. So each child is started by a tiny launcher process: its
# floor is the launcher's few MB, below any real figure. VmHWM (the child's own address space
# only) is printed next to it as a cross-check.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


def peak_rss_mb(engine: str, path: Path) -> tuple[tuple[float, float], tuple[float, float]]:
    """((ru_maxrss, VmHWM) of a fresh child doing one render, the same for an idle child), in MB.

    The idle child imports the same modules and does nothing else. Raises RuntimeError with
    the child's last error line if it fails.
    """
    env = dict(os.environ, VIPS_CONCURRENCY="1")

    def child(mode: str) -> tuple[float, float]:
        argv = [sys.executable, "-S", "-c", LAUNCHER, sys.executable, "-c", CHILD]
        out = subprocess.run(
            [*argv, engine, mode, str(path)], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise RuntimeError((out.stderr.strip().splitlines() or ["no output"])[-1])
        maxrss_kib, hwm_kib = out.stdout.split()[-2:]  # both in KiB on Linux
        return int(maxrss_kib) / 1024, int(hwm_kib) / 1024

    return child("run"), child("idle")


def webp_method_sweep(data: bytes) -> list[tuple[int, float, int, float]]:
    """(method, ms, bytes, PSNR) for the large rendition: the evidence behind WEBP_METHOD_LARGE."""
    full = Image.open(io.BytesIO(data))
    _, w, h = targets(*full.size)[0]
    large = full.convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
    rows = []
    for method in range(7):
        buffer = io.BytesIO()
        started = time.perf_counter()
        large.save(buffer, "WEBP", quality=NAIVE_QUALITY["webp"], method=method)
        elapsed = (time.perf_counter() - started) * 1000
        rows.append((method, elapsed, len(buffer.getvalue()), psnr(Image.open(buffer), large)))
    return rows


# --- report --------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("target met" if ok else "target missed")


def target(what: str, figure: str, ok: bool | None) -> None:
    print(f"  {what}: {figure} -> {verdict(ok)}")


def print_header(reps: int) -> None:
    if pyvips:
        libvips = ".".join(str(pyvips.version(i)) for i in range(3))
        vips = f"pyvips {pyvips.__version__} / libvips {libvips}"
    else:
        vips = "pyvips not installed"
    print(
        f"Imaging benchmark: Python {platform.python_version()}, Pillow {PIL.__version__}, {vips},"
        f" VIPS_CONCURRENCY={os.environ['VIPS_CONCURRENCY']}, {os.cpu_count()} cores,"
        f" median of {reps}"
    )
    sizes = ", ".join(f"{s.name} {s.long_edge}" for s in SPECS)
    print(f"Renditions: {sizes}, each jpeg + webp.")
    print(f"  ours and pyvips encode alike: JPEG {encoder_settings('jpeg', 2048)},")
    print(f"    WebP {encoder_settings('webp', 2048)}; at <= 480 px JPEG 4:4:4, WebP method 4")
    print("  naive: full decode, LANCZOS from the original for every size, Pillow's default")
    print("    encoders (baseline JPEG, WebP method 4) at the same qualities")


CONTENDERS = ("ours", "ours-vips", "naive", "pyvips")
LABELS = {
    "ours": "ours (MEDIA_IMAGE_ENGINE=pillow)",
    "ours-vips": "ours (MEDIA_IMAGE_ENGINE=vips, the default)",
    "naive": "naive Pillow",
    "pyvips": "pyvips thumbnail",
}


def contenders_for(data: bytes) -> dict[str, Callable[[], int]]:
    runs = {
        "ours": functools.partial(run_ours, data),
        "ours-vips": functools.partial(run_ours, data, "vips"),
        "naive": functools.partial(run_naive, data),
        "pyvips": functools.partial(run_vips, data),
    }
    if not pyvips:
        del runs["ours-vips"], runs["pyvips"]
    return runs


def without_encoding(run: Callable[[], int]) -> int:
    """Both engines make every rendition's pixels but encode nothing."""
    with encoders_replaced(lambda *args: b""):
        return run()


def pixel_contenders(data: bytes) -> dict[str, Callable[[], int]]:
    """The same contenders, decode and resize only (every size made, nothing encoded)."""
    runs = {
        "ours": functools.partial(without_encoding, functools.partial(run_ours, data)),
        "ours-vips": functools.partial(without_encoding, functools.partial(run_ours, data, "vips")),
        "naive": lambda: len(naive_decode_resize(data)),
        "pyvips": functools.partial(run_vips, data, False),
        "decode-pillow": functools.partial(decode_only, data, "pillow"),
        "decode-vips": functools.partial(decode_only, data, "vips"),
    }
    if not pyvips:
        del runs["ours-vips"], runs["pyvips"], runs["decode-vips"]
    return runs


def encode_contenders(data: bytes) -> dict[str, Callable[[], int]]:
    """Encoding the six files from ready-made pixels: our settings, and naive's."""
    pixels = [small.convert("RGB") for small in naive_pixels(data)]
    pairs = [(small, fmt) for small in pixels for fmt in FORMATS]
    return {
        "ours": lambda: sum(len(encode(im, fmt, max(im.size))) for im, fmt in pairs),
        "naive": lambda: sum(len(naive_encode(im, fmt)) for im, fmt in pairs),
    }


def time_photos(paths: dict[str, Path], reps: int) -> dict[str, dict[str, Timing]]:
    print("\nWall time of the whole job (decode, six renditions, six files), median ms;")
    print("CPU time of the process in brackets")
    names = [name for name in CONTENDERS if pyvips or name not in ("ours-vips", "pyvips")]
    print(f"{'photo':<26}" + "".join(f"{name:>17}" for name in names))
    results = {}
    for label, width, height in PHOTOS:
        data = paths[label].read_bytes()
        timing = results[label] = median_times(contenders_for(data), reps)
        cells = "".join(f"{timing[n].wall_ms:>9.0f} ({timing[n].cpu_ms:>5.0f})" for n in names)
        title = f"{label} {width}x{height} ({len(data) / 1e6:.1f} MB)"
        print(f"{title:<26}{cells}")
    for label, row in results.items():
        naive = row["naive"]
        for name in [n for n in names if n.startswith("ours")]:
            ours = row[name]
            line = f"  {label} {LABELS[name]}: naive/ours {naive.wall_ms / ours.wall_ms:.2f}"
            if "pyvips" in row:
                line += f", ours/pyvips {ours.wall_ms / row['pyvips'].wall_ms:.2f}"
            print(line + f" (CPU {naive.cpu_ms / ours.cpu_ms:.2f})")
    print(
        "  bytes written: "
        + "; ".join(
            f"{label} "
            + " / ".join(f"{name} {t.bytes_out / 1e3:.0f} KB" for name, t in row.items())
            for label, row in results.items()
        )
    )
    return results


def time_stages(
    paths: dict[str, Path], reps: int, whole: dict[str, dict[str, Timing]]
) -> tuple[dict[str, float], dict[tuple[str, str], Ratio]]:
    """Decode + resize apart from encoding.

    Returns the ceiling of naive/ours on the whole job per photo, and naive/ours on decode +
    resize per (photo, engine).
    """
    print("\nWhere the time goes, median ms (CPU in brackets): decode + resize (every size made,")
    print("nothing encoded; naive: Image.open().convert(), LANCZOS per size), the decode alone")
    print("at the scale each engine decodes, and encoding the six files from ready-made pixels")
    ceilings, pixel_ratios = {}, {}
    for label, _, _ in PHOTOS:
        data = paths[label].read_bytes()
        pixels = median_times(pixel_contenders(data), reps)
        encoding = median_times(encode_contenders(data), reps)
        cells = ", ".join(f"{name} {t.wall_ms:.0f} ({t.cpu_ms:.0f})" for name, t in pixels.items())
        print(f"  {label} decode + resize: {cells}")
        naive = pixels["naive"]
        for name in [n for n in pixels if n.startswith("ours")]:
            engine = "vips" if name == "ours-vips" else "pillow"
            ours, decode = pixels[name], pixels[f"decode-{engine}"]
            pixel_ratios[(label, name)] = Ratio(
                naive.wall_ms / ours.wall_ms, naive.cpu_ms / ours.cpu_ms
            )
            print(
                f"  {label} {LABELS[name]}: naive/ours on decode + resize"
                f" {naive.wall_ms / ours.wall_ms:.2f} (CPU {naive.cpu_ms / ours.cpu_ms:.2f});"
                f" its decode alone is {decode.cpu_ms / ours.cpu_ms:.0%} of it (CPU), so no"
                f" resizing makes it more than {naive.cpu_ms / decode.cpu_ms:.2f}"
            )
        ours_encoding = encoding["ours"].wall_ms
        print(
            f"  {label} encoding: our settings {ours_encoding:.0f},"
            f" naive's (baseline JPEG, WebP method 4) {encoding['naive'].wall_ms:.0f}"
        )
        ceilings[label] = whole[label]["naive"].wall_ms / ours_encoding
        print(
            f"  {label} ceiling: naive's whole job / our encoding alone ="
            f" {ceilings[label]:.2f}: the most naive/ours can be with these encodings,"
            " whatever decodes and resizes"
        )
    return ceilings, pixel_ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (median)")
    args = parser.parse_args(argv)
    print_header(args.reps)
    paths = {label: photo_path(w, h) for label, w, h in PHOTOS}
    results = time_photos(paths, args.reps)
    ceilings, pixel_ratios = time_stages(paths, args.reps, results)
    engines = ["pillow"] + (["vips"] if pyvips else [])

    print("\nResize quality: our pixels before encoding vs LANCZOS from the full decode, PSNR")
    qualities = {
        (label, engine): resize_quality(paths[label].read_bytes(), engine)
        for label, _, _ in PHOTOS
        for engine in engines
    }
    for (label, engine), scores in qualities.items():
        print(
            f"  {label} {engine} engine: "
            + ", ".join(f"{name} {db:.1f} dB" for name, db in scores.items())
        )

    print("\nPeak resident memory of one 48 MP render in a fresh child: ru_maxrss (VmHWM check)")
    memory: dict[str, float | None] = {}
    for engine in ["ours", "ours-vips", "naive", "pyvips"] if pyvips else ["ours", "naive"]:
        try:
            (run_mb, run_hwm), (idle_mb, idle_hwm) = peak_rss_mb(engine, paths["48 MP"])
        except RuntimeError as failure:
            memory[engine] = None
            print(f"  {engine:<10} not measured: the child process failed: {failure}")
            continue
        memory[engine] = run_mb - idle_mb
        print(
            f"  {engine:<10}{run_mb - idle_mb:5.0f} MB = render {run_mb:.0f} MB"
            f" - idle with the same imports {idle_mb:.0f} MB"
            f"   (VmHWM {run_hwm - idle_hwm:.0f} MB = {run_hwm:.0f} - {idle_hwm:.0f})"
        )

    print("\nWebP method sweep, large rendition of the 12 MP photo, quality 80")
    for method, ms, size, db in webp_method_sweep(paths["12 MP"].read_bytes()):
        print(f"  method {method}: {ms:6.0f} ms {size / 1e3:6.0f} KB  PSNR {db:.2f} dB")

    print("\nTargets")
    for name in ["ours", "ours-vips"] if pyvips else ["ours"]:
        print(f" {LABELS[name]}")
        for label, _, _ in PHOTOS:
            ours = results[label][name].wall_ms
            what = f"ours/pyvips <= {TARGET_VS_VIPS} on {label}"
            if pyvips:
                ratio = ours / results[label]["pyvips"].wall_ms
                target(what, f"{ratio:.2f}", ratio <= TARGET_VS_VIPS)
            else:
                target(what, "pyvips missing (pip install -r requirements.txt)", None)
            ratio = results[label]["naive"].wall_ms / ours
            figure = f"{ratio:.2f} (ceiling with these encodings {ceilings[label]:.2f})"
            # Shown, not judged: the encoders cap it (the ceiling), so the whole-job goal
            # against naive Pillow was replaced by the decode + resize one below.
            print(f"  naive/ours on {label}, whole job (no target): {figure}")
            ratios = pixel_ratios[(label, name)]
            target(
                f"decode + resize naive/ours >= {TARGET_PIXELS_VS_NAIVE} (CPU) on {label}",
                f"CPU {ratios.cpu:.2f} (wall {ratios.wall:.2f})",
                ratios.cpu >= TARGET_PIXELS_VS_NAIVE,
            )
        rss = memory.get(name)
        what = f"peak RSS on 48 MP <= {TARGET_RSS_MB} MB"
        if rss is None:
            target(what, "not measured", None)
        else:
            target(what, f"{rss:.0f} MB", rss <= TARGET_RSS_MB)
        for label, _, _ in PHOTOS:
            scores = qualities[(label, "vips" if name == "ours-vips" else "pillow")]
            worst = min(scores["thumb"], scores["medium"])
            what = f"PSNR > {TARGET_PSNR_DB:.0f} dB at thumb and medium on {label}"
            target(what, f"{worst:.1f} dB", worst > TARGET_PSNR_DB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
