"""The real-time methods through the daemon: built-in styles, blends, any picture, and the shared controls."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from impasto.imaging import color
from impasto.methods.feedforward import working_size
from impasto.networks.cin import NUM_STYLES, load_multistyle26
from impasto_client import Client, ImpastoError

from .conftest import as_array, rgb_image, scene, stripes
from .test_selection import mask_image


def tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array[..., :3].astype(np.float32) / 255).permute(2, 0, 1)[None]


def test_styles_are_listed_with_thumbnails(client: Client) -> None:
    styles = [s for s in client.list_styles() if s.method == "cin"]
    # The 26 published styles first, in order; then the ones impasto trained (cin:NAME).
    assert [s.id for s in styles[:NUM_STYLES]] == [f"cin26:{i}" for i in range(NUM_STYLES)]
    assert all(s.id.startswith("cin:") for s in styles[NUM_STYLES:])
    thumb = styles[3].thumbnail
    assert thumb is not None and (thumb.width, thumb.height) == (64, 64) and "Apache-2.0" in styles[3].license
    assert styles[3].thumbnail.data != styles[4].thumbnail.data


def test_cin_through_the_daemon_equals_the_network(client: Client) -> None:
    content = scene(72, 96)
    exact = {"precision": "float32"}  # bfloat16 (the default where native) is checked separately below
    result = as_array(client.stylize(rgb_image(content), ["cin26:7"], method="cin", params=exact).result())
    with torch.inference_mode():
        mix = torch.zeros(1, NUM_STYLES)
        mix[0, 7] = 1
        expected = load_multistyle26()(tensor(content), mix)[0].permute(1, 2, 0).numpy()
    assert np.abs(result / 255.0 - expected).max() <= 1 / 255 + 1e-4


def test_cin_blend_lies_between_its_styles(client: Client) -> None:
    content = rgb_image(scene(64, 64))
    a = as_array(client.stylize(content, ["cin26:3"], method="cin").result()).astype(float)
    b = as_array(client.stylize(content, ["cin26:12"], method="cin").result()).astype(float)
    mix = as_array(client.stylize(content, [("cin26:3", 0.5), ("cin26:12", 0.5)], method="cin").result()).astype(float)
    assert np.abs(mix - a).mean() > 3 and np.abs(mix - b).mean() > 3
    assert np.abs(mix - (a + b) / 2).mean() < 0.6 * np.abs(a - b).mean()


def test_strength_blends_with_the_content(client: Client) -> None:
    content = scene(48, 48)
    zero = as_array(client.stylize(rgb_image(content), ["cin26:5"], method="cin", params={"strength": 0.0}).result())
    assert np.array_equal(zero, content)
    style = rgb_image(stripes())
    full = as_array(client.stylize(rgb_image(content), [style], method="arbitrary").result()).astype(int)
    weak = as_array(
        client.stylize(rgb_image(content), [style], method="arbitrary", params={"strength": 0.2}).result()
    ).astype(int)
    assert np.abs(weak - content).mean() < np.abs(full - content).mean()


def test_arbitrary_follows_its_style_picture(client: Client) -> None:
    content = scene(64, 64)
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 220
    blue = np.zeros((64, 64, 3), np.uint8)
    blue[..., 2] = 220
    to_red = as_array(client.stylize(rgb_image(content), [rgb_image(red)], method="arbitrary").result()).mean((0, 1))
    to_blue = as_array(client.stylize(rgb_image(content), [rgb_image(blue)], method="arbitrary").result()).mean((0, 1))
    assert to_red[0] - to_red[2] > to_blue[0] - to_blue[2] + 30


@pytest.mark.parametrize(("method", "style"), [("cin", "cin26:9"), ("arbitrary", None)])
def test_masks_and_colour_preservation(client: Client, method: str, style: str | None) -> None:
    content = scene(64, 80)
    styles = [style or rgb_image(stripes())]
    mask = np.zeros((64, 80), np.uint8)
    mask[10:50, 20:60] = 255
    masked = as_array(client.stylize(rgb_image(content), styles, method=method, mask=mask_image(mask)).result())
    assert np.array_equal(masked[mask == 0], content[mask == 0])
    assert np.abs(masked[mask == 255].astype(int) - content[mask == 255]).mean() > 5
    kept = as_array(client.stylize(rgb_image(content), styles, method=method, preserve_color="luminance").result())
    iq = color.rgb_to_yiq(tensor(kept))[:, 1:] - color.rgb_to_yiq(tensor(content))[:, 1:]
    assert float(iq.abs().mean()) < 0.02
    hist = as_array(client.stylize(rgb_image(content), styles, method=method, preserve_color="histogram").result())
    plain = as_array(client.stylize(rgb_image(content), styles, method=method).result())
    distance = [np.abs(x.reshape(-1, 3).mean(0) - content.reshape(-1, 3).mean(0)).sum() for x in (hist, plain)]
    assert distance[0] < distance[1]


def test_bad_styles_are_refused_clearly(client: Client) -> None:
    content = rgb_image(scene(32, 32))
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, ["cin26:99"], method="cin").result()
    assert info.value.code == "NOT_FOUND" and "cin26:99" in info.value.message
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, [rgb_image(stripes())], method="cin").result()
    assert info.value.code == "INVALID_ARGUMENT" and "built-in styles" in info.value.message
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, ["cin26:1"], method="arbitrary").result()
    assert info.value.code == "NOT_FOUND"
    with pytest.raises(ImpastoError) as info:
        client.stylize(content, ["cin26:1"], method="cin", params={"style_scale": 4.0}).result()
    assert info.value.code == "INVALID_ARGUMENT" and "at least 16 pixels" in info.value.message


def test_stroke_scale_sets_the_working_resolution() -> None:
    params = {"style_scale": 2.0, "size": 0}
    assert working_size(2000, 3000, params) == (1000, 1500)
    assert working_size(2000, 3000, {"style_scale": 1.0, "size": 1200}) == (800, 1200)


def test_bfloat16_stays_within_a_level_of_float32(client: Client) -> None:
    content = rgb_image(scene(96, 128))
    results = {
        p: as_array(client.stylize(content, ["cin26:4"], method="cin", params={"precision": p}).result()).astype(float)
        for p in ("float32", "bfloat16")
    }
    difference = np.abs(results["float32"] - results["bfloat16"])
    assert 0 < difference.mean() < 2.0  # levels of 255: bf16 really ran, and nobody would see it
