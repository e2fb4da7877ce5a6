"""Pictures between the benchmarks' numpy arrays and the client's wire images (8-bit RGB, as a layer is sent)."""

from __future__ import annotations

import numpy as np
import torch

from impasto_client import Image, Layout, SampleType


def to_wire(array: np.ndarray) -> Image:
    """An H×W×3 uint8 array as the client sends a layer."""
    return Image(array.shape[1], array.shape[0], Layout.RGB, SampleType.UINT8, np.ascontiguousarray(array).tobytes())


def from_wire(image: Image) -> np.ndarray:
    """A result layer's RGB as an H×W×3 uint8 array (alpha dropped)."""
    return np.frombuffer(image.data, np.uint8).reshape(image.height, image.width, image.layout.channels)[..., :3]


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """An H×W×3 uint8 array as the 1×3×H×W 0..1 tensor the measures take."""
    return torch.from_numpy(np.array(array)).permute(2, 0, 1)[None].float() / 255
