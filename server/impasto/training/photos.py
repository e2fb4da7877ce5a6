"""Training photos: any folder of pictures, served as random square crops with random flips.

Feed-forward style networks learn from the content of many photos; random crops and flips of a few dozen are
enough for them (Ulyanov et al. 2016 trained Texture Networks on a few thousand). Without a folder the trainer uses
the default set: the photos bundled with impasto, and the openly licensed photos of photo_sources.py that this
machine has installed (models/training-data.md gives each source, its licence and how to install it).
"""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage

from ..errors import InvalidInput
from ..samples import SAMPLES
from .photo_sources import PHOTO_SOURCES

EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}
BUNDLED_PHOTOS = ("chelsea", "astronaut", "coffee")
# Photos are kept at most this many times the crop side on their shorter side: crops then show a good part of
# the scene (not a patch of texture) and a few dozen photos fit in a few hundred MB.
KEEP_SCALE = 2.0


@dataclass(frozen=True)
class Photo:
    path: Path
    pixels: np.ndarray  # H×W×3 uint8


def find_pictures(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())


def default_photo_paths() -> list[Path]:
    """The bundled photos, then each photo of photo_sources.py installed here (a model records which it saw)."""
    paths = [SAMPLES / f"{name}.png" for name in BUNDLED_PHOTOS]
    roots = sorted({Path(p) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *sys.path)})
    names = {p.name for p in paths}
    for source, _licence, _credit in PHOTO_SOURCES:
        path = Path(source)
        found = path if path.is_absolute() else next((r / path for r in roots if (r / path).is_file()), None)
        # The bundled photos are scikit-image's own; one copy of each is enough.
        if found is not None and found.is_file() and found.name not in names:
            paths.append(found)
            names.add(found.name)
    return paths


def _load(path: Path, side: int) -> Photo | None:
    """A photo in RGB, shrunk so its shorter side is at most KEEP_SCALE × side; None if it is not a usable photo."""
    try:
        with PILImage.open(path) as im:
            im.draft("RGB", (int(side * KEEP_SCALE * 2), int(side * KEEP_SCALE * 2)))  # JPEGs decode smaller: faster
            im = im.convert("RGB")
            short = min(im.size)
            if short < side // 2:
                return None  # too small to crop from without blowing it up past recognition
            keep = min(1.0, side * KEEP_SCALE / short)
            if keep < 1.0:
                size = (max(side, round(im.width * keep)), max(side, round(im.height * keep)))
                im = im.resize(size, PILImage.LANCZOS)
            return Photo(path, np.asarray(im, dtype=np.uint8))
    except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        return None


class PhotoSet:
    """Random `side`×`side` crops of the photos, flipped at random, drawn from a torch.Generator so that a run
    saved and resumed draws the same batches as one that ran straight through."""

    def __init__(self, paths: Iterable[Path], side: int, what: str = "photos", root: Path | None = None) -> None:
        self.side = side
        self.root = root
        candidates = list(paths)
        self.photos = [photo for photo in (_load(p, side) for p in candidates) if photo is not None]
        if not self.photos:
            raise InvalidInput(
                f"{what}: none of the {len(candidates)} files is a readable picture of at least {side // 2} px"
                if candidates
                else f"{what}: there are no pictures ({', '.join(sorted(EXTENSIONS))})"
            )

    @classmethod
    def from_folder(cls, folder: Path | None, side: int) -> PhotoSet:
        if folder is None:
            return cls(default_photo_paths(), side, "the default photo set")
        if not folder.is_dir():
            raise InvalidInput(f"photos: {folder} is not a folder")
        return cls(find_pictures(folder), side, f"photos: {folder}", folder)

    @property
    def paths(self) -> list[Path]:
        return [photo.path for photo in self.photos]

    @property
    def names(self) -> list[str]:
        """The photos as a run records them: relative to their folder, so a moved folder still resumes."""
        return [str(p.relative_to(self.root)) if self.root is not None else str(p) for p in self.paths]

    def batch(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """[size,3,side,side] RGB in 0..1."""
        crops = [self._crop(generator) for _ in range(size)]
        return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)

    def _crop(self, generator: torch.Generator) -> np.ndarray:
        pick = self._draw(len(self.photos), generator)
        pixels = self.photos[pick].pixels
        side = self.side
        if min(pixels.shape[:2]) < side:  # a small photo is scaled up just enough
            scale = side / min(pixels.shape[:2])
            size = (max(side, round(pixels.shape[1] * scale)), max(side, round(pixels.shape[0] * scale)))
            pixels = np.asarray(PILImage.fromarray(pixels).resize(size, PILImage.BICUBIC))
        top = self._draw(pixels.shape[0] - side + 1, generator)
        left = self._draw(pixels.shape[1] - side + 1, generator)
        crop = pixels[top : top + side, left : left + side]
        return np.ascontiguousarray(crop[:, ::-1] if self._draw(2, generator) else crop)

    @staticmethod
    def _draw(n: int, generator: torch.Generator) -> int:
        return int(torch.randint(n, (1,), generator=generator))
