"""The libvips engine's resize: exactly the planned size, and no colour from transparent pixels."""

import random

import pytest

from media_pipeline.imaging import vips as vips_engine
from media_pipeline.imaging.geometry import fit_long_edge

pyvips = pytest.importorskip("pyvips")


def test_every_planned_size_is_made_exactly():
    # Nothing is computed: libvips works out the output size when the resize is described.
    rng = random.Random(20261202)
    sources = [(rng.randint(2, 12_000), rng.randint(2, 12_000)) for _ in range(300)]
    sources += [(4000, 3000), (8000, 6000), (3000, 4000), (20_000, 3), (3, 20_000), (2049, 2)]
    wrong = []
    for size in sources:
        for long_edge in (2048, 1024, 320, 64, 1):
            target = fit_long_edge(size, long_edge)
            resized = vips_engine._resample(pyvips.Image.black(*size, bands=3), target)
            if (resized.width, resized.height) != target:
                wrong.append((size, target, (resized.width, resized.height)))
    assert wrong == []


def test_an_image_already_at_the_size_is_returned_as_it_is():
    image = pyvips.Image.black(300, 200, bands=3)
    assert vips_engine._resample(image, (300, 200)) is image


def test_transparent_pixels_lend_no_colour_to_visible_edges():
    # Opaque blue on the left, fully transparent red on the right: resized without
    # premultiplying, the blue's edge comes out purple.
    width, height = 400, 40
    blue = pyvips.Image.black(width // 2, height, bands=4) + [0, 0, 255, 255]
    clear_red = pyvips.Image.black(width // 2, height, bands=4) + [255, 0, 0, 0]
    image = blue.join(clear_red, "horizontal").cast("uchar").copy(interpretation="srgb")

    resized = vips_engine._resample(image, (130, 13)).copy_memory()

    assert resized.format == "uchar" and resized.bands == 4
    pixels = bytes(resized.write_to_memory())
    visible_reds = [
        pixels[i]
        for i in range(0, len(pixels), 4)
        if pixels[i + 3] >= 16  # alpha of 16+
    ]
    assert visible_reds and max(visible_reds) <= 8
