"""A small source gives each size once per format, under the smallest name that reaches it."""

import io

import pytest

from media_pipeline.imaging import DEFAULT_RENDITIONS, Limits, RenditionSpec, render_renditions
from media_pipeline.imaging.geometry import fit_long_edge
from media_pipeline.imaging.render import distinct_sizes
from tests import imagecorpus as corpus

BOTH = ("jpeg", "webp")


def kept(size: tuple[int, int], specs=DEFAULT_RENDITIONS) -> list[tuple[str, tuple, tuple]]:
    targets = [fit_long_edge(size, spec.long_edge) for spec in specs]
    specs, targets = distinct_sizes(specs, targets)
    return [(s.name, s.formats, t) for s, t in zip(specs, targets, strict=True)]


def test_a_source_under_every_edge_keeps_the_smallest_name_only():
    assert kept((300, 200)) == [("thumb", BOTH, (300, 200))]


def test_a_source_of_exactly_an_edge_keeps_up_to_that_name():
    assert kept((1024, 768)) == [("thumb", BOTH, (320, 240)), ("medium", BOTH, (1024, 768))]


def test_a_distinct_size_stays_even_when_the_source_cannot_fill_its_edge():
    assert [name for name, _, _ in kept((1500, 1000))] == ["thumb", "medium", "large"]


def test_only_the_formats_already_made_at_that_size_are_dropped():
    specs = (RenditionSpec("thumb", 320, ("jpeg",)), RenditionSpec("medium", 1024, BOTH))
    assert kept((300, 200), specs) == [
        ("thumb", ("jpeg",), (300, 200)),
        ("medium", ("webp",), (300, 200)),
    ]


def test_the_callers_order_is_kept():
    specs = (RenditionSpec("large", 2048, BOTH), RenditionSpec("thumb", 320, BOTH))
    assert [name for name, _, _ in kept((3000, 2000), specs)] == ["large", "thumb"]
    assert [name for name, _, _ in kept((200, 100), specs)] == ["thumb"]


@pytest.mark.parametrize("engine", ["pillow", "vips"])
def test_no_two_renditions_of_a_small_source_are_the_same(engine):
    _, renditions = render_renditions(
        io.BytesIO(corpus.photo_jpeg(300, 200)), limits=Limits(), engine=engine
    )
    assert [(r.name, r.format, r.width, r.height) for r in renditions] == [
        ("thumb", "jpeg", 300, 200),
        ("thumb", "webp", 300, 200),
    ]
    assert len({r.data for r in renditions}) == len(renditions)
