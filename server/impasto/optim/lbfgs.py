"""L-BFGS over an image's pixels, one function evaluation a step, with steps of a bounded size.

Style losses are quartic in the pixels (Grams are products of features), so a quasi-Newton step taken without a
line search, as neural style implementations do to keep a step at one evaluation, can land far up the quartic wall:
losses of 1e20 from 1e9 after a first curvature pair measured over a step too small to mean anything. Here the first
step moves the pixels a set amount on average, and no step moves them more than a bound (a trust region on the mean
absolute change); within that bound this is the textbook two-loop recursion (Nocedal & Wright, Algorithm 7.4) with
the usual γ = sᵀy / yᵀy scaling of the initial inverse Hessian.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import torch


class LBFGS:
    def __init__(
        self, x: torch.Tensor, first_step: float, max_step: float, rate: float = 1.0, history: int = 100
    ) -> None:
        """`x` is optimised in place; `first_step` and `max_step` are mean absolute pixel changes per step; `rate`
        scales the quasi-Newton step (1 is the textbook step)."""
        self.x = x
        self.rate = rate
        self.first_step = first_step
        self.max_step = max_step
        self.pairs: deque[tuple[torch.Tensor, torch.Tensor, float]] = deque(maxlen=history)
        self.previous: tuple[torch.Tensor, torch.Tensor] | None = None  # x and gradient of the last evaluation

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Evaluates the loss at x (closure fills x.grad), then moves x; returns the loss at x before the move."""
        loss = closure()
        assert self.x.grad is not None
        g = self.x.grad.detach().flatten().float().clone()
        x = self.x.detach().flatten().float().clone()  # x moves in place below
        if self.previous is not None:
            s, y = x - self.previous[0], g - self.previous[1]
            sy = float(s @ y)
            # Only pairs with positive curvature keep the inverse Hessian estimate positive definite.
            if sy > 1e-10 * float(y @ y):
                self.pairs.append((s, y, 1.0 / sy))
        self.previous = (x, g)
        if not torch.isfinite(g).all():
            return loss
        if self.pairs:
            direction = -self.rate * self._inverse_hessian_times(g)
            limit = self.max_step
        else:
            direction = -g
            limit = self.first_step
        size = float(direction.abs().mean())
        if size > 0:
            if not self.pairs or size > limit:
                direction = direction * (limit / size)
            with torch.no_grad():
                self.x.add_(direction.view_as(self.x).to(self.x.dtype))
        return loss

    def _inverse_hessian_times(self, g: torch.Tensor) -> torch.Tensor:
        q = g.clone()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * float(s @ q)
            q.add_(y, alpha=-alpha)
            alphas.append(alpha)
        s, y, _ = self.pairs[-1]
        q.mul_(float(s @ y) / float(y @ y))
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas), strict=True):
            beta = rho * float(y @ q)
            q.add_(s, alpha=alpha - beta)
        return q
