"""Renditions largest first, each size made from the one before: the same for every engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .formats import FORMATS
from .specs import Rendered, RenditionSpec


def encode_cascade[Pixels](  # Pixels: a Pillow image or a pyvips image
    base: Pixels,
    specs: Sequence[RenditionSpec],
    targets: list[tuple[int, int]],
    *,
    resize: Callable[[Pixels, tuple[int, int]], Pixels],
    encode: Callable[[Pixels, str, int], bytes],
) -> list[Rendered]:
    """Encode one Rendered per (spec, format), results in spec order.

    ``targets`` are the sizes per spec, the largest being ``base``'s; ``resize`` returns its
    argument unchanged when it is already that size.
    """
    results: dict[int, list[Rendered]] = {}
    current = base
    for index in sorted(range(len(specs)), key=lambda i: -(targets[i][0] * targets[i][1])):
        spec, size = specs[index], targets[index]
        current = resize(current, size)
        results[index] = [
            Rendered(
                name=spec.name,
                format=fmt,
                width=size[0],
                height=size[1],
                data=encode(current, fmt, max(size)),
                content_type=FORMATS[fmt].mime_type,
                extension=FORMATS[fmt].extension,
            )
            for fmt in spec.formats
        ]
    return [rendered for index in range(len(specs)) for rendered in results[index]]
