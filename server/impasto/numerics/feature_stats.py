"""Transferring feature statistics: AdaIN's channel mean and spread (Huang & Belongie 2017) and the
whitening and colouring transform's full covariance (Li et al. 2017).

Every statistic can be taken over weighted positions: a selection, or one of several paired regions
(content region r takes the statistics of its partner region in the style), which is how both
papers control where which style goes. Weights are coverage maps at any size, brought to the
feature map's size by area averaging.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from ..imaging.resample import resize_guide

# Added to variances so flat channels (dead ReLUs, a one-colour selection) do not divide by zero.
EPS = 1e-5
# Covariances are regularised by this fraction of their mean eigenvalue, so eigh stays well posed on
# rank-deficient ones (fewer positions than channels) ...
RELATIVE_RIDGE = 1e-8
# ... and eigenvalues below this fraction are directions the features barely span, whose whitening
# would only amplify noise: they are dropped (Li et al. drop those below 1e-5 too, in absolute terms).
RELATIVE_DROP = 1e-5


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel mean and standard deviation, each [1,C,1,1]."""

    mean: torch.Tensor
    std: torch.Tensor


@dataclass(frozen=True)
class Moments:
    """Mean [C,1] and covariance [C,C] of the channels over positions, in float64."""

    mean: torch.Tensor
    cov: torch.Tensor


def _weights(weight: torch.Tensor | None, features: torch.Tensor) -> torch.Tensor | None:
    """[1,1,h,w] position weights at the features' size, or None for uniform."""
    if weight is None:
        return None
    return resize_guide(weight.to(features.device, torch.float32), tuple(features.shape[-2:])).clamp_min(0)


def channel_stats(features: torch.Tensor, weight: torch.Tensor | None = None) -> ChannelStats:
    """Mean and standard deviation of each channel of [1,C,H,W] features over (weighted) positions."""
    f = features.float()
    w = _weights(weight, f)
    if w is None:
        mean = f.mean((2, 3), keepdim=True)
        var = (f - mean).square().mean((2, 3), keepdim=True)
    else:
        total = w.sum().clamp_min(1e-8)
        mean = (f * w).sum((2, 3), keepdim=True) / total
        var = ((f - mean).square() * w).sum((2, 3), keepdim=True) / total
    return ChannelStats(mean, (var + EPS).sqrt())


def blend_stats(stats: Sequence[ChannelStats], blend: Sequence[float]) -> ChannelStats:
    """The weighted mean of several styles' statistics.

    AdaIN is affine in the style's mean and std, so blending the statistics equals blending the
    AdaIN outputs, the paper's style interpolation, at the cost of one.
    """
    total = float(sum(blend))
    return ChannelStats(
        sum(s.mean * (w / total) for s, w in zip(stats, blend, strict=True)),
        sum(s.std * (w / total) for s, w in zip(stats, blend, strict=True)),
    )


def adain(content: torch.Tensor, style: ChannelStats, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Content features renormalised to the style's channel mean and std (the content's own taken over `weight`)."""
    own = channel_stats(content, weight)
    return (content.float() - own.mean) / own.std * style.std + style.mean


def _f64_device(device: torch.device) -> torch.device:
    # Apple's Metal backend has no float64; its small matrices go to the CPU.
    return torch.device("cpu") if device.type == "mps" else device


def _positions(features: torch.Tensor) -> torch.Tensor:
    """[1,C,H,W] → [C,H·W] in float32."""
    return features[0].reshape(features.shape[1], -1).float()


def _f64(t: torch.Tensor) -> torch.Tensor:
    return t.to(_f64_device(t.device), torch.float64)


def moments(features: torch.Tensor, weight: torch.Tensor | None = None) -> Moments:
    """Channel mean and covariance of [1,C,H,W] features over (weighted) positions.

    The sums over positions run in float32 on the features' device (a float64 pass over a
    512 px picture's relu1_1 costs more than all the rest of a WCT level); the C×C results
    are kept in float64 for the eigen-decomposition.
    """
    f = _positions(features)
    w = _weights(weight, features)
    if w is None:
        mean = f.mean(1, keepdim=True)
        centred = f - mean
        return Moments(_f64(mean), _f64(centred @ centred.t() / f.shape[1]))
    w = w.reshape(1, -1)
    total = w.sum().clamp_min(1e-8)
    mean = (f * w).sum(1, keepdim=True) / total
    centred = f - mean
    return Moments(_f64(mean), _f64((centred * w) @ centred.t() / total))


@contextlib.contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """MKL's threaded eigh synchronises so often that on shared cores it sometimes takes 100× longer
    (14 s instead of 0.05 s for two 512×512 matrices, measured on 2 busy cores); one thread takes a
    steady 0.08 s. torch's thread count is process-wide, so this briefly slows concurrent jobs' ops."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def matrix_powers(covariances: torch.Tensor, exponents: Sequence[float]) -> torch.Tensor:
    """covariances[k] ** exponents[k] for a [K,C,C] batch of covariances, in one batched eigh (float64).

    Each matrix is regularised by RELATIVE_RIDGE of its mean eigenvalue, and its eigen-directions
    below RELATIVE_DROP of it are dropped (their power is 0), so rank-deficient covariances (fewer
    positions than channels, as at relu5_1 of a small picture) stay finite.
    """
    covs = _f64(covariances)
    c = covs.shape[-1]
    scale = covs.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-30)
    eye = torch.eye(c, dtype=covs.dtype, device=covs.device)
    with _one_thread(covs.device):
        values, vectors = torch.linalg.eigh(covs + (scale * RELATIVE_RIDGE)[:, None, None] * eye)
    keep = values > (scale * RELATIVE_DROP)[:, None]
    power = torch.tensor(list(exponents), dtype=covs.dtype, device=covs.device)[:, None]
    scaled = torch.where(keep, values.clamp_min(1e-30) ** power, torch.zeros_like(values))
    return (vectors * scaled[:, None, :]) @ vectors.transpose(-1, -2)


def _affine(matrix: torch.Tensor, features: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """matrix @ features + bias per position, float32 [1,C,H,W] on the features' device."""
    f = _positions(features)
    out = matrix.to(f.device, torch.float32) @ f + bias.to(f.device, torch.float32)
    return out.reshape(features.shape)


def whiten(features: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """[1,C,H,W] features decorrelated to identity covariance and zero mean (over `weight`)."""
    own = moments(features, weight)
    whitening = matrix_powers(own.cov[None], [-0.5])[0]
    return _affine(whitening, features, -whitening @ own.mean)


def colour(whitened: torch.Tensor, style: Moments) -> torch.Tensor:
    """Whitened [1,C,H,W] features given the style's covariance and mean."""
    return _affine(matrix_powers(style.cov[None], [0.5])[0], whitened, style.mean)


def wct(
    content: torch.Tensor,
    styles: Sequence[Moments],
    blend: Sequence[float],
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Whitening then colouring with a blend of styles; float32 [1,C,H,W] on the content's device.

    The content's and every style's matrix powers come from one batched eigh. Colouring is linear,
    so blending the coloured features (the paper's interpolation) is blending the colouring matrices,
    and whitening and colouring fold into one C×C matrix applied to the features once.
    """
    own = moments(content, weight)
    powers = matrix_powers(torch.stack([own.cov, *(s.cov for s in styles)]), [-0.5] + [0.5] * len(styles))
    total = float(sum(blend))
    colouring = sum(p * (w / total) for p, w in zip(powers[1:], blend, strict=True))
    mean = sum(s.mean * (w / total) for s, w in zip(styles, blend, strict=True))
    transform = colouring @ powers[0]
    return _affine(transform, content, mean - transform @ own.mean)


def by_region(
    transfer: Callable[[int], torch.Tensor],
    coverage: torch.Tensor,
    rest: Callable[[], torch.Tensor],
) -> torch.Tensor:
    """Each region's transfer where that region is, and `rest()` where no region covers.

    `transfer(r)` gives the features transferred with region r's statistics (content region r to its
    partner region in the style); `coverage` is [1,R,H,W]. Overlapping regions share by coverage.
    """
    parts = [transfer(r) for r in range(coverage.shape[1])]
    w = resize_guide(coverage.to(parts[0].device, torch.float32), tuple(parts[0].shape[-2:])).clamp(0, 1)
    covered = w.sum(1, keepdim=True)
    w = w / covered.clamp_min(1.0)
    out = sum(w[:, r : r + 1] * part for r, part in enumerate(parts))
    uncovered = (1 - covered).clamp_min(0)
    if bool((uncovered > 1e-6).any()):
        out = out + uncovered * rest()
    return out
