"""Neural Doodle through the daemon: each doodle colour takes the texture of the same colour in the painting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from impasto import cli
from impasto_client import Client, ImpastoError

from .conftest import as_array, rgb_image

N = 64
FAST = {"size": 64, "steps": 25, "coarse_steps": 0, "stride": 2}
WARM, COOL = np.array([210, 80, 40]), np.array([40, 90, 190])


def painting() -> np.ndarray:
    """Warm diagonal strokes on the left, cool horizontal strokes on the right."""
    yy, xx = np.mgrid[0:N, 0:N]
    warm = np.where(((xx + yy) // 3 % 2 == 0)[..., None], WARM + 30, WARM - 30)
    cool = np.where((yy // 3 % 2 == 0)[..., None], COOL + 30, COOL - 30)
    return np.where((xx < N // 2)[..., None], warm, cool).clip(0, 255).astype(np.uint8)


def annotation() -> np.ndarray:
    labels = np.zeros((N, N, 3), np.uint8)
    labels[:, : N // 2] = (255, 255, 0)
    labels[:, N // 2 :] = (0, 255, 255)
    return labels


def doodle() -> np.ndarray:
    """The same two colours, laid out top and bottom instead of left and right."""
    labels = np.zeros((N, N, 3), np.uint8)
    labels[: N // 2] = (255, 255, 0)
    labels[N // 2 :] = (0, 255, 255)
    return labels


def halves(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = image[..., :3].astype(float)
    return out[: N // 2].reshape(-1, 3).mean(0), out[N // 2 :].reshape(-1, 3).mean(0)


def separation(top: np.ndarray, bottom: np.ndarray) -> tuple[float, float]:
    return (
        float(np.linalg.norm(top - COOL) - np.linalg.norm(top - WARM)),
        float(np.linalg.norm(bottom - WARM) - np.linalg.norm(bottom - COOL)),
    )


def test_a_doodle_alone_becomes_a_painting_laid_out_like_it(client: Client) -> None:
    target = rgb_image(doodle())
    losses: list[float] = []
    result = client.stylize(
        target,
        [rgb_image(painting())],
        method="doodle",
        params=FAST,
        content_labels=target,  # the doodle is the picture: nothing else to keep
        style_labels=[rgb_image(annotation())],
    ).result(lambda e: losses.append(e.loss) if e.kind == "progress" else None)
    assert losses[-1] < 0.7 * losses[0]
    top, bottom = halves(as_array(result))
    warm_top, cool_bottom = separation(top, bottom)
    assert warm_top > 60 and cool_bottom > 60
    # Textured, not flat fills: the strokes came along.
    out = as_array(result).astype(float)
    assert out[: N // 2].std(axis=(0, 1)).mean() > 8


def test_fine_detail_keeps_each_doodle_colour_in_its_partners_strokes(client: Client) -> None:
    """Worked at 32 px and refined up to the 64 px layer (`detail: fine`, the default), a doodle three quarters warm
    keeps its warm part warm: the refinement matches each region's statistics to its partner's (matched over the
    whole picture, the half-and-half painting's would pull the warm part toward the cool: 45 from warm, not 16)."""
    labels = np.zeros((N, N, 3), np.uint8)
    labels[:] = (255, 255, 0)
    labels[N * 3 // 4 :] = (0, 255, 255)
    target = rgb_image(labels)
    stages: list[str] = []
    result = client.stylize(
        target,
        [rgb_image(painting())],
        method="doodle",
        params={**FAST, "size": 32, "detail_steps": 10},
        content_labels=target,
        style_labels=[rgb_image(annotation())],
    ).result(lambda e: stages.append(e.stage) if e.kind == "progress" else None)
    assert stages[-1] == "optimising 64x64"
    warm_part = as_array(result)[: N * 3 // 4, :, :3].reshape(-1, 3).astype(float).mean(0)
    assert np.linalg.norm(warm_part - WARM) < 30


def test_doodle_over_a_photo_follows_the_doodle(client: Client) -> None:
    # A uniform grey photo: whatever separates its halves comes from the doodle (without the semantic
    # channels one half ends nearer the wrong colour).
    rng = np.random.default_rng(0)
    grey = (np.clip(0.5 + 0.12 * rng.standard_normal((N, N, 1)), 0, 1).repeat(3, -1) * 255).astype(np.uint8)
    result = client.stylize(
        rgb_image(grey),
        [rgb_image(painting())],
        method="doodle",
        params={**FAST, "steps": 40, "content_weight": 0.2},
        content_labels=rgb_image(doodle()),
        style_labels=[rgb_image(annotation())],
    ).result()
    warm_top, cool_bottom = separation(*halves(as_array(result)))
    assert warm_top > 30 and cool_bottom > 30


def test_doodle_refuses_what_it_cannot_paint(client: Client) -> None:
    target = rgb_image(doodle())
    style = [rgb_image(painting())]
    with pytest.raises(ImpastoError) as err:
        client.stylize(target, style, method="doodle", params=FAST, style_labels=[rgb_image(annotation())]).result()
    assert err.value.code == "INVALID_ARGUMENT" and "--content-labels" in err.value.message
    with pytest.raises(ImpastoError) as err:
        client.stylize(target, style, method="doodle", params=FAST, content_labels=target).result()
    assert err.value.code == "INVALID_ARGUMENT" and "annotation" in err.value.message
    stray = doodle()
    stray[:8] = (255, 0, 255)  # a colour the annotation lacks
    with pytest.raises(ImpastoError) as err:
        client.stylize(
            rgb_image(stray),
            style,
            method="doodle",
            params=FAST,
            content_labels=rgb_image(stray),
            style_labels=[rgb_image(annotation())],
        ).result()
    assert err.value.code == "INVALID_ARGUMENT" and "#ff00ff" in err.value.message


def test_cli_turns_a_doodle_into_a_painting(tmp_path: Path) -> None:
    for name, array in (("doodle.png", doodle()), ("painting.png", painting()), ("annotation.png", annotation())):
        PILImage.fromarray(array).save(tmp_path / name)
    out = tmp_path / "out.png"
    doodle_path = str(tmp_path / "doodle.png")
    argv = ["stylize", doodle_path, "--method", "doodle", "--style", str(tmp_path / "painting.png")]
    argv += ["--style-labels", str(tmp_path / "annotation.png"), "--content-labels", doodle_path]
    argv += ["--size", "64", "--steps", "25", "--set", "coarse_steps=0", "--set", "stride=2", "-o", str(out)]
    assert cli.main([*argv, "--quiet"]) == 0
    warm_top, cool_bottom = separation(*halves(np.array(PILImage.open(out).convert("RGB"))))
    assert warm_top > 60 and cool_bottom > 60
