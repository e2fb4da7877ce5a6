"""Pictures the quality suite makes itself (no licence to check): styles with the traits the suite's defects were
found on, and the label maps of its region cases. Kept apart from the test fixtures (tests/conftest.py's scenes and
the bundled samples), so the suite judges methods on pictures nobody tuned them on.

All return H×W×3 uint8 arrays; label maps use LABELS' colours.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

LABELS = ((255, 0, 0), (0, 0, 255))
NAVY = (18, 24, 64)
BRIGHT = ((250, 200, 40), (240, 60, 60), (60, 200, 240), (120, 230, 90), (250, 130, 220), (255, 255, 255))


def strokes(width: int, height: int, seed: int = 0, ground: tuple = NAVY, density: float = 1.0) -> np.ndarray:
    """Bright multicoloured brush strokes, short and thick, scattered on a dark navy ground that shows between them."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), ground)
    draw = ImageDraw.Draw(image)
    for _ in range(int(width * height / 180 * density)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        angle, length = rng.uniform(0, np.pi), rng.uniform(4, 14) * width / 256
        dx, dy = np.cos(angle) * length, np.sin(angle) * length
        colour = tuple(int(c * rng.uniform(0.8, 1.0)) for c in BRIGHT[rng.integers(len(BRIGHT))])
        draw.line((x - dx, y - dy, x + dx, y + dy), fill=colour, width=max(2, int(rng.uniform(2, 4) * width / 256)))
    return np.asarray(image.filter(ImageFilter.SMOOTH))


def gravel(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Fine grey gravel: small round stones of many greys with dark gaps."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), (70, 70, 68))
    draw = ImageDraw.Draw(image)
    for _ in range(width * height // 12):
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(1.2, 3.0)
        g = int(rng.uniform(110, 200))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(g, g, int(g * 0.97)))
    return np.asarray(image)


def tartan(width: int, height: int, colours: tuple, seed: int = 0) -> np.ndarray:
    """A tartan: crossing bands of the given colours, of seeded widths."""
    rng = np.random.default_rng(seed)
    bands = np.concatenate([np.full(int(rng.integers(4, 14)), i % len(colours)) for i in range(64)])
    rows, cols = bands[np.arange(height) % len(bands)], bands[np.arange(width) % len(bands)]
    palette = np.array(colours, dtype=np.float64)
    return ((palette[rows][:, None] + palette[cols][None]) / 2).astype(np.uint8)


def sky(width: int, height: int, top: tuple, bottom: tuple, seed: int = 0) -> np.ndarray:
    """A smooth sky from `top` to `bottom` with soft cloud banks."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, height)[:, None, None]
    gradient = (1 - t) * np.array(top) + t * np.array(bottom)
    clouds = np.asarray(Image.fromarray(rng.integers(0, 255, (height // 16 + 2, width // 16 + 2), dtype=np.uint8))
                        .resize((width, height), Image.BICUBIC), dtype=np.float64)[..., None] / 255  # fmt: skip
    return np.clip(gradient * (0.9 + 0.2 * clouds), 0, 255).astype(np.uint8)


def two_halves(side: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Doodle's annotated painting: gravel on the left half (label 0), strokes on navy on the right (label 1)."""
    style = np.concatenate([gravel(side // 2, side, seed), strokes(side - side // 2, side, seed)], axis=1)
    labels = np.zeros((side, side, 3), np.uint8)
    labels[:, : side // 2], labels[:, side // 2 :] = LABELS[0], LABELS[1]
    return style, labels


def disc_doodle(side: int) -> np.ndarray:
    """A doodle: a filled disc of label 0 on a ground of label 1."""
    yy, xx = np.mgrid[:side, :side]
    disc = np.hypot(yy - side / 2, xx - side / 2) < side * 0.3
    return np.where(disc[..., None], np.array(LABELS[0], np.uint8), np.array(LABELS[1], np.uint8))


def sky_over_ground(width: int, height: int, sky_colours: tuple, ground_colours: tuple, seed: int = 0):
    """A scene of sky over a tartan ground, horizon at 45%, with its label map (sky label 0, ground label 1)."""
    horizon = int(height * 0.45)
    picture = np.concatenate([sky(width, horizon, *sky_colours, seed), tartan(width, height - horizon, ground_colours,
                                                                              seed)])  # fmt: skip
    labels = np.zeros((height, width, 3), np.uint8)
    labels[:horizon], labels[horizon:] = LABELS[0], LABELS[1]
    return picture, labels


def blue_sky_scene(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    ground = ((40, 110, 40), (90, 160, 60), (20, 60, 30))
    return sky_over_ground(width, height, ((70, 120, 220), (170, 200, 240)), ground)


def sunset_scene(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    ground = ((40, 20, 30), (90, 40, 30), (15, 15, 25))
    return sky_over_ground(width, height, ((230, 110, 30), (250, 190, 90)), ground, 1)
