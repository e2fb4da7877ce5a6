"""A blocking client for the impasto daemon: upload by reference, stylize, download."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from .images import Image
from .v1 import impasto_pb2 as pb
from .v1 import impasto_pb2_grpc as pb_grpc
from .wire import ParamScalar, chunks, header_of, image_from, param_value, scalar

DEFAULT_ADDRESS = "127.0.0.1:50051"
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
    def from_rpc(cls, err: grpc.RpcError) -> ImpastoError:
        code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        details = err.details() if hasattr(err, "details") else str(err)
        if code == grpc.StatusCode.UNAVAILABLE:
            details = f"the impasto daemon is not reachable ({details}); start it with 'impasto serve'"
        return cls(code.name, details or code.name)


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

    def __init__(self, call: Any) -> None:
        self._call = call

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
            raise ImpastoError.from_rpc(err) from None

    def result(self, on_event: Callable[[TrainEvent], None] | None = None) -> TrainEvent:
        """Waits for the model; returns its event (style_id, method)."""
        for event in self:
            if on_event is not None:
                on_event(event)
            if event.kind == "model":
                return event
        raise ImpastoError("UNKNOWN", "the daemon ended the training without a model")


class StylizeCall:
    """A running Stylize job: iterate its events, or cancel it from any thread."""

    def __init__(self, client: Client, call: Any) -> None:
        self._client = client
        self._call = call
        # Filled with the result's further layers, by name, once the result has arrived.
        self.extra_layers: dict[str, Image] = {}

    def cancel(self) -> None:
        self._call.cancel()

    def __iter__(self) -> Iterator[StylizeEvent]:
        try:
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
                    image = self._client.get_image(response.result.image.sha256)
                    self.extra_layers = {
                        layer.name: self._client.get_image(layer.image.sha256) for layer in response.result.extra_layers
                    }
                    yield StylizeEvent(
                        "result", image=image, seconds=response.result.seconds, extra_layers=self.extra_layers
                    )
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err) from None

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

    def __init__(self, address: str = DEFAULT_ADDRESS, timeout: float = 30.0) -> None:
        """`timeout` bounds every call that should answer at once, so a hung daemon cannot hang an editor."""
        self.address = address
        self.timeout = timeout
        self._channel = grpc.insecure_channel(address)
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

    # ---------------------------------------------------------------- images

    def has_image(self, sha256: str) -> bool:
        try:
            self._stub.GetImageInfo(pb.GetImageInfoRequest(ref=pb.ImageRef(sha256=sha256)), timeout=self.timeout)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise ImpastoError.from_rpc(err) from None
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
            raise ImpastoError.from_rpc(err) from None
        return reply.ref.sha256

    def get_image(self, sha256: str) -> Image:
        header = None
        parts: list[bytes] = []
        try:
            for chunk in self._stub.GetImage(pb.GetImageRequest(ref=pb.ImageRef(sha256=sha256))):
                if chunk.HasField("header"):
                    header = chunk.header
                parts.append(chunk.data)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err) from None
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
        request = pb.StylizeRequest(
            method=method,
            content=pb.ImageRef(sha256=self.put_image(content)),
            preserve_color=PRESERVE_COLOR[preserve_color],
            preview_every=preview_every,
        )
        for i, style in enumerate(styles):
            source, weight = style if isinstance(style, tuple) else (style, 1.0)
            entry = request.styles.add(weight=weight)
            if isinstance(source, Image):
                entry.image.sha256 = self.put_image(source)
            else:
                entry.builtin = source
            if i < len(style_labels) and style_labels[i] is not None:
                self._set_labels(entry.labels, style_labels[i])
        if content_labels is not None:
            self._set_labels(request.content_labels, content_labels)
        if mask is not None:
            request.mask.sha256 = self.put_image(mask)
        for name, value in (params or {}).items():
            request.params[name].CopyFrom(param_value(value))
        try:
            return StylizeCall(self, self._stub.Stylize(request))
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err) from None

    def _set_labels(self, message: pb.RegionLabels, labels: Labels) -> None:
        if isinstance(labels, Image):
            message.label_map.sha256 = self.put_image(labels)
        else:
            for name, mask in labels.items():
                message.masks.add(name=name, mask=pb.ImageRef(sha256=self.put_image(mask)))

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
            return TrainCall(self._stub.Train(request))
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err) from None

    def list_trainers(self) -> list[TrainerInfo]:
        try:
            reply = self._stub.ListTrainers(pb.ListTrainersRequest(), timeout=self.timeout)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err) from None
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

    def list_methods(self) -> list[MethodInfo]:
        try:
            reply = self._stub.ListMethods(pb.ListMethodsRequest(), timeout=self.timeout)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err) from None
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

    def list_styles(self) -> list[StyleInfo]:
        try:
            reply = self._stub.ListStyles(pb.ListStylesRequest(), timeout=self.timeout)
        except grpc.RpcError as err:
            raise ImpastoError.from_rpc(err) from None
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
