"""Test images generated in memory (no binary fixtures): photos, edge cases, and hostile files.

Every function returns ``bytes`` (a complete file) unless it says it returns a PIL image. Sizes
are small by default so suites stay fast; outputs are deterministic for a given seed.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib

from PIL import Image, ImageChops, ImageDraw, ImageFilter, features

RED = (220, 30, 30)
BLUE = (30, 30, 220)
GREY = (128, 128, 128)
ORIENTATION_TAG = 0x0112
GPS_IFD_TAG = 0x8825
XMP_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"'
    b' dc:creator="Secret Photographer"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
JPEG_COMMENT = b"secret comment: taken at home"
# Inverse of each EXIF orientation's display transform: applied to the displayed picture it
# gives the pixels a camera stores with that orientation tag.
_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _save(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


# --- photo-like content -------------------------------------------------------------------------


def photo_image(width: int = 1200, height: int = 800, *, seed: int = 0) -> Image.Image:
    """An RGB PIL image that compresses like a photo: gradients, soft shapes, sharp lines, grain.

    About 3 bits/pixel as a quality-90 JPEG, like a phone photo. 48 MP takes about 1.5 s.
    """
    rnd = random.Random(seed)
    sw, sh = max(8, width // 16), max(8, height // 16)
    gradient_x = Image.linear_gradient("L").resize((sw, sh))
    gradient_y = Image.linear_gradient("L").rotate(90).resize((sw, sh))
    radial = Image.radial_gradient("L").resize((sw, sh))
    base = Image.merge("RGB", (gradient_x, gradient_y, radial))
    draw = ImageDraw.Draw(base)
    for _ in range(60):
        x0, y0 = rnd.randrange(sw), rnd.randrange(sh)
        x1, y1 = x0 + rnd.randrange(2, sw // 3 + 3), y0 + rnd.randrange(2, sh // 3 + 3)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    base = base.filter(ImageFilter.GaussianBlur(2)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(base)
    for _ in range(40):  # sharp edges
        points = [(rnd.randrange(width), rnd.randrange(height)) for _ in range(2)]
        colour = tuple(rnd.randrange(256) for _ in range(3))
        draw.line(points, fill=colour, width=rnd.randrange(1, max(2, width // 500)))
    tw, th = max(1, width // 4), max(1, height // 4)
    texture = Image.frombytes("L", (tw, th), rnd.randbytes(tw * th)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    fine = Image.frombytes("L", (width, height), rnd.randbytes(width * height))
    grain = ImageChops.add(texture.point(lambda v: v * 0.35), fine.point(lambda v: v * 0.12))
    return ImageChops.add(base, Image.merge("RGB", (grain, grain, grain)), 1.0, -60)


def photo_jpeg(
    width: int = 1200, height: int = 800, *, quality: int = 90, seed: int = 0, **save_kwargs
) -> bytes:
    """A photo-like baseline JPEG (extra keyword arguments go to Pillow's save)."""
    return _save(photo_image(width, height, seed=seed), "JPEG", quality=quality, **save_kwargs)


# --- orientation, metadata, colour ---------------------------------------------------------------


def marked_image(width: int = 120, height: int = 80) -> Image.Image:
    """The picture as it should be displayed: grey, a red block top-left, a blue block top-right."""
    im = Image.new("RGB", (width, height), GREY)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, width // 3 - 1, height // 3 - 1), fill=RED)
    draw.rectangle((width - width // 3, 0, width - 1, height // 3 - 1), fill=BLUE)
    return im


def oriented_jpeg(orientation: int, width: int = 120, height: int = 80) -> bytes:
    """A JPEG whose EXIF orientation (1..8) must be applied to show marked_image(width, height)."""
    stored = marked_image(width, height)
    if _STORE[orientation] is not None:
        stored = stored.transpose(_STORE[orientation])
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return _save(stored, "JPEG", quality=95, exif=exif.tobytes())


def jpeg_with_gps(width: int = 640, height: int = 480) -> bytes:
    """A photo JPEG carrying GPS EXIF, camera make/model, an XMP packet and a JPEG comment."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0110] = "Model Home"  # Model
    exif[GPS_IFD_TAG] = {
        1: "N",  # GPSLatitudeRef
        2: (52.0, 31.0, 12.5),  # GPSLatitude
        3: "E",  # GPSLongitudeRef
        4: (13.0, 24.0, 36.0),  # GPSLongitude
    }
    return _save(
        photo_image(width, height, seed=3),
        "JPEG",
        quality=90,
        exif=exif.tobytes(),
        xmp=XMP_PACKET,
        comment=JPEG_COMMENT,
    )


def cmyk_jpeg(
    width: int = 200, height: int = 150, colour: tuple[int, int, int, int] = (0, 255, 255, 0)
) -> bytes:
    """A CMYK JPEG (Adobe-style, no ICC profile); the default colour is printer red (M+Y)."""
    return _save(Image.new("CMYK", (width, height), colour), "JPEG", quality=95)


def rgb_icc_profile(gamma: float = 1.0, description: str = "Linear RGB test profile") -> bytes:
    """An RGB display profile with sRGB's primaries and a plain gamma (linear by default)."""
    return icc_profile("RGB", gamma=gamma, description=description)


def jpeg_with_icc(
    value: int = 128, icc: bytes | None = None, size: tuple[int, int] = (160, 120)
) -> bytes:
    """A flat-grey JPEG (value, value, value) tagged with `icc` (default: the linear profile)."""
    im = Image.new("RGB", size, (value, value, value))
    return _save(im, "JPEG", quality=95, icc_profile=icc if icc is not None else rgb_icc_profile())


# --- other formats and modes ---------------------------------------------------------------------


def png16_image(width: int = 256, height: int = 64) -> bytes:
    """A 16-bit greyscale PNG (Pillow mode I;16): a horizontal ramp from 0 to 65535."""
    im = Image.new("I;16", (width, height))
    im.putdata([round(x * 65535 / (width - 1)) for _ in range(height) for x in range(width)])
    return _save(im, "PNG")


def greyscale_jpeg(width: int = 200, height: int = 150, value: int = 100) -> bytes:
    """A mode-L JPEG: a flat field of `value` with a white square in the centre."""
    im = Image.new("L", (width, height), value)
    ImageDraw.Draw(im).rectangle(
        (width // 3, height // 3, 2 * width // 3, 2 * height // 3), fill=255
    )
    return _save(im, "JPEG", quality=95)


def greyscale_png(width: int = 200, height: int = 150, *, alpha: bool = False) -> bytes:
    """A mode-L (or LA, left half transparent) PNG with a horizontal ramp."""
    im = Image.linear_gradient("L").rotate(90).resize((width, height))
    if alpha:
        mask = Image.new("L", (width, height), 255)
        ImageDraw.Draw(mask).rectangle((0, 0, width // 2 - 1, height - 1), fill=0)
        im = Image.merge("LA", (im, mask))
    return _save(im, "PNG")


def palette_png(width: int = 120, height: int = 80, *, transparent: bool = True) -> bytes:
    """A mode-P PNG: left half index 0 (transparent if asked), right half index 1 (green)."""
    im = Image.new("P", (width, height), 0)
    im.putpalette([255, 0, 255, 0, 160, 0] + [0] * (254 * 3))
    ImageDraw.Draw(im).rectangle((width // 2, 0, width - 1, height - 1), fill=1)
    return _save(im, "PNG", **({"transparency": 0} if transparent else {}))


def rgba_png(width: int = 120, height: int = 80) -> bytes:
    """An RGBA PNG: left half fully transparent (with hidden black RGB), right half opaque red."""
    im = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((width // 2, 0, width - 1, height - 1), fill=(255, 0, 0, 255))
    return _save(im, "PNG")


def animated_gif(frames: int = 3, size: tuple[int, int] = (64, 48)) -> bytes:
    """An animated GIF; frame 0 is red, later frames green, blue, ..."""
    return _animation(frames, size, "GIF", loop=0)


def animated_png(frames: int = 3, size: tuple[int, int] = (64, 48)) -> bytes:
    """An animated PNG (APNG); frame 0 is red."""
    return _animation(frames, size, "PNG")


def animated_webp(frames: int = 3, size: tuple[int, int] = (64, 48)) -> bytes:
    """An animated WebP; frame 0 is red."""
    return _animation(frames, size, "WEBP", lossless=True)


def _animation(frames: int, size: tuple[int, int], fmt: str, **kwargs) -> bytes:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    images = [Image.new("RGB", size, colours[i % len(colours)]) for i in range(frames)]
    return _save(images[0], fmt, save_all=True, append_images=images[1:], duration=100, **kwargs)


def webp_image(width: int = 300, height: int = 200, *, alpha: bool = False) -> bytes:
    """A lossy WebP photo (with a transparent left half when alpha=True)."""
    im = photo_image(width, height, seed=5)
    if alpha:
        mask = Image.new("L", (width, height), 255)
        ImageDraw.Draw(mask).rectangle((0, 0, width // 2 - 1, height - 1), fill=0)
        im.putalpha(mask)
    return _save(im, "WEBP", quality=90)


def tiff_image(width: int = 300, height: int = 200, compression: str = "tiff_lzw") -> bytes:
    """An RGB TIFF photo."""
    return _save(photo_image(width, height, seed=6), "TIFF", compression=compression)


def avif_image(width: int = 300, height: int = 200) -> bytes:
    """An AVIF photo; only if features.check('avif') (else raises RuntimeError)."""
    if not features.check("avif"):
        raise RuntimeError("this Pillow cannot write AVIF")
    return _save(photo_image(width, height, seed=7), "AVIF", quality=80)


def heic_header() -> bytes:
    """A HEIC file's start (ftyp 'heic', empty meta box): sniffs as HEIC, decodes as nothing."""
    ftyp = struct.pack(">I", 24) + b"ftypheic" + bytes(4) + b"mif1heic"
    meta = struct.pack(">I", 12) + b"meta" + bytes(4)
    return ftyp + meta


# --- hostile and broken files --------------------------------------------------------------------


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A real decompression bomb: a valid 1-bit one-colour PNG of width x height (~50 KB)."""
    row = b"\x00" + bytes((width + 7) // 8)
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * min(256, height - y)) for y in range(0, height, 256)]
    idat = b"".join(chunks) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def bomb_jpeg(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny JPEG whose frame header is patched to declare width x height pixels."""
    data = bytearray(_save(Image.new("RGB", (16, 16), GREY), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def frames_bomb_gif(frames: int = 40, size: tuple[int, int] = (4000, 4000)) -> bytes:
    """An animated GIF declaring a size x size canvas with `frames` frames of 1x1 pixel each.

    Tiny on disk, but decoding every frame means frames * width * height pixels of work.
    """
    width, height = size
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", width, height, 0xF0, 0, 0))
    out += bytes((0, 0, 0, 255, 255, 255))  # global colour table, 2 entries
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for _ in range(frames):
        out += b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 100 ms
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)  # 1x1 image at 0,0
        out += b"\x02\x02\x44\x01\x00"  # LZW min size 2, one data sub-block, terminator
    out += b";"
    return bytes(out)


def polyglot_png_html() -> bytes:
    """A valid PNG with an HTML page (and script) appended after IEND."""
    html = b"<html><body><script>alert(document.cookie)</script></body></html>\n"
    return rgba_png() + html


def polyglot_jpeg_zip() -> bytes:
    """A valid JPEG with a ZIP archive appended (a 'GIFAR'-style polyglot)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.txt", "hello")
    return photo_jpeg(200, 150) + archive.getvalue()


def pdf_document() -> bytes:
    """A minimal one-page PDF (what a 'photo.jpg' that is really a PDF contains)."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def html_page() -> bytes:
    """An HTML page with a script (what a 'photo.jpg' upload may really be)."""
    return (
        b"<!DOCTYPE html>\n<html><head><title>x</title></head>"
        b"<body><script>alert(1)</script></body></html>\n"
    )


def svg_image() -> bytes:
    """An SVG drawing with an embedded script (SVG is refused: it can carry code)."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<script>alert(1)</script><rect width="100" height="100" fill="red"/></svg>\n'
    )


def text_file() -> bytes:
    """Plain text."""
    return b"These are my holiday notes, not a picture.\nDay 1: beach.\n" * 4


def truncated_jpeg(fraction: float = 0.6, width: int = 640, height: int = 480) -> bytes:
    """A photo JPEG cut off after `fraction` of its bytes (as by an interrupted upload)."""
    data = photo_jpeg(width, height)
    return data[: int(len(data) * fraction)]


def truncated_png(fraction: float = 0.6) -> bytes:
    """A PNG cut off after `fraction` of its bytes."""
    data = _save(photo_image(300, 200, seed=8), "PNG")
    return data[: int(len(data) * fraction)]


def corrupt_png() -> bytes:
    """A well-formed PNG (valid chunks and CRCs, clean end) whose compressed pixel data is garbage.

    Passes every header and trailer check; only decoding finds the damage.
    """
    data = bytearray(_save(photo_image(64, 48, seed=9), "PNG"))
    start = data.index(b"IDAT") - 4
    length = struct.unpack(">I", data[start : start + 4])[0]
    garbage = random.Random(9).randbytes(length)
    data[start + 8 : start + 8 + length] = garbage
    data[start + 8 + length : start + 12 + length] = struct.pack(
        ">I", zlib.crc32(b"IDAT" + garbage)
    )
    return bytes(data)


def zero_bytes() -> bytes:
    """An empty file."""
    return b""


# --- unusual but valid inputs, for comparing the imaging engines ----------------------------------

GREEN = (30, 160, 30)
YELLOW = (230, 200, 40)
# Display P3 and Adobe RGB (1998) primaries, adapted to D50 as ICC profiles store them.
P3_PRIMARIES = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
ADOBE_RGB_PRIMARIES = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
# Adam7: (first column, first row, column step, row step) of each of the seven passes.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def save_as(im: Image.Image, fmt: str, **kwargs) -> bytes:
    """Any PIL image encoded by Pillow (keyword arguments go to save)."""
    return _save(im, fmt, **kwargs)


def quadrants_image(width: int, height: int) -> Image.Image:
    """RGB as displayed: red top-left, blue top-right, green bottom-left, yellow bottom-right.

    Odd sides give the extra column/row to the left/top quadrants; a 1 x 1 image is red, a
    2 x 1 image red and blue.
    """
    im = Image.new("RGB", (width, height), YELLOW)
    half_w, half_h = (width + 1) // 2, (height + 1) // 2
    im.paste(RED, (0, 0, half_w, half_h))
    if half_w < width:
        im.paste(BLUE, (half_w, 0, width, half_h))
    if half_h < height:
        im.paste(GREEN, (0, half_h, half_w, height))
    return im


def smooth_image(width: int, height: int) -> Image.Image:
    """RGB gradients without grain or edges (red across, green down, blue from the centre)."""
    across = Image.linear_gradient("L").rotate(90).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    down = Image.linear_gradient("L")
    radial = Image.radial_gradient("L")
    return Image.merge(
        "RGB",
        [
            band.resize((width, height), Image.Resampling.BILINEAR)
            for band in (across, down, radial)
        ],
    )


def stored_for(displayed: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores so that EXIF `orientation` shows `displayed`."""
    op = _STORE[orientation]
    return displayed.transpose(op) if op is not None else displayed


def orientation_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(
    width: int,
    height: int,
    pixel,
    *,
    bit_depth: int = 8,
    colour_type: int = 2,
    interlace: bool = False,
    before_idat: tuple[tuple[bytes, bytes], ...] = (),
    after_idat: tuple[tuple[bytes, bytes], ...] = (),
) -> bytes:
    """A PNG written sample by sample, for what Pillow cannot write (16-bit alpha, Adam7, ...).

    ``pixel(x, y)`` returns the tuple of samples (1 for grey or a palette index, 2 for grey and
    alpha, 3 for RGB, 4 for RGBA), each within ``bit_depth``. ``before_idat`` chunks (PLTE, tRNS,
    iCCP, eXIf, ...) go before the pixel data, ``after_idat`` chunks after it. Unfiltered rows.
    """
    channels = _PNG_CHANNELS[colour_type]

    def row(xs, y) -> bytes:
        samples = [s for x in xs for s in pixel(x, y)]
        assert len(samples) == len(xs) * channels
        if bit_depth == 16:
            return b"\x00" + struct.pack(f">{len(samples)}H", *samples)
        if bit_depth == 8:
            return b"\x00" + bytes(samples)
        per_byte = 8 // bit_depth
        packed = bytearray()
        for i in range(0, len(samples), per_byte):
            group = samples[i : i + per_byte]
            value = 0
            for s in group:
                value = (value << bit_depth) | s
            packed.append(value << (bit_depth * (per_byte - len(group))))
        return b"\x00" + bytes(packed)

    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        xs = list(range(x0, width, dx))
        if xs:
            for y in range(y0, height, dy):
                raw += row(xs, y)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, int(interlace))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + b"".join(_png_chunk(kind, data) for kind, data in before_idat)
        + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + b"".join(_png_chunk(kind, data) for kind, data in after_idat)
        + _png_chunk(b"IEND", b"")
    )


def iccp_chunk(icc: bytes, name: bytes = b"ICC profile") -> tuple[bytes, bytes]:
    """A PNG iCCP chunk (for raw_png's before_idat)."""
    return b"iCCP", name + b"\x00\x00" + zlib.compress(icc)


def icc_profile(
    space: str = "RGB",
    *,
    primaries: tuple = (
        (0.4360, 0.2225, 0.0139),
        (0.3851, 0.7169, 0.0971),
        (0.1431, 0.0606, 0.7141),
    ),
    gamma: float = 2.2,
    description: str = "Test profile",
) -> bytes:
    """A minimal ICC v2 display profile: "RGB" (matrix and gamma curves) or "GRAY" (one curve).

    Primaries are the D50-adapted XYZ of red, green and blue (sRGB's by default).
    """

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    ascii_desc = description.encode("ascii") + b"\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(ascii_desc)) + ascii_desc + bytes(78)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249))]
    if space == "GRAY":
        tags.append((b"kTRC", curve))
    else:
        red, green, blue = primaries
        tags += [(b"rXYZ", xyz(*red)), (b"gXYZ", xyz(*green)), (b"bXYZ", xyz(*blue))]
        tags += [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    tags.append((b"cprt", b"text" + bytes(4) + b"No copyright, test data\x00"))
    offset = 128 + 4 + 12 * len(tags)
    table, blobs = b"", b""
    for signature, blob in tags:
        blob += bytes(-len(blob) % 4)
        table += signature + struct.pack(">II", offset + len(blobs), len(blob))
        blobs += blob
    body = struct.pack(">I", len(tags)) + table + blobs
    header = (
        struct.pack(">I", 128 + len(body))
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntr"
        + f"{space:<4}".encode("ascii")
        + b"XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + bytes(4 + 16 + 28)
    )
    assert len(header) == 128
    return header + body


def _vips():
    import pyvips

    return pyvips


def vips_image(im: Image.Image):
    """A PIL RGB/RGBA/L/LA image as a pyvips image (8 bits per sample)."""
    vips = _vips()
    bands = len(im.getbands())
    out = vips.Image.new_from_memory(im.tobytes(), im.width, im.height, bands, "uchar")
    return out.copy(interpretation="b-w" if bands <= 2 else "srgb")


def vips_cmyk_profile() -> bytes:
    """libvips' built-in CMYK press profile ('Chemical proof', about 1 MB)."""
    small = vips_image(Image.new("RGB", (2, 2), GREY)).icc_export(output_profile="cmyk")
    return small.get("icc-profile-data")


def cmyk_jpeg_with_profile(width: int = 160, height: int = 120) -> bytes:
    """quadrants_image converted by libvips to CMYK with its press profile embedded."""
    cmyk = vips_image(quadrants_image(width, height)).icc_export(output_profile="cmyk")
    return cmyk.jpegsave_buffer(Q=95, keep="icc")


def vips_tiff(im: Image.Image, *, sixteen_bit: bool = False, **save_kwargs) -> bytes:
    """A TIFF written by libvips (16 bits per sample if asked; tiles, predictor, ... by kwargs)."""
    out = vips_image(im)
    if sixteen_bit:
        rgb = out.bands >= 3
        out = (
            (out.cast("ushort") * 257)
            .cast("ushort")
            .copy(interpretation="rgb16" if rgb else "grey16")
        )
    return out.tiffsave_buffer(**save_kwargs)


def associated_alpha_tiff(width: int = 120, height: int = 80) -> bytes:
    """An RGBA TIFF with premultiplied (associated, ExtraSamples=1) alpha: rgba_png's picture
    with a half-transparent red band in the middle."""
    im = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((width // 2, 0, width - 1, height - 1), fill=(255, 0, 0, 255))
    ImageDraw.Draw(im).rectangle(
        (0, height // 3, width - 1, 2 * height // 3), fill=(0, 0, 255, 128)
    )
    return vips_image(im).tiffsave_buffer(premultiply=True)


def multipage_tiff(sizes=((400, 300), (200, 150), (100, 75))) -> bytes:
    """A multi-page TIFF, each page a different flat colour (red, blue, green, ...), page 0 first.

    With the default sizes the pages halve, like a pyramid, but they are different pictures.
    """
    colours = [RED, BLUE, GREEN, YELLOW]
    pages = [Image.new("RGB", size, colours[i % 4]) for i, size in enumerate(sizes)]
    return _save(pages[0], "TIFF", save_all=True, append_images=pages[1:], compression="tiff_lzw")


def gif_with_offset_frame(
    screen: tuple[int, int] = (64, 48), frame: tuple[int, int, int, int] = (16, 12, 32, 24)
) -> bytes:
    """A one-frame GIF whose only image, flat red, covers part of the logical screen (x, y, w, h).

    The background colour index is 0, which is grey in the global palette; no transparency.
    """
    x, y, w, h = frame
    im = Image.new("P", (w, h), 1)
    im.putpalette(GREY + RED)
    data = bytearray(_save(im, "GIF", optimize=False, background=0))
    data[6:10] = struct.pack("<HH", *screen)
    descriptor = data.index(b"\x2c" + struct.pack("<HHHH", 0, 0, w, h))
    data[descriptor + 1 : descriptor + 5] = struct.pack("<HH", x, y)
    return bytes(data)


def damaged(data: bytes, seed: int, count: int = 8) -> bytes:
    """`data` with `count` random bytes overwritten after its first quarter."""
    out = bytearray(data)
    rnd = random.Random(seed)
    for _ in range(count):
        at = rnd.randrange(len(out) // 4, len(out))
        out[at] = rnd.randrange(256)
    return bytes(out)


def with_exif_thumbnail(jpeg: bytes, thumb_edge: int = 160, *, orientation: int = 1) -> bytes:
    """The JPEG with an EXIF block carrying an embedded thumbnail, as phones and cameras write.

    IFD0 holds the orientation; IFD1 points at a small JPEG of the same picture.
    """
    with Image.open(io.BytesIO(jpeg)) as im:
        im.draft("RGB", (thumb_edge, thumb_edge))
        small = im.convert("RGB")
    small.thumbnail((thumb_edge, thumb_edge))
    thumb = _save(small, "JPEG", quality=75)
    # TIFF header, IFD0 (1 entry) at 8, IFD1 (3 entries) after it, then the thumbnail.
    ifd0_at = 8
    ifd1_at = ifd0_at + 2 + 12 + 4
    thumb_at = ifd1_at + 2 + 3 * 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", ifd0_at)
    tiff += struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack("<I", ifd1_at)
    tiff += struct.pack("<H", 3)
    tiff += struct.pack("<HHII", 0x0103, 3, 1, 6)  # compression: JPEG
    tiff += struct.pack("<HHII", 0x0201, 4, 1, thumb_at)
    tiff += struct.pack("<HHII", 0x0202, 4, 1, len(thumb))
    tiff += struct.pack("<I", 0) + thumb
    segment = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment
    return jpeg[:2] + app1 + jpeg[2:]
