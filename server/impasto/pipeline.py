"""One job from wire pixels to wire pixels: crop to the selection, colour control, run, blend back."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from impasto_client.images import Image, Layout

from .errors import ResourceExhausted
from .imaging import color, masks, pixels
from .imaging.regions import Labels, pair
from .imaging.resample import grow_in_bands, resize, shrink_in_bands
from .methods import detail
from .methods.base import JobContext, Method, MethodInput, MethodOutput, Regions, StyleSource
from .params import Scalar
from .runtime.memory import available_bytes, lazy_buffer


@dataclass
class StyleRequest:
    weight: float
    image: Image | None = None
    builtin: str | None = None
    labels: Labels | None = None


@dataclass
class JobRequest:
    method: Method
    content: Image
    styles: list[StyleRequest]
    params: dict[str, Scalar]
    mask: Image | None = None
    preserve_color: str = "none"  # none | luminance | histogram
    content_labels: Labels | None = None


@dataclass
class JobOutput:
    """The result layer, plus the further layers some methods return (unblended, at their own size)."""

    image: Image
    extra_layers: dict[str, Image] = field(default_factory=dict)


def run_job(request: JobRequest, ctx: JobContext) -> JobOutput:
    method = request.method
    content = request.content
    array = pixels.to_array(content)
    color_samples, _alpha = pixels.split_alpha(array, content.layout)
    coverage = pixels.to_array(request.mask)[..., 0] if request.mask is not None else None
    if coverage is not None:
        region = masks.work_region(coverage)
        if region is None:  # an empty selection changes nothing
            return JobOutput(content)
    else:
        region = masks.Region(0, content.height, 0, content.width)
    rows, cols = region.slices
    crop = color_samples[rows, cols]
    crop_cov = coverage[rows, cols] if coverage is not None else None
    crop_h, crop_w = crop.shape[:2]
    height, width = method.working_size(crop_h, crop_w, request.params)
    # With detail fine, a result made smaller is refined up to the crop's size: the inputs are read at that size.
    refine = detail.refines(request.params, (height, width), (crop_h, crop_w))
    read_h, read_w = (crop_h, crop_w) if refine else (height, width)
    # Estimated before any of the layer is converted: a job that cannot fit is refused without touching memory.
    need = method.estimate_bytes(height, width, request.params)
    if refine:
        need = max(need, detail.estimate_bytes((crop_h, crop_w), (height, width), request.params))
    free = available_bytes(ctx.device)
    if free is not None and need > free:
        raise ResourceExhausted(
            f"{method.name} at {read_w}x{read_h} needs about {need / 2**30:.1f} GiB but only "
            f"{free / 2**30:.1f} GiB is free; lower 'size'{', choose detail fast' if refine else ''} or select a "
            "smaller area"
        )

    def crop_rows(top: int, bottom: int) -> torch.Tensor:
        return pixels.to_tensor(pixels.to_rgb_float(crop[top:bottom], content.sample_type), ctx.device)

    # The layer is read and shrunk a band of rows at a time: a large layer is never held in floats whole unless
    # the method works at its full size.
    work = shrink_in_bands(crop_rows, crop_h, crop_w, read_h, read_w)
    mask = None
    if crop_cov is not None:
        mask = shrink_in_bands(
            lambda top, bottom: torch.from_numpy(crop_cov[top:bottom].astype(np.float32) / 255.0)[None, None].to(
                ctx.device
            ),
            crop_h,
            crop_w,
            read_h,
            read_w,
        )

    mode = request.preserve_color if method.supports_preserve_color else "none"
    method_content = work
    if mode == "luminance" and method.luminance_inputs:
        method_content = color.luminance_image(work)
    job_regions, style_guides, names = None, [None] * len(request.styles), []
    if request.content_labels is not None:
        # Style labels only mean something against content labels; without these they are ignored.
        pairing = pair(request.content_labels, [s.labels for s in request.styles])
        names, style_guides = pairing.names, pairing.styles
        regions_crop = torch.from_numpy(np.ascontiguousarray(pairing.content[:, rows, cols]))[None].to(ctx.device)
        job_regions = Regions(
            names,
            resize(regions_crop, read_h, read_w).clamp(0, 1),
            pairing.unmatched,
            content_is_labels=request.content_labels.key == content.sha256,
        )
    styles = []
    for s, guides in zip(request.styles, style_guides, strict=True):
        source = StyleSource(weight=s.weight or 1.0, builtin=s.builtin)
        if guides is not None:
            source.guides = torch.from_numpy(guides)[None].to(ctx.device)
        if s.image is not None:
            image = pixels.image_to_tensor(s.image, ctx.device)
            if mode == "luminance" and method.luminance_inputs:
                image = color.luminance_image(image, like=work)
            elif mode == "histogram":
                image = color.match_color(image, work)
            # Derived style images depend on the content, so only plain ones share cached features.
            key = s.image.sha256 if mode == "none" else ""
            if key and guides is not None and s.labels is not None:
                key += f"/{s.labels.key}/{'+'.join(names)}"
            source.image, source.key = image, key
        styles.append(source)

    job = MethodInput(method_content, styles, request.params, mask, job_regions)
    output = method.run(job.at_size(height, width) if refine else job, ctx)
    if not isinstance(output, MethodOutput):
        output = MethodOutput(output)
    if refine:
        output.image = detail.refine(output.image.float().clamp(0, 1), job, ctx)
    recolour = None
    if mode == "histogram" and not any(s.image is not None for s in styles):
        # Built-in styles have no picture to recolour, so the result is recoloured instead; the statistics of the
        # working size are those of the full size, at a fraction of the work.
        recolour = color.color_transform(output.image.float().clamp(0, 1), work)

    # The result is grown back to the crop's size, coloured, quantised and blended a band of rows at a time, into
    # one buffer that becomes the result image as it is.
    channels = color_samples.shape[-1]
    buffer = lazy_buffer(array.nbytes)
    result = np.frombuffer(buffer, dtype=array.dtype).reshape(array.shape)
    result[...] = array
    for top, bottom, band in grow_in_bands(output.image.float(), crop_h, crop_w):
        band = band.clamp(0, 1)
        if mode == "luminance":
            band = color.keep_chrominance(band, crop_rows(top, bottom))
        elif recolour is not None:
            band = recolour.apply(band)
        stylized = pixels.from_rgb_float(pixels.from_tensor(band), channels, content.sample_type)
        at = slice(rows.start + top, rows.start + bottom)
        band_cov = crop_cov[top:bottom] if crop_cov is not None else None
        result[at, cols, :channels] = masks.blend(color_samples[at, cols], stylized, band_cov)
    extra = {
        name: pixels.from_array(
            pixels.from_rgb_float(pixels.from_tensor(layer), 3, content.sample_type), Layout.RGB, content.sample_type
        )
        for name, layer in output.extra_layers.items()
    }
    image = Image(content.width, content.height, content.layout, content.sample_type, memoryview(buffer).toreadonly())
    return JobOutput(image, extra)
