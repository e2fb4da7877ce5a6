"""Style pictures for decoders that must invert any style's statistics (AdaIN): drawn here, never downloaded.

No public-domain paintings ship with impasto, so the AdaIN decoder learns on styles of three origins: the bundled
style pictures, other photos of the batch, and pictures drawn on the fly from a seed — strokes along flow fields,
tiles, blobs and bands in random palettes — which span the flat, saturated and high-contrast statistics that
paintings have and photos lack.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFilter

from ..samples import SAMPLES

BUNDLED_STYLES = ("swirls", "mosaic")


def _palette(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    base = rng.uniform(0, 1, 3)
    colours = []
    for _ in range(int(rng.integers(3, 8))):
        # Around one hue, or anywhere: harmonious and clashing palettes both occur in paintings.
        c = (base + rng.normal(0, 0.25, 3)) % 1.0 if rng.random() < 0.6 else rng.uniform(0, 1, 3)
        colours.append(tuple(int(v * 255) for v in c))
    return colours


def draw_style(rng: np.random.Generator, side: int) -> np.ndarray:
    """One painting-like picture, side×side×3 uint8."""
    palette = _palette(rng)
    im = PILImage.new("RGB", (side, side), palette[0])
    draw = ImageDraw.Draw(im)
    kind = int(rng.integers(4))
    count = int(side * side / rng.uniform(40, 400))
    if kind == 0:  # strokes along a flow field
        fx, fy, twist = rng.uniform(15, 60), rng.uniform(15, 60), rng.uniform(0, 3)
        for _ in range(count):
            x, y = rng.uniform(0, side, 2)
            points = [(x, y)]
            for _ in range(int(rng.integers(3, 12))):
                angle = math.sin(x / fx) * twist + math.cos(y / fy) * twist
                x, y = x + 4 * math.cos(angle), y + 4 * math.sin(angle)
                points.append((x, y))
            draw.line(points, fill=palette[int(rng.integers(len(palette)))], width=int(rng.integers(1, 8)))
    elif kind == 1:  # blobs
        for _ in range(count // 4):
            x, y = rng.uniform(0, side, 2)
            r = rng.uniform(2, side / 8)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=palette[int(rng.integers(len(palette)))])
    elif kind == 2:  # tiles
        cell = int(rng.integers(6, 40))
        for top in range(0, side, cell):
            for left in range(0, side, cell):
                jitter = rng.integers(-cell // 4, cell // 4 + 1, 4)
                box = (left + jitter[0], top + jitter[1], left + cell + jitter[2], top + cell + jitter[3])
                draw.rectangle(box, fill=palette[int(rng.integers(len(palette)))], outline=palette[0])
    else:  # bands
        angle = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:side, 0:side]
        phase = (xx * math.cos(angle) + yy * math.sin(angle)) / rng.uniform(4, 30)
        wave = phase + rng.uniform(0, 2) * np.sin(yy / rng.uniform(5, 40))
        index = np.floor(wave).astype(int) % len(palette)
        im = PILImage.fromarray(np.asarray(palette, dtype=np.uint8)[index])
    if rng.random() < 0.5:
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    return np.asarray(im, dtype=np.uint8)


class StyleSet:
    """Batches of style pictures: a drawn one, a bundled one, or one of the batch's photos (rolled by one)."""

    def __init__(self, side: int) -> None:
        self.side = side
        self.bundled = []
        for name in BUNDLED_STYLES:
            with PILImage.open(SAMPLES / f"{name}.png") as im:
                im = im.convert("RGB")
                if min(im.size) < side:
                    scale = side / min(im.size)
                    im = im.resize((math.ceil(im.width * scale), math.ceil(im.height * scale)), PILImage.BICUBIC)
                self.bundled.append(np.asarray(im, dtype=np.uint8))

    def batch(self, photos: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = photos.roll(1, 0).clone()
        for i in range(photos.shape[0]):
            pick = float(torch.rand((), generator=generator))
            if pick < 0.6:
                rng = np.random.default_rng(int(torch.randint(2**31, (1,), generator=generator)))
                out[i] = _tensor(draw_style(rng, self.side))
            elif pick < 0.75:
                picture = self.bundled[int(torch.randint(len(self.bundled), (1,), generator=generator))]
                top = int(torch.randint(picture.shape[0] - self.side + 1, (1,), generator=generator))
                left = int(torch.randint(picture.shape[1] - self.side + 1, (1,), generator=generator))
                out[i] = _tensor(picture[top : top + self.side, left : left + self.side])
        return out


def _tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(pixels)).permute(2, 0, 1).float().div_(255.0)
