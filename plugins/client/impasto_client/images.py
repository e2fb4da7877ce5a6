"""Packed pixel buffers as they travel between an editor and the daemon."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass


class Layout(enum.IntEnum):
    """Channel layout; the values are impasto.v1.ChannelLayout's."""

    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGBA = 4

    @property
    def channels(self) -> int:
        return {Layout.GRAY: 1, Layout.GRAY_ALPHA: 2, Layout.RGB: 3, Layout.RGBA: 4}[self]

    @property
    def has_alpha(self) -> bool:
        return self in (Layout.GRAY_ALPHA, Layout.RGBA)


class SampleType(enum.IntEnum):
    """Bytes per sample and their meaning; the values are impasto.v1.SampleType's."""

    UINT8 = 1
    UINT16 = 2
    FLOAT32 = 3

    @property
    def size(self) -> int:
        return {SampleType.UINT8: 1, SampleType.UINT16: 2, SampleType.FLOAT32: 4}[self]


@dataclass(frozen=True)
class Image:
    """Row-major interleaved pixels, R,G,B,A order, little-endian samples, straight alpha."""

    width: int
    height: int
    layout: Layout
    sample_type: SampleType
    data: bytes

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        expected = self.expected_size(self.width, self.height, self.layout, self.sample_type)
        if len(self.data) != expected:
            raise ValueError(
                f"a {self.width}x{self.height} {self.layout.name} {self.sample_type.name} image "
                f"has {expected} bytes, got {len(self.data)}"
            )

    @staticmethod
    def expected_size(width: int, height: int, layout: Layout, sample_type: SampleType) -> int:
        return width * height * Layout(layout).channels * SampleType(sample_type).size

    @property
    def sha256(self) -> str:
        return image_sha256(self.width, self.height, self.layout, self.sample_type, self.data)


def image_sha256(width: int, height: int, layout: int, sample_type: int, data: bytes) -> str:
    """The content address the daemon gives an image (see ImageRef in the .proto)."""
    digest = hashlib.sha256(f"impasto-image {width} {height} {int(layout)} {int(sample_type)}\n".encode())
    digest.update(data)
    return digest.hexdigest()


def swap_red_blue(data: bytes, channels: int, sample_size: int) -> bytes:
    """Swaps the first and third channel: Krita's 8/16-bit pixel data are B,G,R,A."""
    out = bytearray(data)
    step = channels * sample_size
    for byte in range(sample_size):
        out[byte::step] = data[2 * sample_size + byte :: step]
        out[2 * sample_size + byte :: step] = data[byte::step]
    return bytes(out)
