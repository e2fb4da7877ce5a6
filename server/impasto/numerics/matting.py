"""The matting Laplacian (Levin, Lischinski & Weiss 2008) and the photorealism loss built on it (Luan et al. 2017).

Levin et al. show that if, inside every small window w_k, a channel V of the output is an affine function of the
input's colours (V_i ≈ a_kᵀ I_i + b_k), then the minimum over all a_k, b_k of

    J(V) = Σ_k [ Σ_{i∈w_k} (V_i − a_kᵀ I_i − b_k)² + ε‖a_k‖² ]

is the quadratic form Vᵀ L V, with

    L_ij = Σ_{k : i,j ∈ w_k} ( δ_ij − 1/|w_k| · (1 + (I_i − μ_k)ᵀ (Σ_k + ε/|w_k| · I₃)⁻¹ (I_j − μ_k)) ).

Luan, Paris, Shechtman & Bala 2017 ("Deep Photo Style Transfer") add λ · Σ_c V_c[O]ᵀ L V_c[O] to the Gatys
objective, λ = 10⁴ on 0..1 images with ε = 10⁻⁷ and 3×3 windows (their code, deepmatting_seg.lua), so the optimiser
can recolour the content freely but cannot paint new edges or textures into it.

The matrix is built with torch's sparse CSR tensors rather than scipy.sparse: torch already multiplies CSR by dense
matrices on CPU and GPU, and it keeps scipy out of the daemon's dependencies.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import torch
import torch.nn.functional as F

from ..errors import InvalidInput

DEFAULT_EPS = 1e-7
Reduction = Literal["sum", "mean"]


def _check_image(image: torch.Tensor, radius: int) -> tuple[int, int]:
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"expected a [1,3,H,W] RGB image, got shape {tuple(image.shape)}")
    if radius < 1:
        raise ValueError(f"the window radius must be at least 1, not {radius}")
    height, width = image.shape[-2:]
    side = 2 * radius + 1
    if height < side or width < side:
        raise InvalidInput(f"the image is too small ({width}×{height}) for photorealism; it needs {side}×{side} pixels")
    return height, width


def matting_laplacian(
    image: torch.Tensor, eps: float = DEFAULT_EPS, radius: int = 1, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Levin's L of a [1,3,H,W] image (0..1) as an N×N sparse CSR tensor, N = H·W in row-major pixel order.

    Only windows lying wholly inside the image count, as in Levin's code, so border pixels sit in fewer windows.
    Window statistics and the 3×3 inverses are computed in float64: with ε = 10⁻⁷ a flat or grey window has
    (Σ + ε/|w|·I)⁻¹ of order 10⁸, and float32 rounding noise in I − μ became errors of 0.05 on entries of 8
    for a grey image (10⁻⁷ in float64). The entries themselves are bounded (|L_ij| ≤ 2 per window, since
    (I_i − μ)ᵀ(Σ + ε/|w|·I)⁻¹(I_i − μ) ≤ |w|), so they are stored as `dtype`.
    Building takes about 1.3 kB per pixel at its peak (340 MB at 512×512); the result keeps (4r+1)² entries
    per pixel (25 for 3×3 windows), 8 bytes each in float32 with int32 indices.
    """
    height, width = _check_image(image, radius)
    side = 2 * radius + 1
    size = side * side
    img = image.detach().double()

    # Every window as a column: [3, |w|, windows], windows in row-major order of their centres.
    patches = F.unfold(img, side).view(3, size, -1)
    rows, cols = height - 2 * radius, width - 2 * radius
    centred = patches - patches.mean(dim=1, keepdim=True)
    covariance = torch.einsum("cmk,dmk->kcd", centred, centred) / size
    covariance += torch.eye(3, dtype=torch.float64, device=img.device) * (eps / size)
    # (I_j − μ_k) premultiplied by the window's inverse; Cholesky, as Σ + ε/|w|·I is symmetric positive definite.
    whitened = torch.einsum("kcd,dmk->cmk", torch.cholesky_inverse(torch.linalg.cholesky(covariance)), centred)
    del covariance, patches

    # L is stored as a stencil: stencil[o][y, x] = L[(y, x), (y, x) + offset o], the offsets spanning ±2·radius.
    # A window pairs its pixels a, b at offset p_b − p_a; each pair adds that window's block entry at pixel
    # centre + p_a. Only the half of the offsets ≥ 0 (row-major) is summed; the other half is its mirror, which
    # makes L exactly symmetric and halves the work. The loop runs over window positions, not pixels.
    span = 2 * radius
    reach = 2 * span + 1
    stencil = torch.zeros(reach * reach, height, width, dtype=torch.float64, device=img.device)
    positions = [(dy, dx) for dy in range(side) for dx in range(side)]
    for a, (ay, ax) in enumerate(positions):
        for b, (by, bx) in enumerate(positions):
            oy, ox = by - ay, bx - ax
            if (oy, ox) < (0, 0):
                continue
            affinity = (centred[:, a] * whitened[:, b]).sum(0).view(rows, cols)
            entry = (1.0 if a == b else 0.0) - (1.0 + affinity) / size
            stencil[(oy + span) * reach + ox + span, ay : ay + rows, ax : ax + cols] += entry
    del centred, whitened
    for oy in range(-span, span + 1):
        for ox in range(-span, span + 1):
            if (oy, ox) < (0, 0):
                # Row i, column i+o mirrors row i+o, column i at offset −o.
                mirror = stencil[(-oy + span) * reach - ox + span]
                target = stencil[(oy + span) * reach + ox + span]
                target[max(0, -oy) : height - max(0, oy), max(0, -ox) : width - max(0, ox)] = mirror[
                    max(0, oy) : height - max(0, -oy), max(0, ox) : width - max(0, -ox)
                ]
    return _stencil_to_csr(stencil, height, width, span, dtype)


def _stencil_to_csr(stencil: torch.Tensor, height: int, width: int, span: int, dtype: torch.dtype) -> torch.Tensor:
    """CSR from a [(2·span+1)², H, W] stencil; offsets in row-major order keep each row's columns sorted."""
    device = stencil.device
    offsets = torch.arange(-span, span + 1, device=device)
    oy = offsets.repeat_interleave(2 * span + 1)
    ox = offsets.repeat(2 * span + 1)
    ys = torch.arange(height, device=device).view(height, 1, 1)
    xs = torch.arange(width, device=device).view(1, width, 1)
    inside = ((ys + oy) >= 0) & ((ys + oy) < height) & ((xs + ox) >= 0) & ((xs + ox) < width)  # [H, W, offsets]
    n = height * width
    # int32 indices halve the index memory and made the CPU product twice as fast (measured at 512×512); they
    # hold while nnz < 2³¹, about 85 megapixels with 3×3 windows.
    index_dtype = torch.int32 if oy.numel() * n < 2**31 else torch.int64
    crow = torch.zeros(n + 1, dtype=index_dtype, device=device)
    crow[1:] = inside.view(n, -1).sum(1).cumsum(0)
    pixel = torch.arange(n, device=device).view(height, width, 1)
    columns = (pixel + oy * width + ox)[inside].to(index_dtype)
    values = stencil.permute(1, 2, 0)[inside].to(dtype)
    with warnings.catch_warnings():
        # torch warns once per process that CSR is "beta"; multiplying CSR by dense matrices is all this needs.
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, columns, values, (n, n), check_invariants=False)


class _QuadraticForm(torch.autograd.Function):
    """Σ_c V_cᵀ L V_c for a symmetric L with one sparse product: the backward reuses L·V, as ∇ = 2·L·V."""

    @staticmethod
    def forward(ctx: Any, image: torch.Tensor, laplacian: torch.Tensor, scale: float) -> torch.Tensor:
        channels = image.reshape(3, -1).t().to(laplacian.dtype)
        product = laplacian @ channels
        ctx.save_for_backward(product)
        ctx.shape, ctx.dtype, ctx.scale = image.shape, image.dtype, scale
        return (channels * product).sum().mul(scale).to(image.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        (product,) = ctx.saved_tensors
        grad = product.t().reshape(ctx.shape).to(ctx.dtype) * (2.0 * ctx.scale * grad_output)
        return grad, None, None


class PhotorealismLoss:
    """Luan et al.'s regulariser Σ_c V_c[O]ᵀ L V_c[O] for outputs the size of the content it was built from.

    It is 0 (up to ε) when the output is a locally affine recolouring of the content and grows with every edge
    or texture the content does not explain. Building L dominates the cost, so build one per pyramid level and
    keep it for all that level's steps.

    reduction="sum" is the paper's raw quadratic form on 0..1 colours; with it, weight 10⁴ balances Luan et al.'s
    content (weight 5, mean squared relu4_2 error) and style (weight 100, Grams over C·H·W) terms, as our losses
    define them, at their working size (longest side 700 px). The sum grows with the pixel count while VGG losses
    are means, so "mean" divides by H·W: a weight then means the same at every pyramid level, and 10⁴ · H·W of
    a 700×525 image (≈ 3.7·10⁹) reproduces the paper's balance.
    """

    def __init__(
        self,
        content: torch.Tensor,
        eps: float = DEFAULT_EPS,
        radius: int = 1,
        reduction: Reduction = "sum",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")
        self.shape = tuple(content.shape)
        self.laplacian = matting_laplacian(content, eps, radius, dtype)
        pixels = self.shape[-2] * self.shape[-1]
        self.scale = 1.0 if reduction == "sum" else 1.0 / pixels

    def _check(self, output: torch.Tensor) -> None:
        if tuple(output.shape) != self.shape:
            raise ValueError(f"output shape {tuple(output.shape)} differs from the content's {self.shape}")

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        """The (scaled) quadratic form, differentiable with respect to `output`."""
        self._check(output)
        return _QuadraticForm.apply(output, self.laplacian, self.scale)

    def gradient(self, output: torch.Tensor) -> torch.Tensor:
        """2·scale·L·V as a [1,3,H,W] tensor, without autograd: for callers that assemble gradients themselves."""
        self._check(output)
        channels = output.detach().reshape(3, -1).t().to(self.laplacian.dtype)
        product = self.laplacian @ channels
        return product.t().reshape(output.shape).to(output.dtype) * (2.0 * self.scale)
