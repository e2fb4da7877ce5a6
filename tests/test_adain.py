"""AdaIN: the transform gives the style's channel statistics; through the daemon it stylizes, blends and masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from impasto.methods.base import Regions
from impasto.methods.feature_codec import spatial_transfer
from impasto.networks.vgg import load_vgg19
from impasto.numerics.feature_stats import adain, channel_stats
from impasto_client import Client

from .conftest import as_array, region_pair, rgb_image, scene, stripes

FAST = {"size": 48, "steps": 25, "decoder": "optimise"}


@pytest.fixture(scope="module")
def vgg():
    return load_vgg19()


@pytest.fixture(autouse=True)
def _no_installed_decoders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 'auto' must not pick up a decoder from the developer's own models folder.
    monkeypatch.setenv("IMPASTO_MODELS_DIR", str(tmp_path))


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array[..., :3].astype(np.float32) / 255.0).permute(2, 0, 1)[None]


def features(vgg, array: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return vgg(to_tensor(array), ["relu4_1"])["relu4_1"]


def test_adain_gives_the_style_channel_mean_and_std(vgg) -> None:
    content, style = features(vgg, scene(64, 64)), features(vgg, stripes(64, 64, period=16))
    target = channel_stats(style)
    out = channel_stats(adain(content, target))
    # A channel dead in the content (all zeros after the ReLU) has no spread to rescale.
    live = (target.std.flatten() > 1.0) & (channel_stats(content).std.flatten() > 1.0)
    assert live.sum() > 100
    assert torch.allclose(out.mean, target.mean, atol=1e-3)
    assert torch.allclose(out.std.flatten()[live], target.std.flatten()[live], rtol=1e-3)
    before = channel_stats(content)
    assert (before.mean - target.mean).abs().mean() > 10 * (out.mean - target.mean).abs().mean()


def test_adain_over_a_selection_uses_the_selection_statistics(vgg) -> None:
    content, style = features(vgg, scene(64, 64)), features(vgg, stripes(64, 64))
    weight = torch.zeros(1, 1, 64, 64)
    weight[..., :, 32:] = 1.0
    out = adain(content, channel_stats(style), weight)
    inside = channel_stats(out[..., :, 4:])  # relu4_1 is 8 wide: its right half is the selection
    assert torch.allclose(inside.mean, channel_stats(style).mean, atol=1e-2)


def test_alpha_interpolates_in_feature_space(client: Client, vgg) -> None:
    content, style = scene(48, 48), [rgb_image(stripes(48, 48))]
    # Without the fallback's style term, its loss is the relu4_1 inversion's alone.
    params = {**FAST, "tv_weight": 0.0, "steps": 2, "style_weight": 0.0}

    def run(alpha: float, **more: float) -> tuple[float, np.ndarray]:
        losses = []
        chosen = {**params, "alpha": alpha, **more}
        result = client.stylize(rgb_image(content), style, method="adain", params=chosen).result(
            lambda e: losses.append(e.loss) if e.kind == "progress" and e.stage == "optimising" else None
        )
        return losses[0], as_array(result)

    # The first loss is the inversion's error at the content, relative to the target: 0 for alpha=0 (the
    # target is the content's own features), and for other alphas that of alpha·AdaIN + (1-alpha)·content.
    c = features(vgg, content)
    t = adain(c, channel_stats(features(vgg, stripes(48, 48))))

    def expected(alpha: float) -> float:
        target = torch.lerp(c, t, alpha)
        return float((target - c).square().mean() / target.square().mean())

    for more in ({}, {"style_weight": 10.0}):  # alpha 0 is the content, with or without the style term
        zero, same = run(0.0, **more)
        assert zero < 1e-4 and np.abs(same.astype(int) - content).max() <= 2
    for alpha in (0.5, 1.0):
        assert run(alpha)[0] == pytest.approx(expected(alpha), rel=0.05)


def test_result_moves_toward_the_style(client: Client, vgg) -> None:
    content, style = scene(48, 48), stripes(48, 48)
    losses = []
    result = client.stylize(rgb_image(content), [rgb_image(style)], method="adain", params=FAST).result(
        lambda e: losses.append(e.loss) if e.kind == "progress" and e.stage == "optimising" else None
    )
    assert len(losses) == FAST["steps"] and losses[-1] < 0.5 * losses[0]
    target = channel_stats(features(vgg, style)).mean

    def distance(array: np.ndarray) -> float:
        return float((channel_stats(features(vgg, array)).mean - target).abs().mean())

    assert distance(as_array(result)) < 0.5 * distance(content)


def test_mask_keeps_unselected_pixels_identical(client: Client) -> None:
    content = scene(48, 64)
    mask = np.zeros((48, 64, 1), np.uint8)
    mask[10:34, 20:50] = 255
    out = as_array(
        client.stylize(
            rgb_image(content), [rgb_image(stripes())], method="adain", mask=rgb_image(mask), params=FAST
        ).result()
    )
    outside = mask[..., 0] == 0
    assert np.array_equal(out[outside], content[outside])
    assert np.abs(out[~outside].astype(int) - content[~outside]).mean() > 10


def test_blends_several_styles(client: Client) -> None:
    # Red and blue with the same grain: relu4_1 sees a flat colour too faintly to carry its hue.
    grain = np.random.default_rng(0).integers(0, 60, (48, 48, 1))
    red, blue = np.zeros((48, 48, 3)), np.zeros((48, 48, 3))
    red[..., 0], blue[..., 2] = 184, 184
    red, blue = (red + grain).astype(np.uint8), (blue + grain).astype(np.uint8)
    content = rgb_image(scene(48, 48))

    def red_minus_blue(styles) -> float:
        rgb = as_array(client.stylize(content, styles, method="adain", params=FAST).result()).reshape(-1, 3).mean(0)
        return float(rgb[0]) - float(rgb[2])

    mostly_red = red_minus_blue([(rgb_image(red), 0.9), (rgb_image(blue), 0.1)])
    mostly_blue = red_minus_blue([(rgb_image(red), 0.1), (rgb_image(blue), 0.9)])
    assert mostly_red > mostly_blue + 15


def test_regions_take_their_partner_region_statistics(vgg) -> None:
    content = features(vgg, scene(64, 64))
    style = features(vgg, np.concatenate([stripes(64, 32), scene(64, 32, seed=3)], 1))
    # Content region 0 is the top half, 1 the bottom; their partners are the style's right and left halves.
    regions = torch.zeros(1, 2, 64, 64)
    regions[:, 0, :32], regions[:, 1, 32:] = 1.0, 1.0
    guides = torch.zeros(1, 2, 64, 64)
    guides[:, 0, :, 32:], guides[:, 1, :, :32] = 1.0, 1.0

    def transfer(weight: torch.Tensor | None, region: int | None) -> torch.Tensor:
        assert region is not None  # the regions cover everything: no whole-style rest
        return adain(content, channel_stats(style, guides[:, region : region + 1]), weight)

    out = spatial_transfer(content, transfer, None, Regions(["top", "bottom"], regions))
    top, bottom = channel_stats(out[..., :4, :]), channel_stats(out[..., 4:, :])
    assert torch.allclose(top.mean, channel_stats(style[..., 4:]).mean, atol=1e-2)
    assert torch.allclose(bottom.mean, channel_stats(style[..., :4]).mean, atol=1e-2)


def test_label_maps_pair_regions(client: Client) -> None:
    grey, style, top_white, left_white = region_pair(48)

    def top_minus_bottom_redness(**labels) -> float:
        out = as_array(client.stylize(rgb_image(grey), [style], method="adain", params=FAST, **labels).result())
        redness = out[..., 0].astype(float) - out[..., 2]
        return float(redness[:24].mean() - redness[24:].mean())

    # The top takes the (red) left of the style, the bottom its (blue) right; the other way round when the style's
    # labels are. (Without labels the fallback's style term may gather either colour anywhere: not a test of pairs.)
    paired = top_minus_bottom_redness(content_labels=rgb_image(top_white), style_labels=[rgb_image(left_white)])
    swapped = top_minus_bottom_redness(content_labels=rgb_image(top_white), style_labels=[rgb_image(255 - left_white)])
    assert paired > 40 and swapped < -40


def test_the_decoder_free_fallback_carries_the_style_palette_to_flat_areas(client: Client) -> None:
    """Issue 20: inverting relu4_1 alone turned flat areas into a pale, pearly lattice; the style's colours (a navy
    ground, bright strokes) never arrived. The fallback's style term (the decoder's own training loss) brings them."""
    from benchmarks.measures import dominant_colours, palette_distance
    from benchmarks.pictures import strokes

    rng = np.random.default_rng(0)
    flat = np.clip(205 + 3 * rng.standard_normal((64, 64, 3)), 0, 255).astype(np.uint8)
    style = strokes(64, 64, seed=5)
    palette = dominant_colours(to_tensor(style))

    def distance(**more: float) -> float:
        params = {**FAST, "size": 64, "steps": 60, **more}
        out = client.stylize(rgb_image(flat), [rgb_image(style)], method="adain", params=params).result()
        return palette_distance(to_tensor(as_array(out)), palette)

    assert distance() < 0.6 * distance(style_weight=0.0)
