"""Objective measures of a stylized picture: shared by the quality suite (benchmarks/quality.py), the other
benchmarks and the tests that guard the defects the suite found.

Pictures are torch tensors 1×3×H×W in 0..1 (as the methods work) unless a function says otherwise.
"""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from impasto.imaging.resample import fit_longest_side, resize
from impasto.losses.gram import gram_matrix

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")


def load(path: Path, longest: int) -> torch.Tensor:
    image = Image.open(path).convert("RGB")
    h, w = fit_longest_side(image.height, image.width, longest)
    image = image.resize((w, h), Image.LANCZOS)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255


def save(image: torch.Tensor, path: Path) -> None:
    Image.fromarray(to_uint8(image)).save(path)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)


# ------------------------------------------------------------------ VGG statistics


def style_distances(vgg: torch.nn.Module, image: torch.Tensor, style: torch.Tensor) -> dict[str, float]:
    """Mean over relu1_1…relu5_1 of ‖G(image) − G(style)‖/‖G(style)‖ ("gram"), and of the same relative distance
    of the channel means and standard deviations ("meanstd"); the style is taken at the image's longest side."""
    style = resize(style, *fit_longest_side(*style.shape[-2:], max(image.shape[-2:])))
    with torch.no_grad():
        a, b = vgg(image, STYLE_LAYERS), vgg(style, STYLE_LAYERS)
    gram, meanstd = [], []
    for k in STYLE_LAYERS:
        ga, gb = gram_matrix(a[k]), gram_matrix(b[k])
        gram.append(float((ga - gb).norm() / gb.norm()))
        sa = torch.cat([a[k].mean((-2, -1)), a[k].std((-2, -1))], -1)
        sb = torch.cat([b[k].mean((-2, -1)), b[k].std((-2, -1))], -1)
        meanstd.append(float((sa - sb).norm() / sb.norm()))
    return {"gram": statistics.mean(gram), "meanstd": statistics.mean(meanstd)}


def content_distance(vgg: torch.nn.Module, image: torch.Tensor, content: torch.Tensor) -> float:
    """‖relu4_2(image) − relu4_2(content)‖ / ‖relu4_2(content)‖: how much of the content's layout is gone."""
    content = resize(content, *image.shape[-2:])
    with torch.no_grad():
        a, b = vgg(image, (CONTENT_LAYER,))[CONTENT_LAYER], vgg(content, (CONTENT_LAYER,))[CONTENT_LAYER]
    return float((a - b).norm() / b.norm())


# ------------------------------------------------------------------ colour


def dominant_colours(picture: torch.Tensor, count: int = 8, seed: int = 0) -> np.ndarray:
    """The picture's `count` most common colours (count×3, commonest first): k-means on up to 20 000 of its pixels,
    seeded, so the same picture always gives the same palette."""
    pixels = picture[0].flatten(1).T.double().numpy()
    rng = np.random.default_rng(seed)
    if len(pixels) > 20000:
        pixels = pixels[rng.choice(len(pixels), 20000, replace=False)]
    centres = pixels[[rng.integers(len(pixels))]]
    while len(centres) < count:  # k-means++: each new centre far from the chosen ones
        nearest = ((pixels[:, None] - centres[None]) ** 2).sum(-1).min(1)
        centres = np.vstack([centres, pixels[rng.choice(len(pixels), p=nearest / nearest.sum())]])
    for _ in range(30):
        label = ((pixels[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        centres = np.array([pixels[label == i].mean(0) if (label == i).any() else centres[i] for i in range(count)])
    sizes = np.bincount(label, minlength=count)
    return centres[np.argsort(-sizes)]


def palette_distance(picture: torch.Tensor, colours: np.ndarray) -> float:
    """Mean RGB distance (0..1 per channel) from each pixel to the nearest of `colours`: how far the picture is from
    the style's palette. Iridescent pastel flats, where the style has none, raise it."""
    pixels = picture[0].flatten(1).T.double().numpy()
    return float(np.sqrt(((pixels[:, None] - colours[None]) ** 2).sum(-1)).min(1).mean())


def region_colour_ratios(
    picture: torch.Tensor, masks: list[torch.Tensor], style: torch.Tensor, style_masks: list[torch.Tensor]
) -> list[float]:
    """Per region: the distance of its mean colour to its partner style region's mean colour, over the distance to
    the nearest other style region's. Under 1 the region took its partner's colours; 0.6 is clearly so."""

    def mean_colour(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = resize(mask.float(), *image.shape[-2:]) > 0.5
        return image[0][:, mask[0, 0]].mean(1)

    partners = [mean_colour(style, m) for m in style_masks]
    ratios = []
    for i, mask in enumerate(masks):
        own = mean_colour(picture, mask)
        others = [float((own - p).norm()) for j, p in enumerate(partners) if j != i]
        ratios.append(float((own - partners[i]).norm()) / max(min(others), 1e-6))
    return ratios


# ------------------------------------------------------------------ artefacts


def border_line(picture: torch.Tensor, width: int = 2) -> float:
    """How much the outermost `width` rows or columns differ from those just inside, against how much neighbouring
    bands differ inside the picture; the worst of the four edges. About 1 where borders are like the interior; a line
    the loss network's padding drew along an edge reads 2 and more."""
    x = picture[0].double()

    def step(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).abs().mean())

    ratios = []
    for dim in (1, 2):  # rows, then columns
        n = x.shape[dim]

        def band(i: int, dim: int = dim) -> torch.Tensor:
            return x.narrow(dim, i, width)

        inside = statistics.median(step(band(i), band(i + width)) for i in range(2 * width, n - 3 * width, width))
        for edge, next_in in ((0, width), (n - width, n - 2 * width)):
            ratios.append(step(band(edge), band(next_in)) / max(inside, 1e-6))
    return max(ratios)


# ------------------------------------------------------------------ structure (photo)


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Structural similarity of the greys (Wang et al. 2004; 7 px box windows)."""
    x, y = a[0].mean(0, keepdim=True)[None].double(), resize(b, *a.shape[-2:])[0].mean(0, keepdim=True)[None].double()
    box = lambda t: torch.nn.functional.avg_pool2d(t, 7, 1)  # noqa: E731
    mx, my = box(x), box(y)
    vx, vy, cxy = box(x * x) - mx**2, box(y * y) - my**2, box(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return float((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))).mean())


def edge_agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """Correlation of the gradient magnitudes of the two greys: 1 where every edge of one is an edge of the other."""

    def edges(t: torch.Tensor) -> torch.Tensor:
        g = t[0].mean(0).double()
        return torch.nn.functional.pad((g[1:, :-1] - g[:-1, :-1]).hypot(g[:-1, 1:] - g[:-1, :-1]), (0, 1, 0, 1))

    ea, eb = edges(a).flatten(), edges(resize(b, *a.shape[-2:])).flatten()
    return float(torch.corrcoef(torch.stack([ea, eb]))[0, 1])


def cached(saved: Path | None, key: str, run: Callable[[], tuple]) -> tuple:
    """run()'s (image, seconds), or those an earlier run with the same settings (`key`) left in `saved`: a reference or
    a peer does not depend on what is judged, and costs minutes on a CPU."""
    if saved is not None and saved.is_file():
        found = torch.load(saved, weights_only=True)
        if found["params"] == key:
            return found["image"], found["seconds"]
    image, seconds = run()
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"image": image, "seconds": seconds, "params": key}, saved)
    return image, seconds
