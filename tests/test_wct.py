"""WCT: whitening gives identity covariance, colouring the style's; the method runs coarse to fine
through the daemon, by feature inversion and with decoders in the published layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from impasto.networks.vgg import load_vgg19
from impasto.numerics.feature_stats import colour, matrix_powers, moments, wct, whiten
from impasto_client import Client, ImpastoError

from .conftest import as_array, region_pair, rgb_image, scene, stripes
from .test_decoders import save_wct

FAST = {"size": 32, "steps": 4, "decoder": "optimise"}
LEVELS_COARSE_TO_FINE = ["relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1"]


def correlated(channels: int, positions: int, seed: int) -> torch.Tensor:
    """[1,C,H,W] features with a random full-rank covariance and a non-zero mean."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(channels, channels, generator=g) + 3 * torch.eye(channels)
    flat = mixing @ torch.randn(channels, positions, generator=g) + torch.randn(channels, 1, generator=g) * 3
    return flat.reshape(1, channels, positions // 8, 8)


def covariance(features: torch.Tensor) -> torch.Tensor:
    return moments(features).cov


def test_whitened_features_have_identity_covariance() -> None:
    f = correlated(16, 800, seed=0)
    white = whiten(f)
    assert torch.allclose(covariance(white), torch.eye(16, dtype=torch.float64), atol=1e-3)
    assert moments(white).mean.abs().max() < 1e-4


def test_coloured_features_have_the_style_covariance_and_mean() -> None:
    content, style = correlated(16, 800, seed=1), correlated(16, 400, seed=2)
    target = moments(style)
    out = colour(whiten(content), target)
    assert torch.allclose(covariance(out), target.cov, rtol=1e-3, atol=1e-3 * float(target.cov.abs().max()))
    assert torch.allclose(moments(out).mean, target.mean, atol=1e-4)
    # wct() batches the same transform, and blends styles linearly in the colouring.
    assert torch.allclose(wct(content, [target], [1.0]), out, rtol=1e-4, atol=1e-3)
    other = moments(correlated(16, 400, seed=3))
    half = wct(content, [target, other], [1.0, 1.0])
    both = (out + colour(whiten(content), other)) / 2
    assert torch.allclose(half, both, rtol=1e-4, atol=1e-3)


def test_rank_deficient_covariances_stay_finite() -> None:
    # relu5_1 of a 64 px picture: 16 positions for 512 channels, and dead channels besides.
    vgg = load_vgg19()
    with torch.no_grad():
        content = vgg(torch.rand(1, 3, 64, 64), ["relu5_1"])["relu5_1"]
        style = vgg(torch.rand(1, 3, 64, 64), ["relu5_1"])["relu5_1"]
    out = wct(content, [moments(style)], [1.0])
    assert torch.isfinite(out).all()
    # The colouring lies within the style's span: its covariance never exceeds the style's.
    target = moments(style).cov
    assert float(torch.linalg.matrix_norm(covariance(out) - target)) <= float(torch.linalg.matrix_norm(target))
    powers = matrix_powers(torch.stack([target, target]), [-0.5, 0.5])
    assert torch.isfinite(powers).all()


def test_level_alpha_is_checked(client: Client) -> None:
    content, style = rgb_image(scene(32, 32)), [rgb_image(stripes(32, 32))]
    for spec, words in (("relu3_2:1", "not a WCT level"), ("relu1_1:2", "between 0 and 1"), ("relu9_1", "not a VGG19")):
        with pytest.raises(ImpastoError) as info:
            client.stylize(content, style, method="wct", params={**FAST, "level_alpha": spec}).result()
        assert info.value.code == "INVALID_ARGUMENT" and words in info.value.message


def gram_distance(vgg, a: np.ndarray, b: np.ndarray) -> float:
    def grams(array: np.ndarray) -> list[torch.Tensor]:
        x = torch.from_numpy(array.astype(np.float32) / 255).permute(2, 0, 1)[None]
        with torch.no_grad():
            feats = vgg(x, ["relu1_1", "relu2_1", "relu3_1"])
        return [moments(f).cov for f in feats.values()]

    return sum(float((ga - gb).square().mean()) for ga, gb in zip(grams(a), grams(b), strict=True))


def test_fallback_runs_coarse_to_fine_toward_the_style(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPASTO_MODELS_DIR", str(tmp_path))  # no decoders installed
    content, style = scene(32, 32), stripes(32, 32)
    stages: list[str] = []
    result = client.stylize(rgb_image(content), [rgb_image(style)], method="wct", params={**FAST, "alpha": 1.0}).result(
        lambda e: stages.append(e.stage) if e.kind == "progress" and e.stage != "encoding" else None
    )
    assert list(dict.fromkeys(s.split(":")[0] for s in stages)) == LEVELS_COARSE_TO_FINE
    assert len(stages) == 5 * FAST["steps"]
    vgg = load_vgg19()
    assert gram_distance(vgg, as_array(result), style) < 0.5 * gram_distance(vgg, content, style)
    # A level at alpha 0 is skipped.
    stages.clear()
    client.stylize(
        rgb_image(content), [rgb_image(style)], method="wct", params={**FAST, "level_alpha": "relu5_1:0,relu4_1:0"}
    ).result(lambda e: stages.append(e.stage) if e.kind == "progress" and e.stage != "encoding" else None)
    assert list(dict.fromkeys(s.split(":")[0] for s in stages)) == LEVELS_COARSE_TO_FINE[2:]


def test_runs_with_decoders_in_the_published_layout(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_wct(tmp_path)
    monkeypatch.setenv("IMPASTO_MODELS_DIR", str(tmp_path))
    events = []
    content = scene(40, 56)
    result = client.stylize(
        rgb_image(content), [rgb_image(stripes(48, 48))], method="wct", params={"size": 64, "decoder": "network"}
    ).result(lambda e: events.append((e.stage, e.step, e.total)) if e.kind == "progress" else None)
    # One decoder pass per level, coarse to fine.
    assert [e for e in events if e[0] != "encoding"] == [
        (f"{level}: decoding", i, 5) for i, level in enumerate(LEVELS_COARSE_TO_FINE, start=1)
    ]
    assert (result.width, result.height) == (56, 40)
    assert not np.array_equal(as_array(result), content)


def test_label_maps_pair_regions_and_masks_keep_the_rest(client: Client) -> None:
    grey, style, top_white, left_white = region_pair(48)
    params = {**FAST, "size": 48, "alpha": 1.0}
    out = as_array(
        client.stylize(
            rgb_image(grey),
            [style],
            method="wct",
            params=params,
            content_labels=rgb_image(top_white),
            style_labels=[rgb_image(left_white)],
        ).result()
    ).astype(float)
    # The top takes the (red) left of the style, the bottom its (blue) right.
    top, bottom = out[:24].reshape(-1, 3).mean(0), out[24:].reshape(-1, 3).mean(0)
    assert top[0] - top[2] > 60 and bottom[2] - bottom[0] > 60
    mask = np.zeros((48, 48, 1), np.uint8)
    mask[8:30, 10:40] = 255
    job = client.stylize(rgb_image(grey), [style], method="wct", params=params, mask=rgb_image(mask))
    masked = as_array(job.result())
    outside = mask[..., 0] == 0
    assert np.array_equal(masked[outside], grey[outside])
    assert np.abs(masked[~outside].astype(int) - grey[~outside]).mean() > 10
