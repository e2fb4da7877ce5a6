"""PatchMatch on small maps: exact descriptors, agreement with brute force, and the field helpers."""

from __future__ import annotations

from functools import cache
from itertools import pairwise

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from impasto.networks.vgg import VGG19, load_vgg19
from impasto.numerics import patchmatch as pm

from .conftest import scene, stripes


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.astype(np.float32) / 255).permute(2, 0, 1)[None]


@cache
def vgg19() -> VGG19:
    return load_vgg19()


def unit_features(array: np.ndarray, layer: str = "relu3_1") -> torch.Tensor:
    """Real VGG19 features of a picture, each position at unit length, as analogy matches them."""
    with torch.no_grad():
        f = vgg19()(to_tensor(np.ascontiguousarray(array)), [layer])[layer]
    return f / f.norm(dim=1, keepdim=True).clamp_min(1e-8)


def test_exact_descriptors_score_whole_patches() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 4, 9, 10, generator=g), torch.randn(1, 4, 8, 7, generator=g)
    da, db = pm.patch_descriptors([a, b], 3)
    field = pm.random_field((9, 10), (8, 7), g)
    dist = pm.patch_distance(da, db, field)
    pa, pb = F.pad(a, (1, 1, 1, 1)), F.pad(b, (1, 1, 1, 1))  # beyond the border counts as zero
    for y, x in ((0, 0), (4, 5), (8, 9), (3, 0)):
        qy, qx = field[:, y, x].tolist()
        direct = (pa[0, :, y : y + 3, x : x + 3] - pb[0, :, qy : qy + 3, qx : qx + 3]).square().sum()
        assert float(dist[y, x]) == pytest.approx(float(direct), rel=1e-4)


@pytest.mark.parametrize(
    "pair",
    [
        (scene(48, 48), scene(48, 48, seed=1)[:, ::-1]),  # similar pictures, mirrored
        (scene(60, 60)[:48, :48], scene(60, 60)[8:56, 5:53]),  # the same scene, shifted
    ],
    ids=["mirrored", "shifted"],
)
def test_patchmatch_agrees_with_brute_force_on_12x12_features(pair: tuple[np.ndarray, np.ndarray]) -> None:
    da, db = pm.patch_descriptors([unit_features(pair[0]), unit_features(pair[1])], 3)
    assert da.shape[-2:] == (12, 12)
    field, dist = pm.patchmatch(da, db, iterations=10, radius=12)
    exact_field, exact_dist = pm.brute_force(da, db)
    same = (field == exact_field).all(0) | torch.isclose(dist, exact_dist, rtol=1e-4, atol=1e-5)
    assert float(same.float().mean()) >= 0.95
    # The distances it reports are the real ones of the field it returns.
    assert torch.allclose(dist, pm.patch_distance(da, db, field), rtol=1e-4, atol=1e-5)


def test_patchmatch_beats_a_random_field_and_never_gets_worse() -> None:
    da, db = pm.patch_descriptors([unit_features(scene(96, 96)), unit_features(stripes(96, 96))], 3)
    means: list[float] = []
    field, dist = pm.patchmatch(da, db, iterations=5, radius=24, on_iteration=lambda _, m: means.append(m))
    random = pm.random_field(tuple(da.shape[-2:]), tuple(db.shape[-2:]), torch.Generator().manual_seed(3))
    best = float(pm.brute_force(da, db)[1].mean())
    # Different pictures: even the best matches are far, but it closes most of a random field's gap to them.
    assert float(dist.mean()) - best < 0.1 * (float(pm.patch_distance(da, db, random).mean()) - best)
    assert len(means) == 5 and all(later <= earlier for earlier, later in pairwise(means))
    # Starting from its own answer it can only keep or improve it.
    _, again = pm.patchmatch(da, db, iterations=1, radius=24, field=field)
    assert bool((again <= dist + 1e-6).all())


def test_reduced_descriptors_keep_the_nearest_neighbours() -> None:
    a, b = unit_features(scene(64, 64), "relu2_1"), unit_features(scene(64, 64, seed=2), "relu2_1")
    exact = pm.patch_descriptors([a, b], 5)
    reduced = pm.patch_descriptors([a, b], 5, dims=48)
    assert reduced[0].shape[1] == 48 and exact[0].shape[1] == 128 * 25
    field, _ = pm.brute_force(*reduced)
    _, best = pm.brute_force(*exact)
    # The field found on 48 numbers per patch is nearly as close, measured exactly, as the exact best.
    assert float(pm.patch_distance(*exact, field).mean()) < 1.1 * float(best.mean())
    assert float(pm.patch_distance(*exact, field).mean()) < 0.8 * float(
        pm.patch_distance(*exact, pm.random_field((32, 32), (32, 32), torch.Generator().manual_seed(0))).mean()
    )


def test_identity_survives_upsampling_and_vote_rebuilds_what_it_points_at() -> None:
    coarse = pm.identity_field((6, 8), (6, 8))
    assert torch.equal(pm.upsample_field(coarse, (6, 8), (12, 16), (12, 16)), pm.identity_field((12, 16), (12, 16)))
    # A shift found at the coarse level is a doubled shift at the fine one.
    shifted = coarse.clone()
    shifted[1] = (shifted[1] + 1).clamp(max=7)
    fine = pm.upsample_field(shifted, (6, 8), (12, 16), (12, 16))
    assert torch.equal(fine[1, :, :10], pm.identity_field((12, 16), (12, 16))[1, :, :10] + 2)
    values = torch.rand(1, 3, 12, 16)
    assert torch.allclose(pm.vote(values, pm.identity_field((12, 16), (12, 16)), 3), values)
    # A constant field copies one patch: with patch 1 every position gets that one value.
    field = torch.zeros(2, 5, 5, dtype=torch.long)
    field[0], field[1] = 4, 7
    assert torch.allclose(pm.vote(values, field, 1), values[:, :, 4:5, 7:8].expand(1, 3, 5, 5))
