"""Image files ⇄ wire images, for the CLI (editors hand over pixels directly).

Pillow reads most formats but gives 16-bit colour PNGs and TIFFs back as 8 bits, so those go through pypng and
tifffile (both pure Python), and 16-bit or float results are written the same way: a photographer's 16-bit file
keeps its depth in and out. A file's size is checked from its header before anything is decoded, so a small file
declaring a huge picture is refused instead of filling the memory.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from impasto_client.images import Image, Layout, SampleType

from ..errors import InvalidInput
from . import pixels

_MODES = {"L": Layout.GRAY, "LA": Layout.GRAY_ALPHA, "RGB": Layout.RGB, "RGBA": Layout.RGBA}
_LAYOUTS = {1: Layout.GRAY, 2: Layout.GRAY_ALPHA, 3: Layout.RGB, 4: Layout.RGBA}
# What the daemon takes (32768 a side, as the protocol says), and in all at most 16384² (1 GiB as 8-bit RGBA).
MAX_SIDE = 32768
MAX_PIXELS = 1 << 28
# PNG colour types with more than one channel; a 16-bit PNG of these is read by pypng.
_PNG_MULTICHANNEL = {2: 3, 4: 2, 6: 4}
_TIFF_EXTENSIONS = {".tif", ".tiff"}
# impasto's limit replaces Pillow's default (89 million pixels): Pillow warns above it and refuses at twice it.
PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS


def _open(path: Path, what: str) -> PILImage.Image:
    """Pillow's lazy open (the header only), with its decompression-bomb signals as impasto's one sentence."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            return PILImage.open(path)
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise InvalidInput(
            f"{what}: {path} is too large: impasto takes images up to {MAX_SIDE} pixels a side and "
            f"{MAX_PIXELS // 1_000_000} million pixels in all"
        ) from None


def read_image(path: str | Path, what: str = "image") -> Image:
    """Reads PNG/JPEG/TIFF/… into a wire image of the same layout and depth (8-bit, 16-bit, float)."""
    path = Path(path)
    try:
        with _open(path, what) as im:
            _check_size(im.width, im.height, path, what)
            deep = _read_deep(path, im)
            if deep is not None:
                return deep
            im.load()
            if im.mode in ("I;16", "I;16L", "I;16B", "I"):
                array = np.asarray(im, dtype=np.uint32).clip(0, 65535).astype("<u2")[..., None]
                return pixels.from_array(array, Layout.GRAY, SampleType.UINT16)
            if im.mode == "F":
                return pixels.from_array(np.asarray(im, dtype="<f4")[..., None], Layout.GRAY, SampleType.FLOAT32)
            if im.mode not in _MODES:
                im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
            array = np.asarray(im, dtype=np.uint8)
            mode = im.mode
    except FileNotFoundError:
        raise InvalidInput(f"{what}: no such file: {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{what}: {path} is a folder, not an image") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InvalidInput(f"{what}: cannot read {path} as an image ({err})") from None
    if array.ndim == 2:
        array = array[..., None]
    return pixels.from_array(array, _MODES[mode], SampleType.UINT8)


def _check_size(width: int, height: int, path: Path, what: str) -> None:
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise InvalidInput(
            f"{what}: {path} is {width}x{height} pixels, too large: impasto takes images up to {MAX_SIDE} pixels a "
            f"side and {MAX_PIXELS // 1_000_000} million pixels in all"
        )


def _read_deep(path: Path, im: PILImage.Image) -> Image | None:
    """A 16-bit colour PNG or a 16-bit/float colour TIFF at its own depth; None for what Pillow reads fully."""
    if im.format == "PNG":
        with open(path, "rb") as f:
            header = f.read(26)
        depth, colour_type = header[24], header[25]
        if depth != 16 or colour_type not in _PNG_MULTICHANNEL:
            return None
        import png  # pypng

        width, height, rows, info = png.Reader(filename=str(path)).asDirect()
        channels = info["planes"]
        array = np.vstack([np.asarray(row, dtype="<u2") for row in rows]).reshape(height, width, channels)
        return pixels.from_array(array, _LAYOUTS[channels], SampleType.UINT16)
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = bits[0] if isinstance(bits, tuple) else bits
        sample_format = im.tag_v2.get(339, 1)
        sample_format = sample_format[0] if isinstance(sample_format, tuple) else sample_format
        if im.mode not in ("RGB", "RGBA", "LA", "RGBX") or (bits, sample_format) not in ((16, 1), (32, 3)):
            return None
        import tifffile

        try:
            array = tifffile.imread(path)
        except (ValueError, NotImplementedError) as err:
            raise InvalidInput(
                f"{path} is a {bits}-bit TIFF whose compression impasto reads only with the imagecodecs package "
                f"({err}); run 'pip install imagecodecs', or save it as PNG or as an uncompressed TIFF"
            ) from None
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim != 3 or array.shape[-1] not in _LAYOUTS:
            return None
        sample = SampleType.UINT16 if bits == 16 else SampleType.FLOAT32
        return pixels.from_array(array, _LAYOUTS[array.shape[-1]], sample)
    return None


def read_mask(path: str | Path) -> Image:
    """A selection from a file: its alpha if it has one, else its grey level, as 8-bit coverage."""
    path = Path(path)
    try:
        with _open(path, "mask") as im:
            _check_size(im.width, im.height, path, "mask")
            grey = im.getchannel("A") if "A" in im.getbands() else im.convert("L")
            array = np.asarray(grey, dtype=np.uint8)[..., None]
    except FileNotFoundError:
        raise InvalidInput(f"mask: no such file: {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"mask: {path} is a folder, not an image") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InvalidInput(f"mask: cannot read {path} as an image ({err})") from None
    return pixels.from_array(array, Layout.GRAY, SampleType.UINT8)


def check_writable(path: str | Path, what: str = "-o") -> None:
    """Refuses, before any work is done, an output that could not be written: a folder, an unknown format, a
    folder that does not exist or cannot be written to."""
    path = Path(path)
    if path.is_dir():
        raise InvalidInput(f"{what} {path}: that is a folder; give a file name such as {path / 'result.png'}")
    suffix = path.suffix.lower()
    formats = PILImage.registered_extensions()
    if suffix not in _TIFF_EXTENSIONS and (suffix not in formats or formats[suffix] not in PILImage.SAVE):
        raise InvalidInput(
            f"{what} {path}: impasto cannot write {suffix or 'files without an extension'}; use .png, .tif, .jpg "
            f"or .webp"
        )
    folder = path.parent
    if not folder.is_dir():
        raise InvalidInput(f"{what} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InvalidInput(f"{what} {path}: the folder {folder} cannot be written to")


def write_image(image: Image, path: str | Path) -> None:
    """Writes a wire image; 16-bit and float images keep their depth where the format allows (PNG: 16-bit;
    TIFF: 16-bit and float), else they are rounded to 8 bits."""
    array = pixels.to_array(image)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _TIFF_EXTENSIONS and image.sample_type != SampleType.UINT8:
        import tifffile

        tifffile.imwrite(
            path,
            array[..., 0] if image.layout == Layout.GRAY else array,
            photometric="minisblack" if image.layout in (Layout.GRAY, Layout.GRAY_ALPHA) else "rgb",
            extrasamples=("unassalpha",) if image.layout.has_alpha else None,
            compression="zlib",
        )
        return
    if image.sample_type == SampleType.UINT16 and suffix == ".png":
        if image.layout == Layout.GRAY:
            PILImage.fromarray(array[..., 0].astype(np.uint16)).save(path)
            return
        import png  # pypng

        channels = image.layout.channels
        writer = png.Writer(
            image.width, image.height, bitdepth=16, greyscale=channels <= 2, alpha=image.layout.has_alpha
        )
        with open(path, "wb") as f:
            writer.write_array(f, np.ascontiguousarray(array, dtype=np.uint16).reshape(-1))
        return
    if image.sample_type != SampleType.UINT8:
        # Formats without 16-bit colour (JPEG, WebP, …) take 8 bits, rounded to nearest.
        scale = 65535.0 if image.sample_type == SampleType.UINT16 else 1.0
        array = np.rint(np.clip(array.astype(np.float32) / scale, 0, 1) * 255).astype(np.uint8)
    PILImage.fromarray(array[..., 0] if image.layout == Layout.GRAY else array).save(path)
