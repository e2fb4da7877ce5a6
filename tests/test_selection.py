"""Selections as masks: outside untouched bit for bit, soft edges blended, alpha kept, small objects cropped."""

from __future__ import annotations

import numpy as np
import torch

from impasto.imaging.masks import blend, work_region
from impasto_client import Client, Image, Layout, SampleType

from .conftest import as_array, rgb_image, scene, stripes

QUICK = {"size": 0, "steps": 15, "coarse_steps": 0}


def mask_image(mask: np.ndarray) -> Image:
    return Image(mask.shape[1], mask.shape[0], Layout.GRAY, SampleType.UINT8, mask.astype(np.uint8).tobytes())


def test_outside_is_bit_identical_and_soft_edges_blend(client: Client) -> None:
    h, w = 48, 96
    rng = np.random.default_rng(0)
    content = np.concatenate([scene(h, w), rng.integers(1, 255, (h, w, 1))], -1).astype(np.uint8)  # RGBA
    mask = np.zeros((h, w), np.uint8)
    mask[8:40, 20:44] = 255  # fully selected
    mask[8:40, 44:68] = 128  # feathered half
    result = as_array(
        client.stylize(rgb_image(content), [rgb_image(stripes())], mask=mask_image(mask), params=QUICK).result()
    )
    outside = mask == 0
    assert np.array_equal(result[outside], content[outside])
    assert np.array_equal(result[..., 3], content[..., 3]), "alpha must be preserved"
    full = np.abs(result[mask == 255][:, :3].astype(int) - content[mask == 255][:, :3]).mean()
    half = np.abs(result[mask == 128][:, :3].astype(int) - content[mask == 128][:, :3]).mean()
    assert full > 10
    assert 0.2 * full < half < 0.8 * full


def test_empty_selection_changes_nothing(client: Client) -> None:
    content = rgb_image(scene(32, 32))
    result = client.stylize(content, [rgb_image(stripes())], mask=mask_image(np.zeros((32, 32))), params=QUICK).result()
    assert result.data == content.data


def test_small_object_in_a_big_layer_is_processed_around_itself(client: Client) -> None:
    """A 12 px object in a 400 px layer is stylized at its own scale, not shrunk with the whole layer."""
    content = scene(300, 400)
    mask = np.zeros((300, 400), np.uint8)
    mask[150:162, 200:212] = 255
    stages = set()
    result = client.stylize(
        rgb_image(content),
        [rgb_image(stripes(32, 32))],
        mask=mask_image(mask),
        params={"size": 512, "steps": 15, "coarse_steps": 0},
    ).result(lambda e: stages.add(e.stage) if e.kind == "progress" else None)
    # The object's box plus context, not the 400×300 layer, is what gets optimised.
    assert stages == {"optimising 44x44"}
    out = as_array(result)
    assert np.array_equal(out[mask == 0], content[mask == 0])
    assert np.abs(out[mask == 255].astype(int) - content[mask == 255]).mean() > 5


def test_masked_gram_styles_the_object_as_itself() -> None:
    """The guided Gram of a half-masked map equals the plain Gram of the masked half."""
    from impasto.losses.gram import gram_matrix

    feats = torch.rand(1, 8, 10, 10)
    guide = torch.zeros(1, 1, 10, 10)
    guide[..., :, :5] = 1
    assert torch.allclose(gram_matrix(feats, guide), gram_matrix(feats[..., :, :5]), atol=1e-6)


def test_work_region_and_blend_units() -> None:
    coverage = np.zeros((100, 100), np.uint8)
    assert work_region(coverage) is None
    coverage[40:60, 45:55] = 200
    region = work_region(coverage, context=0.25, min_context=4)
    assert (region.top, region.bottom, region.left, region.right) == (35, 65, 41, 59)
    original = np.full((2, 2, 3), 100, np.uint16)
    stylized = np.full((2, 2, 3), 300, np.uint16)
    cov = np.array([[0, 255], [128, 64]], np.uint8)
    out = blend(original, stylized, cov)
    assert out[0, 0, 0] == 100 and out[0, 1, 0] == 300 and 195 < out[1, 0, 0] < 205
