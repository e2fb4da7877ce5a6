"""Style swap: the patch search equals a brute-force one, a style swapped with itself is itself,
and through the daemon the inversion of the swapped features converges."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from impasto.networks.vgg import load_vgg19
from impasto.numerics.patches import best_matches, extract_patches, grid_size, style_swap
from impasto_client import Client, ImpastoError

from .conftest import as_array, rgb_image, scene, stripes


def brute_force(content: torch.Tensor, style: torch.Tensor, k: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices by looping over every pair of patches, and the paper's one-hot transposed convolution."""
    _, _, h, w = content.shape
    style_patches = [
        style[0, :, i : i + k, j : j + k]
        for i in range(0, style.shape[2] - k + 1, stride)
        for j in range(0, style.shape[3] - k + 1, stride)
    ]
    gh, gw = grid_size(h, w, k, stride)
    indices = torch.zeros(gh, gw, dtype=torch.long)
    for y in range(gh):
        for x in range(gw):
            patch = content[0, :, y * stride : y * stride + k, x * stride : x * stride + k]
            scores = [float((patch * s).sum() / s.norm()) for s in style_patches]
            indices[y, x] = int(np.argmax(scores))
    one_hot = F.one_hot(indices, len(style_patches)).permute(2, 0, 1)[None].float()
    weights = torch.stack(style_patches)
    summed = F.conv_transpose2d(one_hot, weights, stride=stride)
    count = F.conv_transpose2d(torch.ones(1, 1, gh, gw), torch.ones(1, 1, k, k), stride=stride)
    return indices, summed / count


@pytest.mark.parametrize(("k", "stride", "chunk"), [(3, 1, None), (3, 1, 7), (2, 2, 5), (1, 1, 3)])
def test_matches_a_brute_force_search(k: int, stride: int, chunk: int | None) -> None:
    g = torch.Generator().manual_seed(k * 10 + stride)
    content, style = torch.randn(1, 5, 8, 9, generator=g), torch.randn(1, 5, 7, 6, generator=g)
    expected_indices, expected = brute_force(content, style, k, stride)
    patches = extract_patches(style, k, stride)
    assert torch.equal(best_matches(content, patches, stride, chunk), expected_indices)
    swapped = style_swap(content, style, k, stride, chunk)
    h, w = expected.shape[-2:]
    assert torch.allclose(swapped[..., :h, :w], expected, atol=1e-5)
    # What no patch covers (a stride that does not tile the map) keeps the content.
    assert torch.equal(swapped[..., h:, :], content[..., h:, :]) and torch.equal(swapped[..., w:], content[..., w:])


def test_progress_runs_per_chunk() -> None:
    content, style = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6)
    seen = []
    style_swap(content, style, 3, 1, chunk=5, on_chunk=lambda done, total: seen.append((done, total)))
    assert seen == [(5, 16), (10, 16), (15, 16), (16, 16)]


def test_a_style_swapped_with_itself_is_itself() -> None:
    vgg = load_vgg19()
    picture = torch.from_numpy(stripes(48, 48, period=12).astype(np.float32) / 255).permute(2, 0, 1)[None]
    picture = picture + 0.05 * torch.rand(picture.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = vgg(picture, ["relu3_1"])["relu3_1"]
    assert torch.allclose(style_swap(features, features), features, rtol=1e-4, atol=1e-3)


def test_style_as_content_comes_back_nearly_unchanged(client: Client) -> None:
    style = stripes(48, 48, period=12)
    result = client.stylize(
        rgb_image(style),
        [rgb_image(style)],
        method="swap",
        params={"size": 48, "steps": 10, "tv_weight": 0.0, "decoder": "optimise"},
    ).result()
    # Every patch finds itself, so the inversion starts at its optimum and stays there.
    assert np.abs(as_array(result).astype(int) - style).mean() < 2


def test_inversion_loss_decreases_toward_the_swapped_features(client: Client) -> None:
    content, style = scene(48, 48), stripes(48, 48)
    losses, stages = [], set()

    def on_event(e) -> None:
        if e.kind == "progress":
            stages.add(e.stage.split(" (")[0])
            if e.stage == "inverting":
                losses.append(e.loss)

    result = client.stylize(
        rgb_image(content), [rgb_image(style)], method="swap", params={"size": 48, "steps": 20, "decoder": "optimise"}
    ).result(on_event)
    assert stages == {"matching patches", "inverting"}
    assert len(losses) == 20 and losses[-1] < 0.5 * losses[0]
    assert np.abs(as_array(result).astype(int) - content).mean() > 10


def test_bad_patch_settings_are_refused(client: Client) -> None:
    content, style = rgb_image(scene(32, 32)), [rgb_image(stripes(32, 32))]
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, style, method="swap", params={"patch_size": 3, "stride": 4}).result()
    assert info.value.code == "INVALID_ARGUMENT" and "stride" in info.value.message
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, style, method="swap", params={"layer": "relu5_1", "patch_size": 9}).result()
    assert info.value.code == "INVALID_ARGUMENT" and "too small" in info.value.message
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, [*style, *style], method="swap").result()
    assert info.value.code == "INVALID_ARGUMENT"
