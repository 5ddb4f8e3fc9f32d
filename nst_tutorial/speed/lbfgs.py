"""The solver of Gatys et al.: L-BFGS on the image, one iteration per `step`.

L-BFGS keeps the last `history` steps s and gradient changes y, and turns the gradient into
a quasi-Newton direction with the two-loop recursion: the curvature it learns lets it take
unit steps where plain gradient descent would need a tuned learning rate. This is
`torch.optim.LBFGS(lr=1, max_iter=1)` without a line search, the same arithmetic in the same
order (the tests check the iterates against it). We keep our own because torch's `step`
imports TorchDynamo on its first call: 1.7 s of start-up on a 2-core CPU, before the first loss.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import torch
from torch import Tensor

# torch.optim.LBFGS's default tolerances
TOLERANCE_GRAD = 1e-7  # no step once every gradient entry is this small: converged
TOLERANCE_CHANGE = 1e-9  # no step along a direction that is not downhill by at least this


class LBFGS:
    """L-BFGS with fixed unit steps on one tensor `x` (the image), which must require grad."""

    def __init__(self, x: Tensor, history: int = 100, lr: float = 1.0, dtype: torch.dtype | None = None) -> None:
        """`dtype` stores the pairs (default: `x`'s); bfloat16 halves their memory, and the
        pairs' products are then taken from the rounded values, so each pair stays consistent."""
        self.x, self.lr = x, lr
        # Room for every pair, taken now: a run holds its peak memory from the first iteration,
        # so a picture too large for the memory fails at once, not after minutes of work.
        self.s = torch.zeros(history, x.numel(), dtype=dtype or x.dtype, device=x.device)  # steps, one per row
        self.y = torch.zeros_like(self.s)  # gradient changes
        self.rho: list[Tensor] = [torch.zeros(())] * history  # 1 / y.s of each row
        self.rows: deque[int] = deque()  # rows in use, oldest first
        self.h_diag: Tensor | float = 1.0  # scale of the initial inverse Hessian, y.s / y.y
        self.last_step: Tensor | None = None  # s of the last iteration, flat
        self.last_grad: Tensor | None = None  # gradient where that step started, flat

    def zero_grad(self) -> None:
        self.x.grad = None

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:
        """Evaluate `closure` (loss, gradient into `x.grad`) once, then move `x`; returns that loss."""
        with torch.enable_grad():
            loss = closure()
        if self.x.grad is None:
            raise RuntimeError("the closure must call backward() on a loss that depends on x")
        grad = self.x.grad.reshape(-1)
        if grad.abs().max() <= TOLERANCE_GRAD:
            return loss
        if self.last_step is None or self.last_grad is None:  # first: a gradient step of L1 length <= 1
            direction, t = grad.neg(), min(1.0, 1.0 / grad.abs().sum()) * self.lr  # type: ignore[operator]
        else:
            self.remember(self.last_step, grad - self.last_grad)
            direction, t = self.direction(grad), self.lr
        self.last_grad = grad.clone()
        if grad.dot(direction) > -TOLERANCE_CHANGE:
            self.last_step = torch.zeros_like(grad)  # not downhill: stay, and learn nothing from it
            return loss
        self.last_step = direction.mul(t)
        self.x.add_(direction.view_as(self.x), alpha=t)  # torch's update, x + t d in one rounding
        return loss

    def remember(self, s: Tensor, y: Tensor) -> None:
        """Keep the pair if it shows positive curvature (y.s > 0); the oldest pair drops out."""
        s, y = self.stored(s), self.stored(y)
        ys = y.dot(s)
        if ys > 1e-10:
            row = self.rows.popleft() if len(self.rows) == len(self.s) else len(self.rows)
            self.s[row].copy_(s)
            self.y[row].copy_(y)
            self.rho[row] = 1.0 / ys
            self.rows.append(row)
            self.h_diag = ys / y.dot(y)

    def stored(self, v: Tensor) -> Tensor:
        """`v` as the history holds it, in `x`'s dtype: rounded when the history is narrower (N,)."""
        return v.to(self.s.dtype).to(v.dtype)

    def direction(self, grad: Tensor) -> Tensor:
        """-H grad by the two-loop recursion, H the inverse Hessian the pairs imply; (N,) -> (N,)."""
        q = grad.neg()
        s, y = (lambda i: self.s[i].to(q.dtype)), (lambda i: self.y[i].to(q.dtype))  # no copy when dtypes agree
        alphas = []
        for i in reversed(self.rows):
            alphas.append(s(i).dot(q) * self.rho[i])
            q.add_(y(i), alpha=-alphas[-1])  # type: ignore[arg-type]  # a 0-dim tensor, as in torch's LBFGS
        r = torch.mul(q, self.h_diag)
        for i, alpha in zip(self.rows, reversed(alphas)):
            r.add_(s(i), alpha=alpha - y(i).dot(r) * self.rho[i])  # type: ignore[arg-type]
        return r
