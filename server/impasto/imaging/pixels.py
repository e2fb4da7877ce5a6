"""Wire pixels ⇄ arrays: what the protocol carries and what the methods compute on."""

from __future__ import annotations

import numpy as np
import torch

from impasto_client.images import Image, Layout, SampleType

DTYPES = {SampleType.UINT8: np.dtype("u1"), SampleType.UINT16: np.dtype("<u2"), SampleType.FLOAT32: np.dtype("<f4")}
_SCALE = {SampleType.UINT8: 255.0, SampleType.UINT16: 65535.0, SampleType.FLOAT32: 1.0}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_array(image: Image) -> np.ndarray:
    """H×W×C view of the image's samples (read-only, no copy)."""
    flat = np.frombuffer(image.data, dtype=DTYPES[image.sample_type])
    return flat.reshape(image.height, image.width, image.layout.channels)


def from_array(array: np.ndarray, layout: Layout, sample_type: SampleType) -> Image:
    h, w, _ = array.shape
    data = np.ascontiguousarray(array, dtype=DTYPES[sample_type]).tobytes()
    return Image(w, h, layout, sample_type, data)


def split_alpha(array: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray | None]:
    if layout.has_alpha:
        return array[..., :-1], array[..., -1:]
    return array, None


def to_rgb_float(color: np.ndarray, sample_type: SampleType) -> np.ndarray:
    """Colour samples (1 or 3 channels) as float32 RGB in 0..1; NaN and HDR values are clamped."""
    rgb = color.astype(np.float32)  # the one copy; the rest happens in place
    rgb /= _SCALE[sample_type]
    if rgb.shape[-1] == 1:
        rgb = np.repeat(rgb, 3, axis=-1)
    np.nan_to_num(rgb, copy=False, nan=0.0)
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def from_rgb_float(rgb: np.ndarray, channels: int, sample_type: SampleType) -> np.ndarray:
    """Float RGB 0..1 back to `channels` colour samples of `sample_type` (grey takes the luma)."""
    values = np.clip(rgb, 0.0, 1.0)  # the one copy; the rest happens in place
    if channels == 1:
        values = (values @ _LUMA)[..., None]
    values *= _SCALE[sample_type]
    if sample_type != SampleType.FLOAT32:
        np.rint(values, out=values)
    return values.astype(DTYPES[sample_type])


def to_tensor(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """H×W×3 float array → [1,3,H,W] tensor."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(device)


def from_tensor(tensor: torch.Tensor) -> np.ndarray:
    """[1,3,H,W] tensor → H×W×3 float32 array."""
    return tensor.detach()[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def image_to_tensor(image: Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """Any wire image's colour as a [1,3,H,W] RGB tensor in 0..1 (alpha dropped)."""
    color, _ = split_alpha(to_array(image), image.layout)
    return to_tensor(to_rgb_float(color, image.sample_type), device)
