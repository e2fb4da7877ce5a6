"""Selections as masks: where a method works, and how its result is blended back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Region:
    """A rectangle [top, bottom) × [left, right) of the layer."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)


def work_region(coverage: np.ndarray, context: float = 0.25, min_context: int = 16) -> Region | None:
    """The selection's bounding box grown by `context` of its size on each side, within the layer.

    The margin lets the method see around the object (its content loss and the
    network's receptive field need neighbours) while a small object in a big layer
    is still processed at its own scale. None when nothing is selected.
    """
    rows = np.flatnonzero(coverage.any(axis=1))
    cols = np.flatnonzero(coverage.any(axis=0))
    if rows.size == 0:
        return None
    h, w = coverage.shape
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    pad_y = max(min_context, round((bottom - top) * context))
    pad_x = max(min_context, round((right - left) * context))
    return Region(max(0, top - pad_y), min(h, bottom + pad_y), max(0, left - pad_x), min(w, right + pad_x))


def blend(original: np.ndarray, stylized: np.ndarray, coverage: np.ndarray | None) -> np.ndarray:
    """Mixes colour channels by coverage (0..255) in the original's sample type.

    Pixels with coverage 0 are copied, never recomputed, so they stay bit-identical.
    """
    if coverage is None:
        return stylized.astype(original.dtype, copy=False)
    weight = (coverage.astype(np.float32) / 255.0)[..., None]
    mixed = original.astype(np.float32) + (stylized.astype(np.float32) - original.astype(np.float32)) * weight
    if np.issubdtype(original.dtype, np.integer):
        mixed = np.rint(mixed)
    mixed = mixed.astype(original.dtype)
    return np.where(weight > 0, mixed, original)
