"""Tiled inference (impasto.networks.tiled) computes what the untiled networks compute, without seams."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from impasto.networks import cin, magenta, tiled


def _picture(height: int, width: int, seed: int) -> torch.Tensor:
    """[1,3,H,W] in 0..1: colour gradients, hard-edged boxes and discs, and a little noise, like a photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    image = np.stack([xx, yy, 0.5 + 0.5 * np.sin(9 * xx + 5 * yy)])
    for _ in range(8):
        cy, cx, r = rng.random(), rng.random(), 0.05 + 0.15 * rng.random()
        shape = (
            (yy - cy) ** 2 + (xx - cx) ** 2 < r**2 if rng.random() < 0.5 else (abs(yy - cy) < r) & (abs(xx - cx) < r)
        )
        image[:, shape] = rng.random((3, 1))
    image += rng.normal(0, 0.02, image.shape)
    return torch.from_numpy(image.clip(0, 1).astype(np.float32))[None]


@pytest.fixture(scope="module")
def multistyle() -> tuple[cin.MultiStyleNetwork, torch.Tensor]:
    mix = torch.zeros(1, cin.NUM_STYLES)
    mix[0, 3], mix[0, 17] = 0.7, 0.3
    return cin.load_multistyle26(), mix


@pytest.fixture(scope="module")
def arbitrary() -> tuple[magenta.StyleTransformer, torch.Tensor]:
    with torch.inference_mode():
        vector = magenta.load_style_predictor()(_picture(256, 256, seed=9))
    return magenta.load_style_transformer(), vector


@pytest.fixture(params=["cin", "magenta"])
def network(request, multistyle, arbitrary):
    return {"cin": multistyle, "magenta": arbitrary}[request.param]


def _untiled(network: tiled.Network, image: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return network(image, condition)


@pytest.mark.parametrize(
    ("height", "width", "tile"),
    [(160, 200, 64), (160, 200, 48), (161, 203, 48), (157, 198, 49), (42, 58, 16), (9, 14, 16), (100, 120, 4096)],
)
def test_tiled_equals_untiled(network, height, width, tile):
    net, condition = network
    image = _picture(height, width, seed=height + width)
    original = image.clone()
    expected = _untiled(net, image, condition)
    actual = tiled.stylize_tiled(net, image, condition, tile)
    assert actual.shape == expected.shape == (1, 3, height, width)
    difference = (actual - expected).abs()
    assert difference.max() < 1e-3
    assert difference.mean() < 1e-4
    assert torch.equal(image, original)  # the caller's image is read, never written


def test_tiled_is_as_exact_as_float64(network):
    # Statistics merged in float64 keep tiled float32 close to a float64 forward; the untiled float32 forward
    # drifts from it on large images (channels_last batch_norm statistics), so it is not the reference here.
    net, condition = network
    image = _picture(192, 256, seed=5)
    expected = _untiled(copy.deepcopy(net).double(), image.double(), condition.double())
    assert (tiled.stylize_tiled(net, image, condition, 64).double() - expected).abs().max() < 1e-4


def _seam_ratio(image: torch.Tensor, period: int) -> float:
    """Mean |horizontal and vertical step| across the lines every `period` px, over the mean step everywhere."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(dim=(0, 1, 2))  # dx[i]: step from column i to i + 1
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(dim=(0, 1, 3))
    borders = [dx[period - 1 :: period], dy[period - 1 :: period]]
    return (torch.cat(borders).mean() / torch.cat([dx, dy]).mean()).item()


def test_no_seams_at_tile_borders(network):
    net, condition = network
    image = _picture(512, 512, seed=4)
    out = tiled.stylize_tiled(net, image, condition, 128)
    assert _seam_ratio(out, 128) < 1.5


def test_seam_measure_sees_naively_tiled_seams(multistyle):
    # Running tiles through the network one by one normalises each with its own statistics: the seams it leaves
    # are what the test above would catch.
    net, condition = multistyle
    image = _picture(512, 512, seed=4)
    naive = torch.zeros_like(image)
    for top in range(0, 512, 128):
        for left in range(0, 512, 128):
            naive[..., top : top + 128, left : left + 128] = _untiled(
                net, image[..., top : top + 128, left : left + 128], condition
            )
    assert _seam_ratio(naive, 128) > 1.5


def test_tiles_cover_the_plane_once():
    covered = torch.zeros(37, 50, dtype=torch.int32)
    for top, bottom, left, right in tiled.tiles(37, 50, 16):
        assert 0 < bottom - top <= 16 and 0 < right - left <= 16
        covered[top:bottom, left:right] += 1
    assert bool((covered == 1).all())


def test_reflect_pad_matches_torch():
    x = torch.randn(1, 5, 9, 11).contiguous(memory_format=torch.channels_last)
    for pads in [(4, 4, 4, 4), (0, 1, 0, 0), (4, 0, 0, 3), (0, 2, 1, 0), (1, 1, 1, 1)]:
        assert torch.equal(tiled.reflect_pad(x, *pads), torch.nn.functional.pad(x, pads, mode="reflect"))


def test_rejects_bad_arguments(multistyle):
    net, condition = multistyle
    with pytest.raises(ValueError, match=r"\[1,3,H,W\]"):
        tiled.stylize_tiled(net, torch.rand(2, 3, 32, 32), condition, 64)
    with pytest.raises(ValueError, match="at least 8 px"):
        tiled.stylize_tiled(net, torch.rand(1, 3, 7, 32), condition, 64)
    with pytest.raises(ValueError, match=r"\[1,26\]"):
        tiled.stylize_tiled(net, torch.rand(1, 3, 32, 32), torch.rand(1, 100), 64)
    with pytest.raises(ValueError, match="tile"):
        tiled.stylize_tiled(net, torch.rand(1, 3, 32, 32), condition, 8)


def test_forward_auto_runs_whole_when_it_fits(multistyle, monkeypatch):
    net, condition = multistyle
    image = _picture(96, 128, seed=1)
    monkeypatch.setattr(tiled, "stylize_tiled", lambda *args: pytest.fail("tiled although it fits"))
    assert torch.equal(tiled.forward_auto(net, image, condition, max_bytes=1 << 40), _untiled(net, image, condition))


def test_forward_auto_tiles_to_fit(multistyle, monkeypatch):
    net, condition = multistyle
    image, used = _picture(600, 400, seed=2), []
    model = tiled.MEMORY[cin.MultiStyleNetwork]
    budget = int(model.tiled(600 * 400, 128) + 1)  # room for 128 px tiles, not for untiled nor 192 px tiles
    assert model.untiled(600 * 400) > budget

    def spy(network, image, condition, tile):
        used.append(tile)
        return stylize_tiled(network, image, condition, tile)

    stylize_tiled = tiled.stylize_tiled
    monkeypatch.setattr(tiled, "stylize_tiled", spy)
    out = tiled.forward_auto(net, image, condition, max_bytes=budget)
    assert used == [128]
    assert (out - _untiled(net, image, condition)).abs().max() < 1e-3


def test_choose_tile():
    model = tiled.MEMORY[cin.MultiStyleNetwork]
    assert tiled.choose_tile(model, 4096, 4096, None) == tiled.PREFERRED_TILE
    assert tiled.choose_tile(model, 300, 200, None) == 256  # no wider than the image, on the 64 px grid
    assert tiled.choose_tile(model, 4096, 4096, model.tiled(4096 * 4096, 320) + 1) == 320
    assert tiled.choose_tile(model, 8192, 8192, 1e6) == tiled.MIN_AUTO_TILE  # nothing fits: the smallest


def test_forward_auto_halves_the_tile_on_oom(multistyle, monkeypatch):
    # No CUDA here: pretend this device recovers from out-of-memory errors as CUDA does.
    net, condition = multistyle
    image, tried = _picture(64, 96, seed=3), []
    monkeypatch.setattr(tiled, "_recovers_from_oom", lambda device: True)
    monkeypatch.setattr(net, "forward", lambda *args: (_ for _ in ()).throw(torch.OutOfMemoryError("whole")))

    def tight(network, image, condition, tile):
        tried.append(tile)
        if tile > 128:
            raise torch.OutOfMemoryError(f"tile {tile}")
        return torch.zeros(1, 3, 64, 96)

    monkeypatch.setattr(tiled, "stylize_tiled", tight)
    monkeypatch.setattr(tiled, "choose_tile", lambda *args: 512)
    tiled.forward_auto(net, image, condition, max_bytes=1 << 40)
    assert tried == [512, 256, 128]

    monkeypatch.setattr(tiled, "stylize_tiled", lambda *args: (_ for _ in ()).throw(torch.OutOfMemoryError("x")))
    with pytest.raises(torch.OutOfMemoryError):  # at MIN_AUTO_TILE it gives up
        tiled.forward_auto(net, image, condition, max_bytes=1 << 40)
