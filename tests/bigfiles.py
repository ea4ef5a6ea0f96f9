"""Large, valid images made cheaply, for direct uploads of phone-video-sized files.

A PNG of random RGB pixels stored uncompressed (zlib level 0): every byte is image data, so
the file is as large as asked, passes every header and trailer check honestly, and decodes
like any PNG (a 120 MB one is about 6,400 × 6,500 pixels, 42 megapixels, within the
default 64). Random pixels do not compress, which is why a real PNG of them is this large.
"""

import random
import struct
import zlib
from pathlib import Path

WIDTH = 6400  # pixels a row; 3 bytes each, plus PNG's filter byte


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def noise_png(approx_bytes: int, *, seed: int = 0, width: int = WIDTH) -> bytes:
    """A valid PNG of random pixels about `approx_bytes` long (a little over, by headers)."""
    row = width * 3 + 1
    height = max(1, approx_bytes // row)
    pixels = random.Random(seed).randbytes(row * height)  # noqa: S311
    # Each row starts with filter type 0 (none): overwrite the first byte of every row.
    raw = bytearray(pixels)
    raw[0::row] = bytes(height)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(bytes(raw), 0)),
            _chunk(b"IEND", b""),
        )
    )


def write_noise_png(path: Path, approx_bytes: int, *, seed: int = 0) -> Path:
    path.write_bytes(noise_png(approx_bytes, seed=seed))
    return path
