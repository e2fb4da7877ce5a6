"""Published encoder/decoder checkpoints: both layouts load, mismatched files are refused by name.

The checkpoints here are random networks with the real key names and shapes, saved as the PyTorch
ports save them (plain nn.Sequential state dicts), in a temporary models directory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from impasto.errors import InvalidInput
from impasto.networks import decoders
from impasto_client import Client, ImpastoError

from .conftest import as_array, rgb_image, scene, stripes

# Conv indices of the published files (pytorch-AdaIN's net.py; deep-transfer's per-level modules).
ADAIN_ENCODER_CONVS = (0, 2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51)
ADAIN_DECODER_CONVS = (1, 5, 8, 11, 14, 18, 21, 25, 28)
WCT_DECODER_CONVS = {
    "relu1_1": (1,),
    "relu2_1": (1, 5, 8),
    "relu3_1": (1, 5, 8, 12, 15),
    "relu4_1": ADAIN_DECODER_CONVS,
    "relu5_1": (1, 5, 8, 11, 14, 18, 21, 24, 27, 31, 34, 38, 41),
}


def random_state(layout: dict[str, torch.Size], seed: int) -> dict[str, torch.Tensor]:
    """Random weights in the modules' layout, scaled by fan-in so activations neither vanish nor explode."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in layout.items():
        fan_in = shape[1:].numel() if len(shape) > 1 else 1
        state[key] = torch.randn(shape, generator=generator) * (1.0 / fan_in) ** 0.5
    return state


def save_adain(folder: Path, seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """A random encoder (through relu5_4, as published) and decoder in folder/adain."""
    target = folder / "adain"
    target.mkdir(parents=True, exist_ok=True)
    states = {
        "vgg_normalised.pth": random_state(decoders.encoder_layout("relu5_4"), seed),
        "decoder.pth": random_state(decoders.decoder_layout("relu4_1"), seed + 1),
    }
    for name, state in states.items():
        torch.save(state, target / name)
    return states


def save_wct(folder: Path, shared: bool = True, seed: int = 0) -> None:
    """Random encoders and decoders for the five levels in folder/wct; `shared`: encoders are prefixes of one."""
    target = folder / "wct"
    target.mkdir(parents=True, exist_ok=True)
    deepest = random_state(decoders.encoder_layout("relu5_1"), seed)
    for i, level in enumerate(decoders.LEVELS, start=1):
        keys = decoders.encoder_layout(level)
        encoder = (
            {k: deepest[k] for k in keys} if shared else random_state(decoders.encoder_layout(level), seed + 10 * i)
        )
        torch.save(encoder, target / f"vgg_normalised_conv{i}_1.pth")
        torch.save(random_state(decoders.decoder_layout(level), seed + i), target / f"feature_invertor_conv{i}_1.pth")


def conv_indices(state: dict[str, torch.Tensor]) -> tuple[int, ...]:
    return tuple(sorted({int(k.split(".")[0]) for k in state}))


def test_layouts_have_the_published_keys_and_shapes() -> None:
    encoder = decoders.encoder_layout("relu5_4")
    assert conv_indices(encoder) == ADAIN_ENCODER_CONVS
    assert encoder["0.weight"] == (3, 3, 1, 1) and encoder["29.weight"] == (512, 256, 3, 3)
    decoder = decoders.decoder_layout("relu4_1")
    assert conv_indices(decoder) == ADAIN_DECODER_CONVS
    assert decoder["1.weight"] == (256, 512, 3, 3) and decoder["28.weight"] == (3, 64, 3, 3)
    for level, convs in WCT_DECODER_CONVS.items():
        assert conv_indices(decoders.decoder_layout(level)) == convs
    assert decoders.decoder_layout("relu5_1")["1.weight"] == (512, 512, 3, 3)


def test_adain_layout_loads(tmp_path: Path) -> None:
    states = save_adain(tmp_path)
    codec = decoders.load_adain(tmp_path)
    assert codec is not None and codec.layer == "relu4_1"
    # The encoder keeps the layers up to relu4_1 of the file, exactly.
    for key, value in codec.encoder.state_dict().items():
        assert torch.equal(value, states["vgg_normalised.pth"][key])
    assert conv_indices(codec.encoder.state_dict())[-1] == 29
    for key, value in codec.decoder.state_dict().items():
        assert torch.equal(value, states["decoder.pth"][key])
    image = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        feats = codec.encoder.features(image, ["relu1_1", "relu4_1"])
        out = codec.decoder(feats["relu4_1"])
    assert feats["relu4_1"].shape == (1, 512, 6, 8) and out.shape == (1, 3, 48, 64)
    # relu1_1 is the 1×1 colour conv, a reflection pad, conv1_1 and a ReLU.
    state = states["vgg_normalised.pth"]
    by_hand = F.relu(
        F.conv2d(
            F.pad(F.conv2d(image, state["0.weight"], state["0.bias"]), (1, 1, 1, 1), mode="reflect"),
            state["2.weight"],
            state["2.bias"],
        )
    )
    assert torch.allclose(feats["relu1_1"], by_hand, atol=1e-5)


def test_wct_layout_loads_and_shares_one_encoder(tmp_path: Path) -> None:
    save_wct(tmp_path / "shared", shared=True)
    codecs = decoders.load_wct(tmp_path / "shared")
    assert list(codecs) == list(decoders.LEVELS)
    assert len({id(c.encoder) for c in codecs.values()}) == 1
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for level, codec in codecs.items():
            feats = codec.encoder.features(image, [level])[level]
            assert codec.decoder(feats).shape == image.shape
    save_wct(tmp_path / "separate", shared=False)
    separate = decoders.load_wct(tmp_path / "separate")
    assert len({id(c.encoder) for c in separate.values()}) == 5
    assert separate["relu2_1"].encoder.last == "relu2_1"


def test_mismatched_checkpoints_are_refused_with_the_file_named(tmp_path: Path) -> None:
    states = save_adain(tmp_path)
    path = tmp_path / "adain" / "decoder.pth"

    def refused(state: object, *words: str) -> None:
        torch.save(state, path)
        with pytest.raises(InvalidInput) as info:
            decoders.load_adain(tmp_path)
        for word in (str(path), *words):
            assert word in str(info.value)

    good = states["decoder.pth"]
    refused({**good, "1.weight": torch.zeros(256, 256, 3, 3)}, "1.weight is 256×256×3×3 instead of 256×512×3×3")
    refused({k: v for k, v in good.items() if k != "28.bias"}, "lacks 28.bias")
    refused({**good, "30.weight": torch.zeros(3)}, "unexpected keys 30.weight")
    refused([1, 2, 3], "not a state dict")
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidInput, match="cannot read"):
        decoders.load_adain(tmp_path)
    # The WCT encoder of one level in the file of another.
    save_wct(tmp_path)
    level3 = tmp_path / "wct" / "vgg_normalised_conv3_1.pth"
    torch.save(torch.load(tmp_path / "wct" / "vgg_normalised_conv2_1.pth"), level3)
    with pytest.raises(
        InvalidInput, match=r"vgg_normalised_conv3_1\.pth is not a normalised VGG19 encoder up to relu3_1"
    ):
        decoders.load_wct(tmp_path)


def test_half_a_pair_is_refused(tmp_path: Path) -> None:
    save_adain(tmp_path)
    (tmp_path / "adain" / "decoder.pth").unlink()
    with pytest.raises(InvalidInput, match=r"decoder\.pth is not"):
        decoders.find_adain(tmp_path)
    assert decoders.find_wct(tmp_path) == {}


def test_daemon_uses_the_installed_decoder(client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPASTO_MODELS_DIR", str(tmp_path))
    content, style = rgb_image(scene(40, 56)), rgb_image(stripes(40, 40))
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, [style], method="adain", params={"decoder": "network"}).result()
    assert info.value.code == "INVALID_ARGUMENT" and "docs/decoders.md" in info.value.message
    save_adain(tmp_path)
    stages = []
    result = client.stylize(content, [style], method="adain", params={"size": 64}).result(
        lambda e: stages.append((e.stage, e.step, e.total)) if e.kind == "progress" else None
    )
    # One decoder pass, not an optimisation; the result comes back at the layer's size.
    assert stages[-1] == ("decoding", 1, 1)
    assert (result.width, result.height) == (56, 40)
    assert not np.array_equal(as_array(result), scene(40, 56))
    torch.save({"1.weight": torch.zeros(1)}, tmp_path / "adain" / "decoder.pth")
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, [style], method="adain").result()
    assert info.value.code == "INVALID_ARGUMENT" and "decoder.pth" in info.value.message
