"""Region-to-region transfer: label maps and named masks pair content regions with style regions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from impasto import cli
from impasto.imaging import regions
from impasto_client import Client, Image, ImpastoError, Layout, SampleType
from impasto_client.selections import invert, plan_selections

from .conftest import as_array, rgb_image

H = W = 48
RED, BLUE = np.array([200, 40, 30]), np.array([30, 60, 200])
FAST = {"size": 48, "steps": 40, "coarse_steps": 0}


def grey_texture(seed: int = 0) -> np.ndarray:
    """The same grey texture everywhere, so any difference between the halves comes from the regions."""
    rng = np.random.default_rng(seed)
    return (np.clip(0.5 + 0.15 * rng.standard_normal((H, W, 1)), 0, 1).repeat(3, -1) * 255).astype(np.uint8)


def two_palette_style() -> np.ndarray:
    """Red on the left, blue on the right: the partner regions sit elsewhere than in the content."""
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((H, W, 1)) * 30
    style = np.where(np.arange(W)[None, :, None] < W // 2, RED, BLUE) + noise
    return np.clip(style, 0, 255).astype(np.uint8)


def halves(axis: int, first: tuple[int, int, int], second: tuple[int, int, int]) -> np.ndarray:
    labels = np.empty((H, W, 3), np.uint8)
    index = np.arange(H if axis == 0 else W)
    first_half = (index < len(index) // 2)[:, None] if axis == 0 else (index < len(index) // 2)[None, :]
    labels[:] = np.where(first_half[..., None], first, second)
    return labels


def grey_mask(array: np.ndarray) -> np.ndarray:
    return (array[..., :1] > 0).astype(np.uint8) * 255


def half_means(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = image.astype(float)
    return out[: H // 2].reshape(-1, 3).mean(0), out[H // 2 :].reshape(-1, 3).mean(0)


def closer(colour: np.ndarray, partner: np.ndarray, other: np.ndarray) -> float:
    """How much nearer `colour` is to `partner` than to `other` (positive: nearer the partner)."""
    return float(np.linalg.norm(colour - other) - np.linalg.norm(colour - partner))


def test_label_maps_pair_regions_by_colour(client: Client) -> None:
    content_labels = halves(0, (255, 255, 255), (0, 0, 0))  # top white, bottom black
    style_labels = halves(1, (255, 255, 255), (0, 0, 0))  # left white (red), right black (blue)
    result = client.stylize(
        rgb_image(grey_texture()),
        [rgb_image(two_palette_style())],
        params=FAST,
        content_labels=rgb_image(content_labels),
        style_labels=[rgb_image(style_labels)],
    ).result()
    top, bottom = half_means(as_array(result))
    # The top takes the red region's look and the bottom the blue one's, each by a clear margin.
    assert closer(top, RED, BLUE) > 40
    assert closer(bottom, BLUE, RED) > 40


def test_without_labels_the_halves_do_not_separate(client: Client) -> None:
    result = client.stylize(rgb_image(grey_texture()), [rgb_image(two_palette_style())], params=FAST).result()
    top, bottom = half_means(as_array(result))
    assert np.linalg.norm(top - bottom) < 25
    # A style without labels against labelled content is used whole for every region: no error.
    fallback = client.stylize(
        rgb_image(grey_texture()),
        [rgb_image(two_palette_style())],
        params=FAST,
        content_labels=rgb_image(halves(0, (255, 255, 255), (0, 0, 0))),
    ).result()
    top, bottom = half_means(as_array(fallback))
    assert np.linalg.norm(top - bottom) < 25


def test_named_masks_pair_by_name(client: Client) -> None:
    sky, ground = halves(0, (255, 255, 255), (0, 0, 0)), halves(0, (0, 0, 0), (255, 255, 255))
    left, right = halves(1, (255, 255, 255), (0, 0, 0)), halves(1, (0, 0, 0), (255, 255, 255))
    result = client.stylize(
        rgb_image(grey_texture()),
        [rgb_image(two_palette_style())],
        params=FAST,
        content_labels={"sky": rgb_image(grey_mask(sky)), "ground": rgb_image(grey_mask(ground))},
        # Listed in the other order: pairing is by name.
        style_labels=[{"ground": rgb_image(grey_mask(right)), "sky": rgb_image(grey_mask(left))}],
    ).result()
    top, bottom = half_means(as_array(result))
    assert closer(top, RED, BLUE) > 40
    assert closer(bottom, BLUE, RED) > 40


def test_a_content_region_the_style_lacks_uses_the_whole_style() -> None:
    content = regions.Labels({"sky": np.ones((4, 4), np.float32), "sea": np.zeros((4, 4), np.float32)}, "c")
    style = regions.Labels({"sky": np.eye(6, dtype=np.float32)}, "s")
    pairing = regions.pair(content, [style, None])
    assert pairing.names == ["sky", "sea"]
    assert pairing.content.shape == (2, 4, 4)
    assert pairing.styles[1] is None
    assert np.array_equal(pairing.styles[0][0], np.eye(6)) and np.all(pairing.styles[0][1] == 1)
    assert pairing.unmatched == [["sea"], []]


def test_anti_aliased_edges_join_the_nearest_region() -> None:
    labels = halves(1, (250, 10, 10), (10, 10, 250))
    labels[5, W // 2] = (200, 20, 60)  # one anti-aliased pixel (under 0.1% of the map), nearest to red
    image = rgb_image(labels)
    parsed = regions.from_label_map(image, (W, H), "content_labels")
    assert sorted(parsed.masks) == ["#0a0afa", "#fa0a0a"]
    red = parsed.masks["#fa0a0a"]
    assert red[5, W // 2] == 1 and red.sum() + parsed.masks["#0a0afa"].sum() == H * W


def test_bad_labels_get_clear_errors(client: Client) -> None:
    content, style = rgb_image(grey_texture()), rgb_image(two_palette_style())
    small = rgb_image(np.zeros((H // 2, W, 3), np.uint8))
    with pytest.raises(ImpastoError) as err:
        client.stylize(content, [style], params=FAST, content_labels=small).result()
    assert err.value.code == "INVALID_ARGUMENT"
    assert "content_labels" in err.value.message and "same size" in err.value.message

    many = np.zeros((H, W, 3), np.uint8)
    many[..., 0] = (np.arange(W) // 2 * 10)[None, :]  # 24 flat colours, none of them stray
    with pytest.raises(ImpastoError) as err:
        client.stylize(content, [style], params=FAST, content_labels=rgb_image(many)).result()
    assert err.value.code == "INVALID_ARGUMENT" and "at most 16 regions" in err.value.message

    with pytest.raises(ImpastoError) as err:
        labels = rgb_image(halves(0, (1, 1, 1), (0, 0, 0)))
        client.stylize(content, ["cin26:0"], method="cin", content_labels=labels).result()
    assert err.value.code == "INVALID_ARGUMENT" and "does not use region labels" in err.value.message

    gray_mask = rgb_image(np.zeros((H, W, 1), np.uint8))
    rgb_mask = rgb_image(np.zeros((H, W, 3), np.uint8))
    with pytest.raises(ImpastoError) as err:
        client.stylize(content, [style], params=FAST, content_labels={"a": gray_mask, "b": rgb_mask}).result()
    assert err.value.code == "INVALID_ARGUMENT" and "greyscale" in err.value.message
    assert gray_mask.layout == Layout.GRAY and gray_mask.sample_type == SampleType.UINT8
    # The daemon keeps serving.
    assert client.stylize(content, [style], params={**FAST, "steps": 1}).result().width == W


def test_cli_label_maps(tmp_path: Path) -> None:
    files = {
        "content.png": grey_texture(),
        "style.png": two_palette_style(),
        "content-labels.png": halves(0, (255, 255, 255), (0, 0, 0)),
        "style-labels.png": halves(1, (255, 255, 255), (0, 0, 0)),
    }
    for name, array in files.items():
        PILImage.fromarray(array).save(tmp_path / name)
    out = tmp_path / "out.png"
    argv = [str(tmp_path / "content.png"), "--style", str(tmp_path / "style.png"), "-o", str(out), "--quiet"]
    labels = ["--content-labels", str(tmp_path / "content-labels.png")]
    labels += ["--style-labels", str(tmp_path / "style-labels.png")]
    params = ["--size", "48", "--steps", "40", "--set", "coarse_steps=0"]
    assert cli.main(["stylize", *argv, *labels, *params]) == 0
    top, bottom = half_means(np.array(PILImage.open(out).convert("RGB")))
    assert closer(top, RED, BLUE) > 40 and closer(bottom, BLUE, RED) > 40
    # Label maps of the wrong size: exit 2 with the daemon's sentence.
    PILImage.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "tiny.png")
    assert cli.main(["stylize", *argv, "--content-labels", str(tmp_path / "tiny.png"), *params]) == 2


# ---------------------------------------------------------------- editors' selections as regions


def selection(array: np.ndarray) -> Image:
    """A GRAY 8-bit selection from the white part of a halves() picture."""
    return rgb_image(grey_mask(array))


TOP, LEFT = halves(0, (255, 255, 255), (0, 0, 0)), halves(1, (255, 255, 255), (0, 0, 0))


def test_selections_pair_selected_with_selected_and_the_rest_with_the_rest(client: Client) -> None:
    content, style = rgb_image(grey_texture()), rgb_image(two_palette_style())
    plan = plan_selections((W, H), selection(TOP), [style], [selection(LEFT)], takes_label_maps=True)
    assert plan.paired and plan.mask is None  # the whole layer is stylized
    assert set(plan.content_labels) == set(plan.style_labels[0]) == {"selection", "rest"}
    result = client.stylize(
        content,
        plan.styles,
        params=FAST,
        mask=plan.mask,
        content_labels=plan.content_labels,
        style_labels=plan.style_labels,
    ).result()
    top, bottom = half_means(as_array(result))
    assert closer(top, RED, BLUE) > 40  # selected (top) from the style's selected (red, left) part
    assert closer(bottom, BLUE, RED) > 40  # the rest from the rest


def test_a_style_selection_alone_chooses_the_part_of_the_style(client: Client) -> None:
    content, style = grey_texture(), rgb_image(two_palette_style())
    params = {**FAST, "steps": 100}  # one region to move all the way from grey: more steps than two
    plan = plan_selections((W, H), None, [style], [selection(LEFT)], takes_label_maps=True)
    kwargs = {"content_labels": plan.content_labels, "style_labels": plan.style_labels}
    result = as_array(client.stylize(rgb_image(content), plan.styles, params=params, **kwargs).result())
    for half in half_means(result):
        assert closer(half, RED, BLUE) > 40
    # "Stylize selection" keeps the result inside the content's selection, all of it from the style's.
    plan = plan_selections((W, H), selection(TOP), [style], [selection(LEFT)], takes_label_maps=True, restrict=True)
    assert plan.mask is not None and set(plan.content_labels) == {"selection"}
    kwargs = {"content_labels": plan.content_labels, "style_labels": plan.style_labels}
    result = as_array(client.stylize(rgb_image(content), plan.styles, params=params, mask=plan.mask, **kwargs).result())
    assert closer(result[: H // 2].reshape(-1, 3).mean(0), RED, BLUE) > 40
    assert np.array_equal(result[H // 2 :], content[H // 2 :])  # outside the selection, untouched


def test_selections_without_pairing() -> None:
    style = rgb_image(two_palette_style())
    # No style selection, or one that selects nothing or everything: the content's selection is a mask.
    for style_selection in (None, selection(np.zeros((H, W, 3), np.uint8)), selection(np.full((H, W, 3), 255))):
        plan = plan_selections((W, H), selection(TOP), [style], [style_selection], takes_label_maps=True)
        assert not plan.paired and plan.mask is not None and plan.styles == [style]
    # A method that cannot pair regions gets the selected part of the style, weight kept.
    plan = plan_selections((W, H), selection(TOP), [(style, 0.5)], [selection(LEFT)], takes_label_maps=False)
    assert not plan.paired and plan.mask is not None
    cropped, weight = plan.styles[0]
    assert (cropped.width, cropped.height, weight) == (W // 2, H, 0.5)
    assert closer(as_array(cropped).reshape(-1, 3).mean(0), RED, BLUE) > 100
    assert invert(selection(TOP)).data == selection(halves(0, (0, 0, 0), (255, 255, 255))).data
    with pytest.raises(ValueError, match="8-bit greyscale"):
        plan_selections((W, H), None, [style], [style], takes_label_maps=True)


def test_saved_selections_pair_by_name_and_the_rests_pair(client: Client) -> None:
    content, style = rgb_image(grey_texture()), rgb_image(two_palette_style())
    right = halves(1, (0, 0, 0), (255, 255, 255))
    # Only "sky" is saved on both sides: the content's sky (top) is the style's right (blue) half, and
    # what no saved selection covers (bottom) takes its look from what none covers in the style (red).
    plan = plan_selections(
        (W, H),
        None,
        [style],
        [selection(LEFT)],  # saved selections that pair by name outrank the plain selections
        takes_label_maps=True,
        content_regions={"sky": selection(TOP), "unused": selection(np.zeros((H, W, 3), np.uint8))},
        style_regions=[{"sky": selection(right)}],
    )
    assert set(plan.content_labels) == {"sky", "rest"} and set(plan.style_labels[0]) == {"sky", "rest"}
    kwargs = {"content_labels": plan.content_labels, "style_labels": plan.style_labels}
    result = client.stylize(content, plan.styles, params={**FAST, "steps": 100}, **kwargs).result()
    top, bottom = half_means(as_array(result))
    assert closer(top, BLUE, RED) > 40
    assert closer(bottom, RED, BLUE) > 40
    # No shared name: the plain selections decide.
    plan = plan_selections(
        (W, H),
        None,
        [style],
        [selection(LEFT)],
        takes_label_maps=True,
        content_regions={"sea": selection(TOP)},
        style_regions=[{"sky": selection(right)}],
    )
    assert set(plan.content_labels) == {"selection"}
