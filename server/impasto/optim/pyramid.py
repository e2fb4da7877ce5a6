"""Coarse-to-fine image optimisation: converge cheaply at low resolution, refine at full size."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Level:
    height: int
    width: int
    steps: int


def pyramid(height: int, width: int, final_steps: int, coarse_steps: int, min_side: int = 128) -> list[Level]:
    """Sizes growing by √2 from `min_side` (shorter side) up to exactly height×width.

    √2 per level (as in crowsonkb/style-transfer-pytorch) keeps each upsampled result
    close enough to the next level's optimum that few steps finish it.
    """
    short = min(height, width)
    levels = [Level(height, width, final_steps)]
    if coarse_steps <= 0:
        return levels
    scale = 1 / math.sqrt(2)
    while short * scale >= min_side:
        levels.append(Level(max(1, round(height * scale)), max(1, round(width * scale)), coarse_steps))
        scale /= math.sqrt(2)
    return levels[::-1]


def resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    if image.shape[-2:] == (height, width):
        return image
    return F.interpolate(image, size=(height, width), mode="bicubic", align_corners=False, antialias=True)


StepCallback = Callable[[int, float, torch.Tensor], None]


def optimise(
    image: torch.Tensor,
    objective: Callable[[torch.Tensor], torch.Tensor],
    steps: int,
    optimizer: str = "lbfgs",
    lr: float = 1.0,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """Minimises objective(image) over the pixels; on_step(step, loss, image) runs after each step.

    One L-BFGS step is one function evaluation, so a step costs the same with either
    optimiser and progress counts honestly; on_step may raise to cancel.
    """
    x = image.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    if optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [x], lr=lr, max_iter=1, history_size=100, tolerance_grad=-1, tolerance_change=-1
        )
    elif optimizer == "adam":
        opt = torch.optim.Adam([x], lr=lr)
    else:
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', not {optimizer!r}")
    last = [math.nan]

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = objective(x)
        loss.backward()
        last[0] = loss.item()
        return loss

    for step in range(1, steps + 1):
        opt.step(closure)
        if on_step is not None:
            on_step(step, last[0], x.detach())
    return x.detach()
