"""Image files ⇄ wire images, for the CLI (editors hand over pixels directly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from impasto_client.images import Image, Layout, SampleType

from ..errors import InvalidInput
from . import pixels

_MODES = {"L": Layout.GRAY, "LA": Layout.GRAY_ALPHA, "RGB": Layout.RGB, "RGBA": Layout.RGBA}


def read_image(path: str | Path, what: str = "image") -> Image:
    """Reads PNG/JPEG/TIFF/… (8-bit, 16-bit grey) into a wire image of the same layout and depth."""
    try:
        with PILImage.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16L", "I;16B", "I"):
                array = np.asarray(im, dtype=np.uint32).clip(0, 65535).astype("<u2")[..., None]
                return pixels.from_array(array, Layout.GRAY, SampleType.UINT16)
            if im.mode == "F":
                return pixels.from_array(np.asarray(im, dtype="<f4")[..., None], Layout.GRAY, SampleType.FLOAT32)
            if im.mode not in _MODES:
                im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
            array = np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise InvalidInput(f"{what}: no such file: {path}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InvalidInput(f"{what}: cannot read {path} as an image ({err})") from None
    if array.ndim == 2:
        array = array[..., None]
    return pixels.from_array(array, _MODES[im.mode], SampleType.UINT8)


def read_mask(path: str | Path) -> Image:
    """A selection from a file: its alpha if it has one, else its grey level, as 8-bit coverage."""
    try:
        with PILImage.open(path) as im:
            grey = im.getchannel("A") if "A" in im.getbands() else im.convert("L")
            array = np.asarray(grey, dtype=np.uint8)[..., None]
    except FileNotFoundError:
        raise InvalidInput(f"mask: no such file: {path}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InvalidInput(f"mask: cannot read {path} as an image ({err})") from None
    return pixels.from_array(array, Layout.GRAY, SampleType.UINT8)


def write_image(image: Image, path: str | Path) -> None:
    """Writes a wire image; 16-bit and float images keep their depth where the format allows."""
    array = pixels.to_array(image)
    path = Path(path)
    if image.sample_type == SampleType.UINT16 and image.layout == Layout.GRAY:
        PILImage.fromarray(array[..., 0].astype(np.uint16)).save(path)
        return
    if image.sample_type != SampleType.UINT8:
        # PIL writes 8-bit colour only: convert, rounding to nearest.
        scale = 65535.0 if image.sample_type == SampleType.UINT16 else 1.0
        array = np.rint(np.clip(array.astype(np.float32) / scale, 0, 1) * 255).astype(np.uint8)
    PILImage.fromarray(array[..., 0] if image.layout == Layout.GRAY else array).save(path)
