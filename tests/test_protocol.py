"""The wire protocol against a real daemon: uploads, downloads, discovery, health and every bad input."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from impasto_client import Client, Image, ImpastoError, Layout, SampleType
from impasto_client.v1 import impasto_pb2 as pb
from impasto_client.v1 import impasto_pb2_grpc as pb_grpc

from .conftest import as_array, rgb_image, scene


@pytest.fixture
def stub(daemon):
    with grpc.insecure_channel(daemon.address) as channel:
        yield pb_grpc.StyleTransferStub(channel)


def assert_healthy(daemon) -> None:
    with grpc.insecure_channel(daemon.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="impasto.v1.StyleTransfer"), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def rpc_error(call, *args) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        result = call(*args)
        if hasattr(result, "__iter__") and not isinstance(result, pb.PutImageResponse):
            list(result)
    return info.value


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize("sample_type", list(SampleType))
def test_every_pixel_format_round_trips_bit_exactly(client: Client, layout: Layout, sample_type: SampleType) -> None:
    rng = np.random.default_rng(int(layout) * 10 + int(sample_type))
    shape = (37, 53, layout.channels)
    if sample_type == SampleType.FLOAT32:
        array = rng.standard_normal(shape).astype("<f4")  # HDR and negative floats must survive too
    else:
        array = rng.integers(0, 256 if sample_type == SampleType.UINT8 else 65536, shape)
    image = rgb_image(array, sample_type)
    assert image.layout == layout
    ref = client.put_image(image, force=True)
    assert ref == image.sha256
    back = client.get_image(ref)
    assert (back.width, back.height, back.layout, back.sample_type) == (53, 37, layout, sample_type)
    assert back.data == image.data


def test_4096_rgba_layer_round_trips(client: Client) -> None:
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, 4096 * 4096 * 4, dtype=np.uint8).tobytes()
    image = Image(4096, 4096, Layout.RGBA, SampleType.UINT8, data)
    ref = client.put_image(image, force=True)
    assert client.has_image(ref)
    assert client.get_image(ref).data == data


def test_upload_by_reference_skips_known_images(client: Client, daemon) -> None:
    image = rgb_image(scene(16, 16))
    first = client.put_image(image)
    assert client.has_image(first)
    assert client.put_image(image) == first


def _upload(stub, chunks):
    return stub.PutImage(iter(chunks))


HEADER = pb.ImageHeader(width=4, height=4, layout=pb.CHANNEL_LAYOUT_RGB, sample_type=pb.SAMPLE_TYPE_UINT8)


@pytest.mark.parametrize(
    ("chunks", "needle"),
    [
        (
            [pb.PutImageRequest(header=pb.ImageHeader(width=0, height=4, layout=3, sample_type=1), data=b"")],
            "width and height must be positive",
        ),
        (
            [pb.PutImageRequest(header=pb.ImageHeader(width=4, height=0, layout=3, sample_type=1), data=b"")],
            "width and height must be positive",
        ),
        (
            [pb.PutImageRequest(header=pb.ImageHeader(width=4, height=4, layout=0, sample_type=1), data=bytes(48))],
            "channel layout",
        ),
        (
            [pb.PutImageRequest(header=pb.ImageHeader(width=4, height=4, layout=3, sample_type=9), data=bytes(48))],
            "sample type",
        ),
        ([pb.PutImageRequest(header=HEADER, data=bytes(47))], "upload is incomplete"),
        ([pb.PutImageRequest(header=HEADER, data=bytes(49))], "more bytes than"),
        (
            [
                pb.PutImageRequest(header=HEADER, offset=0, data=bytes(16)),
                pb.PutImageRequest(offset=32, data=bytes(16)),
                pb.PutImageRequest(offset=16, data=bytes(16)),
            ],
            "must be sent in order",
        ),
        (
            [
                pb.PutImageRequest(header=HEADER, offset=0, data=bytes(16)),
                pb.PutImageRequest(offset=32, data=bytes(16)),
            ],
            "none may be missing",
        ),
        ([pb.PutImageRequest(offset=0, data=bytes(48))], "first chunk"),
        ([], "first chunk"),
    ],
    ids=[
        "zero-width",
        "zero-height",
        "no-layout",
        "bad-sample",
        "short",
        "long",
        "out-of-order",
        "missing",
        "no-header",
        "empty",
    ],
)
def test_bad_uploads_are_invalid_argument(stub, daemon, chunks, needle) -> None:
    err = rpc_error(_upload, stub, chunks)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in err.details()
    assert_healthy(daemon)


def test_negative_sizes_are_refused_by_the_client() -> None:
    with pytest.raises(ValueError, match="positive"):
        Image(-4, 4, Layout.RGB, SampleType.UINT8, b"")


def test_data_length_must_match_the_declared_size() -> None:
    with pytest.raises(ValueError, match="has 48 bytes, got 47"):
        Image(4, 4, Layout.RGB, SampleType.UINT8, bytes(47))


def test_image_larger_than_the_store_is_resource_exhausted(stub, daemon) -> None:
    huge = pb.ImageHeader(width=32768, height=32768, layout=pb.CHANNEL_LAYOUT_RGBA, sample_type=pb.SAMPLE_TYPE_FLOAT32)
    err = rpc_error(_upload, stub, [pb.PutImageRequest(header=huge, data=b"")])
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "MiB" in err.details()
    assert_healthy(daemon)


def test_unknown_image_ref_is_not_found(client: Client, stub, daemon) -> None:
    err = rpc_error(stub.GetImageInfo, pb.GetImageInfoRequest(ref=pb.ImageRef(sha256="ab" * 32)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(ImpastoError) as info:
        client.get_image("cd" * 32)
    assert info.value.code == "NOT_FOUND"
    request = pb.StylizeRequest(
        method="cin", content=pb.ImageRef(sha256="ef" * 32), styles=[pb.StyleInput(builtin="cin26:0")]
    )
    err = rpc_error(stub.Stylize, request)
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "content" in err.details()
    assert_healthy(daemon)


def _content_ref(client: Client, size: int = 24) -> str:
    return client.put_image(rgb_image(scene(size, size)))


def test_unknown_method_is_not_found(client: Client, stub, daemon) -> None:
    request = pb.StylizeRequest(method="cubism", content=pb.ImageRef(sha256=_content_ref(client)))
    err = rpc_error(stub.Stylize, request)
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "cubism" in err.details() and "gatys" in err.details()
    assert_healthy(daemon)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"steps": -3}, "'steps' must be at least 1"),
        ({"steps": 0}, "'steps' must be at least 1"),
        ({"size": -1}, "'size' must be at least 0"),
        ({"style_weight": "lots"}, "'style_weight' must be a number"),
        ({"init": "chaos"}, "'init' must be one of content, palette, noise, style"),
        ({"colour": 1}, "has no parameter 'colour'"),
        ({"steps": 2.5}, "'steps' must be a whole number"),
    ],
)
def test_bad_parameters_are_invalid_argument(client: Client, daemon, params, needle) -> None:
    style = rgb_image(scene(24, 24, seed=3))
    with pytest.raises(ImpastoError) as info:
        client.stylize(rgb_image(scene(24, 24)), [style], method="gatys", params=params).result()
    assert info.value.code == "INVALID_ARGUMENT"
    assert needle in info.value.message
    assert_healthy(daemon)


def test_mask_of_another_size_is_invalid_argument(client: Client, daemon) -> None:
    mask = Image(10, 10, Layout.GRAY, SampleType.UINT8, bytes(100))
    with pytest.raises(ImpastoError) as info:
        client.stylize(rgb_image(scene(24, 24)), [rgb_image(scene(24, 24, 2))], mask=mask).result()
    assert info.value.code == "INVALID_ARGUMENT"
    assert "mask" in info.value.message and "same size" in info.value.message
    assert_healthy(daemon)


def test_mask_must_be_8bit_grey(client: Client, daemon) -> None:
    mask = rgb_image(scene(24, 24))
    with pytest.raises(ImpastoError) as info:
        client.stylize(rgb_image(scene(24, 24)), [rgb_image(scene(24, 24, 2))], mask=mask).result()
    assert info.value.code == "INVALID_ARGUMENT" and "8-bit greyscale" in info.value.message


def test_missing_and_unknown_styles(client: Client, daemon) -> None:
    with pytest.raises(ImpastoError) as info:
        client.stylize(rgb_image(scene(24, 24)), [], method="gatys").result()
    assert info.value.code == "INVALID_ARGUMENT" and "needs a style" in info.value.message
    with pytest.raises(ImpastoError) as info:
        client.stylize(rgb_image(scene(24, 24)), ["no-such-style:1"], method="gatys").result()
    assert info.value.code == "NOT_FOUND" and "no-such-style:1" in info.value.message
    assert_healthy(daemon)


def test_list_methods_publishes_the_gatys_schema(client: Client) -> None:
    methods = {m.name: m for m in client.list_methods()}
    gatys = methods["gatys"]
    params = {p.name: p for p in gatys.params}
    assert params["steps"].type == "int" and params["steps"].minimum == 1 and params["steps"].default == 300
    assert params["optimizer"].type == "choice" and params["optimizer"].choices == ["lbfgs", "adam"]
    assert params["content_weight"].type == "float" and params["content_weight"].help
    assert gatys.takes_style_images and gatys.takes_mask and gatys.supports_preserve_color
    assert gatys.max_styles >= 2


def test_list_styles_answers(client: Client) -> None:
    for style in client.list_styles():
        assert style.id and style.method and style.license


def test_health_and_reflection(daemon) -> None:
    assert_healthy(daemon)
    with grpc.insecure_channel(daemon.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for r in replies for s in r.list_services_response.service}
    assert "impasto.v1.StyleTransfer" in names and "grpc.health.v1.Health" in names


def test_messages_stay_under_grpc_default_limit(client: Client) -> None:
    """A 3000×3000 float layer is 144 MB: it must travel in chunks under the 4 MB default limit."""
    data = np.zeros((1500, 3000, 4), "<f4").tobytes()
    image = Image(3000, 1500, Layout.RGBA, SampleType.FLOAT32, data)
    ref = client.put_image(image, force=True)
    assert as_array(client.get_image(ref)).shape == (1500, 3000, 4)


def test_a_job_too_big_for_memory_is_resource_exhausted(client: Client, daemon) -> None:
    side = 8192
    content = Image(side, side, Layout.GRAY, SampleType.UINT8, bytes(side * side))
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, [rgb_image(scene(16, 16))], params={"size": 0}).result()
    assert info.value.code == "RESOURCE_EXHAUSTED"
    assert "GiB" in info.value.message and "lower 'size'" in info.value.message
    assert_healthy(daemon)
