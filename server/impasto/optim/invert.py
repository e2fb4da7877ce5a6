"""Feature inversion (Mahendran & Vedaldi 2015): the picture whose VGG19 features are given targets.

The decoder of last resort for the feature-transform methods (AdaIN, WCT, style swap): slower than a
trained decoder network, but it needs no weights beyond VGG19 and decodes any layer exactly as far
as the optimisation gets. Chen & Schmidt 2016 decode their swapped features this way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from ..imaging.resample import resize_guide
from ..losses.style import StyleLoss
from ..losses.tv import total_variation
from ..networks.vgg import LAYER_NAMES, VGG19
from ..runtime import precision
from .pyramid import optimise

# The relative losses are O(1), which makes their gradients in VGG19's 0..255 input space so small that
# L-BFGS's curvature pairs fall below its threshold and it stalls at the start. Scaling by the pixel
# count (times this) keeps the per-pixel gradient the same at every size; the scale cancels in the steps.
LOSS_SCALE_PER_PIXEL = 10.0
# on_step(step, loss, image): image is the current RGB 0..1 picture.
InversionStep = Callable[[int, float, torch.Tensor], None]


def inversion_loss(
    features: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    weights: Mapping[str, torch.Tensor | None],
) -> torch.Tensor:
    """Σ_layers squared error relative to the target's square, over (weighted) positions.

    Relative errors make layers of very different magnitudes count alike, and keep tv_weight's
    meaning the same whichever layer is inverted.
    """
    loss = torch.zeros((), device=next(iter(targets.values())).device)
    for layer, target in targets.items():
        diff = (features[layer].float() - target).square()
        energy = target.square()
        w = weights.get(layer)
        if w is not None:
            diff, energy = diff * w, energy * w
        loss = loss + diff.sum() / energy.sum().clamp_min(1e-12)
    return loss


def invert(
    vgg: VGG19,
    targets: Mapping[str, torch.Tensor],
    init: torch.Tensor,
    steps: int,
    tv_weight: float,
    on_step: InversionStep | None = None,
    mask: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
    style: StyleLoss | None = None,
) -> torch.Tensor:
    """An RGB 0..1 image whose features at the targets' layers approach the targets, from `init` (RGB 0..1).

    L-BFGS over the pixels in VGG19's input space; `mask` ([1,1,H,W] coverage) weights the positions
    that matter (a selection), `tv_weight` smooths the result's pixels (0..1 scale), `dtype` is the
    float type of the VGG19 passes (the loss is always float32). `style`, when given, is added to the loss at
    its own layers: what a decoder network learned besides the targets (AdaIN's decoder: the style's statistics).
    """
    layers = tuple(sorted(targets, key=LAYER_NAMES.index))
    passes = tuple(sorted({*layers, *(style.layer_weights if style else ())}, key=LAYER_NAMES.index))
    goals = {layer: targets[layer].detach().float() for layer in layers}
    weights = {
        layer: None if mask is None else resize_guide(mask.float(), tuple(goals[layer].shape[-2:])) for layer in layers
    }

    scale = LOSS_SCALE_PER_PIXEL * init.shape[-2] * init.shape[-1]

    def objective(x: torch.Tensor) -> torch.Tensor:
        with precision.autocast(x.device, dtype):
            feats = vgg.features(x, passes)
        loss = inversion_loss(feats, goals, weights)
        if style is not None:
            loss = loss + style({k: v.float() for k, v in feats.items()})
        if tv_weight:
            loss = loss + tv_weight * total_variation(vgg.deprocess(x))
        return scale * loss

    def step(n: int, loss: float, x: torch.Tensor) -> None:
        if on_step is not None:
            on_step(n, loss / scale, vgg.deprocess(x).clamp(0, 1))

    x = optimise(vgg.preprocess(init.float()), objective, steps, "lbfgs", 1.0, step)
    return vgg.deprocess(x).clamp(0, 1)
