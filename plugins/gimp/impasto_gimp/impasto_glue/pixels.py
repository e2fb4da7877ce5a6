"""GIMP drawables ⇄ the client's Image: Gegl formats, selection masks, writing results back."""

from __future__ import annotations

from dataclasses import dataclass

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp  # noqa: E402

from impasto_client import Image, Layout, SampleType  # noqa: E402

from .options import binary_mask  # noqa: E402

# Precisions the wire carries as-is; everything else (32-bit integer, half, double) goes as float.
_SAMPLE_BY_PRECISION_PREFIX = {"U8": SampleType.UINT8, "U16": SampleType.UINT16}
_BABL_SAMPLE = {SampleType.UINT8: "u8", SampleType.UINT16: "u16", SampleType.FLOAT32: "float"}


@dataclass(frozen=True)
class PixelFormat:
    """How one drawable's pixels travel: a babl format name and the matching wire layout."""

    babl: str
    layout: Layout
    sample_type: SampleType


def content_format(image: Gimp.Image, drawable: Gimp.Drawable) -> PixelFormat:
    """The wire format for a drawable of this image, keeping its bit depth.

    Always the perceptual (R'G'B') encoding: the networks were trained on
    sRGB-encoded values, and babl converts linear images both ways exactly enough
    since GIMP merges the result through the selection rather than us overwriting.
    """
    name = image.get_precision().value_nick.upper().replace("-", "_")
    sample = next((s for prefix, s in _SAMPLE_BY_PRECISION_PREFIX.items() if name.startswith(prefix + "_")), None)
    sample = sample or SampleType.FLOAT32
    if drawable.is_gray():
        return PixelFormat(f"Y'A {_BABL_SAMPLE[sample]}", Layout.GRAY_ALPHA, sample)
    return PixelFormat(f"R'G'B'A {_BABL_SAMPLE[sample]}", Layout.RGBA, sample)


STYLE_FORMAT = PixelFormat("R'G'B' u8", Layout.RGB, SampleType.UINT8)


def read(drawable: Gimp.Drawable, fmt: PixelFormat, x: int = 0, y: int = 0, w: int = 0, h: int = 0) -> Image:
    """A rectangle of the drawable (all of it by default) in drawable coordinates."""
    w = w or drawable.get_width()
    h = h or drawable.get_height()
    data = drawable.get_buffer().get(Gegl.Rectangle.new(x, y, w, h), 1.0, fmt.babl, Gegl.AbyssPolicy.CLAMP)
    return Image(w, h, fmt.layout, fmt.sample_type, bytes(data))


def coverage(channel: Gimp.Channel, drawable: Gimp.Drawable) -> Image:
    """A channel (the selection, a saved selection) over the drawable as a GRAY u8 mask."""
    _, off_x, off_y = drawable.get_offsets()
    w, h = drawable.get_width(), drawable.get_height()
    # NONE abyss: parts of the layer hanging off the canvas are unselected, not edge-extended.
    rect = Gegl.Rectangle.new(off_x, off_y, w, h)
    data = channel.get_buffer().get(rect, 1.0, "Y u8", Gegl.AbyssPolicy.NONE)
    return Image(w, h, Layout.GRAY, SampleType.UINT8, bytes(data))


def selection_mask(image: Gimp.Image, drawable: Gimp.Drawable) -> Image | None:
    """The selection over the drawable as a binary GRAY u8 mask, or None when nothing is selected.

    Raises ValueError when there is a selection but none of it lies on this drawable.
    """
    if Gimp.Selection.is_empty(image):
        return None
    selected = coverage(image.get_selection(), drawable)
    mask = binary_mask(selected.data)
    if mask.count(0) == len(mask):
        raise ValueError("the selection does not touch this layer; select part of it, or select none")
    return Image(selected.width, selected.height, Layout.GRAY, SampleType.UINT8, mask)


def saved_selections(image: Gimp.Image, drawable: Gimp.Drawable) -> dict[str, Image]:
    """The image's channels (saved selections) by name, each over the drawable."""
    return {channel.get_name(): coverage(channel, drawable) for channel in image.get_channels()}


def crop(image: Image, x: int, y: int, w: int, h: int) -> bytes:
    """The bytes of a rectangle of a wire image, row by row."""
    pixel = image.layout.channels * image.sample_type.size
    stride = image.width * pixel
    view = memoryview(image.data)
    return b"".join(view[(y + row) * stride + x * pixel : (y + row) * stride + (x + w) * pixel] for row in range(h))


def merge_through_selection(
    layer: Gimp.Drawable, result: Image, fmt: PixelFormat, x: int, y: int, w: int, h: int
) -> None:
    """Writes `result` into the layer the way GIMP's own filters do: through the selection.

    The shadow buffer merged by GIMP leaves unselected pixels bit-identical whatever
    the precision and blends soft selection edges in the image's own precision,
    and it records the change on the undo stack.
    """
    shadow = layer.get_shadow_buffer()
    shadow.set(Gegl.Rectangle.new(x, y, w, h), fmt.babl, crop(result, x, y, w, h))
    shadow.flush()
    layer.merge_shadow(True)
    layer.update(x, y, w, h)


def write(layer: Gimp.Drawable, result: Image, fmt: PixelFormat, x: int, y: int, w: int, h: int) -> None:
    """Overwrites a fresh layer's pixels with a rectangle of `result` (at the layer's origin)."""
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), fmt.babl, crop(result, x, y, w, h))
    buffer.flush()
    layer.update(0, 0, w, h)
