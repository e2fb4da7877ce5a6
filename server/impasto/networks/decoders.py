"""Published encoder/decoder checkpoints for the feature-transform methods, in their own layouts.

AdaIN (Huang & Belongie 2017) and universal style transfer by whitening and colouring (Li et al. 2017)
both encode with the "normalised" VGG19 of the Torch releases and invert features with a trained
decoder that mirrors the encoder. The PyTorch ports store both as plain nn.Sequential state dicts:

- naoto0804/pytorch-AdaIN: `vgg_normalised.pth` (the encoder through relu5_4; AdaIN uses it up to
  relu4_1) and `decoder.pth` (relu4_1 back to RGB);
- pietrocarbo/deep-transfer (a PyTorch port of Li et al.'s Torch models, which ship as .t7 files
  that modern torch cannot read): `vgg_normalised_conv{N}_1.pth` and `feature_invertor_conv{N}_1.pth`
  for N = 1..5, each encoder stopping at reluN_1 and each decoder starting there.

The layouts are generated from VGG19's layer list, so the module indices, and therefore the state
dict keys ("2.weight", …), are those of the published files. Encoders take RGB 0..1 (their first 1×1
convolution does the Caffe preprocessing) and decoders return RGB 0..1; both pad by reflection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidInput
from ..runtime.trained import file_signature, load_model, locate
from ..runtime.weights import user_models_dir
from .vgg import LAYER_NAMES

# Output channels of VGG19's convolutions, per block.
_BLOCK_CHANNELS = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}
LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
ADAIN_LAYER = "relu4_1"
# The published AdaIN encoder file holds the whole normalised VGG19 through relu5_4.
ADAIN_ENCODER_FILE_END = "relu5_4"
ADAIN_DIR = "adain"
# impasto's VGG19 takes pixels on Caffe's 0..255 scale, so its features are two to three orders larger than those
# of the normalised VGG19 the published decoders invert. impasto's own decoders divide them by their typical size
# (the root mean square over photos, rounded), so training starts with pictures on the 0..1 scale instead of
# spending its first thousand steps shrinking the first convolution.
TRAINED_INPUT_RMS = {"relu1_1": 50.0, "relu2_1": 200.0, "relu3_1": 250.0, "relu4_1": 800.0, "relu5_1": 120.0}
# Where impasto's own decoders go: <models>/decoders/<method>-<layer>.pt.
TRAINED_KIND = "decoders"
WCT_DIR = "wct"


def _conv_channels(last: str) -> list[tuple[str, int, int]]:
    """(name, in, out) of each VGG19 convolution up to the layer `last`."""
    convs, channels = [], 3
    for name in LAYER_NAMES[: LAYER_NAMES.index(last) + 1]:
        if name.startswith("conv"):
            out = _BLOCK_CHANNELS[name[4]]
            convs.append((name, channels, out))
            channels = out
    return convs


def encoder_modules(last: str) -> list[nn.Module]:
    """The normalised VGG19 up to `last`, module by module as the published nn.Sequential lists it."""
    modules: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    channels = {name: (c_in, c_out) for name, c_in, c_out in _conv_channels(last)}
    for name in LAYER_NAMES[: LAYER_NAMES.index(last) + 1]:
        if name.startswith("conv"):
            modules += [nn.ReflectionPad2d(1), nn.Conv2d(*channels[name], 3)]
        elif name.startswith("relu"):
            modules.append(nn.ReLU())
        else:
            modules.append(nn.MaxPool2d(2, 2, ceil_mode=True))
    return modules


def decoder_modules(first: str) -> list[nn.Module]:
    """The mirror of the encoder from `first` back to RGB: each pool becomes a nearest ×2 upsampling."""
    channels = {name: (c_in, c_out) for name, c_in, c_out in _conv_channels(first)}
    layers = [n for n in LAYER_NAMES[: LAYER_NAMES.index(first) + 1] if not n.startswith("relu")][::-1]
    modules: list[nn.Module] = []
    for name in layers:
        if name.startswith("conv"):
            c_in, c_out = channels[name]
            modules += [nn.ReflectionPad2d(1), nn.Conv2d(c_out, c_in, 3)]
            if name != "conv1_1":  # the RGB output has no ReLU
                modules.append(nn.ReLU(inplace=True))
        else:
            modules.append(nn.Upsample(scale_factor=2, mode="nearest"))
    return modules


def encoder_layout(last: str) -> dict[str, torch.Size]:
    """The state dict keys and shapes of the normalised VGG19 up to `last`."""
    with torch.device("meta"):  # shapes only: no memory, no random initialisation
        return {key: value.shape for key, value in nn.Sequential(*encoder_modules(last)).state_dict().items()}


def decoder_layout(first: str) -> dict[str, torch.Size]:
    """The state dict keys and shapes of the decoder from `first`."""
    with torch.device("meta"):
        return {key: value.shape for key, value in nn.Sequential(*decoder_modules(first)).state_dict().items()}


class NormalisedVGG(nn.Sequential):
    """The Torch releases' normalised VGG19 encoder, up to some reluN_1; features() taps any of them on the way."""

    def __init__(self, last: str, source: str = "") -> None:
        super().__init__(*encoder_modules(last))
        self.last = last
        # Identifies the weights in caches of style statistics (file and modification time).
        self.source = source
        # Module index of each named layer: after the 1×1 conv, a conv is two modules (pad, conv).
        self._taps, index = {}, 0
        for name in LAYER_NAMES[: LAYER_NAMES.index(last) + 1]:
            index += 2 if name.startswith("conv") else 1
            self._taps[name] = index
        self.requires_grad_(False)

    def features(self, image: torch.Tensor, layers: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
        """Activations of an RGB 0..1 image at `layers`; computes nothing past the deepest one."""
        unknown = set(layers) - set(self._taps)
        if unknown:
            raise ValueError(f"this encoder stops at {self.last}; it has no {', '.join(sorted(unknown))}")
        wanted = {self._taps[name]: name for name in layers}
        out: dict[str, torch.Tensor] = {}
        x = image.contiguous(memory_format=torch.channels_last)
        for index, module in enumerate(self):
            # In place saves an allocation per layer, unless the convolution's output was asked for.
            x = F.relu(x, inplace=True) if isinstance(module, nn.ReLU) and index - 1 not in wanted else module(x)
            if index in wanted:
                out[wanted[index]] = x
            if len(out) == len(wanted):
                break
        return out


class FeatureDecoder(nn.Sequential):
    """A trained inverse of NormalisedVGG from one layer: features in, RGB 0..1 out.

    `input_scale` multiplies the features first: 1 for the published decoders, 1 / TRAINED_INPUT_RMS for impasto's.
    """

    def __init__(self, first: str, source: str = "", input_scale: float = 1.0) -> None:
        super().__init__(*decoder_modules(first))
        self.first = first
        self.source = source
        self.input_scale = input_scale
        self.requires_grad_(False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return super().forward(features * self.input_scale if self.input_scale != 1.0 else features)


@dataclass(frozen=True)
class Codec:
    """An encoder and the decoder trained to invert its features at `layer`."""

    layer: str
    encoder: NormalisedVGG
    decoder: FeatureDecoder


def _describe(shape: torch.Size | tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape) or "scalar"


def read_state(path: Path, expected: dict[str, torch.Size], what: str, optional: set[str] = frozenset()) -> dict:
    """The state dict in `path`, checked key by key and shape by shape against `expected`.

    Keys in `optional` may be absent (a longer published file may carry layers we do not use) but
    must have the right shape when present. Anything else is refused with a sentence naming the file.
    """
    try:
        raw = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:
        raise InvalidInput(f"cannot read {path} as a PyTorch checkpoint ({what}): {err}") from None
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise InvalidInput(f"{path} is not a state dict of tensors; expected {what}")
    missing = [k for k in expected if k not in raw and k not in optional]
    unexpected = [k for k in raw if k not in expected]
    wrong = [k for k in expected if k in raw and raw[k].shape != expected[k]]
    if missing or unexpected or wrong:
        problems = []
        if missing:
            problems.append(f"it lacks {', '.join(missing[:4])}{' …' if len(missing) > 4 else ''}")
        if unexpected:
            problems.append(f"it has unexpected keys {', '.join(unexpected[:4])}{' …' if len(unexpected) > 4 else ''}")
        for key in wrong[:3]:
            problems.append(f"{key} is {_describe(raw[key].shape)} instead of {_describe(expected[key])}")
        raise InvalidInput(
            f"{path} is not {what} in the published layout: {'; '.join(problems)}. See docs/decoders.md for the "
            f"files each method expects"
        )
    return {k: v.float() for k, v in raw.items() if k in expected}


def load_encoder(path: Path, last: str, file_end: str | None = None) -> NormalisedVGG:
    """A normalised VGG19 up to `last` from a file holding it up to `file_end` (default: `last`)."""
    full = encoder_layout(file_end or last)
    needed = encoder_layout(last)
    state = read_state(path, full, f"a normalised VGG19 encoder up to {file_end or last}", set(full) - set(needed))
    with torch.device("meta"):  # the weights come from the file; skip initialising them
        encoder = NormalisedVGG(last, file_signature(path))
    encoder.load_state_dict({k: v for k, v in state.items() if k in needed}, assign=True)
    return encoder.eval()


def load_decoder(path: Path, first: str) -> FeatureDecoder:
    state = read_state(path, decoder_layout(first), f"a decoder from {first} to RGB")
    with torch.device("meta"):
        decoder = FeatureDecoder(first, file_signature(path))
    decoder.load_state_dict(state, assign=True)
    return decoder.eval()


def adain_files(models_dir: Path | None = None) -> tuple[Path, Path]:
    """Where the AdaIN encoder and decoder go; the port's README spells the encoder 'normalized' too."""
    folder = (models_dir or user_models_dir()) / ADAIN_DIR
    encoder = folder / "vgg_normalised.pth"
    if not encoder.is_file() and (folder / "vgg_normalized.pth").is_file():
        encoder = folder / "vgg_normalized.pth"
    return encoder, folder / "decoder.pth"


def wct_files(level: str, models_dir: Path | None = None) -> tuple[Path, Path]:
    folder = (models_dir or user_models_dir()) / WCT_DIR
    n = level[4]
    return folder / f"vgg_normalised_conv{n}_1.pth", folder / f"feature_invertor_conv{n}_1.pth"


def _pair(encoder: Path, decoder: Path) -> bool:
    """Whether both files are there; one without the other is a mistake worth a clear sentence."""
    if encoder.is_file() and decoder.is_file():
        return True
    if encoder.is_file() or decoder.is_file():
        have, lack = (encoder, decoder) if encoder.is_file() else (decoder, encoder)
        raise InvalidInput(f"{have} is there but {lack.name} is not; add it or remove both (see docs/decoders.md)")
    return False


def find_adain(models_dir: Path | None = None) -> tuple[Path, Path] | None:
    """The AdaIN encoder and decoder files in the models directory, or None when not installed."""
    encoder, decoder = adain_files(models_dir)
    return (encoder, decoder) if _pair(encoder, decoder) else None


def load_adain(models_dir: Path | None = None) -> Codec | None:
    """The published AdaIN encoder (to relu4_1) and decoder, or None when they are not installed."""
    found = find_adain(models_dir)
    if found is None:
        return None
    encoder = load_encoder(found[0], ADAIN_LAYER, ADAIN_ENCODER_FILE_END)
    return Codec(ADAIN_LAYER, encoder, load_decoder(found[1], ADAIN_LAYER))


def find_wct(models_dir: Path | None = None) -> dict[str, tuple[Path, Path]]:
    """The WCT encoder/decoder files present, per level."""
    found = {}
    for level in LEVELS:
        encoder, decoder = wct_files(level, models_dir)
        if _pair(encoder, decoder):
            found[level] = (encoder, decoder)
    return found


def load_wct(models_dir: Path | None = None) -> dict[str, Codec]:
    """The published WCT encoder/decoder pairs present, per level.

    Li et al. train only the decoders, so every level's encoder is a prefix of the same VGG19. When
    the files agree, all levels share the deepest encoder, and a style is encoded once for all of them.
    """
    codecs = {
        level: Codec(level, load_encoder(enc, level), load_decoder(dec, level))
        for level, (enc, dec) in find_wct(models_dir).items()
    }
    if codecs:
        deepest = codecs[max(codecs, key=LEVELS.index)].encoder
        shared = deepest.state_dict()
        for level, codec in list(codecs.items()):
            own = codec.encoder.state_dict()
            if all(torch.equal(value, shared[key]) for key, value in own.items()):
                codecs[level] = Codec(level, deepest, codec.decoder)
    return codecs


def trained_decoder(name: str) -> Path | None:
    """The decoder impasto trained under `name` (impasto train adain-decoder / wct-decoders / swap-decoder)."""
    return locate(TRAINED_KIND, name)


def load_trained_decoder(path: Path, first: str) -> FeatureDecoder:
    """A decoder from `first` that impasto trained against its own VGG19."""
    model = load_model(path, TRAINED_KIND)
    # Decoders trained before the scale was recorded took the features as they come.
    scale = float(model.settings.get("input_scale", 1.0))
    with torch.device("meta"):
        decoder = FeatureDecoder(first, file_signature(path), scale)
    try:
        decoder.load_state_dict({k: v.float() for k, v in model.state.items()}, assign=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:300]
        raise InvalidInput(f"{path} is not a decoder from {first}: {detail}") from None
    return decoder.eval()


def files_signature(paths: list[Path]) -> tuple[str, ...]:
    """What identifies a set of checkpoint files for caching loaded networks: path, time and size."""
    return tuple(file_signature(p) if p.is_file() else f"{p}:absent" for p in paths)
