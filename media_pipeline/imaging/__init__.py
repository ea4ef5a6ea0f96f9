"""Pure image code of the media service: cheap upload inspection and safe, fast rendition making."""

from .errors import CorruptImage, ImageTooLarge, InvalidImageError, UnsupportedImageType
from .probe import inspect_image
from .render import ENGINES, check_engine, planned_renditions, render_renditions
from .specs import DEFAULT_RENDITIONS, ImageInfo, Limits, Rendered, RenditionSpec
from .timing import PhaseTimer

__all__ = [
    "DEFAULT_RENDITIONS",
    "ENGINES",
    "CorruptImage",
    "ImageInfo",
    "ImageTooLarge",
    "InvalidImageError",
    "Limits",
    "PhaseTimer",
    "Rendered",
    "RenditionSpec",
    "UnsupportedImageType",
    "check_engine",
    "inspect_image",
    "planned_renditions",
    "render_renditions",
]
