"""Maximum mean discrepancy between the output's and the style's feature distributions (Li, Wang,
Liu & Hou 2017, "Demystifying Neural Style Transfer").

Each position of a feature map is one sample of a C-dimensional distribution; style transfer is
domain adaptation from the content's distribution to the style's, and
MMD² = E k(x,x') + E k(s,s') − 2 E k(x,s) (V-statistic, weights per sample) measures how far
apart they are under a kernel k:

- linear, k = xᵀy: MMD² = ‖μ_x − μ_s‖², matching channel means only;
- polynomial, k = (xᵀy + c)², at c=0: MMD² = ‖E xxᵀ − E ssᵀ‖²_F, which is Gram matching;
- Gaussian, k = exp(−‖x−y‖²/2σ²), the paper's best: matches every moment. σ² is the mean squared
  distance between the style's samples (the paper's choice, over all pairs, computed in closed form
  as 2(E‖s‖² − ‖E s‖²)), fixed with the target so the objective does not move while optimising.

Normalisation (the paper's 1/Z_k factors) puts each kernel on a familiar scale:
- linear: MMD²/C, the mean squared difference of channel means (the mean half of the "bn" loss);
- polynomial: MMD²/C⁴, which at c=0 is exactly the Gram loss of losses/gram.py (mean over C²
  entries of the squared difference of Grams normalised by C·positions);
- Gaussian: MMD²·σ²/C. For distributions close together relative to σ, k ≈ 1 − ‖x−y‖²/2σ² and
  MMD² ≈ ‖μ_x − μ_s‖²/σ², so this scaling puts it on the linear kernel's (and bn's) scale.
Gram values grow with the fourth power of activations and the others with the square, so which is
larger depends on the layer and the picture; summed over VGG19 relu1_1…relu5_1 of photographs
the Gaussian and linear losses come out 5-20× below the Gram loss at the same style_weight
(benchmarks/style_losses.py prints them); losses/style.py's PULL scales each statistic so that a weight pulls the
pixels as hard whichever is chosen (benchmarks/style_pull.py).

Cost stays bounded: the style is a fixed random subsample of at most STYLE_SAMPLES of its guided
positions (weighted by guide² as in a guided Gram); several styles blend as a weighted mixture of
their samples, each contributing an equal share of the cap. Every output position is compared with
every style sample, so all pixels get the full style gradient at every step. The output's own term
E k(x,x') pairs every output position with a set of anchors, its own positions taken as constants
with the gradient doubled: with all positions as anchors that is the exact gradient. The linear and
polynomial kernels factor through explicit feature maps, so they use all positions at the cost of
a Gram matrix; the Gaussian's anchors are a fixed (seeded) random set of at most ANCHORS, an
unbiased estimate of the gradient that keeps the objective deterministic, which L-BFGS needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from .positions import position_weights, positions

STYLE_SAMPLES = 1024
ANCHORS = 512
# Gaussian kernel entries computed at once: about 16 MB of float32 per block.
BLOCK_ENTRIES = 1 << 22
SEED = 0x5EED


class Kernel(Protocol):
    def sums(self, x: torch.Tensor, references: torch.Tensor, mix: torch.Tensor, bandwidth: float) -> torch.Tensor:
        """[n, k]: Σ_j mix[j, k]·k(x_i, references_j) for rows x [n, C], constant references [m, C], mix [m, k].

        Differentiable in x. Kernels compute it without the n×m matrix where they can.
        """
        ...

    def scale(self, channels: int, bandwidth: float) -> float:
        """1/Z: brings MMD² under this kernel to a familiar scale (see the module docstring)."""
        ...


class LinearKernel:
    def sums(self, x: torch.Tensor, references: torch.Tensor, mix: torch.Tensor, bandwidth: float) -> torch.Tensor:
        return x @ (references.t() @ mix)

    def scale(self, channels: int, bandwidth: float) -> float:
        return 1.0 / channels


@dataclass(frozen=True)
class PolynomialKernel:
    """(xᵀy + c)²: a quadratic form in x, so sums cost one C×C matrix per column of mix."""

    offset: float = 0.0

    def sums(self, x: torch.Tensor, references: torch.Tensor, mix: torch.Tensor, bandwidth: float) -> torch.Tensor:
        # (xᵀy + c)² = xᵀ(yyᵀ)x + 2c·xᵀy + c², summed over references with weights mix[:, k].
        n, c, k = x.shape[0], x.shape[1], mix.shape[1]
        weighted = (mix.t()[:, :, None] * references[None]).transpose(1, 2)  # [k, C, m]
        second = (weighted @ references).permute(1, 0, 2).reshape(c, k * c)  # [C, k·C]: Σ_j mix_jk y_j y_jᵀ
        quadratic = ((x @ second).view(n, k, c) * x[:, None]).sum(-1)
        return quadratic + 2 * self.offset * (x @ (references.t() @ mix)) + self.offset**2 * mix.sum(0)

    def scale(self, channels: int, bandwidth: float) -> float:
        return float(channels) ** -4


class GaussianKernel:
    def sums(self, x: torch.Tensor, references: torch.Tensor, mix: torch.Tensor, bandwidth: float) -> torch.Tensor:
        return _GaussianSums.apply(x, references, mix, bandwidth)

    def scale(self, channels: int, bandwidth: float) -> float:
        return bandwidth / channels


def gaussian_blocks(x: torch.Tensor, references: torch.Tensor, bandwidth: float, rows: int) -> Any:
    """(start, kernel block [rows, m]) pairs covering x, one block in memory at a time."""
    lift = references.square().sum(1)[None] * (-0.5 / bandwidth)
    for start in range(0, x.shape[0], rows):
        block = x[start : start + rows]
        # xᵀy/σ² − ‖y‖²/2σ² − ‖x‖²/2σ² = −‖x−y‖²/2σ², in place: the block is the only n×m buffer.
        logits = torch.addmm(lift, block, references.t(), alpha=1.0 / bandwidth)
        logits.sub_(block.square().sum(1, keepdim=True) * (0.5 / bandwidth)).clamp_max_(0)
        yield start, logits.exp_()


class _GaussianSums(torch.autograd.Function):
    """Gaussian kernel sums with a hand-written gradient, so no n×m matrix is kept for backward.

    ∂/∂x_i Σ_j a_j k(x_i, y_j) = (Σ_j a_j k_ij y_j − x_i Σ_j a_j k_ij)/σ²: both sums are taken in the
    same pass as the value, and backward only combines them.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, references: torch.Tensor, mix: torch.Tensor, bandwidth: float) -> Any:
        n, k, c = x.shape[0], mix.shape[1], x.shape[1]
        need_grad = ctx.needs_input_grad[0]
        # One product gives the value (first k columns) and, for the gradient, the pull toward the references.
        right = torch.cat([mix, (mix[:, :, None] * references[:, None]).reshape(-1, k * c)], 1) if need_grad else mix
        out = x.new_empty(n, right.shape[1])
        for start, kernel in gaussian_blocks(x, references, bandwidth, max(1, BLOCK_ENTRIES // references.shape[0])):
            torch.mm(kernel, right, out=out[start : start + kernel.shape[0]])
        if need_grad:
            ctx.save_for_backward(x, out)
            ctx.bandwidth = bandwidth
        return out[:, :k].clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        x, out = ctx.saved_tensors
        n, k = grad.shape
        values, pulls = out[:, :k], out[:, k:].reshape(n, k, -1)
        step = torch.einsum("nk,nkc->nc", grad, pulls) - (grad * values).sum(1, keepdim=True) * x
        return step / ctx.bandwidth, None, None, None


@dataclass(frozen=True)
class MmdTarget:
    samples: torch.Tensor  # [n, C] style feature vectors
    weights: torch.Tensor  # [n], summing to 1
    bandwidth: float  # σ² of the Gaussian kernel (unused by the others)
    self_similarity: float  # E k(s, s'): constant, kept so the loss is MMD² itself and ~0 at a match


def weighted_rows(table: torch.Tensor, weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of a [N, C] table that carry weight, with their weights (uniform when None)."""
    if weights is None:
        return table, table.new_full((table.shape[0],), 1.0 / max(table.shape[0], 1))
    keep = torch.nonzero(weights > 0).squeeze(1)
    return table[keep], weights[keep].to(table)


def subsample(
    table: torch.Tensor, weights: torch.Tensor, cap: int | None, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """At most `cap` (None: all) of the rows of a [N, C] table, chosen uniformly, weights renormalised."""
    if cap is not None and table.shape[0] > cap:
        chosen = torch.randperm(table.shape[0], generator=generator)[:cap].to(table.device)
        table, weights = table[chosen], weights[chosen]
    return table, weights / weights.sum().clamp_min(1e-12)


def mean_squared_distance(samples: torch.Tensor, weights: torch.Tensor) -> float:
    """E‖s − s'‖² over pairs of weighted samples: 2(E‖s‖² − ‖E s‖²), without the n² matrix."""
    mean = weights @ samples
    return float(2 * (weights @ samples.square().sum(1) - mean.square().sum()))


class Mmd:
    """MMD² between the output's and the style's feature distributions under one kernel."""

    def __init__(self, kernel: Kernel, style_samples: int = STYLE_SAMPLES, anchors: int | None = ANCHORS) -> None:
        self.kernel = kernel
        self.style_samples = style_samples
        self.anchors = anchors

    def _target(self, samples: torch.Tensor, weights: torch.Tensor) -> MmdTarget:
        spread = mean_squared_distance(samples, weights)
        # A style whose samples all coincide (a flat colour) still needs a usable width.
        bandwidth = max(spread, 1e-3 * float(weights @ samples.square().sum(1)), 1e-8)
        similarity = float(weights @ self.kernel.sums(samples, samples, weights[:, None], bandwidth)[:, 0])
        return MmdTarget(samples, weights, bandwidth, similarity)

    def target(self, features: torch.Tensor, guide: torch.Tensor | None) -> MmdTarget:
        table = positions(features).detach()
        weights = position_weights(guide, tuple(features.shape[-2:]))
        generator = torch.Generator().manual_seed(SEED)
        return self._target(*subsample(*weighted_rows(table, weights), self.style_samples, generator))

    def blend(self, targets: Sequence[MmdTarget], weights: Sequence[float]) -> MmdTarget:
        if len(targets) == 1:
            return targets[0]
        share = math.ceil(self.style_samples / len(targets))
        generator = torch.Generator().manual_seed(SEED)
        parts = [subsample(t.samples, t.weights, share, generator) for t in targets]
        samples = torch.cat([s for s, _ in parts])
        mixture = torch.cat([v * w for (_, v), w in zip(parts, weights, strict=True)])
        return self._target(samples, mixture / mixture.sum().clamp_min(1e-12))

    def loss(self, features: torch.Tensor, guide: torch.Tensor | None, target: MmdTarget) -> torch.Tensor:
        table, weights = weighted_rows(positions(features), position_weights(guide, tuple(features.shape[-2:])))
        generator = torch.Generator().manual_seed(SEED)
        anchors, anchor_weights = subsample(table.detach(), weights, self.anchors, generator)
        references = torch.cat([anchors, target.samples.to(table)])
        # Column 0 averages kernel values over the anchors, column 1 over the style's samples.
        mix = references.new_zeros(references.shape[0], 2)
        mix[: anchors.shape[0], 0] = anchor_weights
        mix[anchors.shape[0] :, 1] = target.weights.to(table)
        own, cross = weights @ self.kernel.sums(table, references, mix, target.bandwidth)
        # The anchors are constants, so doubling this term's gradient restores their share of it.
        mmd2 = 2 * own - own.detach() - 2 * cross + target.self_similarity
        return mmd2 * self.kernel.scale(features.shape[1], target.bandwidth)


def gaussian_mmd() -> Mmd:
    """The paper's best kernel: registered as "mmd"."""
    return Mmd(GaussianKernel())


def linear_mmd() -> Mmd:
    """Means only: registered as "mmd_linear"."""
    return Mmd(LinearKernel(), anchors=None)


def polynomial_mmd() -> Mmd:
    """(xᵀy)², i.e. Gram matching through samples: registered as "mmd_poly"."""
    return Mmd(PolynomialKernel(0.0), anchors=None)
