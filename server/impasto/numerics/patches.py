"""Shared patch matching over feature maps: nearest style patch by normalised cross-correlation.

Chen & Schmidt 2016 ("Fast Patch-based Style Transfer of Arbitrary Style") phrase the search as
network layers: convolve the content features with the style patches, each scaled to unit norm
(the content patch's own norm does not change which style patch wins), take the channel-wise argmax,
and put the winners back with a transposed convolution of the unnormalised patches, averaging where
patches overlap. Any patch-based method (style swap, MRF-style losses) can use these pieces.

Memory stays bounded for large pictures: the correlation is computed a chunk of style patches at a
time with a running maximum, never as one [patches × positions] tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

# Bytes of correlation scores computed at once; bounds the search's working memory.
SCORE_BUDGET = 64 << 20


def extract_patches(features: torch.Tensor, size: int, stride: int = 1) -> torch.Tensor:
    """All size×size patches of [1,C,H,W] features at `stride`, as [N,C,size,size] in row-major order."""
    c = features.shape[1]
    columns = F.unfold(features, size, stride=stride)  # [1, C·size², N]
    return columns[0].t().reshape(-1, c, size, size).contiguous()


def grid_size(height: int, width: int, size: int, stride: int) -> tuple[int, int]:
    """How many patch positions fit along each side."""
    return (height - size) // stride + 1, (width - size) // stride + 1


def best_matches(
    content: torch.Tensor,
    patches: torch.Tensor,
    stride: int = 1,
    chunk: int | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """For each content patch position, the index of the style patch of highest normalised cross-correlation.

    content: [1,C,H,W]; patches: [N,C,k,k]; returns [H',W'] indices (long). `on_chunk(done, total)`
    runs after each chunk of style patches, so a caller can report progress or cancel.
    """
    n, _, k, _ = patches.shape
    h, w = grid_size(content.shape[-2], content.shape[-1], k, stride)
    if h < 1 or w < 1:
        raise ValueError(f"a {k}×{k} patch does not fit in features of {content.shape[-1]}×{content.shape[-2]}")
    norms = patches.flatten(1).norm(dim=1).clamp_min(1e-8)
    filters = patches / norms[:, None, None, None]
    chunk = chunk or max(1, SCORE_BUDGET // (4 * h * w))
    best_score = torch.full((h, w), -torch.inf, device=content.device)
    best_index = torch.zeros((h, w), dtype=torch.long, device=content.device)
    for start in range(0, n, chunk):
        scores = F.conv2d(content, filters[start : start + chunk], stride=stride)[0]  # [n_chunk, H', W']
        score, index = scores.max(0)
        better = score > best_score
        best_score = torch.where(better, score, best_score)
        best_index = torch.where(better, index + start, best_index)
        if on_chunk is not None:
            on_chunk(min(start + chunk, n), n)
    return best_index


def paste(patches: torch.Tensor, indices: torch.Tensor, height: int, width: int, stride: int = 1) -> torch.Tensor:
    """Features of height×width built from patches[indices] at their positions, averaged where they overlap.

    The paper's transposed convolution of a one-hot map with the patches, computed as a gather and a
    fold: the same sums, without the [patches × positions] one-hot tensor. Positions no patch covers
    (a stride that does not tile the map) come back as NaN for the caller to fill.
    """
    n, _, k, _ = patches.shape
    chosen = patches.reshape(n, -1)[indices.reshape(-1)]  # [M, C·k²]
    summed = F.fold(chosen.t()[None], (height, width), k, stride=stride)
    ones = torch.ones((1, k * k, chosen.shape[0]), dtype=patches.dtype, device=patches.device)
    count = F.fold(ones, (height, width), k, stride=stride)
    return torch.where(count > 0, summed / count.clamp_min(1), torch.nan)


def style_swap(
    content: torch.Tensor,
    style: torch.Tensor,
    size: int = 3,
    stride: int = 1,
    chunk: int | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Every content patch replaced by its best-matching style patch (Chen & Schmidt 2016); [1,C,H,W]."""
    patches = extract_patches(style.float(), size, stride)
    indices = best_matches(content.float(), patches, stride, chunk, on_chunk)
    swapped = paste(patches, indices, content.shape[-2], content.shape[-1], stride)
    return torch.where(swapped.isnan(), content.float(), swapped)
