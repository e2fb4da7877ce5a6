"""Client types ⇄ impasto.v1 messages: what the client and the daemon both put on the wire."""

from __future__ import annotations

from collections.abc import Iterator

from .images import Image, Layout, SampleType
from .v1 import impasto_pb2 as pb

CHUNK_BYTES = 1 << 20  # far below gRPC's default 4 MB message limit
ParamScalar = bool | int | float | str


def header_of(image: Image) -> pb.ImageHeader:
    return pb.ImageHeader(
        width=image.width, height=image.height, layout=int(image.layout), sample_type=int(image.sample_type)
    )


def image_from(header: pb.ImageHeader, data: bytes) -> Image:
    return Image(header.width, header.height, Layout(header.layout), SampleType(header.sample_type), data)


def chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) pieces of at most CHUNK_BYTES, in order; at least one, even for no data."""
    view = memoryview(data)
    yield 0, bytes(view[:CHUNK_BYTES])
    for offset in range(CHUNK_BYTES, len(view), CHUNK_BYTES):
        yield offset, bytes(view[offset : offset + CHUNK_BYTES])


def param_value(value: ParamScalar) -> pb.ParamValue:
    # bool first: it is an int subclass.
    if isinstance(value, bool):
        return pb.ParamValue(flag=value)
    if isinstance(value, int):
        return pb.ParamValue(integer=value)
    if isinstance(value, float):
        return pb.ParamValue(number=value)
    return pb.ParamValue(text=str(value))


def scalar(value: pb.ParamValue) -> ParamScalar | None:
    kind = value.WhichOneof("kind")
    return None if kind is None else getattr(value, kind)
