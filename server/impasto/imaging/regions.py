"""Region labels: label maps and named masks turned into paired coverage stacks.

A painter marks regions with flat colours (a label map, as in Deep Photo Style Transfer and
Neural Doodle) or with saved selections (named masks); the content's regions pair with each
style's by colour or name. Pairing is forgiving by design: a content region a style lacks uses
the whole style, and a style without labels is used whole everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impasto_client.images import Image, Layout, SampleType

from ..errors import InvalidInput
from . import pixels

MAX_REGIONS = 16
# Colours covering less than this share of a label map are anti-aliasing or stray pixels.
MINOR_SHARE = 0.001
NEAREST_BLOCK = 1 << 16


@dataclass
class Labels:
    """An image's regions: name → H×W float32 coverage 0..1."""

    masks: dict[str, np.ndarray]
    # What the labels were made from, so cached style statistics can be keyed by it.
    key: str


def from_label_map(image: Image, size: tuple[int, int], field: str) -> Labels:
    """Regions of a label map, one per distinct colour, named "#rrggbb"."""
    _check_size(image, size, field)
    color, _alpha = pixels.split_alpha(pixels.to_array(image), image.layout)
    rgb = pixels.from_rgb_float(pixels.to_rgb_float(color, image.sample_type), 3, SampleType.UINT8)
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    colours, inverse, counts = np.unique(codes.ravel(), return_inverse=True, return_counts=True)
    major = counts >= MINOR_SHARE * codes.size
    if not major.any():
        major = counts == counts.max()
    if int(major.sum()) > MAX_REGIONS:
        raise InvalidInput(
            f"{field}: the label map has {int(major.sum())} colours but at most {MAX_REGIONS} regions are "
            "supported; paint regions with fewer flat colours"
        )
    # Each colour (minor ones too) belongs to the nearest major colour.
    rgb_of = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], -1).astype(np.float32)
    majors = np.flatnonzero(major)
    # In blocks: a noisy map has up to a million colours, and all of them against 16 majors at once is 200 MB.
    nearest = np.concatenate(
        [
            np.argmin(((block[:, None, :] - rgb_of[None, majors, :]) ** 2).sum(-1), axis=1)
            for block in np.split(rgb_of, range(NEAREST_BLOCK, len(rgb_of), NEAREST_BLOCK))
        ]
    )
    owner = majors[nearest][inverse].reshape(codes.shape)
    masks = {f"#{int(colours[m]):06x}": (owner == m).astype(np.float32) for m in majors}
    return Labels(masks, image.sha256)


def from_named_masks(named: list[tuple[str, Image]], size: tuple[int, int], field: str) -> Labels:
    """Regions from named greyscale coverage masks."""
    if len(named) > MAX_REGIONS:
        raise InvalidInput(f"{field}: {len(named)} masks given but at most {MAX_REGIONS} regions are supported")
    masks: dict[str, np.ndarray] = {}
    for i, (name, image) in enumerate(named):
        where = f"{field}.masks[{i}]"
        if not name:
            raise InvalidInput(f"{where}: every region mask needs a name")
        if name in masks:
            raise InvalidInput(f"{where}: two region masks are both named '{name}'")
        if image.layout != Layout.GRAY:
            raise InvalidInput(f"{where}: a region mask must be a greyscale image")
        _check_size(image, size, where)
        masks[name] = pixels.to_rgb_float(pixels.to_array(image), image.sample_type)[..., 0]
    return Labels(masks, "+".join(f"{name}={image.sha256}" for name, image in named))


@dataclass
class Pairing:
    names: list[str]
    content: np.ndarray  # [R,H,W]
    styles: list[np.ndarray | None]  # [R,h,w] per style, None for a style without labels
    unmatched: list[list[str]]  # per style, the content regions it lacks


def pair(content: Labels, styles: list[Labels | None]) -> Pairing:
    """The content's region names, its [R,H,W] coverage stack, and each style's partner stack.

    A style's channel r is its region named like the content's region r, or all ones (the whole
    style) when it has none; a style without labels gets None (the whole style everywhere).
    """
    names = list(content.masks)
    stack = np.stack([content.masks[n] for n in names])
    partners: list[np.ndarray | None] = []
    unmatched: list[list[str]] = []
    for labels in styles:
        if labels is None:
            partners.append(None)
            unmatched.append([])
            continue
        shape = next(iter(labels.masks.values())).shape
        whole = np.ones(shape, np.float32)
        partners.append(np.stack([labels.masks.get(n, whole) for n in names]))
        unmatched.append([n for n in names if n not in labels.masks])
    return Pairing(names, stack, partners, unmatched)


def _check_size(image: Image, size: tuple[int, int], field: str) -> None:
    width, height = size
    if (image.width, image.height) != (width, height):
        raise InvalidInput(
            f"{field}: the labels are {image.width}x{image.height} but their image is {width}x{height}; "
            "they must be the same size"
        )
