"""VGG19: packaged weights verified by hash, user checkpoints in both published layouts, lazy depth."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from impasto.networks.vgg import _TORCHVISION_INDEX, CONV_NAMES, load_vgg19
from impasto.runtime import weights


def test_packaged_weights_are_verified() -> None:
    path = weights.verified_path("vgg19")
    assert weights.sha256_file(path) == weights.manifest()["vgg19"].sha256


def test_corrupt_weights_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = weights.manifest()["vgg19"]
    monkeypatch.setitem(
        weights.manifest(), "broken", weights.ModelEntry(**{**entry.__dict__, "id": "broken", "sha256": "0" * 64})
    )
    with pytest.raises(weights.WeightsError, match="corrupt or a different version"):
        weights.verified_path("broken")


def test_user_checkpoints_in_both_layouts_load(tmp_path: Path) -> None:
    reference = load_vgg19()
    state = {k.removeprefix("convs."): v for k, v in reference.state_dict().items()}
    image = torch.rand(1, 3, 40, 40)
    expected = reference(image, ["relu3_1"])["relu3_1"]

    caffe_dir = tmp_path / "caffe"
    caffe_dir.mkdir()
    torch.save(state, caffe_dir / "vgg19_caffe.pth")
    got = load_vgg19(models_dir=caffe_dir)
    assert got.preprocessing == "caffe"
    assert torch.allclose(got(image, ["relu3_1"])["relu3_1"], expected)

    tv_dir = tmp_path / "torchvision"
    tv_dir.mkdir()
    tv_state = {
        f"features.{_TORCHVISION_INDEX[c]}.{p}": state[f"{c}.{p}"] for c in CONV_NAMES for p in ("weight", "bias")
    }
    torch.save(tv_state, tv_dir / "vgg19.pth")
    got = load_vgg19(models_dir=tv_dir)
    assert got.preprocessing == "torchvision"
    for conv in CONV_NAMES:
        assert torch.equal(got.convs[conv].weight, reference.convs[conv].weight)


def test_a_checkpoint_of_another_network_is_refused(tmp_path: Path) -> None:
    torch.save({"conv1_1.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "vgg19_caffe.pth")
    with pytest.raises(weights.WeightsError, match="no weights for conv1_1"):
        load_vgg19(models_dir=tmp_path)
    torch.save(
        {f"{c}.{p}": torch.zeros(2) for c in CONV_NAMES for p in ("weight", "bias")}, tmp_path / "vgg19_caffe.pth"
    )
    with pytest.raises(weights.WeightsError, match="do not fit"):
        load_vgg19(models_dir=tmp_path)


def test_features_stop_at_the_deepest_layer_asked_for() -> None:
    vgg = load_vgg19()
    ran = []
    hooks = [vgg.convs[c].register_forward_hook(lambda m, i, o, c=c: ran.append(c)) for c in CONV_NAMES]
    out = vgg(torch.rand(1, 3, 32, 32), ["relu2_1"])
    for h in hooks:
        h.remove()
    assert list(out) == ["relu2_1"] and out["relu2_1"].shape == (1, 128, 16, 16)
    assert ran == ["conv1_1", "conv1_2", "conv2_1"]


def test_caffe_preprocessing_round_trips() -> None:
    vgg = load_vgg19()
    image = torch.rand(1, 3, 8, 8)
    x = vgg.preprocess(image)
    assert torch.allclose(x[:, 0], image[:, 2] * 255 - 103.939, atol=1e-4)  # BGR order, 0-255, mean removed
    assert torch.allclose(vgg.deprocess(x), image, atol=1e-5)
