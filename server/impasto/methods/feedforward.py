"""What the feed-forward methods share: stroke scale, strength and running a network at any layer size."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InvalidInput
from ..networks.tiled import forward_auto
from ..params import Param, Scalar
from ..runtime import precision
from ..runtime.memory import available_bytes
from .base import JobContext

MIN_SIDE = 16
# Above this a forward runs in tiles (exactly, see networks/tiled.py): a 2048 px layer still runs whole
# and fastest, while a 4096-8192 px layer stays within a painter's machine alongside the editor.
WORK_BUDGET = 2 << 30

COMMON_PARAMS = (
    Param("strength", "float", 1.0, "How much of the style to apply (0 keeps the picture as it is)", 0.0, 1.0),
    Param("style_scale", "float", 1.0, "Size of the brush strokes: 2 makes them twice as big", 0.25, 8.0),
    Param(
        "size",
        "int",
        0,
        "Longest side the network works at, for speed (0 = no limit); the result always comes back at the layer's size",
        0,
        32768,
    ),
    Param(
        "precision",
        "choice",
        "auto",
        "Float type of the network: auto uses bfloat16 where it measures faster on this device (differences "
        "under 1/255 on average)",
        choices=("auto", "float32", "bfloat16"),
    ),
)


def working_size(height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
    """The layer size divided by style_scale, then capped by `size`.

    The networks paint strokes of a fixed size in pixels, so the working
    resolution, not the layer's, decides how big the strokes look.
    """
    scale = 1.0 / float(params["style_scale"])
    limit = int(params["size"])
    if limit:
        scale = min(scale, limit / max(height, width))
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    if min(h, w) < MIN_SIDE:
        raise InvalidInput(
            f"the area to stylize would be {w}x{h} pixels at this style_scale/size; it needs at least "
            f"{MIN_SIDE} pixels on each side"
        )
    return h, w


def run_network(
    network: nn.Module, image: torch.Tensor, condition: torch.Tensor, ctx: JobContext, params: dict[str, Scalar]
) -> torch.Tensor:
    """The network's output at the image's size; large images are processed in tiles within free memory."""
    free = available_bytes(ctx.device)
    budget = WORK_BUDGET if free is None else min(free, WORK_BUDGET)
    ctx.progress("stylizing", 0, 1)
    dtype = precision.resolve(str(params["precision"]), ctx.device)
    with torch.inference_mode(), precision.autocast(ctx.device, dtype):
        out = forward_auto(network, image.contiguous(memory_format=torch.channels_last), condition, budget)
    out = out.float()
    ctx.progress("stylizing", 1, 1)
    return out


def apply_strength(stylized: torch.Tensor, content: torch.Tensor, strength: float) -> torch.Tensor:
    return stylized if strength >= 1.0 else torch.lerp(content, stylized, strength)
