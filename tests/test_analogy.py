"""Deep image analogy through the daemon at tiny sizes: both directions, identity, progress, bad sizes."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from itertools import pairwise

import numpy as np
import pytest
import torch

from impasto.methods.analogy import Analogy, deconvolve
from impasto.methods.base import JobContext, LRUCache, MethodInput, StyleSource
from impasto.networks.vgg import VGG19, load_vgg19
from impasto.params import resolve
from impasto_client import Client, ImpastoError

from .conftest import as_array, rgb_image, scene, stripes

FAST = {"size": 64, "iterations": 3, "deconv_steps": 4}


@cache
def vgg19() -> VGG19:
    return load_vgg19()


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array[..., :3]).astype(np.float32) / 255).permute(2, 0, 1)[None]


def test_every_stage_lowers_its_loss_and_the_result_is_made_of_style_pixels(client: Client) -> None:
    content, style = scene(64, 64), stripes(64, 64)
    by_stage: dict[str, list[float]] = defaultdict(list)
    result = client.stylize(rgb_image(content), [rgb_image(style)], method="analogy", params=FAST).result(
        lambda e: by_stage[e.stage].append(e.loss) if e.kind == "progress" else None
    )
    matching = [s for s in by_stage if s.startswith("matching")]
    deconvolving = [s for s in by_stage if s.startswith("deconvolving")]
    assert len(matching) == 10 and len(deconvolving) == 8  # 5 layers × 2 directions; 4 steps down × 2
    for stage in matching:  # PatchMatch only ever accepts closer patches
        losses = by_stage[stage]
        assert len(losses) == 3 and all(b <= a for a, b in pairwise(losses)), stage
    assert sum(by_stage[s][-1] < by_stage[s][0] for s in matching) >= 8
    for stage in deconvolving:
        assert by_stage[stage][-1] < 0.8 * by_stage[stage][0], stage
    out = as_array(result)
    assert out.shape == content.shape
    # A′ is rebuilt from the style's pixels: the stripes' red and blue, never the scene's greens.
    assert out[..., 1].max() <= 45 and content[..., 1].max() > 150


def test_the_style_as_content_comes_back(client: Client) -> None:
    picture = scene(64, 64)
    result = client.stylize(rgb_image(picture), [rgb_image(picture)], method="analogy", params=FAST).result()
    assert np.abs(as_array(result).astype(float) - picture).mean() < 1.0


def test_a_shifted_copy_of_the_content_is_put_back_in_place(client: Client) -> None:
    wide = scene(64, 80)
    content, style = wide[:, :64], wide[:, 12:76]  # the style is the same scene, 12 px further right
    result = client.stylize(rgb_image(content), [rgb_image(style)], method="analogy", params=FAST).result()
    error = np.abs(as_array(result).astype(float) - content)[:, 16:].mean()  # where the style shows the scene
    assert error < 6
    assert np.abs(style.astype(float) - content)[:, 16:].mean() > 3 * error


def test_the_same_request_gives_the_same_result(client: Client) -> None:
    content, style = rgb_image(scene(48, 48)), rgb_image(stripes(48, 48))
    params = {**FAST, "size": 48}
    first = client.stylize(content, [style], method="analogy", params=params).result()
    second = client.stylize(content, [style], method="analogy", params=params).result()
    assert first.data == second.data


def test_both_directions_from_run() -> None:
    method = Analogy()
    grey = scene(48, 48).mean(-1, keepdims=True).repeat(3, -1).round()
    content, style = to_tensor(grey), to_tensor(stripes(40, 56))
    params = resolve(method.params, {**FAST, "size": 48, "output": "both"}, "analogy")
    ctx = JobContext(torch.device("cpu"), LRUCache(), LRUCache())
    ctx.models.get(("vgg19", "max", "cpu"), vgg19)  # the network the daemon would have cached
    output = method.run(MethodInput(content, [StyleSource(1.0, style)], params), ctx)
    b = output.extra_layers["analogy B"]
    assert output.image.shape == content.shape and b.shape == (1, 3, 34, 48)  # B keeps the style's shape
    # A′ is made of the style's red and blue pixels; B of the grey content's, so it is grey.
    a_prime = output.image
    assert float(a_prime[:, 1].max()) < 0.18 and float((a_prime[:, 0] - a_prime[:, 2]).abs().mean()) > 0.3
    assert float((b - b.mean(1, keepdim=True)).abs().max()) < 1e-5 and float(b.std()) > 0.01


def test_deconvolution_finds_features_that_reproduce_the_target() -> None:
    vgg = vgg19()
    with torch.no_grad():
        a = vgg(to_tensor(scene(48, 48)), ["relu3_1", "relu4_1"])
        b = vgg(to_tensor(stripes(48, 48)), ["relu4_1"])["relu4_1"]
    losses: list[float] = []
    found = deconvolve(vgg, "relu3_1", "relu4_1", b, a["relu3_1"], 15, lambda _, loss: losses.append(loss))
    assert len(losses) == 15 and all(later <= earlier for earlier, later in pairwise(losses))
    assert losses[-1] < 0.2 * losses[0] and float(found.min()) >= 0


@pytest.mark.parametrize(
    ("size", "coarsest", "sentence"),
    [
        (24, "relu5_1", "too small for relu5_1, which needs at least 32 px on the shorter side"),
        (12, "relu4_1", "too small for relu4_1, which needs at least 16 px on the shorter side"),
    ],
)
def test_pictures_too_small_for_the_layers_are_refused(client: Client, size: int, coarsest: str, sentence: str) -> None:
    with pytest.raises(ImpastoError) as info:
        client.stylize(
            rgb_image(scene(size, size)),
            [rgb_image(stripes(64, 64))],
            method="analogy",
            params={**FAST, "coarsest": coarsest},
        ).result()
    assert info.value.code == "INVALID_ARGUMENT"
    assert sentence in info.value.message


def test_a_shallower_coarsest_layer_takes_small_pictures(client: Client) -> None:
    result = client.stylize(
        rgb_image(scene(20, 24)), [rgb_image(stripes(40, 40))], method="analogy", params={**FAST, "coarsest": "relu3_1"}
    ).result()
    assert (result.width, result.height) == (24, 20)


def test_cancel_stops_the_job(client: Client) -> None:
    call = client.stylize(rgb_image(scene(96, 96)), [rgb_image(stripes(96, 96))], method="analogy", params={"size": 96})
    with pytest.raises(ImpastoError) as info:
        for event in call:
            if event.kind == "progress" and event.step >= 2:
                call.cancel()
    assert info.value.code == "CANCELLED"
