"""Placeholders shown before any rendition exists: a ThumbHash and the dominant colour.

ThumbHash (https://evanw.github.io/thumbhash/, MIT) packs a blurred picture, its average
colour, alpha and aspect ratio into about 25 bytes. This is a port of the reference encoder
(and decoder, for checks) in plain Python: the transform is separated into rows and columns,
so a 32 x 32 input costs a few thousand multiplications, not a million.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

from PIL import Image

# The long edge the hash is computed from: the hash keeps at most 7 frequencies a side, which
# 16 pixels still carry; a larger input only costs time (the reference allows up to 100).
THUMBHASH_INPUT_EDGE = 16
# The dominant colour: pixels counted in bins of 32 levels a channel, on a 16 x 16 copy.
COLOUR_BIN_SHIFT = 5
COLOUR_INPUT_EDGE = 16


def _round(value: float) -> int:
    """JavaScript's Math.round (half up), so hashes match the reference byte for byte."""
    return math.floor(value + 0.5)


@functools.cache
def _cosines(count: int, size: int) -> list[list[float]]:
    return [[math.cos(math.pi / size * c * (i + 0.5)) for i in range(size)] for c in range(count)]


def _encode_channel(channel: list[float], w: int, h: int, nx: int, ny: int):
    """DC, normalised AC terms and their scale of one channel (the reference's encodeChannel)."""
    cos_x = _cosines(nx, w)
    cos_y = _cosines(ny, h)
    rows = [channel[y * w : (y + 1) * w] for y in range(h)]
    # Sum over x first, once per horizontal frequency: row_sums[cx][y].
    row_sums = [[math.sumprod(row, cos_x[cx]) for row in rows] for cx in range(nx)]
    dc, ac, scale = 0.0, [], 0.0
    for cy in range(ny):
        cx = 0
        while cx * ny < nx * (ny - cy):
            f = math.sumprod(row_sums[cx], cos_y[cy]) / (w * h)
            if cx or cy:
                ac.append(f)
                scale = max(scale, abs(f))
            else:
                dc = f
            cx += 1
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


def rgba_to_thumbhash(w: int, h: int, rgba: bytes) -> bytes:
    """The ThumbHash of RGBA pixels (not premultiplied), at most 100 x 100."""
    if not (0 < w <= 100 and 0 < h <= 100) or len(rgba) != w * h * 4:
        raise ValueError(f"{w}x{h} RGBA pixels (at most 100 x 100) expected")
    count = w * h
    alphas = [a / 255 for a in rgba[3::4]]
    reds = [v / 255 for v in rgba[0::4]]
    greens = [v / 255 for v in rgba[1::4]]
    blues = [v / 255 for v in rgba[2::4]]
    avg_a = sum(alphas)
    avg_r = avg_g = avg_b = 0.0
    if avg_a:
        avg_r = math.sumprod(alphas, reds) / avg_a
        avg_g = math.sumprod(alphas, greens) / avg_a
        avg_b = math.sumprod(alphas, blues) / avg_a

    has_alpha = avg_a < count
    l_limit = 5 if has_alpha else 7  # fewer luminance terms when alpha needs the room
    lx = max(1, _round(l_limit * w / max(w, h)))
    ly = max(1, _round(l_limit * h / max(w, h)))
    if has_alpha:  # composite on the average colour
        reds = [avg_r * (1 - a) + a * v for a, v in zip(alphas, reds, strict=True)]
        greens = [avg_g * (1 - a) + a * v for a, v in zip(alphas, greens, strict=True)]
        blues = [avg_b * (1 - a) + a * v for a, v in zip(alphas, blues, strict=True)]
    # Luminance and two chroma axes: yellow-blue and red-green.
    lum = [(r + g + b) / 3 for r, g, b in zip(reds, greens, blues, strict=True)]
    p = [(r + g) / 2 - b for r, g, b in zip(reds, greens, blues, strict=True)]
    q = [r - g for r, g in zip(reds, greens, strict=True)]

    l_dc, l_ac, l_scale = _encode_channel(lum, w, h, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _encode_channel(p, w, h, 3, 3)
    q_dc, q_ac, q_scale = _encode_channel(q, w, h, 3, 3)
    if has_alpha:
        a_dc, a_ac, a_scale = _encode_channel(alphas, w, h, 5, 5)

    landscape = w > h
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (
        (ly if landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (int(landscape) << 15)
    )
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    if has_alpha:
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
    start = len(out)
    terms = [*l_ac, *p_ac, *q_ac, *(a_ac if has_alpha else [])]
    out.extend([0] * ((len(terms) + 1) // 2))
    for index, f in enumerate(terms):
        out[start + (index >> 1)] |= _round(15 * f) << ((index & 1) << 2)
    return bytes(out)


def thumbhash_to_rgba(hash_: bytes) -> tuple[int, int, bytes]:
    """Decode a ThumbHash to (w, h, RGBA) of at most 32 x 32 (the reference's thumbHashToRGBA)."""
    if len(hash_) < 5:
        raise ValueError("a ThumbHash has at least 5 bytes")
    header24 = hash_[0] | (hash_[1] << 8) | (hash_[2] << 16)
    header16 = hash_[3] | (hash_[4] << 8)
    l_dc = (header24 & 63) / 63
    p_dc = ((header24 >> 6) & 63) / 31.5 - 1
    q_dc = ((header24 >> 12) & 63) / 31.5 - 1
    l_scale = ((header24 >> 18) & 31) / 31
    has_alpha = header24 >> 23
    p_scale = ((header16 >> 3) & 63) / 63
    q_scale = ((header16 >> 9) & 63) / 63
    landscape = header16 >> 15
    lx = max(3, (5 if has_alpha else 7) if landscape else header16 & 7)
    ly = max(3, header16 & 7 if landscape else (5 if has_alpha else 7))
    a_dc = (hash_[5] & 15) / 15 if has_alpha else 1.0
    a_scale = (hash_[5] >> 4) / 15 if has_alpha else 0.0
    start = 6 if has_alpha else 5
    index = 0

    def read(nx: int, ny: int, scale: float) -> list[tuple[int, int, float]]:
        nonlocal index
        terms = []
        for cy in range(ny):
            cx = 0 if cy else 1
            while cx * ny < nx * (ny - cy):
                nibble = (hash_[start + (index >> 1)] >> ((index & 1) << 2)) & 15
                terms.append((cx, cy, (nibble / 7.5 - 1) * scale))
                index += 1
                cx += 1
        return terms

    l_ac = read(lx, ly, l_scale)
    p_ac = read(3, 3, p_scale * 1.25)  # saturation boosted as the reference does
    q_ac = read(3, 3, q_scale * 1.25)
    a_ac = read(5, 5, a_scale) if has_alpha else []

    # The aspect ratio as the header stores it (before the minimum of 3 terms).
    long_terms = 5 if has_alpha else 7
    ratio = (long_terms / (header16 & 7 or 1)) if landscape else ((header16 & 7) / long_terms)
    w = _round(32 if ratio > 1 else 32 * ratio)
    h = _round(32 / ratio if ratio > 1 else 32)
    n = max(lx, ly, 5 if has_alpha else 3)
    cos_x, cos_y = _cosines(n, w), _cosines(n, h)
    out = bytearray(w * h * 4)
    for y in range(h):
        for x in range(w):
            lum, p, q, a = l_dc, p_dc, q_dc, a_dc
            for cx, cy, f in l_ac:
                lum += f * cos_x[cx][x] * cos_y[cy][y] * 2
            for (cx, cy, fp), (_, _, fq) in zip(p_ac, q_ac, strict=True):
                basis = cos_x[cx][x] * cos_y[cy][y] * 2
                p += fp * basis
                q += fq * basis
            for cx, cy, f in a_ac:
                a += f * cos_x[cx][x] * cos_y[cy][y] * 2
            b = lum - 2 / 3 * p
            r = (3 * lum - b + q) / 2
            g = r - q
            i = (y * w + x) * 4
            out[i : i + 4] = bytes(int(max(0, 255 * min(1, v))) for v in (r, g, b, a))
    return w, h, bytes(out)


def average_colour(hash_: bytes) -> tuple[float, float, float]:
    """The picture's average colour (0..255 a channel, transparent pixels left out) as the
    ThumbHash's header stores it: luminance in 64 steps, two chroma axes in 64 steps each."""
    header24 = hash_[0] | (hash_[1] << 8) | (hash_[2] << 16)
    lum = (header24 & 63) / 63
    p = ((header24 >> 6) & 63) / 31.5 - 1
    q = ((header24 >> 12) & 63) / 31.5 - 1
    b = lum - 2 / 3 * p
    r = (3 * lum - b + q) / 2
    return (255 * r, 255 * (r - q), 255 * b)


def colourfulness(hash_: bytes) -> int:
    """How far the picture's colours spread from its average (0..126: the ThumbHash's two
    chroma scales, in 63rds). A grey picture has 0; the photos of the tests 5 to 17."""
    header16 = hash_[3] | (hash_[4] << 8)
    return ((header16 >> 3) & 63) + ((header16 >> 9) & 63)


def thumbhash(image: Image.Image) -> bytes:
    """The ThumbHash of a (small) Pillow image, from a copy at most 32 pixels on its long edge."""
    small = image.convert("RGBA")
    small.thumbnail((THUMBHASH_INPUT_EDGE, THUMBHASH_INPUT_EDGE), Image.Resampling.BOX)
    return rgba_to_thumbhash(small.width, small.height, small.tobytes())


def dominant_colour(image: Image.Image) -> str:
    """The colour most of the picture has, as #rrggbb: the mean of the fullest bin of a
    coarse colour histogram of the picture laid on white, as its JPEG renditions are (a
    transparent pixel counts as white, a half-transparent one as its colour half-way to
    white: the box shows what the renditions will)."""
    small = image.convert("RGBA")
    if small.getextrema()[3][0] < 255:
        small = Image.alpha_composite(Image.new("RGBA", small.size, "white"), small)
    small = small.convert("RGB")
    small.thumbnail((COLOUR_INPUT_EDGE, COLOUR_INPUT_EDGE), Image.Resampling.BOX)
    data = small.tobytes()
    pixels = list(zip(data[0::3], data[1::3], data[2::3], strict=True))
    shift = COLOUR_BIN_SHIFT
    bins = Counter((r >> shift, g >> shift, b >> shift) for r, g, b in pixels)
    fullest = bins.most_common(1)[0][0]
    members = [p for p in pixels if (p[0] >> shift, p[1] >> shift, p[2] >> shift) == fullest]
    r, g, b = (round(sum(channel) / len(members)) for channel in zip(*members, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"
