"""Carry a stylized result from a working resolution to full size through a locally affine colour model.

A photorealistic stylization changes colours, not edges: within a small window the output is close to an affine
function of the content's colours, out ≈ A·in + b. So, as in the guided filter (He, Sun & Tang 2010), we fit a 3×3
A and a 3-vector b per window at low resolution — guide: the low-resolution content; input: the low-resolution
output; ridge ε on A — average them over the windows covering each pixel, upsample those smooth coefficient maps
bilinearly (the "fast guided filter", He & Sun 2015) and apply them to the full-resolution content. The edges then
come from the full-size content instead of being interpolated, which is how FastPhotoStyle (Li et al. 2018) speeds
up its smoothing and what bilateral guided upsampling (Chen et al. 2016; Gharbi et al. 2017's HDRNet) does with a
bilateral grid of affine models.

ε is the guided filter's: added to the window's covariance of 0..1 colours. (Levin et al. 2008's matting
Laplacian adds ε/|w|, so its ε = 10⁻⁷ with 3×3 windows is 1.1·10⁻⁸ here.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Full-resolution pixels per band: keeps the twelve upsampled coefficient maps near 50 MB whatever the image size.
BAND_PIXELS = 1 << 20


def box_mean(maps: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of each [..., H, W] map over the (2r+1)² window around every pixel, cut off at the image's edges.

    Running sums along each axis make the cost independent of the radius; averaging only over pixels inside
    the image (He et al.'s normalisation) keeps the border windows unbiased. Pass float64: the running sums of a
    large image lose float32's precision, and callers subtract products of these means.
    """
    height, width = maps.shape[-2:]
    # Zero padding of r+1 before and r after turns every window sum into one difference of two running sums.
    rows = F.pad(maps, (0, 0, radius + 1, radius)).cumsum(-2)
    sums = rows[..., 2 * radius + 1 :, :] - rows[..., :height, :]
    del rows
    cols = F.pad(sums, (radius + 1, radius)).cumsum(-1)
    sums = cols[..., 2 * radius + 1 :] - cols[..., :width]
    del cols
    return sums.div_(_window_counts(height, radius, maps)[:, None] * _window_counts(width, radius, maps))


def _window_counts(n: int, radius: int, like: torch.Tensor) -> torch.Tensor:
    """How many of the 2r+1 window positions around each index fall inside 0..n−1."""
    index = torch.arange(n, device=like.device)
    return ((index + radius + 1).clamp(max=n) - (index - radius).clamp(min=0)).to(like.dtype)


# The six distinct entries of a symmetric 3×3, in the order _window_statistics stores Σ.
_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def _window_statistics(
    guide: torch.Tensor, target: torch.Tensor, radius: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-window means μ [3,h,w] and m [3,h,w], covariance Σ [6,h,w] (entries as _PAIRS) and cross-covariance
    C [3(out),3(in),h,w] of float64 [1,3,h,w] guide and target."""
    g, t = guide[0], target[0]
    mu, m = box_mean(g, radius), box_mean(t, radius)
    first, second = zip(*_PAIRS, strict=True)
    sigma = box_mean(g[list(first)] * g[list(second)], radius) - mu[list(first)] * mu[list(second)]
    cross = box_mean(t[:, None] * g[None], radius) - m[:, None] * mu[None]
    return mu, m, sigma, cross


def _solve_ridge(sigma: torch.Tensor, cross: torch.Tensor, eps: float) -> torch.Tensor:
    """A = C·(Σ + εI)⁻¹ for every window at once.

    The closed-form inverse of a symmetric 3×3 (cofactors over the determinant) works on whole maps, which on CPU
    beats a batched LAPACK solve of a million tiny systems; Σ + εI is positive definite, so the determinant is > 0.
    """
    s00, s01, s02, s11, s12, s22 = sigma
    s00, s11, s22 = s00 + eps, s11 + eps, s22 + eps
    i00, i01, i02 = s11 * s22 - s12 * s12, s02 * s12 - s01 * s22, s01 * s12 - s02 * s11
    i11, i12, i22 = s00 * s22 - s02 * s02, s01 * s02 - s00 * s12, s00 * s11 - s01 * s01
    inverse = torch.stack([i00, i01, i02, i01, i11, i12, i02, i12, i22]).view(3, 3, *sigma.shape[-2:])
    inverse /= s00 * i00 + s01 * i01 + s02 * i02  # the determinant, expanded along the first row
    return torch.einsum("ijhw,jkhw->ikhw", cross, inverse)


def fit_local_affine(
    guide: torch.Tensor, target: torch.Tensor, radius: int, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The guided filter's per-window least-squares fit target ≈ A·guide + b, both [1,3,H,W].

    Returns A [3(out),3(in),H,W] and b [3,H,W] in float64, one model per window centred on each pixel.
    """
    mu, m, _, _, coefficients = _fit(guide, target, radius, eps)
    return coefficients, m - torch.einsum("ijhw,jhw->ihw", coefficients, mu)


def _fit(
    guide: torch.Tensor, target: torch.Tensor, radius: int, eps: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Window statistics (μ, m, Σ, C) and the slopes A, in float64."""
    _check_pair(guide, target, radius, eps)
    mu, m, sigma, cross = _window_statistics(guide.detach().double(), target.detach().double(), radius)
    return mu, m, sigma, cross, _solve_ridge(sigma, cross, eps)


def _check_pair(guide: torch.Tensor, target: torch.Tensor, radius: int, eps: float) -> None:
    if guide.dim() != 4 or guide.shape[:2] != (1, 3):
        raise ValueError(f"expected a [1,3,H,W] RGB guide, got shape {tuple(guide.shape)}")
    if target.shape != guide.shape:
        raise ValueError(f"the output's shape {tuple(target.shape)} differs from its guide's {tuple(guide.shape)}")
    if radius < 1:
        raise ValueError(f"the window radius must be at least 1, not {radius}")
    if eps <= 0:
        raise ValueError(f"eps must be positive (it keeps flat windows solvable), not {eps}")


def affine_upsample(
    content_full: torch.Tensor,
    content_low: torch.Tensor,
    output_low: torch.Tensor,
    radius: int = 2,
    eps: float = 1e-4,
) -> torch.Tensor:
    """output_low carried to content_full's size, edges taken from content_full; [1,3,H,W] in its dtype.

    radius and eps apply at the low resolution. Not clamped: an affine colour model may step slightly outside
    0..1, and the caller decides how to clip.
    """
    if content_full.dim() != 4 or content_full.shape[:2] != (1, 3) or not content_full.is_floating_point():
        shape = tuple(content_full.shape)
        raise ValueError(f"expected a floating-point [1,3,H,W] full-size content, got {content_full.dtype} {shape}")
    coefficients, offset = fit_local_affine(content_low, output_low, radius, eps)
    # The guided filter's model at a pixel is the mean of the models of the windows covering it: smooth maps
    # that survive bilinear upsampling, where the raw per-window fits would not.
    model = torch.cat([box_mean(coefficients.flatten(0, 1), radius), box_mean(offset, radius)])
    return _apply_upsampled(model.to(device=content_full.device, dtype=content_full.dtype), content_full)


def _apply_upsampled(model: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Σ_j A_ij·content_j + b_i with the [12,h,w] model (A row-major, then b) upsampled bilinearly to content's size.

    Row bands bound the memory beyond input and output to the upsampled model of one band (BAND_PIXELS·12 values).
    """
    low_h = model.shape[-2]
    height, width = content.shape[-2:]
    out = torch.empty_like(content, memory_format=torch.contiguous_format)
    # Rows are interpolated here by hand, as F.interpolate(align_corners=False) would: pixel centres aligned,
    # edges clamped; F.interpolate then does the columns of each band (its row scale being 1, an identity).
    ys = ((torch.arange(height, dtype=torch.float64) + 0.5) * (low_h / height) - 0.5).clamp(min=0)
    y0 = ys.floor().long().clamp(max=low_h - 1)
    y1 = (y0 + 1).clamp(max=low_h - 1)
    wy = (ys - y0).to(device=content.device, dtype=content.dtype).view(1, -1, 1)
    y0, y1 = y0.to(content.device), y1.to(content.device)
    band = max(1, BAND_PIXELS // width)
    for top in range(0, height, band):
        rows = slice(top, min(height, top + band))
        lerped = torch.lerp(model[:, y0[rows]], model[:, y1[rows]], wy[:, rows])
        full = F.interpolate(lerped[None], size=(lerped.shape[1], width), mode="bilinear", align_corners=False)[0]
        slopes = full[:9].view(3, 3, *full.shape[-2:])
        out[0, :, rows] = torch.einsum("ijhw,jhw->ihw", slopes, content[0, :, rows]) + full[9:]
    return out


def local_affine_residual(input: torch.Tensor, output: torch.Tensor, radius: int = 1, eps: float = 1e-4) -> float:
    """Mean squared error, per pixel and channel, of the best ridge-regularised affine fit of output against input
    in every (2r+1)² window: ~0 when the output is a photorealistic recolouring, large when it adds texture.

    The ridge penalty itself is left out of the figure, so it measures how far the output is from the model only.
    """
    _, m, sigma, cross, coefficients = _fit(input, output, radius, eps)
    variance = box_mean(output[0].detach().double().square(), radius) - m.square()
    # E[(o − a·(x − μ) − m)²] = var(o) − 2 a·C + aᵀ Σ a for each output channel's a.
    explained = (coefficients * cross).sum(1)
    spread = sum(
        (1 if j == k else 2) * coefficients[:, j] * coefficients[:, k] * sigma[n] for n, (j, k) in enumerate(_PAIRS)
    )
    return float((variance - 2 * explained + spread).clamp(min=0).mean())
