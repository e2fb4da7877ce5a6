"""Local-affine upsampling: a recolouring computed at 1/4 size comes back at full size with the full-size edges,
far closer to the truth than bicubic upsampling; and the local-affine residual tells recolourings from texture."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from impasto.numerics import affine_upsample as module
from impasto.numerics.affine_upsample import affine_upsample, box_mean, fit_local_affine, local_affine_residual

from .conftest import scene, stripes

FIRST = (torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.5, 0.2], [0.3, -0.2, 0.9]]), torch.tensor([0.05, -0.1, 0.1]))
SECOND = (torch.tensor([[0.2, 0.7, 0.1], [0.9, 0.1, 0.0], [0.1, 0.1, 0.5]]), torch.tensor([0.2, 0.0, -0.05]))


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255.0


def recolour(image: torch.Tensor, model: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    matrix, offset = model
    return torch.einsum("ij,njhw->nihw", matrix, image) + offset.view(1, 3, 1, 1)


def two_halves(image: torch.Tensor) -> torch.Tensor:
    """A different colour model in the right half: locally affine everywhere but along the seam."""
    out = recolour(image, FIRST)
    half = image.shape[-1] // 2
    out[..., half:] = recolour(image[..., half:], SECOND)
    return out


def shrink(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return F.interpolate(image, size=(height, width), mode="bilinear", antialias=True, align_corners=False)


def bicubic(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return F.interpolate(image, size=(height, width), mode="bicubic", align_corners=False)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1.0 / float((a - b).square().mean()))


def edge_mask(image: torch.Tensor, fraction: float = 0.1) -> torch.Tensor:
    """The `fraction` of pixels with the strongest colour gradient, as a [H,W] bool map."""
    gy = (image[..., 1:, :] - image[..., :-1, :]).abs().sum(1)[0, :, :-1]
    gx = (image[..., :, 1:] - image[..., :, :-1]).abs().sum(1)[0, :-1, :]
    strength = F.pad(gy + gx, (0, 1, 0, 1))
    return strength >= strength.flatten().quantile(1 - fraction)


def test_box_mean_is_the_border_normalised_window_average() -> None:
    maps = torch.rand(2, 3, 19, 23, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for radius in (1, 3, 6):
        reference = F.avg_pool2d(maps, 2 * radius + 1, 1, radius, count_include_pad=False)
        assert torch.allclose(box_mean(maps, radius), reference, atol=1e-12)
    # Wider than the image: every window is the whole image.
    assert torch.allclose(box_mean(maps, 40), maps.mean((-2, -1), keepdim=True).expand_as(maps))


def test_global_recolouring_comes_back_at_full_size_with_crisp_edges() -> None:
    content = to_tensor(scene(96, 96))
    low = shrink(content, 24, 24)
    truth = recolour(content, FIRST)
    upsampled = affine_upsample(content, low, recolour(low, FIRST), radius=2, eps=1e-4)
    plain = bicubic(recolour(low, FIRST), 96, 96)
    assert upsampled.shape == truth.shape and upsampled.dtype == torch.float32
    assert psnr(upsampled, truth) > 38
    assert psnr(upsampled, truth) > psnr(plain, truth) + 8
    # At the disc's and the bar's outlines bicubic blurs; the full-size content keeps them sharp.
    edges = edge_mask(truth)
    assert psnr(upsampled[..., edges], truth[..., edges]) > 33
    assert psnr(upsampled[..., edges], truth[..., edges]) > psnr(plain[..., edges], truth[..., edges]) + 10


def test_two_colour_models_are_each_reproduced_away_from_their_seam() -> None:
    content = to_tensor(scene(96, 96, seed=1))
    low = shrink(content, 24, 24)
    truth = two_halves(content)
    upsampled = affine_upsample(content, low, two_halves(low), radius=2, eps=1e-4)
    plain = bicubic(two_halves(low), 96, 96)
    away = torch.ones(96, dtype=torch.bool)
    away[48 - 16 : 48 + 16] = False  # 4 low-resolution pixels of window and coefficient averaging each side
    assert psnr(upsampled[..., away], truth[..., away]) > 35
    assert psnr(upsampled[..., away], truth[..., away]) > psnr(plain[..., away], truth[..., away]) + 8


def test_odd_sizes_and_non_integer_scales() -> None:
    content = to_tensor(scene(90, 71, seed=2))
    low = shrink(content, 23, 17)
    upsampled = affine_upsample(content, low, recolour(low, SECOND), radius=1, eps=1e-4)
    assert upsampled.shape == (1, 3, 90, 71)
    assert psnr(upsampled, recolour(content, SECOND)) > 35


def test_row_bands_give_the_same_image_as_upsampling_the_coefficients_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    content = to_tensor(scene(64, 80, seed=3))
    low = shrink(content, 20, 25)
    output = two_halves(low)
    slopes, offsets = fit_local_affine(low, output, 2, 1e-4)
    model = torch.cat([box_mean(slopes.flatten(0, 1), 2), box_mean(offsets, 2)]).float()
    full = F.interpolate(model[None], size=(64, 80), mode="bilinear", align_corners=False)[0]
    reference = torch.einsum("ijhw,jhw->ihw", full[:9].view(3, 3, 64, 80), content[0]) + full[9:]
    monkeypatch.setattr(module, "BAND_PIXELS", 7 * 80)  # 7-row bands, the last one short
    assert torch.allclose(affine_upsample(content, low, output, 2, 1e-4)[0], reference, atol=1e-5)


def test_fit_recovers_the_colour_model_inside_each_half() -> None:
    content = to_tensor(scene(40, 40, seed=4))
    slopes, offsets = fit_local_affine(content, two_halves(content), 2, 1e-6)
    # Windows well inside the left half and over textured content (the disc's rim) see the first model.
    matrix, offset = FIRST
    textured = (box_mean(content[0].double().square(), 2) - box_mean(content[0].double(), 2).square()).sum(0) > 1e-2
    left = torch.zeros(40, 40, dtype=torch.bool)
    left[:, 3:17] = True
    inside = textured & left
    assert inside.sum() > 10
    assert (slopes[..., inside] - matrix.double()[..., None]).abs().max() < 0.05
    assert (offsets[..., inside] - offset.double()[:, None]).abs().max() < 0.05


def test_residual_is_zero_for_recolourings_and_large_for_texture_and_noise() -> None:
    content = to_tensor(scene(64, 64, seed=5))
    affine = local_affine_residual(content, recolour(content, FIRST), radius=1, eps=1e-4)
    seams = local_affine_residual(content, two_halves(content), radius=1, eps=1e-4)
    painted = local_affine_residual(content, 0.5 * content + 0.5 * to_tensor(stripes(64, 64)), radius=1, eps=1e-4)
    noise = local_affine_residual(content, torch.rand(content.shape, generator=torch.Generator().manual_seed(6)))
    assert affine < 1e-4
    assert affine < seams < painted  # the seam is one column of bad windows; stripes are everywhere
    assert painted > 100 * affine
    assert noise > 0.02  # a uniform noise's variance is 1/12; a 9-pixel window's affine fit explains little


def test_mismatched_inputs_are_refused() -> None:
    content = torch.rand(1, 3, 32, 32)
    low = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="differs"):
        affine_upsample(content, low, torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match="floating-point"):
        affine_upsample((content * 255).to(torch.uint8), low, low)
    with pytest.raises(ValueError, match="eps"):
        affine_upsample(content, low, low, eps=0)
    with pytest.raises(ValueError, match="radius"):
        local_affine_residual(low, low, radius=0)
