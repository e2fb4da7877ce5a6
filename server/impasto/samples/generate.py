"""Regenerates the bundled samples: photos from scikit-image, style pictures drawn by this script.

Run once by the maintainers (needs scikit-image); the PNGs are committed, see README.md here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).parent


def photos() -> None:
    from skimage import data

    for name in ("chelsea", "astronaut", "coffee"):
        im = Image.fromarray(getattr(data, name)())
        im.thumbnail((384, 384), Image.LANCZOS)
        im.save(HERE / f"{name}.png", optimize=True)


def swirls(size: int = 384, seed: int = 1) -> Image.Image:
    """Short curved strokes along a swirling flow field, in night-sky blues and yellows."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (size, size), (20, 40, 90))
    draw = ImageDraw.Draw(im)
    palette = [(25, 55, 130), (40, 90, 170), (70, 130, 200), (230, 200, 70), (245, 225, 120), (15, 30, 70)]
    for _ in range(5000):
        x, y = rng.uniform(0, size, 2)
        color = palette[rng.integers(len(palette))]
        width = int(rng.integers(3, 7))
        points = [(x, y)]
        for _ in range(int(rng.integers(4, 10))):
            angle = math.sin(x / 37.0) * 2.0 + math.cos(y / 29.0) * 2.0 + math.hypot(x - size / 2, y - size / 2) / 40
            x += 4 * math.cos(angle)
            y += 4 * math.sin(angle)
            points.append((x, y))
        draw.line(points, fill=color, width=width, joint="curve")
    return im.filter(ImageFilter.SMOOTH)


def mosaic(size: int = 384, seed: int = 2, cells: int = 160) -> Image.Image:
    """Voronoi tiles in warm earth colours with dark grout, like a stained-glass window."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, size, (cells, 2))
    colours = rng.choice(
        np.array([[200, 60, 40], [230, 150, 40], [60, 120, 70], [40, 80, 150], [220, 200, 160], [150, 40, 90]]), cells
    )
    yy, xx = np.mgrid[0:size, 0:size]
    d = (xx[..., None] - centres[:, 0]) ** 2 + (yy[..., None] - centres[:, 1]) ** 2
    order = np.argsort(d, axis=-1)
    nearest, second = order[..., 0], order[..., 1]
    gap = np.sqrt(np.take_along_axis(d, second[..., None], -1)[..., 0]) - np.sqrt(
        np.take_along_axis(d, nearest[..., None], -1)[..., 0]
    )
    image = colours[nearest].astype(np.float32)
    image *= 0.85 + 0.15 * rng.random((size, size, 1))
    image[gap < 2.5] = (30, 25, 20)
    return Image.fromarray(image.clip(0, 255).astype(np.uint8))


if __name__ == "__main__":
    photos()
    swirls().save(HERE / "swirls.png", optimize=True)
    mosaic().save(HERE / "mosaic.png", optimize=True)
