"""Generated hostile requests against a live daemon: every answer is a result or one of the statuses the contract
names for bad input, with a sentence, and the daemon stays healthy (docs/reliability.md).

Hypothesis draws upload streams (headers of any size, layout and type, chunks out of order, too long, too short,
repeated headers) and Stylize requests (known and unknown methods, refs good and bad, weights NaN and infinite,
parameters of every type with extreme values, label maps and masks that fit or not). The examples are bounded so
the suite stays fast; the seed is Hypothesis's own, so CI explores new inputs over time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impasto.serving.daemon import Config, Daemon
from impasto_client import Client
from impasto_client.v1 import impasto_pb2 as pb
from impasto_client.v1 import impasto_pb2_grpc as pb_grpc

from .conftest import rgb_image, scene

# What bad input may end with; OK is the other outcome. DEADLINE_EXCEEDED is this test's own deadline on a valid
# job that runs long (a generated 'steps'), which the daemon then stops at its next step.
ACCEPTED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[Daemon, pb_grpc.StyleTransferStub, dict[str, str]]]:
    daemon = Daemon(Config(port=0, max_queue=4, store_mb=512, idle_seconds=5.0)).start()
    client = Client(daemon.address)
    refs = {
        "content": client.put_image(rgb_image(scene(16, 16))),
        "style": client.put_image(rgb_image(scene(16, 16, 1))),
        "other_size": client.put_image(rgb_image(scene(8, 12))),
    }
    with grpc.insecure_channel(daemon.address) as channel:
        yield daemon, pb_grpc.StyleTransferStub(channel), refs
    client.close()
    daemon.stop(grace=0.5)


def check_answer(call: Iterator | None, error: grpc.RpcError | None, daemon: Daemon) -> None:
    if error is not None:
        assert error.code() in ACCEPTED, (error.code(), error.details())
        if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            assert error.details(), error.code()
    with grpc.insecure_channel(daemon.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 1e308, -1e-308, 2.5]),
)
sides = st.one_of(st.integers(0, 40), st.sampled_from([0, 1, 32768, 32769, 70000, 2**32 - 1]))
enums = st.integers(0, 7)


@st.composite
def upload(draw: st.DrawFn) -> list[pb.PutImageRequest]:
    """Mostly well-formed uploads of small images with one thing wrong or nothing, sometimes anything at all."""
    if draw(st.integers(0, 3)) == 0:
        header = pb.ImageHeader(width=draw(sides), height=draw(sides), layout=draw(enums), sample_type=draw(enums))
    else:
        header = pb.ImageHeader(
            width=draw(st.integers(1, 24)),
            height=draw(st.integers(1, 24)),
            layout=draw(st.integers(1, 4)),
            sample_type=draw(st.integers(1, 3)),
        )
    size = header.width * header.height * max(header.layout, 1) * (1, 1, 2, 4, 1, 1, 1, 1)[header.sample_type]
    payload = draw(st.binary(min_size=size, max_size=size)) if size <= 24 * 24 * 16 else b""
    pieces = draw(st.integers(1, 4))
    cuts = sorted(draw(st.lists(st.integers(0, len(payload)), min_size=pieces - 1, max_size=pieces - 1)))
    parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    mistake = draw(st.sampled_from(["none", "none", "none", "offset", "short", "long", "header", "no header"]))
    if mistake == "short" and payload:
        parts[-1] = parts[-1][:-1]
    if mistake == "long":
        parts[-1] = parts[-1] + b"\0"
    chunks, offset = [], 0
    for i, data in enumerate(parts):
        chunk = pb.PutImageRequest(offset=offset if mistake != "offset" or i == 0 else offset + 1, data=data)
        if (i == 0 and mistake != "no header") or (i == 1 and mistake == "header"):
            chunk.header.CopyFrom(header)
        chunks.append(chunk)
        offset += len(data)
    return chunks


@FUZZ
@given(chunks=upload())
def test_generated_uploads_get_a_result_or_a_clear_refusal(fuzzed, chunks: list[pb.PutImageRequest]) -> None:
    daemon, stub, _ = fuzzed
    error = None
    try:
        stub.PutImage(iter(chunks), timeout=20)
    except grpc.RpcError as err:
        error = err
    check_answer(None, error, daemon)


def ref(draw: st.DrawFn, refs: dict[str, str], good: str = "content") -> pb.ImageRef:
    """Mostly the right image, sometimes another one, an unknown one, a malformed one or none."""
    kind = draw(st.sampled_from([good] * 12 + ["content", "style", "other_size", "unknown", "malformed"]))
    if kind in refs:
        return pb.ImageRef(sha256=refs[kind])
    return pb.ImageRef(sha256={"unknown": "ab" * 32, "malformed": draw(st.text(max_size=70))}[kind])


param_names = st.sampled_from(
    ["size", "steps", "style_weight", "content_weight", "style_layers", "style_loss", "seed", "alpha", "init",
     "precision", "decoder", "level_alpha", "coarse_steps", "stride", "unknown", "", "rotations", "tv_weight"]
)  # fmt: skip
param_values = st.one_of(
    numbers.map(lambda x: pb.ParamValue(number=x)),
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 3)).map(lambda x: pb.ParamValue(integer=x)),
    st.booleans().map(lambda x: pb.ParamValue(flag=x)),
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(["relu1_1:nan", "relu1_1:-1", "gram:inf", "nan", "inf", "-inf", "1e999", "relu9_9", ""]),
    ).map(lambda x: pb.ParamValue(text=x)),
    st.just(pb.ParamValue()),
)
methods = st.one_of(
    st.sampled_from(["gatys", "cin", "fast", "arbitrary", "adain", "wct", "swap", "texture", "photo", "mrf",
                     "doodle", "analogy"]),
    st.text(max_size=12),
)  # fmt: skip


# Each method with a request that runs in well under a second on a 16 px picture; the fuzzer then changes things.
RUNNABLE = {
    "gatys": ({"size": 16, "steps": 2}, "image"),
    "cin": ({"size": 16}, "cin26:0"),
    "arbitrary": ({"size": 16}, "image"),
    "adain": ({"size": 16, "steps": 2}, "image"),
    "wct": ({"size": 16, "steps": 1}, "image"),
    "swap": ({"size": 16, "steps": 2}, "image"),
    "texture": ({"size": 16, "steps": 2}, "image"),
    "photo": ({"size": 16, "steps": 2}, "image"),
}  # mrf, doodle and analogy need larger pictures or labels; fast a trained model: the "method" change draws them


MUTATIONS = (
    "method", "content", "weight", "style", "builtin", "style labels", "mask", "preserve", "param", "size", "steps",
    "preview", "content labels", "more styles", "no styles",
)  # fmt: skip


@st.composite
def stylize(draw: st.DrawFn, refs: dict[str, str]) -> pb.StylizeRequest:
    """A request that would run, then up to two hostile changes (Hypothesis often draws none, and the mix varies)."""
    method = draw(st.sampled_from(sorted(RUNNABLE)))
    params, style = RUNNABLE[method]
    request = pb.StylizeRequest(method=method, content=pb.ImageRef(sha256=refs["content"]))
    entry = request.styles.add(weight=1.0)
    if style == "image":
        entry.image.sha256 = refs["style"]
    else:
        entry.builtin = style
    for name, value in params.items():
        request.params[name].CopyFrom(pb.ParamValue(integer=value))
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), max_size=2)):
        if not request.styles and mutation in ("weight", "style", "builtin", "style labels", "more styles"):
            continue
        if mutation == "method":
            request.method = draw(methods)
        elif mutation == "content":
            request.content.CopyFrom(ref(draw, refs, "unknown"))
        elif mutation == "weight":
            request.styles[0].weight = draw(numbers)
        elif mutation == "style":
            request.styles[0].image.CopyFrom(ref(draw, refs, "unknown"))
        elif mutation == "builtin":
            request.styles[0].builtin = draw(st.one_of(st.sampled_from(["cin26:99", "cin:none", ""]), st.text()))
        elif mutation == "style labels":
            request.styles[0].labels.label_map.CopyFrom(ref(draw, refs, "style"))
        elif mutation == "mask":
            request.mask.CopyFrom(ref(draw, refs, "other_size"))
        elif mutation == "preserve":
            request.preserve_color = draw(st.integers(0, 2**31 - 1))
        elif mutation == "param":
            request.params[draw(param_names)].CopyFrom(draw(param_values))
        elif mutation in ("size", "steps"):
            request.params[mutation].CopyFrom(draw(param_values))
        elif mutation == "preview":
            request.preview_every = draw(st.sampled_from([1, 2**32 - 1]))
        elif mutation == "content labels":
            request.content_labels.label_map.CopyFrom(ref(draw, refs, "content"))
        elif mutation == "more styles":
            request.styles.extend([request.styles[0]] * draw(st.integers(1, 40)))
        else:
            del request.styles[:]
    return request


@FUZZ
@given(data=st.data())
def test_generated_stylize_requests_get_a_result_or_a_clear_refusal(fuzzed, data: st.DataObject) -> None:
    daemon, stub, refs = fuzzed
    request = data.draw(stylize(refs))
    error = None
    try:
        for _ in stub.Stylize(request, timeout=5):
            pass
    except grpc.RpcError as err:
        error = err
    check_answer(None, error, daemon)
