"""Full-resolution optimisation: VGG19 in exact tiles, and `detail: full` carrying gatys to the layer's own size."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from PIL import ImageDraw

from impasto.losses.content import ContentLoss
from impasto.losses.style import STATISTICS, StyleLoss, style_targets
from impasto.networks import vgg_tiles
from impasto.networks.vgg import LAYER_NAMES, load_vgg19
from impasto.optim.tiled_objective import TiledObjective, tiled_style_targets
from impasto_client import Client

from .conftest import as_array, rgb_image, scene, stripes

DEEP = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@pytest.fixture(scope="module")
def vgg():
    return load_vgg19()


def test_a_tile_sees_what_the_whole_picture_sees_and_needs_all_its_halo(vgg) -> None:
    """The middle tile of a 240 px picture, run on its crop with the halo relu5_1 needs, has the whole picture's
    features at every layer; a halo one stride short does not (so the halo is not merely generous)."""
    torch.manual_seed(0)
    image = vgg.preprocess(torch.rand(1, 3, 240, 240))
    with torch.no_grad():
        whole = vgg.features(image, DEEP)
    strides = vgg_tiles.layer_strides(DEEP)
    margin = vgg_tiles.halo(DEEP)
    assert margin == 80

    def worst(halo: int) -> float:
        tile = vgg_tiles.Tile(112, 128, 112, 128, 112 - halo, 128 + halo, 112 - halo, 128 + halo)
        with torch.no_grad():
            crop = vgg.features(tile.crop(image), DEEP)
        return max(
            float((tile.own(crop[k], strides[k]) - whole[k][(..., *tile.window(strides[k]))]).abs().max())
            / float(whole[k].abs().max())
            for k in DEEP
        )

    exact, short = worst(margin), worst(margin - 16)
    assert exact < 1e-6 and short > 100 * max(exact, 1e-7)


def test_tiles_cover_the_picture_once_on_the_pooling_grid() -> None:
    tiles = vgg_tiles.tiles(100, 70, 32, DEEP)
    seen = np.zeros((100, 70), int)
    for t in tiles:
        seen[t.top : t.bottom, t.left : t.right] += 1
        assert t.top % 16 == 0 and t.left % 16 == 0
        assert t.crop_top <= t.top and t.crop_bottom >= t.bottom and t.crop_top % 16 == 0
    assert (seen == 1).all()
    # The budget decides the side: a tile's crop (side plus two halos) fits it.
    side = vgg_tiles.tile_side(256 * 256 * 6000, 6000, DEEP)
    assert side % 16 == 0 and side + 2 * 80 <= 256 < side + 16 + 2 * 80


def _objective_pair(vgg, stats: dict[str, float], guided: bool, side: int):
    """The untiled loss and gradient of a gatys objective, and the tiled ones, on a 112x96 picture."""
    torch.manual_seed(1)
    layers, content_layers = ("relu1_1", "relu2_1", "relu3_1"), {"relu2_2": 1.0}
    style, content = torch.rand(1, 3, 80, 72), torch.rand(1, 3, 112, 96)
    guides = style_guides = None
    regions = 1
    if guided:
        guides = torch.zeros(1, 2, 112, 96)
        guides[:, 0, :40], guides[:, 1, 40:] = 1, 1
        style_guides = torch.zeros(1, 2, 80, 72)
        style_guides[:, 0, :, :30], style_guides[:, 1, :, 30:] = 1, 1
        regions = 2
    statistics = {k: STATISTICS[k]() for k in stats}
    with torch.no_grad():
        targets = style_targets(statistics, vgg(style, layers), style_guides, regions)
        content_loss = ContentLoss(vgg(content, list(content_layers)), content_layers)
    style_loss = StyleLoss(stats, {k: 1.0 for k in layers}, [targets], [1.0], guides)
    x = vgg.preprocess(content + 0.1 * torch.randn_like(content)).requires_grad_()
    every = tuple(sorted({*layers, *content_layers}, key=LAYER_NAMES.index))
    feats = vgg.features(x, every)
    whole = 5.0 * content_loss(feats) + 100.0 * style_loss(feats)
    whole.backward()
    whole_grad, x.grad = x.grad.clone(), None
    tiled_objective = TiledObjective(
        vgg, vgg.preprocess(content), content_layers, style_loss, 5.0, 100.0, torch.float32, side
    )
    assert len(tiled_objective.backward_tiles) > 4
    tiled = tiled_objective(x)
    tiled.backward()
    return float(whole.detach()), whole_grad, float(tiled.detach()), x.grad


@pytest.mark.parametrize(("stats", "guided"), [({"gram": 1.0}, False), ({"gram": 1.0, "bn": 3.0}, True)])
def test_tiled_and_whole_passes_agree(vgg, stats: dict[str, float], guided: bool) -> None:
    """Loss and gradient from 16 px tiles (halo 12) equal one pass's, with region guides and both additive
    statistics."""
    whole, whole_grad, tiled, tiled_grad = _objective_pair(vgg, stats, guided, 32)
    assert tiled == pytest.approx(whole, rel=1e-5)
    assert float((tiled_grad - whole_grad).norm() / whole_grad.norm()) < 1e-5


def test_tiled_style_targets_equal_whole_ones(vgg) -> None:
    torch.manual_seed(2)
    style = torch.rand(1, 3, 120, 100)
    guides = torch.zeros(1, 2, 120, 100)
    guides[:, 0, :50], guides[:, 1, 50:] = 1, 1
    layers = ("relu1_1", "relu2_1", "relu3_1")
    statistics = {k: STATISTICS[k]() for k in ("gram", "bn")}
    with torch.no_grad():
        whole = style_targets(statistics, vgg(style, layers), guides, 2)
    tiled = tiled_style_targets(vgg, style, layers, statistics, guides, 2, 32, torch.float32)
    assert whole.keys() == tiled.keys()
    for key, target in whole.items():
        if key[2] == "gram":
            assert torch.allclose(tiled[key], target, rtol=1e-4, atol=1e-6 * float(target.abs().max()))
        else:
            assert torch.allclose(tiled[key].mean, target.mean, rtol=1e-4, atol=1e-4)
            assert torch.allclose(tiled[key].std, target.std, rtol=1e-4, atol=1e-4)


def _mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() / 255.0)


def test_a_tiled_optimisation_ends_where_the_whole_one_does(client: Client) -> None:
    """gatys at 96 px with 32 px tiles (and a halo far wider than a tile) ends near the untiled result: each step
    is the same step, up to float rounding."""
    content, style = rgb_image(scene(96, 96)), rgb_image(stripes(96, 96))
    params = {"size": 96, "steps": 6, "coarse_steps": 0}
    whole = as_array(client.stylize(content, [style], params=params).result())
    tiled = as_array(client.stylize(content, [style], params={**params, "tile": 32}).result())
    assert _mean_abs(whole, tiled) < 0.01
    assert _mean_abs(whole, as_array(content)) > 0.03  # it did move: the agreement is not of two untouched copies
    # No seam: the steps across the tiles' borders (columns and rows 32 and 64) are like those anywhere else.
    grey = tiled[..., :3].astype(np.float32).mean(-1)
    across = np.abs(np.diff(grey, axis=1)).mean(0) + np.abs(np.diff(grey, axis=0)).mean(1)
    assert across[[31, 63]].max() < 1.5 * np.median(across)


def _high_frequency_share(array: np.ndarray) -> float:
    """Share of the picture's spectral energy above a quarter of the sampling rate (the detail an enlargement
    from a quarter of the size cannot have)."""
    grey = array[..., :3].astype(np.float64).mean(-1)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(grey - grey.mean()))) ** 2
    h, w = grey.shape
    yy, xx = np.meshgrid(np.fft.fftshift(np.fft.fftfreq(h)), np.fft.fftshift(np.fft.fftfreq(w)), indexing="ij")
    high = np.maximum(np.abs(yy), np.abs(xx)) > 0.125
    return float(spectrum[high].sum() / spectrum.sum())


def test_full_detail_reaches_the_layers_size_sharply(client: Client) -> None:
    """A 192 px layer with size 48: `detail: full` refines up to 192 px (levels 68, 96, 136, 192) and keeps high
    frequencies an enlargement of the 48 px result lacks; its progress counts every level."""
    content, style = rgb_image(scene(192, 192)), rgb_image(stripes(96, 96, period=4))
    params = {"size": 48, "steps": 10, "coarse_steps": 0}
    fast = as_array(client.stylize(content, [style], params={**params, "detail": "fast"}).result())
    progress: list = []
    full = as_array(
        client.stylize(content, [style], params={**params, "detail": "full", "detail_steps": 3}).result(
            lambda e: progress.append(e) if e.kind == "progress" else None
        )
    )
    assert full.shape == fast.shape == as_array(content).shape
    assert [e.stage for e in progress[-1::-3]][:4] == [f"optimising {n}x{n}" for n in (192, 136, 96, 68)]
    # A step counts for its level's area in working-size steps (48 px), so the bar keeps pace with the time.
    strides = [b.step - a.step for a, b in itertools.pairwise(progress)]
    assert (
        strides[:9] == [1] * 9
        and strides[-2:] == [16, 16]
        and progress[-1].step == progress[-1].total == 10 + 3 * (2 + 4 + 8 + 16)
    )
    assert _high_frequency_share(full) > 2 * _high_frequency_share(fast)


def test_a_style_loss_that_cannot_be_tiled_refines_while_one_pass_fits_then_says_so(client: Client) -> None:
    """histogram is no sum over positions: with tiles forced above 64 px, `detail: fine` (the default) stops at the
    working size, enlarges, and its last progress says why; without tiles forced it refines every level."""
    content, style = rgb_image(scene(96, 96)), rgb_image(stripes(64, 64))
    params = {"size": 48, "steps": 2, "coarse_steps": 0, "style_loss": "gram:1,histogram:1", "tile": 64}
    stages: list[str] = []
    result = client.stylize(content, [style], params=params).result(
        lambda e: stages.append(e.stage) if e.kind == "progress" else None
    )
    assert as_array(result).shape == as_array(content).shape
    assert "optimising 68x68" not in stages and stages[-2] == "optimising 48x48"
    assert (
        stages[-1] == "enlarging to 96x96: the gram:1,histogram:1 style loss cannot be taken in tiles; gram or bn can"
    )
    # Without tiles forced, the 68 and 96 px levels fit one pass and are refined.
    stages.clear()
    client.stylize(content, [style], params={**params, "tile": 0}).result(
        lambda e: stages.append(e.stage) if e.kind == "progress" else None
    )
    assert stages[-1] == "optimising 96x96" and "optimising 68x68" in stages


def test_the_estimate_of_a_full_detail_job_is_that_of_its_tiles() -> None:
    """At 4096 px one VGG19 pass would need about 100 GB; `detail: full` runs in tiles and says so in its estimate,
    which stays under 5 GB, and `fast` at 512 px stays what it was."""
    from impasto.methods.gatys import Gatys

    method = Gatys()
    full = method.estimate_bytes(4096, 4096, {"size": 512, "detail": "full"})
    fast = method.estimate_bytes(*method.working_size(4096, 4096, {"size": 512, "detail": "fast"}), {"size": 512})
    assert method.working_size(4096, 4096, {"size": 512, "detail": "full"}) == (4096, 4096)
    assert fast < full < 5 * 2**30


def test_fine_detail_refines_the_fine_layers_up_to_the_layers_size(client: Client) -> None:
    """`detail: fine` also reaches the layer's size with its high frequencies, matching only the fine layers above
    `size` (in tiles here, whose halo is 12 px)."""
    content, style = rgb_image(scene(160, 160)), rgb_image(stripes(96, 96, period=4))
    params = {"size": 48, "steps": 10, "coarse_steps": 0}
    fast = as_array(client.stylize(content, [style], params={**params, "detail": "fast"}).result())
    fine = as_array(
        client.stylize(content, [style], params={**params, "detail": "fine", "detail_steps": 3, "tile": 64}).result()
    )
    assert fine.shape == as_array(content).shape
    assert _high_frequency_share(fine) > 2 * _high_frequency_share(fast)


# Each method that makes its result at a working size, at tiny settings that still paint something.
SMALL_MAKERS = {
    "mrf": {"steps": 6, "coarse_steps": 0},
    "swap": {},
    "adain": {"steps": 6, "decoder": "optimise"},
    "wct": {"steps": 2, "decoder": "optimise"},
}


@pytest.mark.parametrize("method", SMALL_MAKERS)
def test_a_method_made_small_is_refined_sharply_up_to_the_layers_size(client: Client, method: str) -> None:
    """With `detail: fine` (their default) a 128 px layer worked at 48 px comes back through levels of 64, 91 and
    128 px, with the high frequencies an enlargement of the 48 px result lacks; `fast` still only enlarges."""
    content, style = rgb_image(scene(128, 128)), rgb_image(stripes(96, 96, period=4))
    params = {"size": 48, **SMALL_MAKERS[method]}
    fast = as_array(client.stylize(content, [style], method=method, params={**params, "detail": "fast"}).result())
    stages: list[str] = []
    fine = as_array(
        client.stylize(content, [style], method=method, params={**params, "detail_steps": 3}).result(
            lambda e: stages.append(e.stage) if e.kind == "progress" else None
        )
    )
    assert fine.shape == fast.shape == as_array(content).shape
    assert [s for s in dict.fromkeys(stages) if s.startswith("optimising ") and "x" in s][-3:] == [
        f"optimising {n}x{n}" for n in (64, 91, 128)
    ]
    assert _high_frequency_share(fine) > 2 * _high_frequency_share(fast)


def test_the_estimate_of_a_refined_job_covers_its_largest_level() -> None:
    """A 4096 px layer for mrf at 384 px: fine detail asks for the memory of the refinement's tiled levels (more
    than the 384 px job, under 5 GB); fast asks for none."""
    from impasto.methods import detail
    from impasto.methods.mrf import MRF
    from impasto.params import resolve

    method = MRF()
    params = resolve(method.params, {}, "mrf")
    work = method.working_size(4096, 4096, params)
    small = method.estimate_bytes(*work, params)
    assert detail.refines(params, work, (4096, 4096))
    assert small < detail.estimate_bytes((4096, 4096), work, params) < 5 * 2**30
    assert not detail.refines({**params, "detail": "fast"}, work, (4096, 4096))


def _axis_share(array: np.ndarray) -> float:
    """Share of the picture's spectral energy on the axes (|kx| or |ky| ≤ 1): long lines parallel to the edges put
    theirs there; strokes of every orientation spread it (about 0.05 of the spectrum's area)."""
    grey = array[..., :3].astype(np.float64).mean(-1)
    spectrum = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    ky, kx = np.meshgrid(np.fft.fftfreq(grey.shape[0]) * grey.shape[0], np.fft.fftfreq(grey.shape[1]) * grey.shape[1],
                         indexing="ij")  # fmt: skip
    return float(spectrum[(np.abs(kx) <= 1) | (np.abs(ky) <= 1)].sum() / spectrum.sum())


def test_a_flat_area_refined_grows_strokes_everywhere_not_frames_from_the_border(client: Client) -> None:
    """A flat navy layer refined from 48 to 128 px with a style of short strokes at every angle: the strokes start
    everywhere (the refinement's start is seeded with a little noise), instead of growing from the zero-padded border
    inward as frames within frames (0.27 of the energy on the axes without the noise, 0.16 with it)."""
    rng = np.random.default_rng(0)
    style = PILImage.new("RGB", (96, 96), (20, 25, 70))
    draw = ImageDraw.Draw(style)
    for _ in range(120):
        x, y, angle = rng.uniform(0, 96), rng.uniform(0, 96), rng.uniform(0, np.pi)
        colour = tuple(int(v) for v in rng.integers(120, 255, 3))
        draw.line((x, y, x + 5 * np.cos(angle), y + 5 * np.sin(angle)), fill=colour, width=2)
    navy = np.zeros((128, 128, 3), np.uint8)
    navy[:] = (20, 25, 70)
    result = client.stylize(
        rgb_image(navy), [rgb_image(np.asarray(style))], method="swap", params={"size": 48, "detail_steps": 6}
    ).result()
    out = as_array(result)
    assert out.std() > 15  # strokes were painted
    assert _axis_share(out) < 0.21
