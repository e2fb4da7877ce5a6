"""CNNMRF through the daemon at tiny sizes, and its patch loss and semantic matching on their own."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from impasto.losses.mrf import MRFLoss, augment_with_guides, feature_scale, patch_weights
from impasto.methods.mrf import rotate_and_crop
from impasto.networks.vgg import VGG19, load_vgg19
from impasto.numerics.patches import best_matches, extract_patches
from impasto_client import Client, ImpastoError

from .conftest import as_array, rgb_image, scene, stripes

FAST = {"size": 64, "steps": 15, "coarse_steps": 0}


@cache
def vgg19() -> VGG19:
    return load_vgg19()


def style_patch_distance(array: np.ndarray, style: np.ndarray) -> float:
    """How far a picture's relu3_1 patches are from their nearest patches of the style."""
    vgg = vgg19()
    with torch.no_grad():
        mine, theirs = (vgg(to_tensor(a), ["relu3_1"])["relu3_1"] for a in (array, style))
    patches = extract_patches(theirs, 3, 1)
    return float(MRFLoss(patches, patches)(mine))


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array[..., :3]).astype(np.float32) / 255).permute(2, 0, 1)[None]


def test_loss_decreases_and_the_picture_takes_the_style_patches(client: Client) -> None:
    content, style = scene(64, 64), stripes(64, 64)
    losses: list[float] = []
    result = client.stylize(rgb_image(content), [rgb_image(style)], method="mrf", params=FAST).result(
        lambda e: losses.append(e.loss) if e.kind == "progress" else None
    )
    assert len(losses) == 15
    assert losses[-1] < 0.6 * losses[0]
    out = as_array(result)
    assert out.shape == content.shape
    assert style_patch_distance(out, style) < 0.6 * style_patch_distance(content, style)


def test_the_style_as_content_comes_back_nearly_unchanged(client: Client) -> None:
    picture = scene(64, 64)
    # Without the smoothness term nothing pulls away: every patch already is its own nearest style patch.
    params = {**FAST, "tv_weight": 0}
    result = client.stylize(rgb_image(picture), [rgb_image(picture)], method="mrf", params=params).result()
    assert np.abs(as_array(result).astype(float) - picture).mean() < 1  # of 255


def test_rotated_and_scaled_style_copies_run(client: Client) -> None:
    params = {"size": 48, "steps": 3, "coarse_steps": 0, "rotations": "-20,0,20", "scales": "0.8,1"}
    result = client.stylize(rgb_image(scene(48, 48)), [rgb_image(stripes(48, 48))], method="mrf", params=params)
    assert result.result().width == 48


def test_rotate_and_crop_keeps_only_the_picture() -> None:
    picture = torch.rand(1, 3, 40, 60)
    turned = rotate_and_crop(picture, 30)
    assert turned.shape[-1] < 60 and turned.shape[-1] / turned.shape[-2] == pytest.approx(1.5, rel=0.05)
    # Every kept pixel was sampled from inside the picture: turning an all-ones image with zeros
    # outside (grid_sample's default) would show any corner that reached outside.
    ones = torch.ones(1, 1, 40, 60)
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    matrix = torch.tensor([[c, -s * 40 / 60, 0], [s * 60 / 40, c, 0]], dtype=torch.float32)
    grid = F.affine_grid(matrix[None], [1, 1, 40, 60], align_corners=False)
    full = F.grid_sample(ones, grid, align_corners=False)
    h, w = turned.shape[-2:]
    top, left = (40 - h) // 2, (60 - w) // 2
    assert float(full[..., top + 1 : top + h - 1, left + 1 : left + w - 1].min()) > 0.99


@pytest.mark.parametrize(
    ("size", "params", "sentence"),
    [
        (12, {"size": 12, "steps": 1, "coarse_steps": 0}, "too small for 3x3 patches at relu4_1"),
        (64, {"size": 64, "rotations": "0,400"}, "parameter 'rotations': 400 is outside -180..180"),
    ],
)
def test_bad_input_is_explained(client: Client, size: int, params: dict, sentence: str) -> None:
    with pytest.raises(ImpastoError) as info:
        client.stylize(
            rgb_image(scene(size, size)), [rgb_image(stripes(size, size))], method="mrf", params=params
        ).result()
    assert info.value.code == "INVALID_ARGUMENT"
    assert sentence in info.value.message


def test_loss_is_the_weighted_patch_distance_and_ignores_unselected_patches() -> None:
    g = torch.Generator().manual_seed(0)
    style = torch.rand(1, 6, 9, 9, generator=g)
    x = torch.rand(1, 6, 11, 11, generator=g, requires_grad=True)
    targets = extract_patches(style, 3, 2)
    coverage = torch.zeros(1, 1, 11, 11)
    coverage[..., :, :5] = 1.0  # only the left part is selected
    weights = patch_weights(coverage, 3, 2)
    loss = MRFLoss(targets, targets, stride=2, weights=weights)
    value = loss(x)
    # The same sum written out patch by patch.
    nearest = best_matches(x.detach(), targets, 2).flatten()
    mine = extract_patches(x, 3, 2)
    naive = (weights.view(-1, 1, 1, 1) * (mine - targets[nearest]).square()).sum() / (weights.sum() * 6 * 9)
    naive = naive / targets.square().mean()  # relative to the style's mean square
    assert value.item() == pytest.approx(naive.item(), rel=1e-4)
    value.backward()
    assert x.grad is not None
    assert float(x.grad[..., :, 7:].abs().max()) == 0.0  # no selected patch reaches past column 6
    assert float(x.grad[..., :, :5].abs().max()) > 0.0


def test_guides_make_each_region_match_only_its_partner_region() -> None:
    g = torch.Generator().manual_seed(1)
    style = torch.rand(1, 16, 8, 16, generator=g)
    # The content holds the style's right half on its left and its left half on its right, so by
    # features alone each content patch's best match lies in the other region.
    content = torch.cat([style[..., 8:], style[..., :8]], dim=-1)
    left = torch.zeros(1, 2, 8, 16)
    left[:, 0, :, :8], left[:, 1, :, 8:] = 1.0, 1.0  # region 0 on the left, region 1 on the right
    style_region = extract_patches(left[:, 1:], 3, 1).flatten(1).mean(1).round()  # region of each style patch
    content_region = extract_patches(left[:, 1:], 3, 1).flatten(1).mean(1).round().view(6, 14)
    inside = (extract_patches(left[:, 1:], 3, 1).flatten(1).std(1) == 0).view(6, 14)  # patches within one region

    plain = best_matches(content, extract_patches(style, 3, 1))
    assert float((style_region[plain][inside] != content_region[inside]).float().mean()) > 0.9

    weight = 10 * feature_scale(style)
    bank = extract_patches(augment_with_guides(style, left, weight), 3, 1)
    guided = best_matches(augment_with_guides(content, left, weight), bank)
    assert bool((style_region[guided][inside] == content_region[inside]).all())


def test_region_labels_pair_regions_through_the_daemon(client: Client) -> None:
    h = w = 48
    rng = np.random.default_rng(0)
    grey = (np.clip(0.5 + 0.15 * rng.standard_normal((h, w, 1)), 0, 1).repeat(3, -1) * 255).astype(np.uint8)
    red, blue = np.array([200, 40, 30]), np.array([30, 60, 200])
    style = np.clip(np.where(np.arange(w)[None, :, None] < w // 2, red, blue) + rng.normal(0, 30, (h, w, 1)), 0, 255)
    top = np.where((np.arange(h) < h // 2)[:, None, None], 255, 0).repeat(w, 1).repeat(3, 2).astype(np.uint8)
    left = np.where((np.arange(w) < w // 2)[None, :, None], 255, 0).repeat(h, 0).repeat(3, 2).astype(np.uint8)

    def redder_on_top(**labels: object) -> float:
        """How much redder (along blue→red) the top half comes out than the bottom half."""
        result = client.stylize(
            rgb_image(grey),
            [rgb_image(style.astype(np.uint8))],
            method="mrf",
            params={"size": 48, "steps": 20, "coarse_steps": 0, "content_weight": 0.1},
            **labels,
        ).result()
        out = as_array(result).astype(float)
        upper, lower = out[: h // 2].reshape(-1, 3).mean(0), out[h // 2 :].reshape(-1, 3).mean(0)
        return float((upper - lower) @ (red - blue) / np.linalg.norm(red - blue))

    # The top (white label) takes the red half's patches and the bottom the blue half's; without
    # labels both halves draw on the whole style alike.
    labelled = redder_on_top(content_labels=rgb_image(top), style_labels=[rgb_image(left)])
    assert labelled > 20
    assert abs(redder_on_top()) < 0.3 * labelled
