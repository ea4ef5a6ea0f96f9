"""Value types of the imaging API: limits, rendition specs, and results."""

from __future__ import annotations

from dataclasses import dataclass

OUTPUT_FORMATS = ("jpeg", "webp", "avif")


@dataclass(frozen=True)
class Limits:
    """Upper bounds enforced before any pixel data is decoded."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 64_000_000  # width * height of one frame
    max_dimension: int = 12_000  # either side
    max_total_pixels: int = 256_000_000  # frames * pixels (animations, multi-page files)

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_dimension", "max_total_pixels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")


@dataclass(frozen=True)
class RenditionSpec:
    """One derived size: the long edge in pixels (never upscaled) and the formats to write."""

    name: str
    long_edge: int
    formats: tuple[str, ...] = ("jpeg", "webp")

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("RenditionSpec.name must not be empty")
        if not isinstance(self.long_edge, int) or self.long_edge < 1:
            raise ValueError(
                f"RenditionSpec.long_edge must be a positive int, got {self.long_edge!r}"
            )
        if not self.formats:
            raise ValueError("RenditionSpec.formats must name at least one format")
        for fmt in self.formats:
            if fmt not in OUTPUT_FORMATS:
                raise ValueError(f"unknown rendition format {fmt!r}; choose from {OUTPUT_FORMATS}")


DEFAULT_RENDITIONS = (
    RenditionSpec("thumb", 320),
    RenditionSpec("medium", 1024),
    RenditionSpec("large", 2048),
)


@dataclass(frozen=True)
class ImageInfo:
    """What an upload is. width/height are as displayed (after EXIF orientation)."""

    format: str  # "jpeg", "png", "webp", "gif", "tiff", "heic", "avif"
    width: int
    height: int
    frames: int
    animated: bool
    mime_type: str


@dataclass(frozen=True)
class Rendered:
    """One encoded rendition, ready to store."""

    name: str
    format: str
    width: int
    height: int
    data: bytes
    content_type: str  # "image/jpeg"
    extension: str  # "jpg"
