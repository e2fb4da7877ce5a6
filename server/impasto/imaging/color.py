"""Colour control (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# NTSC YIQ; luminance Y is what the paper transfers when colours are kept.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply(_YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Y of a [N,3,H,W] RGB image as [N,1,H,W]."""
    return rgb_to_yiq(image)[:, :1]


def luminance_image(image: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    """The image's luminance as grey RGB; with `like`, matched to its mean and spread.

    Matching the style's luminance to the content's is the paper's luminance
    histogram step: without it a dark style darkens the whole result.
    """
    y = luminance(image)
    if like is not None:
        ref = luminance(like)
        y = (y - y.mean()) / y.std().clamp_min(1e-6) * ref.std() + ref.mean()
    return y.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def keep_chrominance(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylized image's luminance with the content's chrominance (I, Q)."""
    yiq = rgb_to_yiq(content)
    yiq = torch.cat([luminance(stylized), yiq[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 1)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    evals, evecs = torch.linalg.eigh(cov)
    evals = evals.clamp_min(1e-8)
    power = -0.5 if inverse else 0.5
    return evecs @ torch.diag(evals**power) @ evecs.t()


@dataclass(frozen=True)
class ColorTransform:
    """x' = matrix (x − source_mean) + target_mean, per pixel: what match_color applies."""

    matrix: torch.Tensor
    source_mean: torch.Tensor
    target_mean: torch.Tensor

    def apply(self, image: torch.Tensor) -> torch.Tensor:
        flat = image.reshape(3, -1).double()
        out = self.matrix @ (flat - self.source_mean) + self.target_mean
        return out.reshape(image.shape).to(image.dtype).clamp(0, 1)


def color_stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The RGB mean [3,1] and covariance [3,3] of an image's pixels, in float64."""
    flat = image.reshape(3, -1).double()
    mean = flat.mean(dim=1, keepdim=True)
    centred = flat - mean
    return mean, centred @ centred.t() / flat.shape[1]


def mixture_stats(images: Sequence[tuple[float, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The RGB mean and covariance of several images' pixels pooled, each image counting by its weight: the colours
    of a blend of styles."""
    total = sum(w for w, _ in images)
    parts = [(w / total, *color_stats(image)) for w, image in images]
    mean = sum(w * m for w, m, _ in parts)
    second = sum(w * (c + m @ m.t()) for w, m, c in parts)
    return mean, second - mean @ mean.t()


def in_palette(image: torch.Tensor, pictures: Sequence[tuple[float, torch.Tensor]]) -> torch.Tensor:
    """The image recoloured to the RGB mean and covariance of the weighted pictures pooled: an optimisation's start
    in the styles' colours. From the content as it is, bright flats stay pale and pearly where the style has no such
    colour (issue 20)."""
    return transform_to(image, *mixture_stats(pictures)).apply(image)


def color_transform(source: torch.Tensor, target: torch.Tensor) -> ColorTransform:
    """The transform giving `source` the RGB mean and covariance of `target`."""
    return transform_to(source, *color_stats(target))


def transform_to(source: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> ColorTransform:
    """The transform giving `source` this RGB mean and covariance.

    The symmetric matrix square root variant of the paper's colour histogram matching:
    x' = Σt^½ Σs^-½ (x − μs) + μt, computed in float64 because a near-grey image has a nearly singular colour
    covariance.
    """
    ridge = 1e-5 * torch.eye(3, dtype=torch.float64, device=source.device)
    mu_s, cov_s = color_stats(source)
    return ColorTransform(_sqrtm(cov.to(ridge) + ridge) @ _sqrtm(cov_s + ridge, inverse=True), mu_s, mean.to(mu_s))


def match_color(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Recolours `source` so its RGB mean and covariance equal `target`'s."""
    return color_transform(source, target).apply(source)
