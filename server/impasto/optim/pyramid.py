"""Coarse-to-fine image optimisation: converge cheaply at low resolution, refine at full size."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import InvalidInput
from .lbfgs import LBFGS


@dataclass(frozen=True)
class Level:
    height: int
    width: int
    steps: int
    # What one step counts for in the progress reported: levels above the working size take longer a step.
    weight: int = 1


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
    # (A tolerance: repeated division by √2 lands just under an exact power-of-√2 ratio.)
    while short * scale >= min_side - 1e-6:
        levels.append(Level(max(1, round(height * scale)), max(1, round(width * scale)), coarse_steps))
        scale /= math.sqrt(2)
    return levels[::-1]


def detail_levels(work: tuple[int, int], full: tuple[int, int], steps: int) -> list[Level]:
    """Levels growing by √2 from just above `work` up to exactly `full`, `steps` each: the pyramid continued to a
    layer's own size. A step counts for its level's area in working-size steps, so progress keeps pace with time."""
    sizes = [full]
    scale = 1 / math.sqrt(2)
    while max(full) * scale > max(work) * (1 + 1e-6):
        sizes.append((max(1, round(full[0] * scale)), max(1, round(full[1] * scale))))
        scale /= math.sqrt(2)
    area = work[0] * work[1]
    return [Level(h, w, steps, max(1, round(h * w / area))) for h, w in sizes[::-1]]


StepCallback = Callable[[int, float, torch.Tensor], None]
# Step sizes the optimisers start from when a method's learning_rate is 0 ("automatic").
DEFAULT_LR = {"lbfgs": 1.0, "adam": 8.0}
# A step whose loss is this many times the best so far is undone.
OVERSHOOT = 4.0
# L-BFGS's mean pixel change on its first step, and at most on any step, in grey levels of VGG19's 0..255 input.
# Measured (docs/benchmarks.md): style losses, quartic in the pixels, rise above their start with a bound of 16 and
# converge as fast as without a bound at 4; feature inversion, nearly quadratic and often given a few steps a level,
# needs 16 to get anywhere in them.
FIRST_STEP = 1.0
STYLE_MAX_STEP = 4.0
INVERSION_MAX_STEP = 16.0
# After an undone step the bounds shrink by this (a trust region); below MIN_TRUST of their size no step can still
# help, and the picture has converged.
TRUST_SHRINK = 4.0
MIN_TRUST = 1e-4
# Style optimisation starts L-BFGS after a few Adam steps of 1% of the value range: sign-like moves of every pixel
# leave the content's basin faster than quasi-Newton steps from one gradient (measured: lower final losses). Feature
# inversion, nearly quadratic and often given few steps, starts with L-BFGS.
WARMUP_STEPS = 3
WARMUP_RATE = 0.01
# L-BFGS remembers up to MAX_HISTORY curvature pairs, fewer on pictures so large that they would take more than
# HISTORY_BYTES (the full 100 up to 512x512 px, 6 at 2048x2048, 2 from 3700x3700). Levels above the working
# size run a few steps each, so they could not fill a longer history anyway.
MAX_HISTORY = 100
MIN_HISTORY = 2
HISTORY_BYTES = 640 << 20


def optimise(
    image: torch.Tensor,
    objective: Callable[[torch.Tensor], torch.Tensor],
    steps: int,
    optimizer: str = "lbfgs",
    lr: float = 1.0,
    on_step: StepCallback | None = None,
    warmup: int = 0,
    max_step: float = INVERSION_MAX_STEP,
) -> torch.Tensor:
    """Minimises objective(image) over the pixels; on_step(step, loss, image) runs after each step; L-BFGS starts
    after `warmup` Adam steps and moves the pixels at most `max_step` grey levels on average a step.

    One L-BFGS step is one function evaluation, so a step costs the same with either optimiser and progress counts
    honestly; on_step may raise to cancel. A step that makes the loss much worse (or not finite) is undone and the
    step bounds shrink; once they are negligible the best picture is returned early (converged). Only a loss that is
    never finite is an error.
    """
    lr = lr or DEFAULT_LR.get(optimizer, 1.0)
    x = image.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    trust = 1.0

    def make_optimizer(kind: str = optimizer) -> LBFGS | torch.optim.Optimizer:
        if kind == "lbfgs":
            return LBFGS(x, FIRST_STEP * trust, max_step * trust, lr, history)
        if kind == "adam":
            return torch.optim.Adam([x], lr=lr * trust)
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', not {kind!r}")

    # Each remembered L-BFGS pair is two float32 copies of the picture: at a 4096 px layer, a few hundred MB.
    history = max(MIN_HISTORY, min(MAX_HISTORY, HISTORY_BYTES // (8 * x.numel())))
    warmup = warmup if optimizer == "lbfgs" else 0
    if warmup:
        span = float(x.detach().max() - x.detach().min()) or 1.0
        opt: LBFGS | torch.optim.Optimizer = torch.optim.Adam([x], lr=WARMUP_RATE * span)
    else:
        opt = make_optimizer()
    last = [math.nan]

    def closure() -> torch.Tensor:
        x.grad = None
        loss = objective(x)
        loss.backward()
        last[0] = loss.item()
        return loss

    best, best_x = math.inf, x.detach().clone()
    for step in range(1, steps + 1):
        before = x.detach().clone()
        opt.step(closure)
        if warmup and step == warmup:
            opt = make_optimizer()
        if last[0] < best:
            best, best_x = last[0], before
        elif not math.isfinite(last[0]) or (last[0] > OVERSHOOT * best and optimizer == "lbfgs"):
            if not math.isfinite(best):
                raise InvalidInput("the optimisation diverged; lower learning_rate or style_weight")
            with torch.no_grad():
                x.copy_(best_x)
            trust /= TRUST_SHRINK
            if trust < MIN_TRUST:
                if on_step is not None:
                    on_step(steps, best, best_x)
                return best_x
            opt = make_optimizer()
        if on_step is not None:
            on_step(step, last[0], x.detach())
    return x.detach()


Size = tuple[int, int]


def optimise_levels(
    levels: list[Level],
    objective_at: Callable[[Size], Callable[[torch.Tensor], torch.Tensor]],
    first: Callable[[Size], torch.Tensor],
    carry: Callable[[torch.Tensor, Size], torch.Tensor],
    on_step: Callable[[Size, int, int, float, torch.Tensor], None],
    optimizer: str = "lbfgs",
    lr: float = 0.0,
) -> torch.Tensor:
    """Coarse-to-fine optimisation: each level's objective minimised from the previous level's result.

    objective_at(size) builds a level's objective; first(size) is the start at the coarsest level and
    carry(x, size) brings a result up to the next; on_step(size, step, total, loss, x) counts steps over
    all levels (each by its level's weight), so one progress bar spans the pyramid.
    """
    total = sum(level.steps * level.weight for level in levels)
    done = 0
    x: torch.Tensor | None = None
    for level in levels:
        size = (level.height, level.width)
        objective = objective_at(size)
        x = first(size) if x is None else carry(x, size)

        def step(n: int, loss: float, image: torch.Tensor, offset: int = done, level: Level = level) -> None:
            on_step((level.height, level.width), offset + n * level.weight, total, loss, image)

        x = optimise(x, objective, level.steps, optimizer, lr, step, WARMUP_STEPS, STYLE_MAX_STEP)
        done += level.steps * level.weight
    assert x is not None
    return x
