"""A blocking client for the impasto daemon: upload by reference, stylize, download."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from .connection import DEFAULT_ADDRESS, SESSION_HEADER, Connection
from .images import Image
from .v1 import impasto_pb2 as pb
from .v1 import impasto_pb2_grpc as pb_grpc
from .wire import ParamScalar, chunks, header_of, image_from, param_value, scalar

PRESERVE_COLOR = {
    "none": pb.PRESERVE_COLOR_NONE,
    "luminance": pb.PRESERVE_COLOR_LUMINANCE,
    "histogram": pb.PRESERVE_COLOR_HISTOGRAM,
}

# A style is a built-in style id ("cin26:3"), a picture, or either with a blend weight.
Style = str | Image | tuple[str | Image, float]
# Region labels: a label map (each flat colour a region) or named greyscale masks (saved selections).
Labels = Image | Mapping[str, Image]


class ImpastoError(Exception):
    """A call failed; `code` is the gRPC status name (e.g. "INVALID_ARGUMENT")."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def from_rpc(cls, err: grpc.RpcError, connection: Connection | None = None) -> ImpastoError:
        code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        details = err.details() if hasattr(err, "details") else str(err)
        if code == grpc.StatusCode.UNAVAILABLE and "shutting down" not in (details or ""):
            details = _unreachable(details or "", connection)
        return cls(code.name, details or code.name)


def _unreachable(details: str, connection: Connection | None) -> str:
    """What a painter can do about a daemon that does not answer, from grpc's low-level reason."""
    where = connection.address if connection else "the address given"
    lowered = details.lower()
    tls_trouble = ("ssl", "tls", "handshake", "certificate", "wrong_version", "alpn", "hostname", "verification")
    plain = connection is not None and not connection.tls
    # A TLS daemon closes a plain connection at once; grpc then says only "Socket closed".
    if any(word in lowered for word in tls_trouble) or (plain and "socket closed" in lowered):
        if plain:
            return (
                f"the impasto daemon at {where} did not answer a plain connection; if it uses TLS, connect with "
                f"TLS and the daemon's CA certificate ({details})"
            )
        return (
            f"could not make a TLS connection to the impasto daemon at {where}: its certificate is not trusted, has "
            f"expired or names another host, or it does not use TLS; check the CA certificate and the address "
            f"({details})"
        )
    return f"no impasto daemon answers at {where} ({details}); start it with 'impasto serve'"


@dataclass
class StylizeEvent:
    """One event of a running job: queued, progress, preview or result."""

    kind: str
    position: int = 0
    stage: str = ""
    step: int = 0
    total: int = 0
    loss: float | None = None  # None for methods without an objective (one-pass networks)
    image: Image | None = None
    seconds: float = 0.0
    # Further result layers by name (some methods return more than one image).
    extra_layers: dict[str, Image] = field(default_factory=dict)


@dataclass
class ParamInfo:
    name: str
    type: str  # float, int, bool, string, choice
    default: ParamScalar | None
    minimum: float | None
    maximum: float | None
    choices: list[str]
    help: str


@dataclass
class MethodInfo:
    name: str
    title: str
    description: str
    params: list[ParamInfo]
    max_styles: int
    takes_style_images: bool
    takes_builtin_styles: bool
    takes_mask: bool
    takes_label_maps: bool
    supports_preserve_color: bool


@dataclass
class DeviceInfo:
    """The device a daemon runs jobs on, and the float type `precision: auto` means there (and why)."""

    name: str
    model: str
    auto_precision: str
    precision_reason: str


@dataclass
class StyleInfo:
    id: str
    name: str
    method: str
    license: str
    thumbnail: Image | None = field(default=None, repr=False)


@dataclass
class TrainEvent:
    """One event of a training job: queued, progress (with named losses), preview or model (the end)."""

    kind: str
    position: int = 0
    step: int = 0
    total: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    steps_per_second: float = 0.0
    eta_seconds: float = 0.0
    image: Image | None = None
    # With kind "model": the finished model's id to stylize with (e.g. "fast:my-painting") and its method.
    style_id: str = ""
    method: str = ""
    seconds: float = 0.0


@dataclass
class TrainerInfo:
    kind: str
    title: str
    description: str
    params: list[ParamInfo]
    takes_style_image: bool
    takes_photos: bool
    model_kind: str
    method: str


class TrainCall:
    """A running training job: iterate its events, or cancel it (it stops after the current step and keeps a
    checkpoint that `Client.train(..., resume=True)` goes on from)."""

    def __init__(self, call: Any, connection: Connection | None = None) -> None:
        self._call = call
        self.connection = connection

    def cancel(self) -> None:
        self._call.cancel()

    def __iter__(self) -> Iterator[TrainEvent]:
        try:
            for response in self._call:
                kind = response.WhichOneof("event")
                if kind == "queued":
                    yield TrainEvent("queued", position=response.queued.position)
                elif kind == "progress":
                    p = response.progress
                    yield TrainEvent(
                        "progress",
                        step=p.step,
                        total=p.total,
                        losses=dict(p.losses),
                        steps_per_second=p.steps_per_second,
                        eta_seconds=p.eta_seconds,
                    )
                elif kind == "preview":
                    image = image_from(response.preview.header, response.preview.data)
                    yield TrainEvent("preview", step=response.preview.step, image=image)
                elif kind == "model":
                    m = response.model
                    yield TrainEvent("model", step=m.steps, style_id=m.style_id, method=m.method, seconds=m.seconds)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err, self.connection) from None

    def result(self, on_event: Callable[[TrainEvent], None] | None = None) -> TrainEvent:
        """Waits for the model; returns its event (style_id, method)."""
        for event in self:
            if on_event is not None:
                on_event(event)
            if event.kind == "model":
                return event
        raise ImpastoError("UNKNOWN", "the daemon ended the training without a model")


class StylizeCall:
    """A running Stylize job: iterate its events, or cancel it from any thread.

    When the daemon is lost before the result (UNAVAILABLE: it stopped, or a load balancer moved this client to
    another one) the job is sent again once, uploading what the daemon answering now lacks; when the daemon says it
    lacks an image this client had just checked it holds, the images are uploaded again once.
    """

    def __init__(self, client: Client, start: Callable[[bool], Any]) -> None:
        self._client = client
        self._start = start
        self._call = start(False)
        self._cancelled = False
        # Filled with the result's further layers, by name, once the result has arrived.
        self.extra_layers: dict[str, Image] = {}

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()

    def __iter__(self) -> Iterator[StylizeEvent]:
        tries = {"lost daemon": 1, "lost image": 1}
        lost: grpc.RpcError | None = None  # what ended the first try, when the daemon was lost
        while True:
            try:
                yield from self._events()
                return
            except grpc.RpcError as err:
                code, details = err.code(), err.details() or ""
                if code == grpc.StatusCode.INTERNAL and "RST_STREAM" in details:
                    # A proxy (nginx) whose daemon died mid-stream resets the stream: the daemon is lost.
                    code = grpc.StatusCode.UNAVAILABLE
                if lost is not None and code == grpc.StatusCode.UNAVAILABLE:
                    # No daemon took the job again: the first reason ("shutting down") says more than "refused".
                    raise ImpastoError.from_rpc(lost, self._client.connection) from None
                if self._cancelled or code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND):
                    raise ImpastoError.from_rpc(err, self._client.connection) from None
                reason = "lost daemon" if code == grpc.StatusCode.UNAVAILABLE else "lost image"
                if reason == "lost image" and "holds no image" not in details:
                    raise ImpastoError.from_rpc(err, self._client.connection) from None
                if not tries[reason]:
                    if reason == "lost image":
                        raise ImpastoError(
                            "NOT_FOUND",
                            f"{details} (it was uploaded a moment ago: a load balancer between here and the daemons "
                            f"may not keep this client on one daemon; route by the {SESSION_HEADER} header, see "
                            f"docs/remote.md)",
                        ) from None
                    raise ImpastoError.from_rpc(err, self._client.connection) from None
                tries[reason] -= 1
                if reason == "lost daemon":
                    lost = err
                time.sleep(0.5)
                try:
                    self._call = self._start(True)
                except ImpastoError as again:
                    if lost is not None and again.code == "UNAVAILABLE":
                        raise ImpastoError.from_rpc(lost, self._client.connection) from None
                    raise
                except grpc.RpcError as again:
                    raise ImpastoError.from_rpc(lost or again, self._client.connection) from None

    def _events(self) -> Iterator[StylizeEvent]:
        for response in self._call:
            kind = response.WhichOneof("event")
            if kind == "queued":
                yield StylizeEvent("queued", position=response.queued.position)
            elif kind == "progress":
                p = response.progress
                loss = p.loss if p.HasField("loss") else None
                yield StylizeEvent("progress", stage=p.stage, step=p.step, total=p.total, loss=loss)
            elif kind == "preview":
                image = image_from(response.preview.header, response.preview.data)
                yield StylizeEvent("preview", step=response.preview.step, image=image)
            elif kind == "result":
                image = self._client._download(response.result.image.sha256)
                self.extra_layers = {
                    layer.name: self._client._download(layer.image.sha256) for layer in response.result.extra_layers
                }
                yield StylizeEvent(
                    "result", image=image, seconds=response.result.seconds, extra_layers=self.extra_layers
                )

    def result(self, on_event: Callable[[StylizeEvent], None] | None = None) -> Image:
        for event in self:
            if on_event is not None:
                on_event(event)
            if event.kind == "result":
                assert event.image is not None
                return event.image
        raise ImpastoError("UNKNOWN", "the daemon ended the job without a result")


class Client:
    """Talks to one daemon. Thread-safe; close() it (or use `with`) when done."""

    def __init__(self, address: str | Connection = DEFAULT_ADDRESS, timeout: float = 30.0) -> None:
        """`address` is host:port, or a Connection (TLS, token); `timeout` bounds every call that should answer at
        once, so a hung daemon cannot hang an editor."""
        self.connection = address if isinstance(address, Connection) else Connection(address)
        self.address = self.connection.address
        self.timeout = timeout
        self._channel = self.connection.channel()
        self._stub = pb_grpc.StyleTransferStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def wait_ready(self, timeout: float) -> bool:
        """True once the daemon answers its health check as SERVING within `timeout` seconds."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
            reply = health_pb2_grpc.HealthStub(self._channel).Check(
                health_pb2.HealthCheckRequest(service="impasto.v1.StyleTransfer"), timeout=timeout
            )
        except (grpc.FutureTimeoutError, grpc.RpcError):
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    def check(self, timeout: float = 5.0) -> None:
        """Returns once the daemon answers and accepts this client; else raises ImpastoError saying why (not
        reachable, TLS trouble, a missing or wrong token), in a sentence for the painter."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        try:
            health_pb2_grpc.HealthStub(self._channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            # Health needs no token; an image lookup does, and costs nothing.
            self._stub.GetImageInfo(pb.GetImageInfoRequest(ref=pb.ImageRef(sha256="0" * 64)), timeout=timeout)
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise ImpastoError.from_rpc(err, self.connection) from None

    def answers(self, timeout: float = 5.0) -> bool:
        """True once the daemon answers and accepts this client; False when nothing answers at the address at all.
        Raises ImpastoError when something answers but refuses: a missing or wrong token, TLS on one side only, an
        untrusted certificate (the editors must then say why, and start nothing on that port)."""
        if self.wait_ready(timeout):
            self.check(timeout)  # health needs no token, so readiness alone does not tell
            return True
        try:
            self.check(timeout)
        except ImpastoError as err:
            if "TLS" in err.message:
                raise
            return False
        return True

    # ---------------------------------------------------------------- images

    def has_image(self, sha256: str) -> bool:
        try:
            self._stub.GetImageInfo(pb.GetImageInfoRequest(ref=pb.ImageRef(sha256=sha256)), timeout=self.timeout)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise ImpastoError.from_rpc(err, self.connection) from None
        return True

    def put_image(self, image: Image, *, force: bool = False) -> str:
        """Uploads `image` unless the daemon already holds it; returns its reference."""
        sha = image.sha256
        if not force and self.has_image(sha):
            return sha

        def requests() -> Iterator[pb.PutImageRequest]:
            for offset, piece in chunks(image.data):
                header = header_of(image) if offset == 0 else None
                yield pb.PutImageRequest(header=header, offset=offset, data=piece)

        try:
            reply = self._stub.PutImage(requests())
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err, self.connection) from None
        return reply.ref.sha256

    def get_image(self, sha256: str) -> Image:
        try:
            return self._download(sha256)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err, self.connection) from None

    def _download(self, sha256: str) -> Image:
        """GetImage, with grpc's errors as they are (a Stylize call retries on some)."""
        header = None
        parts: list[bytes] = []
        for chunk in self._stub.GetImage(pb.GetImageRequest(ref=pb.ImageRef(sha256=sha256))):
            if chunk.HasField("header"):
                header = chunk.header
            parts.append(chunk.data)
        if header is None:
            raise ImpastoError("DATA_LOSS", "the daemon sent an image without its header")
        return image_from(header, b"".join(parts))

    # ---------------------------------------------------------------- jobs

    def stylize(
        self,
        content: Image,
        styles: Sequence[Style] = (),
        *,
        method: str = "gatys",
        mask: Image | None = None,
        params: Mapping[str, ParamScalar] | None = None,
        preserve_color: str = "none",
        preview_every: int = 0,
        content_labels: Labels | None = None,
        style_labels: Sequence[Labels | None] = (),
    ) -> StylizeCall:
        """Uploads what the daemon lacks and starts a job; iterate the call for its events.

        `content_labels` and `style_labels` (one per style, in order) pair regions for
        region-to-region transfer: label maps pair by colour, named masks by name.
        """
        if len(style_labels) > len(styles):
            raise ImpastoError("INVALID_ARGUMENT", "more style labels were given than styles")
        if preserve_color not in PRESERVE_COLOR:
            raise ImpastoError(
                "INVALID_ARGUMENT", f"preserve_color must be one of {', '.join(PRESERVE_COLOR)}, not {preserve_color!r}"
            )

        def start(again: bool) -> Any:
            """Uploads what the daemon lacks (everything when `again`) and starts the job."""
            put = (lambda image: self.put_image(image, force=True)) if again else self.put_image
            request = pb.StylizeRequest(
                method=method,
                content=pb.ImageRef(sha256=put(content)),
                preserve_color=PRESERVE_COLOR[preserve_color],
                preview_every=preview_every,
            )
            for i, style in enumerate(styles):
                source, weight = style if isinstance(style, tuple) else (style, 1.0)
                entry = request.styles.add(weight=weight)
                if isinstance(source, Image):
                    entry.image.sha256 = put(source)
                else:
                    entry.builtin = source
                if i < len(style_labels) and style_labels[i] is not None:
                    self._set_labels(entry.labels, style_labels[i], put)
            if content_labels is not None:
                self._set_labels(request.content_labels, content_labels, put)
            if mask is not None:
                request.mask.sha256 = put(mask)
            for name, value in (params or {}).items():
                request.params[name].CopyFrom(param_value(value))
            return self._stub.Stylize(request)

        try:
            return StylizeCall(self, start)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err, self.connection) from None

    def _set_labels(self, message: pb.RegionLabels, labels: Labels, put: Callable[[Image], str]) -> None:
        if isinstance(labels, Image):
            message.label_map.sha256 = put(labels)
        else:
            for name, mask in labels.items():
                message.masks.add(name=name, mask=pb.ImageRef(sha256=put(mask)))

    # ---------------------------------------------------------------- training

    def train(
        self,
        kind: str,
        name: str,
        *,
        style: Image | None = None,
        photos_dir: str = "",
        params: Mapping[str, ParamScalar] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        preview_every: int = 0,
    ) -> TrainCall:
        """Starts training a model of `kind` named `name`; iterate the call for its events."""
        request = pb.TrainRequest(
            kind=kind, name=name, photos_dir=photos_dir, resume=resume, overwrite=overwrite, preview_every=preview_every
        )
        if style is not None:
            request.style.sha256 = self.put_image(style)
        for key, value in (params or {}).items():
            request.params[key].CopyFrom(param_value(value))
        try:
            return TrainCall(self._stub.Train(request), self.connection)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err, self.connection) from None

    def list_trainers(self) -> list[TrainerInfo]:
        try:
            reply = self._stub.ListTrainers(pb.ListTrainersRequest(), timeout=self.timeout)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err, self.connection) from None
        return [
            TrainerInfo(
                kind=t.kind,
                title=t.title,
                description=t.description,
                params=_param_infos(t.params),
                takes_style_image=t.takes_style_image,
                takes_photos=t.takes_photos,
                model_kind=t.model_kind,
                method=t.method,
            )
            for t in reply.trainers
        ]

    # ---------------------------------------------------------------- discovery

    def _list_methods(self) -> pb.ListMethodsResponse:
        try:
            return self._stub.ListMethods(pb.ListMethodsRequest(), timeout=self.timeout)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err, self.connection) from None

    def list_methods(self) -> list[MethodInfo]:
        reply = self._list_methods()
        return [
            MethodInfo(
                name=m.name,
                title=m.title,
                description=m.description,
                params=_param_infos(m.params),
                max_styles=m.max_styles,
                takes_style_images=m.takes_style_images,
                takes_builtin_styles=m.takes_builtin_styles,
                takes_mask=m.takes_mask,
                takes_label_maps=m.takes_label_maps,
                supports_preserve_color=m.supports_preserve_color,
            )
            for m in reply.methods
        ]

    def device(self) -> DeviceInfo:
        d = self._list_methods().device
        return DeviceInfo(d.name, d.model, d.auto_precision, d.precision_reason)

    def list_styles(self) -> list[StyleInfo]:
        try:
            reply = self._stub.ListStyles(pb.ListStylesRequest(), timeout=self.timeout)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err, self.connection) from None
        return [
            StyleInfo(
                id=s.id,
                name=s.name,
                method=s.method,
                license=s.license,
                thumbnail=image_from(s.thumbnail_header, s.thumbnail) if s.thumbnail else None,
            )
            for s in reply.styles
        ]


_PARAM_TYPES = {
    pb.PARAM_TYPE_FLOAT: "float",
    pb.PARAM_TYPE_INT: "int",
    pb.PARAM_TYPE_BOOL: "bool",
    pb.PARAM_TYPE_STRING: "string",
    pb.PARAM_TYPE_CHOICE: "choice",
}


def _param_infos(specs: Sequence[pb.ParamSpec]) -> list[ParamInfo]:
    return [
        ParamInfo(
            name=p.name,
            type=_PARAM_TYPES.get(p.type, "string"),
            default=scalar(p.default_value),
            minimum=p.minimum if p.HasField("minimum") else None,
            maximum=p.maximum if p.HasField("maximum") else None,
            choices=list(p.choices),
            help=p.help,
        )
        for p in specs
    ]
