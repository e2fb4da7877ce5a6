"""The perceptual objective, as `gatys` weighs it (losses/perceptual.py), for feed-forward generators to learn:
Gatys et al.'s content and style losses through impasto's VGG19, averaged over a batch (Johnson et al. 2016;
Ulyanov et al. 2016; Dumoulin et al. 2017).

A network trained with it approximates what `gatys` would paint, in one pass. Style targets are computed once
from the style picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..imaging.resample import fit_longest_side, resize
from ..losses.content import ContentLoss
from ..losses.style import STATISTICS, StyleLoss, parse_style_loss, style_targets
from ..losses.tv import total_variation
from ..networks.vgg import LAYER_NAMES, VGG19, parse_layers
from ..params import Scalar
from ..runtime import precision


@dataclass
class PerceptualObjective:
    vgg: VGG19
    settings: dict[str, Scalar]
    style: torch.Tensor  # [1,3,H,W] RGB 0..1
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        s = self.settings
        # Texture networks learn from no photo and have no content layers.
        self.content_layers = parse_layers(str(s["content_layers"]), "content_layers") if "content_layers" in s else {}
        self.style_weights = parse_layers(str(s["style_layers"]), "style_layers")
        self.statistics = parse_style_loss(str(s["style_loss"]))
        self.layers = tuple(sorted(set(self.content_layers) | set(self.style_weights), key=LAYER_NAMES.index))
        longest = int(s["style_size"]) or int(s["size"])
        style = resize(self.style, *fit_longest_side(*self.style.shape[-2:], longest))
        with torch.no_grad(), precision.autocast(style.device, self.dtype):
            feats = self.vgg(style, tuple(self.style_weights))
        stats = {kind: STATISTICS[kind]() for kind in self.statistics}
        targets = style_targets(stats, {k: v.float() for k, v in feats.items()}, None, 1)
        self.style_loss = StyleLoss(self.statistics, self.style_weights, [targets], [1.0])

    def features(self, images: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        with precision.autocast(images.device, self.dtype):
            feats = self.vgg(images, layers)
        # Statistics and losses in float32: bf16 sums over a whole feature map lose too much.
        return {k: v.float() for k, v in feats.items()}

    def __call__(self, output: torch.Tensor, content: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Named, weighted losses of a batch of generated images [N,3,H,W] (0..1) against their photos."""
        s = self.settings
        feats = self.features(output, self.layers)
        style = torch.stack(
            [self.style_loss({k: v[i : i + 1] for k, v in feats.items()}) for i in range(output.shape[0])]
        ).mean()
        losses = {"style": float(s["style_weight"]) * style}
        if content is not None and self.content_layers and float(s["content_weight"]):
            with torch.no_grad():
                target = self.features(content, tuple(self.content_layers))
            losses["content"] = float(s["content_weight"]) * ContentLoss(target, self.content_layers)(feats)
        if float(s["tv_weight"]):
            # On VGG19's input scale, as gatys weighs it.
            losses["tv"] = float(s["tv_weight"]) * total_variation(self.vgg.preprocess(output))
        return losses
