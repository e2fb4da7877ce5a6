"""The impasto.v1.StyleTransfer servicer: turns requests into jobs and job events into responses."""

from __future__ import annotations

import logging
import math
import queue
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import grpc
import torch

from impasto_client.images import Image, Layout, SampleType
from impasto_client.v1 import impasto_pb2 as pb
from impasto_client.v1 import impasto_pb2_grpc as pb_grpc
from impasto_client.wire import chunks, header_of, param_value

from ..errors import InvalidInput, NotFound
from ..imaging import pixels, regions
from ..imaging.regions import Labels
from ..imaging.resample import resize
from ..methods.base import BuiltinStyle, JobCancelled, JobContext, LRUCache, Method
from ..params import Param, resolve
from ..pipeline import JobOutput, JobRequest, StyleRequest, run_job
from ..runtime import precision
from ..runtime.memory import lazy_buffer
from ..training import kinds as trainers
from ..training.base import Trainer
from ..training.loop import Hooks, TrainProgress, TrainRequest, TrainResult, train
from .jobs import Job, JobQueue
from .statuses import abort_for
from .store import ImageStore
from .transfers import Transfers

log = logging.getLogger("impasto.service")
MAX_SIDE = 32768
PREVIEW_SIDE = 256
PRESERVE = {
    pb.PRESERVE_COLOR_UNSPECIFIED: "none",
    pb.PRESERVE_COLOR_NONE: "none",
    pb.PRESERVE_COLOR_LUMINANCE: "luminance",
    pb.PRESERVE_COLOR_HISTOGRAM: "histogram",
}
PARAM_TYPES = {
    "float": pb.PARAM_TYPE_FLOAT,
    "int": pb.PARAM_TYPE_INT,
    "bool": pb.PARAM_TYPE_BOOL,
    "string": pb.PARAM_TYPE_STRING,
    "choice": pb.PARAM_TYPE_CHOICE,
}


def _checked_header(header: pb.ImageHeader, field: str) -> tuple[int, int, Layout, SampleType]:
    if header.width <= 0 or header.height <= 0:
        raise InvalidInput(f"{field}: width and height must be positive, got {header.width}x{header.height}")
    if header.width > MAX_SIDE or header.height > MAX_SIDE:
        raise InvalidInput(
            f"{field}: images may be at most {MAX_SIDE} pixels on a side, got {header.width}x{header.height}"
        )
    try:
        layout = Layout(header.layout)
    except ValueError:
        raise InvalidInput(
            f"{field}: unknown channel layout {header.layout}; use GRAY, GRAY_ALPHA, RGB or RGBA"
        ) from None
    try:
        sample = SampleType(header.sample_type)
    except ValueError:
        raise InvalidInput(f"{field}: unknown sample type {header.sample_type}; use UINT8, UINT16 or FLOAT32") from None
    return header.width, header.height, layout, sample


class StyleTransferService(pb_grpc.StyleTransferServicer):
    def __init__(
        self, store: ImageStore, jobs: JobQueue, transfers: Transfers, device: torch.device, methods: dict[str, Method]
    ) -> None:
        self.store = store
        self.transfers = transfers
        self.methods = methods
        self.jobs = jobs
        self.device = device
        self.models = LRUCache(capacity=8)
        self.features = LRUCache(capacity=64)

    # ---------------------------------------------------------------- images

    def PutImage(self, request_iterator: Iterator[pb.PutImageRequest], context: grpc.ServicerContext):
        with self.transfers.open(context, "upload") as transfer:
            first = next(request_iterator, None)
            if first is None or not first.HasField("header"):
                raise InvalidInput("header: the first chunk of an upload must carry the image header")
            width, height, layout, sample = _checked_header(first.header, "header")
            size = Image.expected_size(width, height, layout, sample)
            self.store.check_fits(size, f"a {width}x{height} image")
            # Memory is taken as bytes arrive (a header alone costs nothing), and the finished buffer is the image's
            # own, read-only, never copied.
            data = lazy_buffer(size)
            received = 0
            for chunk in _chain(first, request_iterator):
                transfer.touch()
                if chunk.offset != received:
                    raise InvalidInput(
                        f"offset: a chunk for byte {chunk.offset} arrived when byte {received} was expected; "
                        f"chunks must be sent in order and none may be missing"
                    )
                end = received + len(chunk.data)
                if end > size:
                    raise InvalidInput(
                        f"data: more bytes than a {width}x{height} {layout.name} {sample.name} image holds ({size})"
                    )
                data[received:end] = chunk.data
                received = end
            if received != size:
                raise InvalidInput(
                    f"data: received {received} bytes but a {width}x{height} {layout.name} "
                    f"{sample.name} image has {size}; the upload is incomplete"
                )
            image = Image(width, height, layout, sample, memoryview(data).toreadonly())
            sha = self.store.put(image)
            return pb.PutImageResponse(ref=pb.ImageRef(sha256=sha), header=header_of(image))

    def GetImageInfo(self, request: pb.GetImageInfoRequest, context: grpc.ServicerContext):
        image = self.store.get(request.ref.sha256, "ref")
        return pb.GetImageInfoResponse(ref=request.ref, header=header_of(image))

    def GetImage(self, request: pb.GetImageRequest, context: grpc.ServicerContext):
        image = self.store.get(request.ref.sha256, "ref")
        with self.transfers.open(context, "download") as transfer:
            for offset, piece in chunks(image.data):
                yield pb.GetImageResponse(header=header_of(image) if offset == 0 else None, offset=offset, data=piece)
                transfer.touch()

    # ---------------------------------------------------------------- discovery

    def ListMethods(self, request: pb.ListMethodsRequest, context: grpc.ServicerContext):
        choice = precision.auto_choice(self.device)
        device = pb.DeviceInfo(
            name=str(self.device),
            model=choice.device_model,
            auto_precision=choice.dtype,
            precision_reason=choice.reason,
        )
        return pb.ListMethodsResponse(methods=[_method_info(m) for m in self.methods.values()], device=device)

    def ListStyles(self, request: pb.ListStylesRequest, context: grpc.ServicerContext):
        return pb.ListStylesResponse(styles=[_style_info(s) for m in self.methods.values() for s in m.builtin_styles()])

    # ---------------------------------------------------------------- jobs

    def Stylize(self, request: pb.StylizeRequest, context: grpc.ServicerContext):
        job_request = self._job_request(request)
        ctx = JobContext(self.device, self.models, self.features, preview_every=request.preview_every)
        job = Job(
            work=lambda job: run_job(job_request, ctx),
            description=f"{job_request.method.name} {job_request.content.width}x{job_request.content.height}",
        )
        ctx.cancel_event = job.cancel_event
        ctx.report = lambda stage, step, total, loss: job.post(
            "event", pb.StylizeResponse(progress=pb.Progress(stage=stage, step=step, total=total, loss=loss))
        )  # loss None: absent (one-pass methods have no objective)
        ctx.send_preview = lambda image, step: job.post("event", pb.StylizeResponse(preview=_preview(image, step)))
        self._submit(job, context)
        yield from self._events(job, context, pb.StylizeResponse, self._stylize_result)

    def _stylize_result(self, job: Job, output: JobOutput, seconds: float, context: grpc.ServicerContext):
        log.info("job finished", extra={"job": job.id, "seconds": round(seconds, 3)})
        result = pb.Result(
            image=pb.ImageRef(sha256=self.store.put(output.image)), header=header_of(output.image), seconds=seconds
        )
        for name, layer in output.extra_layers.items():
            result.extra_layers.add(name=name, image=pb.ImageRef(sha256=self.store.put(layer)), header=header_of(layer))
        return pb.StylizeResponse(result=result)

    def Train(self, request: pb.TrainRequest, context: grpc.ServicerContext):
        run = self._train_request(request)
        job = Job(work=lambda job: train(run, hooks), description=f"train {run.trainer.kind} {run.name}")
        job.background = True
        hooks = Hooks(
            report=lambda progress: _post_training_progress(job, progress),
            stop_requested=job.cancel_event.is_set,
            between_steps=self.jobs.run_waiting,
            preview_every=request.preview_every,
        )
        self._submit(job, context)
        yield from self._events(job, context, pb.TrainResponse, lambda *finished: self._trained(run.trainer, *finished))

    def _trained(
        self, trainer: Trainer, job: Job, result: TrainResult, seconds: float, context: grpc.ServicerContext
    ) -> pb.TrainResponse:
        if not result.finished or result.model is None:
            log.info("training stopped", extra={"job": job.id, "step": result.step})
            context.abort(
                grpc.StatusCode.UNAVAILABLE if self.jobs.closed else grpc.StatusCode.CANCELLED,
                f"training stopped at step {result.step} of {result.total}"
                f"{' because the daemon is shutting down' if self.jobs.closed else ''}; its checkpoint is kept: "
                f"train again with resume to go on",
            )
        model = result.model
        log.info("training finished", extra={"job": job.id, "seconds": round(seconds, 3), "model": model.name})
        return pb.TrainResponse(
            model=pb.TrainedModel(
                kind=trainer.kind,
                name=model.name,
                # Decoders are no style: the method uses them by themselves.
                style_id=f"{trainer.model_kind}:{model.name}" if trainer.needs_style else "",
                method=trainer.method,
                steps=result.step,
                seconds=seconds,
            )
        )

    def ListTrainers(self, request: pb.ListTrainersRequest, context: grpc.ServicerContext):
        return pb.ListTrainersResponse(trainers=[_trainer_info(t) for t in trainers.TRAINERS.values()])

    def _submit(self, job: Job, context: grpc.ServicerContext) -> None:
        # The job stops at its next step once the client cancels or disconnects, or leaves the queue if it waits.
        context.add_callback(lambda: self.jobs.cancel(job))
        self.jobs.submit(job)
        log.info("job queued", extra={"job": job.id, "what": job.description})

    def _events(self, job: Job, context: grpc.ServicerContext, response: type, finish: Callable) -> Iterator:
        """The job's events as `response` messages (StylizeResponse or TrainResponse), ending with finish()'s."""
        last_position = self.jobs.position(job)
        if last_position:
            yield response(queued=pb.QueuePosition(position=last_position))
        while True:
            try:
                kind, payload = job.events.get(timeout=0.25)
            except queue.Empty:
                position = self.jobs.position(job)
                if position and position != last_position:
                    last_position = position
                    yield response(queued=pb.QueuePosition(position=position))
                continue
            if kind == "started":
                yield response(queued=pb.QueuePosition(position=0))
            elif kind == "event":
                yield payload
            elif kind == "result":
                yield finish(job, *payload, context)
                return
            elif kind == "cancelled" or (kind == "error" and isinstance(payload, JobCancelled)):
                if self.jobs.closed:
                    # Not the client's doing: UNAVAILABLE tells it to try again once the daemon is back.
                    log.info("job stopped by shutdown", extra={"job": job.id})
                    context.abort(grpc.StatusCode.UNAVAILABLE, "the daemon is shutting down; try again when it is back")
                log.info("job cancelled", extra={"job": job.id})
                context.abort(grpc.StatusCode.CANCELLED, "the job was cancelled")
            elif kind == "error":
                abort_for(context, payload, job.id)

    def _train_request(self, request: pb.TrainRequest) -> TrainRequest:
        trainer = trainers.trainer(request.kind)
        style = None
        if request.style.sha256:
            if not trainer.needs_style:
                raise InvalidInput(f"style: {trainer.kind} does not learn from a style picture")
            style = pixels.image_to_tensor(self.store.get(request.style.sha256, "style"))
        given = {name: getattr(v, v.WhichOneof("kind")) for name, v in request.params.items() if v.WhichOneof("kind")}
        settings = resolve(trainer.params, given, trainer.kind)
        return TrainRequest(
            trainer,
            trainer.model_name(request.name, settings),
            settings,
            style,
            request.style.sha256,
            Path(request.photos_dir) if request.photos_dir else None,
            resume=request.resume,
            overwrite=request.overwrite,
            device=self.device,
        )

    def _job_request(self, request: pb.StylizeRequest) -> JobRequest:
        """The job a request asks for, checked cheapest first: a request with a bad parameter is refused before
        any image is decoded or any label map analysed."""
        if not request.method:
            raise InvalidInput(f"method: name the method to run (one of {', '.join(self.methods)})")
        method = self.methods.get(request.method)
        if method is None:
            raise NotFound(f"method: there is no method '{request.method}'; available: {', '.join(self.methods)}")
        given = {name: getattr(v, v.WhichOneof("kind")) for name, v in request.params.items() if v.WhichOneof("kind")}
        params = resolve(method.params, given, method.name)
        preserve = PRESERVE.get(request.preserve_color)
        if preserve is None:
            raise InvalidInput(f"preserve_color: unknown value {request.preserve_color}")
        if preserve != "none" and not method.supports_preserve_color:
            raise InvalidInput(f"preserve_color: {method.name} does not apply colour preservation")
        if len(request.styles) > method.max_styles:
            raise InvalidInput(
                f"styles: {method.name} blends at most {method.max_styles} styles, got {len(request.styles)}"
            )
        if method.max_styles and not request.styles:
            raise InvalidInput(f"styles: {method.name} needs a style")
        for i, style in enumerate(request.styles):
            if not math.isfinite(style.weight) or style.weight < 0:
                raise InvalidInput(f"styles[{i}].weight must be a finite number of at least 0, not {style.weight:g}")
        content = self.store.get(request.content.sha256, "content")
        mask = None
        if request.HasField("mask") and request.mask.sha256:
            if not method.takes_mask:
                raise InvalidInput(f"mask: {method.name} does not take a selection")
            mask = self.store.get(request.mask.sha256, "mask")
            if mask.layout != Layout.GRAY or mask.sample_type != SampleType.UINT8:
                raise InvalidInput("mask: the selection must be an 8-bit greyscale image")
            if (mask.width, mask.height) != (content.width, content.height):
                raise InvalidInput(
                    f"mask: the selection is {mask.width}x{mask.height} but the layer is "
                    f"{content.width}x{content.height}; they must be the same size"
                )
        styles = []
        for i, style in enumerate(request.styles):
            which = style.WhichOneof("source")
            if which == "image":
                if not method.takes_style_images:
                    raise InvalidInput(f"styles[{i}]: {method.name} takes built-in styles, not pictures")
                styles.append(StyleRequest(style.weight, image=self.store.get(style.image.sha256, f"styles[{i}]")))
            elif which == "builtin":
                if style.builtin not in {s.id for s in method.builtin_styles()}:
                    raise NotFound(
                        f"styles[{i}]: {method.name} has no built-in style '{style.builtin}'; see 'impasto styles'"
                    )
                styles.append(StyleRequest(style.weight, builtin=style.builtin))
            else:
                raise InvalidInput(f"styles[{i}]: give a picture or a built-in style id")
        # Label maps last: analysing one is the costliest check.
        for i, (style, wanted) in enumerate(zip(styles, request.styles, strict=True)):
            if style.image is not None:
                style.labels = self._labels(wanted.labels, style.image, method, f"styles[{i}].labels")
        content_labels = self._labels(request.content_labels, content, method, "content_labels")
        return JobRequest(method, content, styles, params, mask, preserve, content_labels)

    def _labels(self, labels: pb.RegionLabels, image: Image, method: Method, field: str) -> Labels | None:
        if not labels.label_map.sha256 and not labels.masks:
            return None
        if not method.takes_label_maps:
            raise InvalidInput(f"{field}: {method.name} does not use region labels")
        if labels.label_map.sha256 and labels.masks:
            raise InvalidInput(f"{field}: give a label map or named masks, not both")
        size = (image.width, image.height)
        if labels.label_map.sha256:
            return regions.from_label_map(self.store.get(labels.label_map.sha256, f"{field}.label_map"), size, field)
        named = [(m.name, self.store.get(m.mask.sha256, f"{field}.masks[{i}]")) for i, m in enumerate(labels.masks)]
        return regions.from_named_masks(named, size, field)


def _chain(first: pb.PutImageRequest, rest: Iterator[pb.PutImageRequest]) -> Iterator[pb.PutImageRequest]:
    yield first
    for chunk in rest:
        if chunk.HasField("header"):
            raise InvalidInput("header: only the first chunk of an upload may carry a header")
        yield chunk


def _preview(image: torch.Tensor, step: int) -> pb.Preview:
    h, w = image.shape[-2:]
    scale = min(1.0, PREVIEW_SIDE / max(h, w))
    small = resize(image.float(), max(1, round(h * scale)), max(1, round(w * scale)))
    rgb = pixels.from_rgb_float(pixels.from_tensor(small), 3, SampleType.UINT8)
    return pb.Preview(
        header=pb.ImageHeader(
            width=rgb.shape[1], height=rgb.shape[0], layout=pb.CHANNEL_LAYOUT_RGB, sample_type=pb.SAMPLE_TYPE_UINT8
        ),
        data=rgb.tobytes(),
        step=step,
    )


def _post_training_progress(job: Job, progress: TrainProgress) -> None:
    job.post(
        "event",
        pb.TrainResponse(
            progress=pb.TrainProgress(
                step=progress.step,
                total=progress.total,
                losses=progress.losses,
                steps_per_second=progress.steps_per_second,
                eta_seconds=progress.eta_seconds,
            )
        ),
    )
    if progress.preview is not None:
        job.post("event", pb.TrainResponse(preview=_preview(progress.preview, progress.step)))


def _style_info(style: BuiltinStyle) -> pb.StyleInfo:
    info = pb.StyleInfo(id=style.id, name=style.name, method=style.method, license=style.license)
    if style.thumbnail is not None:
        h, w, _ = style.thumbnail.shape
        info.thumbnail_header.CopyFrom(
            pb.ImageHeader(width=w, height=h, layout=pb.CHANNEL_LAYOUT_RGB, sample_type=pb.SAMPLE_TYPE_UINT8)
        )
        info.thumbnail = style.thumbnail.tobytes()
    return info


def _param_specs(params: Sequence[Param]) -> list[pb.ParamSpec]:
    return [
        pb.ParamSpec(
            name=p.name,
            type=PARAM_TYPES[p.kind],
            default_value=param_value(p.default),
            minimum=p.minimum,
            maximum=p.maximum,
            choices=list(p.choices),
            help=p.help,
        )
        for p in params
    ]


def _trainer_info(trainer: Trainer) -> pb.TrainerInfo:
    return pb.TrainerInfo(
        kind=trainer.kind,
        title=trainer.title,
        description=trainer.description,
        params=_param_specs(trainer.params),
        takes_style_image=trainer.needs_style,
        takes_photos=trainer.needs_photos,
        model_kind=trainer.model_kind,
        method=trainer.method,
    )


def _method_info(method: Method) -> pb.MethodInfo:
    return pb.MethodInfo(
        name=method.name,
        title=method.title,
        description=method.description,
        params=_param_specs(method.params),
        max_styles=method.max_styles,
        takes_style_images=method.takes_style_images,
        takes_builtin_styles=method.takes_builtin_styles,
        takes_mask=method.takes_mask,
        takes_label_maps=method.takes_label_maps,
        supports_preserve_color=method.supports_preserve_color,
    )
