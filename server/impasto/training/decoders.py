"""Decoders that turn impasto's own VGG19 features back into pictures in one pass, so `adain`, `wct` and `swap`
run in real time with nothing installed by hand.

- `adain-decoder` (Huang & Belongie 2017): decodes AdaIN-renormalised relu4_1 features; trained so the decoded
  picture's relu4_1 matches the target and its relu1_1…relu4_1 channel statistics match the style's.
- `wct-decoders` (Li et al. 2017): one reconstruction decoder per level (reluN_1): picture and feature
  reconstruction of photos.
- `swap-decoder` (Chen & Schmidt 2016's inverse network): inverts both photos' features and style-swapped ones,
  by feature reconstruction and a smoothness prior, since a swapped map has no picture to compare with.

All three share the learner: a frozen VGG19, a FeatureDecoder mirroring it from the layer, and the loop's
photos; they differ only in the features they decode and the losses on the result.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidInput
from ..losses.tv import total_variation
from ..networks.decoders import ADAIN_LAYER, LEVELS, TRAINED_INPUT_RMS, TRAINED_KIND, FeatureDecoder
from ..networks.vgg import VGG19, load_vgg19
from ..numerics.feature_stats import adain, channel_stats
from ..numerics.patches import style_swap
from ..params import Param, Scalar, retune
from ..runtime import precision
from .base import COMMON_PARAMS, Learner, Trainer, TrainInputs
from .styles import StyleSet

ADAIN_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
# Pixels are compared on VGG19's input scale (0..255), where their errors and the features' are of a size.
PIXEL_SCALE = 255.0
# The step size and its decay of Huang & Belongie's released training code.
DECODER_PARAMS = (
    *retune(COMMON_PARAMS, learning_rate={"default": 1e-4}, lr_decay={"default": 5e-5}, batch={"default": 8}),
    Param("recolour", "bool", True, "Vary the photos' colours (channel order, saturation) so any colour decodes"),
)


def recolour(photos: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Photos with their colours varied: channels shuffled (half the time) and saturation scaled by 0.6-1.8.

    A decoder must give back any colour, but a few dozen photos hold few saturated ones: trained on them alone, a
    reconstruction decoder turns a saturated green leaf olive (17 dB against 26 on a grey-blue photo).
    """
    out = photos.clone()
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=photos.dtype, device=photos.device).view(1, 3, 1, 1)
    for i in range(photos.shape[0]):
        if float(torch.rand((), generator=generator)) < 0.5:
            out[i] = out[i, torch.randperm(3, generator=generator)]
        saturation = 0.6 + 1.2 * float(torch.rand((), generator=generator))
        grey = (out[i : i + 1] * luma).sum(1, keepdim=True)
        out[i] = (grey + saturation * (out[i : i + 1] - grey)).clamp(0, 1)[0]
    return out


class DecoderLearner(Learner):
    """A decoder from `layer` learning against a frozen VGG19; subclasses say what it decodes and how it is judged."""

    def __init__(self, settings: dict[str, Scalar], inputs: TrainInputs, layer: str) -> None:
        self.settings, self.layer, self.device = settings, layer, inputs.device
        self.dtype = inputs.dtype(settings)
        self.vgg: VGG19 = load_vgg19().to(self.device)
        torch.manual_seed(int(settings["seed"]))
        self.input_scale = 1.0 / TRAINED_INPUT_RMS[layer]
        self.decoder = FeatureDecoder(layer, input_scale=self.input_scale).to(self.device).requires_grad_(True).train()

    def prepare(self, photos: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return recolour(photos, generator) if self.settings["recolour"] else photos

    def features(self, images: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        with precision.autocast(self.device, self.dtype):
            feats = self.vgg(images, layers)
        return {k: v.float() for k, v in feats.items()}

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        with precision.autocast(self.device, self.dtype):
            return self.decoder(features.contiguous(memory_format=torch.channels_last)).float()

    def parameters(self) -> list[nn.Parameter]:
        return list(self.decoder.parameters())

    def state(self) -> dict[str, torch.Tensor]:
        return self.decoder.state_dict()

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.decoder.load_state_dict(state)

    def render(self, probe: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.decode(self.features(probe, (self.layer,))[self.layer]).clamp(0, 1)

    def record(self) -> dict[str, Scalar]:
        return {"input_scale": self.input_scale}


class ReconstructionLearner(DecoderLearner):
    def losses(self, photos: torch.Tensor | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
        assert photos is not None
        photos = self.prepare(photos, generator)
        with torch.no_grad():
            target = self.features(photos, (self.layer,))[self.layer]
        out = self.decode(target)
        again = self.features(out, (self.layer,))[self.layer]
        return {
            "pixel": float(self.settings["pixel_weight"]) * F.mse_loss(out * PIXEL_SCALE, photos * PIXEL_SCALE),
            "feature": float(self.settings["feature_weight"]) * F.mse_loss(again, target),
        }


class SwapLearner(DecoderLearner):
    def losses(self, photos: torch.Tensor | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
        assert photos is not None
        photos = self.prepare(photos, generator)
        with torch.no_grad():
            target = self.features(photos, (self.layer,))[self.layer]
            # Half the batch: each photo's features rebuilt from the next photo's patches.
            half = target.shape[0] // 2
            swapped = [style_swap(target[i : i + 1], target[(i + 1) % target.shape[0]][None]) for i in range(half)]
            if swapped:
                target = torch.cat([*swapped, target[half:]])
        out = self.decode(target)
        again = self.features(out, (self.layer,))[self.layer]
        return {
            "feature": float(self.settings["feature_weight"]) * F.mse_loss(again, target),
            "tv": float(self.settings["tv_weight"]) * total_variation(out * PIXEL_SCALE),
        }


class AdaINLearner(DecoderLearner):
    def __init__(self, settings: dict[str, Scalar], inputs: TrainInputs) -> None:
        super().__init__(settings, inputs, ADAIN_LAYER)
        self.styles = StyleSet(int(settings["size"]))

    def losses(self, photos: torch.Tensor | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
        assert photos is not None
        photos = self.prepare(photos, generator)
        styles = self.styles.batch(photos, generator).to(self.device)
        with torch.no_grad():
            content = self.features(photos, (ADAIN_LAYER,))[ADAIN_LAYER]
            style_feats = self.features(styles, ADAIN_STYLE_LAYERS)
            target = adain(content, channel_stats(style_feats[ADAIN_LAYER]))
        out = self.decode(target)
        feats = self.features(out, ADAIN_STYLE_LAYERS)
        style_loss = out.new_zeros(())
        # Each layer in units of its typical size, as in the paper's normalised VGG19: on impasto's 0..255 scale
        # relu4_1 would otherwise outweigh relu1_1, which carries the colours, some 300 times.
        for layer in ADAIN_STYLE_LAYERS:
            own, want = channel_stats(feats[layer]), channel_stats(style_feats[layer])
            unit = TRAINED_INPUT_RMS[layer]
            style_loss = style_loss + F.mse_loss(own.mean / unit, want.mean / unit)
            style_loss = style_loss + F.mse_loss(own.std / unit, want.std / unit)
        unit = TRAINED_INPUT_RMS[ADAIN_LAYER]
        return {
            "content": float(self.settings["content_weight"]) * F.mse_loss(feats[ADAIN_LAYER] / unit, target / unit),
            "style": float(self.settings["style_weight"]) * style_loss,
        }


def _level_param(default: str) -> Param:
    return Param("layer", "choice", default, "The VGG19 layer the decoder starts from", choices=LEVELS)


class DecoderTrainer(Trainer):
    model_kind = TRAINED_KIND
    needs_style = False

    def model_name(self, requested: str, settings: dict[str, Scalar]) -> str:
        """Decoders are found by the method that uses them under a fixed name, so the name is not a choice."""
        name = self.fixed_name(settings)
        if requested and requested != name:
            raise InvalidInput(f"name: {self.kind} models are named '{name}' (the {self.method} method looks for it)")
        return name

    def fixed_name(self, settings: dict[str, Scalar]) -> str:
        return f"{self.method}-{settings['layer']}"


class AdaINDecoderTrainer(DecoderTrainer):
    kind = "adain-decoder"
    method = "adain"
    title = "The AdaIN decoder (real-time adain)"
    description = (
        "Trains the decoder that turns AdaIN's renormalised relu4_1 features into a picture (Huang & Belongie 2017), "
        "on photos and drawn style pictures: afterwards adain decodes in one pass."
    )
    params = (
        *DECODER_PARAMS,
        Param("content_weight", "float", 1.0, "How closely the picture keeps the renormalised features", 0.0, 1e6),
        Param("style_weight", "float", 10.0, "How closely it keeps the style's channel statistics", 0.0, 1e6),
    )

    def fixed_name(self, settings: dict[str, Scalar]) -> str:
        return f"adain-{ADAIN_LAYER}"

    def learner(self, settings: dict[str, Scalar], inputs: TrainInputs) -> Learner:
        return AdaINLearner(settings, inputs)


class WCTDecoderTrainer(DecoderTrainer):
    kind = "wct-decoders"
    method = "wct"
    title = "A WCT decoder (real-time wct), one level per run"
    description = (
        "Trains the reconstruction decoder of one VGG19 level (Li et al. 2017): picture and feature reconstruction "
        "of photos. wct uses each level that has one and optimises the others."
    )
    params = (
        *DECODER_PARAMS,
        _level_param("relu3_1"),
        Param("pixel_weight", "float", 1.0, "Weight of the picture's reconstruction", 0.0, 1e6),
        # VGG19's features are larger than pixels on its 0..255 input scale; this keeps the picture term first.
        Param("feature_weight", "float", 0.02, "Weight of the features' reconstruction", 0.0, 1e6),
    )

    def learner(self, settings: dict[str, Scalar], inputs: TrainInputs) -> Learner:
        return ReconstructionLearner(settings, inputs, str(settings["layer"]))


class SwapDecoderTrainer(DecoderTrainer):
    kind = "swap-decoder"
    method = "swap"
    title = "The style-swap inverse network (real-time swap)"
    description = (
        "Trains Chen & Schmidt's inverse network at the swap layer, on photos' features and style-swapped ones, so "
        "swap decodes in one pass."
    )
    params = (
        *DECODER_PARAMS,
        _level_param("relu3_1"),
        Param("feature_weight", "float", 1.0, "Weight of the features' reconstruction", 0.0, 1e6),
        Param("tv_weight", "float", 1e-4, "Smoothness of the decoded picture", 0.0, 1e6),
    )

    def learner(self, settings: dict[str, Scalar], inputs: TrainInputs) -> Learner:
        return SwapLearner(settings, inputs, str(settings["layer"]))
