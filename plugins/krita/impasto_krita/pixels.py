"""Krita pixel data ⇄ the client's wire images, in pure Python.

Krita's embedded Python has no numpy, so every conversion here works on whole
byte strings with slicing, `array` and `bytes.translate`, and only falls back
to a per-sample loop where no C-level operation exists (half floats, tone
curves, soft selection edges). Nothing here imports Qt or Krita, so it is
tested outside Krita too.
"""

from __future__ import annotations

import math
import re
import struct
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from impasto_client import Image, Layout, SampleType
from impasto_client.images import swap_red_blue

SUPPORTED_DEPTHS = ("U8", "U16", "F16", "F32")
# Samples converted per struct call for half floats: large enough to be fast,
# small enough not to build one giant argument tuple.
HALF_CHUNK = 1 << 16


class UnsupportedColorSpace(ValueError):
    """A layer whose colour model or depth impasto cannot send."""


@dataclass(frozen=True)
class PixelFormat:
    """How one Krita colour space travels: its wire sample type and the work on the way."""

    model: str
    depth: str
    profile: str

    @property
    def sample_type(self) -> SampleType:
        # Half floats have no wire type: they travel as 32-bit floats.
        return {"U8": SampleType.UINT8, "U16": SampleType.UINT16}.get(self.depth, SampleType.FLOAT32)

    @property
    def krita_sample_size(self) -> int:
        return {"U8": 1, "U16": 2, "F16": 2, "F32": 4}[self.depth]

    @property
    def bgr(self) -> bool:
        # Krita's integer RGBA colour spaces store B,G,R,A; its float ones R,G,B,A.
        return self.depth in ("U8", "U16")

    @property
    def linear(self) -> bool:
        """Linear-light profile (Krita's default for 16-bit and float documents).

        The daemon's networks were trained on sRGB-encoded pictures, so linear
        pixels are sRGB-encoded on the way out and decoded on the way back. Not
        for 8-bit layers: 256 levels cannot take a round trip through the curve.
        """
        name = self.profile.lower()
        return self.depth != "U8" and ("g10" in name or "linear" in name or "scrgb" in name)


def check_supported(model: str, depth: str, what: str = "The layer") -> None:
    """Raises UnsupportedColorSpace with what the painter can do about it."""
    if model == "RGBA" and depth in SUPPORTED_DEPTHS:
        return
    raise UnsupportedColorSpace(
        f"{what} is in the {model}/{depth} colour space; impasto works on RGB/Alpha at 8-bit integer, "
        "16-bit integer, 16-bit float or 32-bit float. Convert it with Image ▸ Convert Image Color Space… "
        "(or the layer's Convert ▸ Convert Layer Color Space…) and try again."
    )


# ---------------------------------------------------------------- half floats and tone curves


def half_to_float(data: bytes) -> array:
    out = array("f")
    count = len(data) // 2
    for start in range(0, count, HALF_CHUNK):
        n = min(HALF_CHUNK, count - start)
        out.extend(struct.unpack_from(f"<{n}e", data, start * 2))
    return out


def float_to_half(values: array) -> bytes:
    parts = []
    for start in range(0, len(values), HALF_CHUNK):
        chunk = values[start : start + HALF_CHUNK]
        # Values beyond half range would make struct raise: clamp them to its largest finite value.
        chunk = [min(max(v, -65504.0), 65504.0) if not math.isnan(v) else 0.0 for v in chunk]
        parts.append(struct.pack(f"<{len(chunk)}e", *chunk))
    return b"".join(parts)


def srgb_encode(v: float) -> float:
    if v <= 0.0031308:
        return 12.92 * v
    return 1.055 * math.pow(v, 1 / 2.4) - 0.055


def srgb_decode(v: float) -> float:
    if v <= 0.04045:
        return v / 12.92
    return math.pow((v + 0.055) / 1.055, 2.4)


_U16_TABLES: dict[bool, list[int]] = {}


def _u16_table(encode: bool) -> list[int]:
    if encode not in _U16_TABLES:
        curve = srgb_encode if encode else srgb_decode
        _U16_TABLES[encode] = [round(curve(i / 65535) * 65535) for i in range(65536)]
    return _U16_TABLES[encode]


def _native(values: array) -> array:
    # The wire and Krita are little-endian; `array` is native.
    if sys.byteorder != "little":
        values.byteswap()
    return values


def _apply_tone(data: bytes, sample_type: SampleType, encode: bool) -> bytes:
    """Applies the sRGB curve (or its inverse) to R, G, B of RGBA samples, leaving alpha alone."""
    if sample_type == SampleType.UINT16:
        values = _native(array("H", data))
        table = _u16_table(encode)
        for c in range(3):
            values[c::4] = array("H", map(table.__getitem__, values[c::4]))
    else:
        values = _native(array("f", data))
        curve = srgb_encode if encode else srgb_decode
        # Out-of-range floats (HDR, negative gamut) keep their sign and pass the curve by magnitude.
        fn: Callable[[float], float] = lambda v: math.copysign(curve(abs(v)), v)  # noqa: E731
        for c in range(3):
            values[c::4] = array("f", map(fn, values[c::4]))
    return _native(values).tobytes()


# ---------------------------------------------------------------- layer pixels


def to_wire(raw: bytes, width: int, height: int, fmt: PixelFormat) -> Image:
    """Krita RGBA pixel data (as Node.pixelData returns it) → a wire image."""
    if fmt.depth == "F16":
        data = _native(half_to_float(raw)).tobytes()
    elif fmt.bgr:
        data = swap_red_blue(raw, 4, fmt.krita_sample_size)
    else:
        data = bytes(raw)
    if fmt.linear:
        data = _apply_tone(data, fmt.sample_type, encode=True)
    return Image(width, height, Layout.RGBA, fmt.sample_type, data)


def from_wire(image: Image, fmt: PixelFormat) -> bytes:
    """A wire image of the layer's layout and sample type → Krita pixel data."""
    if image.layout != Layout.RGBA or image.sample_type != fmt.sample_type:
        raise ValueError(
            f"the daemon answered with a {image.layout.name} {image.sample_type.name} image; "
            f"expected RGBA {fmt.sample_type.name}"
        )
    data = image.data
    if fmt.linear:
        data = _apply_tone(data, fmt.sample_type, encode=False)
    if fmt.depth == "F16":
        return float_to_half(_native(array("f", data)))
    if fmt.bgr:
        return swap_red_blue(data, 4, fmt.krita_sample_size)
    return bytes(data)


# ---------------------------------------------------------------- selections

_ZERO_RUNS = re.compile(rb"\x00+")
_SOFT_RUNS = re.compile(rb"[\x01-\xfe]+")
_BINARY = bytes([0] + [255] * 255)


def mask_image(coverage: bytes, width: int, height: int) -> Image:
    return Image(width, height, Layout.GRAY, SampleType.UINT8, bytes(coverage))


def is_empty(coverage: bytes) -> bool:
    return not coverage.strip(b"\x00")


def is_full(coverage: bytes) -> bool:
    return not coverage.strip(b"\xff")


def binarize(coverage: bytes) -> bytes:
    """Every partly selected pixel becomes fully selected."""
    return coverage.translate(_BINARY)


def _typecode(sample_size: int, floating: bool) -> str:
    return "f" if floating else {1: "B", 2: "H"}[sample_size]


def restore_unselected(result: bytes, original: bytes, coverage: bytes, pixel_size: int) -> bytes:
    """Copies `original`'s bytes wherever `coverage` is 0, so untouched pixels stay bit-identical.

    The daemon keeps them identical on the wire, but the way back (half floats,
    tone curves) need not be an exact inverse of the way out.
    """
    out = bytearray(result)
    for run in _ZERO_RUNS.finditer(coverage):
        a, b = run.start() * pixel_size, run.end() * pixel_size
        out[a:b] = original[a:b]
    return bytes(out)


def cut_to_selection(data: bytes, coverage: bytes, depth: str) -> bytes:
    """Krita pixel data with each pixel's alpha scaled by its selection coverage (0..255)."""
    floating = depth in ("F16", "F32")
    size = {"U8": 1, "U16": 2, "F16": 2, "F32": 4}[depth]
    values = half_to_float(data) if depth == "F16" else _native(array(_typecode(size, floating), data))
    alpha = values[3::4]
    for run in _ZERO_RUNS.finditer(coverage):
        alpha[run.start() : run.end()] = array(alpha.typecode, [0]) * (run.end() - run.start())
    for run in _SOFT_RUNS.finditer(coverage):
        for i in range(run.start(), run.end()):
            scaled = alpha[i] * coverage[i] / 255
            alpha[i] = scaled if floating else round(scaled)
    values[3::4] = alpha
    if depth == "F16":
        return float_to_half(values)
    return _native(values).tobytes()


# ---------------------------------------------------------------- previews


def to_rgba8(image: Image) -> bytes:
    """Any wire image → R,G,B,A 8-bit bytes, for showing previews and thumbnails."""
    channels = image.layout.channels
    if image.sample_type == SampleType.UINT8:
        samples: bytes | array = image.data
        scale = None
    elif image.sample_type == SampleType.UINT16:
        samples = _native(array("H", image.data))
        scale = 1 / 257
    else:
        samples = _native(array("f", image.data))
        scale = 255.0

    def plane(c: int) -> bytes:
        values = samples[c::channels]
        if scale is None:
            return bytes(values)
        return bytes(min(255, max(0, round(v * scale))) for v in values)

    n = image.width * image.height
    if image.layout in (Layout.GRAY, Layout.GRAY_ALPHA):
        r = g = b = plane(0)
    else:
        r, g, b = plane(0), plane(1), plane(2)
    a = plane(channels - 1) if image.layout.has_alpha else b"\xff" * n
    out = bytearray(n * 4)
    out[0::4], out[1::4], out[2::4], out[3::4] = r, g, b, a
    return bytes(out)
