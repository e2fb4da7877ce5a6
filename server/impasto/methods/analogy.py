"""Deep Image Analogy (Liao et al. 2017): dense correspondences between content and style through VGG19.

A (the content) and B′ (the style picture) are matched coarse-to-fine from relu5_1 down to relu1_1 by
bidirectional PatchMatch on normalised features. The two unknown pictures — A′ (A's structure with
B′'s look) and B (B′'s structure with A's look) — are represented by latent features: at each level
A′ = A·W + R′·(1−W), where R′ is B′ warped onto A by the field found one level deeper and carried
down a layer by deconvolution (an optimisation through the VGG19 layers in between), and W keeps
A's own features where they respond strongly (the paper's α·sigmoid(κ(|F_A|² − τ))); B likewise
with the roles exchanged. The relu1_1 field works on pixels, so the result is B′'s pixels voted
into A's layout (and A's into B′'s).

Patch sizes 3,3,3,5,5 and search radii whole map,6,6,4,4 at relu5_1…relu1_1, α = 0.8, 0.7, 0.6, 0.1,
κ = 300, τ = 0.05 and 10 PatchMatch rounds are the paper's. Two departures make it fit a CPU: patches
of the larger maps are compared as their top principal components (`match_dims`, see patchmatch.py)
rather than in full, and the deconvolution takes least-squares steps (deconvolve()) so a few
evaluations go a long way; the paper's GPU code compares full patches and runs L-BFGS to convergence.
"""

from __future__ import annotations

import torch

from ..imaging.resample import fit_longest_side, resize
from ..networks.vgg import LAYER_NAMES, VGG19, load_vgg19
from ..numerics import patchmatch as pm
from ..params import Param, ParamError, Scalar
from . import detail
from .base import JobContext, Method, MethodInput, MethodOutput

LEVELS = ("relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1")
PATCH = {"relu5_1": 3, "relu4_1": 3, "relu3_1": 3, "relu2_1": 5, "relu1_1": 5}
RADIUS = {"relu4_1": 6, "relu3_1": 6, "relu2_1": 4, "relu1_1": 4}  # relu5_1 searches its whole map
PIXEL_PATCH = 3  # the vote that turns the relu1_1 field into pixels
KAPPA, TAU = 300.0, 0.05
# Curvature pairs L-BFGS keeps while deconvolving: each is two copies of the map (51 MB at relu1_1, 448 px).
DECONV_HISTORY = 5
# Exact patch descriptors are used while a map's are at most this many floats; larger ones are reduced.
EXACT_FLOATS = 8 << 20
# Peak bytes per working pixel (both pictures' features, descriptors, deconvolution history; measured).
BYTES_PER_PIXEL = 12000


def forward_between(vgg: VGG19, x: torch.Tensor, start: str, end: str) -> torch.Tensor:
    """VGG19's layers after `start` up to and including `end`, applied to activations of `start`."""
    for name in LAYER_NAMES[LAYER_NAMES.index(start) + 1 : LAYER_NAMES.index(end) + 1]:
        x = vgg.layer(name, x)
    return x


def deconvolve(
    vgg: VGG19,
    start: str,
    end: str,
    target: torch.Tensor,
    init: torch.Tensor,
    steps: int,
    on_step: pm.IterationCallback | None = None,
) -> torch.Tensor:
    """Activations at `start` whose forward pass to `end` comes closest to `target`, from `init`.

    The paper's way to carry a warped feature map one layer down (no inverse network needed), solved
    as the least-squares problem it is: L-BFGS directions (Nocedal 1980) with the step length that
    minimises the residual of the linearised layers along them. VGG19's layers are piecewise linear,
    so that step is nearly exact and costs one forward pass: no line search wasting evaluations, no
    first step that is too small (torch's L-BFGS starts with 1/|g|₁) or too large. `steps` counts
    forward+backward evaluations; on_step(step, loss) reports each.
    """
    positions = target.shape[-2] * target.shape[-1]

    def residual(z: torch.Tensor) -> torch.Tensor:
        return forward_between(vgg, z, start, end) - target

    x = init.detach().float().contiguous()
    pairs: list[tuple[torch.Tensor, torch.Tensor, float]] = []  # (s, y, 1/sᵀy), oldest first
    previous: tuple[torch.Tensor, torch.Tensor] | None = None
    for step in range(1, steps + 1):
        x.requires_grad_(True)
        r = residual(x)
        loss = r.square().sum() / positions
        (grad,) = torch.autograd.grad(loss, x)
        x, r = x.detach(), r.detach()
        if on_step is not None:
            on_step(step, loss.item())
        if step == steps:
            break
        if previous is not None:
            s, y = x - previous[0], grad - previous[1]
            sy = float((s * y).sum())
            if sy > 1e-10 * float(s.norm() * y.norm()):
                pairs = [*pairs[1 - DECONV_HISTORY :], (s, y, 1.0 / sy)]
        direction = -_two_loop(grad, pairs)
        with torch.no_grad():
            # Residual change along the direction, by a small finite step (exact where no ReLU flips).
            eps = 1e-3 * float(x.norm()) / max(float(direction.norm()), 1e-20)
            change = (residual(x + eps * direction) - r) / eps
            along = float((change * change).sum())
            length = -float((r * change).sum()) / along if along > 0 else 0.0
        if length <= 0:  # not a descent direction: forget the curvature and take the gradient
            pairs.clear()
            continue
        previous = (x, grad)
        x = x + length * direction
    # Activations after a ReLU are never negative; keep the latent maps in the space the network makes.
    return x.clamp_min(0)


def _two_loop(grad: torch.Tensor, pairs: list[tuple[torch.Tensor, torch.Tensor, float]]) -> torch.Tensor:
    """L-BFGS's inverse-Hessian estimate applied to `grad` (the two-loop recursion)."""
    q = grad.clone()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float((s * q).sum())
        alphas.append(a)
        q -= a * y
    if pairs:
        s, y, _ = pairs[-1]
        q *= float((s * y).sum() / (y * y).sum())
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        b = rho * float((y * q).sum())
        q += (a - b) * s
    return q


def normalise(features: torch.Tensor) -> torch.Tensor:
    """Each position's feature vector at unit length: matching compares what fires, not how strongly."""
    return features / features.norm(dim=1, keepdim=True).clamp_min(1e-8)


def keep_weights(features: torch.Tensor, alpha: float) -> torch.Tensor:
    """[1,1,H,W] share of a picture's own features kept in its latent counterpart: α where they respond
    strongly, fading to 0 where they barely respond (Liao et al. 2017, eq. 5-6)."""
    response = features.square().sum(dim=1, keepdim=True)
    low, high = response.min(), response.max()
    response = (response - low) / (high - low).clamp_min(1e-12)
    return alpha * torch.sigmoid(KAPPA * (response - TAU))


def parse_alphas(spec: str, count: int) -> list[float]:
    try:
        values = [float(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise ParamError(f"parameter 'alphas' must be {count} numbers separated by commas, not {spec!r}") from None
    if len(values) != count or not all(0 <= v <= 1 for v in values):
        raise ParamError(
            f"parameter 'alphas' must be {count} numbers from 0 to 1 (for relu4_1, relu3_1, relu2_1 and relu1_1), "
            f"not {spec!r}"
        )
    return values


class Analogy(Method):
    name = "analogy"
    list_order = 100
    title = "Deep image analogy"
    description = (
        "Finds which part of the style picture corresponds to which part of the content (Liao et al. 2017) and "
        "rebuilds the content from the style's own pixels: best for pictures of similar things (faces, buildings, "
        "landscapes). Can also return the style picture redrawn with the content's look."
    )
    max_styles = 1
    params = (
        Param("size", "int", 448, "Longest side to work at, in pixels (0 = the layer's size)", 0, 4096),
        Param(
            "output",
            "choice",
            "a_prime",
            "a_prime: the content's structure with the style's look; b: the style's structure with the "
            "content's look (stretched to the layer); both: a_prime, plus b at its own shape as a new layer",
            choices=("a_prime", "b", "both"),
        ),
        Param(
            "coarsest",
            "choice",
            "relu5_1",
            "Deepest VGG19 layer matched: relu5_1 finds the best correspondences; shallower ones are faster and "
            "allow smaller pictures (relu5_1 needs 32 px, relu4_1 16 px, relu3_1 8 px)",
            choices=("relu5_1", "relu4_1", "relu3_1"),
        ),
        Param(
            "alphas",
            "string",
            "0.8,0.7,0.6,0.1",
            "How much of each picture's own features is kept at each layer below the coarsest (relu4_1, relu3_1, "
            "relu2_1, relu1_1): higher keeps more of the content's detail",
        ),
        Param("iterations", "int", 10, "PatchMatch rounds at each layer (more finds better matches, slower)", 1, 100),
        Param(
            "deconv_steps",
            "int",
            20,
            "Optimisation steps carrying warped features one layer down (more is more faithful, slower)",
            1,
            1000,
        ),
        Param(
            "match_dims",
            "int",
            64,
            "Numbers per patch when matching large layers (principal components; more is more exact, slower)",
            8,
            4096,
        ),
        Param("seed", "int", 0, "Random seed of PatchMatch's random search", 0, 2**31 - 1),
        *detail.PARAMS,
    )

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        return fit_longest_side(height, width, int(params["size"]))

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        return BYTES_PER_PIXEL * height * width + (600 << 20)

    def _vgg(self, ctx: JobContext) -> VGG19:
        return ctx.models.get(("vgg19", "max", str(ctx.device)), lambda: load_vgg19("max").to(ctx.device))

    def run(self, job: MethodInput, ctx: JobContext) -> MethodOutput:
        p = job.params
        if not job.styles or job.styles[0].image is None:
            raise ParamError("analogy needs a style picture (B′)")
        levels = LEVELS[LEVELS.index(str(p["coarsest"])) :]
        alphas = dict(zip(LEVELS[1:], parse_alphas(str(p["alphas"]), len(LEVELS) - 1), strict=True))
        iterations, deconv_steps, dims = int(p["iterations"]), int(p["deconv_steps"]), int(p["match_dims"])
        a_image = job.content
        _, _, height, width = a_image.shape
        style = job.styles[0].image
        b_image = resize(style.to(a_image), *fit_longest_side(*style.shape[-2:], max(height, width)))
        self._check_sizes(levels[0], (height, width), (b_image.shape[-2], b_image.shape[-1]))

        vgg = self._vgg(ctx)
        with torch.no_grad():
            feats_a = vgg(a_image, levels)
            feats_bp = vgg(b_image, levels)
        generator = torch.Generator().manual_seed(int(p["seed"]))
        total = 2 * iterations * len(levels) + 2 * deconv_steps * (len(levels) - 1)
        done = 0
        # The latest content-to-style field and the size of the style map it points into, for previews.
        latest: list[tuple[torch.Tensor, tuple[int, int]]] = []

        def preview() -> torch.Tensor:
            field, size_b = latest[-1]
            full = pm.upsample_field(field, size_b, (height, width), (b_image.shape[-2], b_image.shape[-1]))
            return pm.vote(b_image, full, 1).clamp(0, 1)

        def report(stage: str) -> pm.IterationCallback:
            def step(_: int, loss: float) -> None:
                nonlocal done
                done += 1
                ctx.progress(stage, done, total, loss, preview if latest else None)

            return step

        field_ab = field_ba = None
        warped_bp = warped_a = None  # R′ and R: the warps from the level above, deconvolved to this one
        for index, layer in enumerate(levels):
            a, bp = feats_a[layer], feats_bp[layer]
            if warped_bp is None or warped_a is None:
                a_prime, b = a, bp
            else:
                keep_a, keep_b = keep_weights(a, alphas[layer]), keep_weights(bp, alphas[layer])
                a_prime = a * keep_a + warped_bp * (1 - keep_a)
                b = bp * keep_b + warped_a * (1 - keep_b)
            size_a, size_b = (a.shape[-2], a.shape[-1]), (bp.shape[-2], bp.shape[-1])
            patch = PATCH[layer]
            # Bidirectional: φ(A→B) compares A with B and A′ with B′ at once; φ(B→A) the other way round.
            side_a = torch.cat([normalise(a), normalise(a_prime)], dim=1)
            side_b = torch.cat([normalise(b), normalise(bp)], dim=1)
            floats = side_a.shape[1] * patch * patch * max(size_a[0] * size_a[1], size_b[0] * size_b[1])
            desc_a, desc_b = pm.patch_descriptors([side_a, side_b], patch, 0 if floats <= EXACT_FLOATS else dims)
            del side_a, side_b
            init_ab = init_ba = None
            if field_ab is not None and field_ba is not None:
                coarse_a, coarse_b = (field_ab.shape[-2], field_ab.shape[-1]), (field_ba.shape[-2], field_ba.shape[-1])
                init_ab = pm.upsample_field(field_ab, coarse_b, size_a, size_b)
                init_ba = pm.upsample_field(field_ba, coarse_a, size_b, size_a)
            radius = RADIUS.get(layer, max(*size_a, *size_b))
            field_ab, _ = pm.patchmatch(
                desc_a, desc_b, iterations, radius, init_ab, generator, report(f"matching {layer}: content to style")
            )
            latest.append((field_ab, size_b))
            field_ba, _ = pm.patchmatch(
                desc_b, desc_a, iterations, radius, init_ba, generator, report(f"matching {layer}: style to content")
            )
            del desc_a, desc_b
            if index + 1 < len(levels):
                below = levels[index + 1]
                warped_bp = deconvolve(
                    vgg,
                    below,
                    layer,
                    pm.vote(bp, field_ab, patch),
                    feats_a[below],
                    deconv_steps,
                    report(f"deconvolving {layer} to {below} (A′)"),
                )
                warped_a = deconvolve(
                    vgg,
                    below,
                    layer,
                    pm.vote(a, field_ba, patch),
                    feats_bp[below],
                    deconv_steps,
                    report(f"deconvolving {layer} to {below} (B)"),
                )
        assert field_ab is not None and field_ba is not None
        # relu1_1 has the pictures' own size, so its fields say which pixel goes where.
        a_out = pm.vote(b_image, field_ab, PIXEL_PATCH).clamp(0, 1)
        b_out = pm.vote(a_image, field_ba, PIXEL_PATCH).clamp(0, 1)
        output = str(p["output"])
        if output == "b":
            return MethodOutput(image=resize(b_out, height, width).clamp(0, 1))
        if output == "both":
            return MethodOutput(image=a_out, extra_layers={"analogy B": b_out})
        return MethodOutput(image=a_out)

    @staticmethod
    def _check_sizes(coarsest: str, size_a: tuple[int, int], size_b: tuple[int, int]) -> None:
        """Refuses pictures too small for the coarsest layer: relu5_1 sees 1/16 of the picture."""
        need = 2 ** int(coarsest[4])
        for what, (h, w) in (("content", size_a), ("style", size_b)):
            if min(h, w) < need:
                raise ParamError(
                    f"analogy: the {what} is {w}x{h} px at the working size, too small for {coarsest}, which needs "
                    f"at least {need} px on the shorter side; use a larger picture or 'size', or a shallower "
                    f"'coarsest' layer"
                )
