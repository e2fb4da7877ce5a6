"""One job from wire pixels to wire pixels: crop to the selection, colour control, run, blend back."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from impasto_client.images import Image, Layout

from .errors import ResourceExhausted
from .imaging import color, masks, pixels
from .imaging.regions import Labels, pair
from .imaging.resample import resize
from .methods.base import JobContext, Method, MethodInput, MethodOutput, Regions, StyleSource
from .params import Scalar
from .runtime.memory import available_bytes


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
    crop_rgb = pixels.to_rgb_float(color_samples[rows, cols], content.sample_type)
    crop_cov = coverage[rows, cols] if coverage is not None else None
    full = pixels.to_tensor(crop_rgb, ctx.device)
    height, width = method.working_size(full.shape[-2], full.shape[-1], request.params)
    need = method.estimate_bytes(height, width, request.params)
    free = available_bytes(ctx.device)
    if free is not None and need > free:
        raise ResourceExhausted(
            f"{method.name} at {width}x{height} needs about {need / 2**30:.1f} GiB but only "
            f"{free / 2**30:.1f} GiB is free; lower 'size' or select a smaller area"
        )
    work = resize(full, height, width)
    mask = None
    if crop_cov is not None:
        mask = resize(torch.from_numpy(crop_cov.astype(np.float32) / 255.0)[None, None].to(ctx.device), height, width)

    mode = request.preserve_color if method.supports_preserve_color else "none"
    method_content = work
    if mode == "luminance" and method.luminance_inputs:
        method_content = color.luminance_image(work)
    job_regions, style_guides, names = None, [None] * len(request.styles), []
    if request.content_labels is not None:
        # Style labels only mean something against content labels; without these they are ignored.
        pairing = pair(request.content_labels, [s.labels for s in request.styles])
        names, style_guides = pairing.names, pairing.styles
        crop = torch.from_numpy(np.ascontiguousarray(pairing.content[:, rows, cols]))[None].to(ctx.device)
        job_regions = Regions(
            names,
            resize(crop, height, width).clamp(0, 1),
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

    output = method.run(MethodInput(method_content, styles, request.params, mask, job_regions), ctx)
    if not isinstance(output, MethodOutput):
        output = MethodOutput(output)
    out = resize(output.image.to(full.dtype), full.shape[-2], full.shape[-1]).clamp(0, 1)
    if mode == "luminance":
        out = color.keep_chrominance(out, full)
    elif mode == "histogram" and not any(s.image is not None for s in styles):
        # Built-in styles have no picture to recolour, so the result is recoloured instead.
        out = color.match_color(out, full)

    channels = color_samples.shape[-1]
    stylized = pixels.from_rgb_float(pixels.from_tensor(out), channels, content.sample_type)
    result = array.copy()
    result[rows, cols, :channels] = masks.blend(color_samples[rows, cols], stylized, crop_cov)
    extra = {
        name: pixels.from_array(
            pixels.from_rgb_float(pixels.from_tensor(layer), 3, content.sample_type), Layout.RGB, content.sample_type
        )
        for name, layer in output.extra_layers.items()
    }
    return JobOutput(pixels.from_array(result, content.layout, content.sample_type), extra)
