"""The declared size of a HEIF file's primary picture, read from its boxes before any decoding.

libheif reports the size after the file's own crop (clap) and turn (irot), but decodes the
full coded picture that the item's ``ispe`` property declares: a 64 x 48 crop of a
20,000 x 15,000 picture decodes all 300 megapixels. So the limits are checked on the ``ispe``
of the primary item (``pitm``), found through the property associations (``ipma``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

MAX_META_BYTES = 4 * 1024 * 1024  # an iPhone photo's meta box is a few KB
MAX_BOXES = 1024  # top-level boxes walked to find the meta box


class MalformedHeif(ValueError):
    """The boxes that declare the primary picture are missing or inconsistent."""


def primary_declared_size(stream: BinaryIO, size: int) -> tuple[int, int]:
    """(width, height) of the primary item's coded picture, as declared by its ``ispe``.

    Reads only the top-level box headers and the meta box. Raises MalformedHeif.
    """
    meta = _read_meta(stream, size)
    children = dict(_child_boxes(meta, 4))  # meta is a full box: version and flags first
    if b"pitm" not in children or b"iprp" not in children:
        raise MalformedHeif("no primary item or no item properties")
    primary = _primary_item(children[b"pitm"])
    properties = dict(_child_boxes(children[b"iprp"], 0))
    if b"ipco" not in properties or b"ipma" not in properties:
        raise MalformedHeif("no item properties")
    ipco = list(_child_boxes(properties[b"ipco"], 0))
    for index in _associations(properties[b"ipma"]).get(primary, ()):
        if 1 <= index <= len(ipco) and ipco[index - 1][0] == b"ispe":
            body = ipco[index - 1][1]
            if len(body) < 12:
                raise MalformedHeif("short ispe box")
            return struct.unpack(">II", body[4:12])
    raise MalformedHeif("the primary item declares no size")


def _read_meta(stream: BinaryIO, size: int) -> bytes:
    pos = 0
    for _ in range(MAX_BOXES):
        if pos + 8 > size:
            break
        stream.seek(pos)
        box_type, header, box_size = _box_header(stream.read(16), size - pos)
        if box_type == b"meta":
            if box_size > MAX_META_BYTES:
                raise MalformedHeif("meta box too large")
            stream.seek(pos + header)
            return stream.read(box_size - header)
        pos += box_size
    raise MalformedHeif("no meta box")


def _box_header(head: bytes, available: int) -> tuple[bytes, int, int]:
    """(type, header length, box length) of the box starting `head`."""
    if len(head) < 8:
        raise MalformedHeif("cut-off box header")
    box_size, box_type = struct.unpack(">I4s", head[:8])
    header = 8
    if box_size == 1:
        if len(head) < 16:
            raise MalformedHeif("cut-off box header")
        box_size = struct.unpack(">Q", head[8:16])[0]
        header = 16
    elif box_size == 0:
        box_size = available
    if box_size < header or box_size > available:
        raise MalformedHeif("box size out of range")
    return box_type, header, box_size


def _child_boxes(data: bytes, start: int) -> Iterator[tuple[bytes, bytes]]:
    """(type, body) of each box in `data` from `start`."""
    pos = start
    while pos < len(data):
        box_type, header, box_size = _box_header(data[pos : pos + 16], len(data) - pos)
        yield box_type, data[pos + header : pos + box_size]
        pos += box_size


def _primary_item(pitm: bytes) -> int:
    if len(pitm) < 6:
        raise MalformedHeif("short pitm box")
    if pitm[0] == 0:
        return struct.unpack(">H", pitm[4:6])[0]
    if len(pitm) < 8:
        raise MalformedHeif("short pitm box")
    return struct.unpack(">I", pitm[4:8])[0]


def _associations(ipma: bytes) -> dict[int, list[int]]:
    """Item id -> its property indexes (1-based into ipco), from an ipma box."""
    try:
        version, flags = ipma[0], int.from_bytes(ipma[1:4], "big")
        (count,) = struct.unpack(">I", ipma[4:8])
        pos, items = 8, {}
        for _ in range(count):
            if version < 1:
                (item,) = struct.unpack(">H", ipma[pos : pos + 2])
                pos += 2
            else:
                (item,) = struct.unpack(">I", ipma[pos : pos + 4])
                pos += 4
            n = ipma[pos]
            pos += 1
            indexes = []
            for _ in range(n):
                if flags & 1:
                    (value,) = struct.unpack(">H", ipma[pos : pos + 2])
                    indexes.append(value & 0x7FFF)
                    pos += 2
                else:
                    indexes.append(ipma[pos] & 0x7F)
                    pos += 1
            items[item] = indexes
        return items
    except (IndexError, struct.error) as exc:
        raise MalformedHeif("cut-off ipma box") from exc
