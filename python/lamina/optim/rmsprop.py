"""``lamina.optim.RMSprop``, as ``torch.optim.RMSprop``."""

from __future__ import annotations

from typing import Any

from .. import _C
from .optimizer import (Optimizer, _check_lr, _check_not_differentiable, _step_tensor,
                        _zeros_like)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum, with ``torch.optim.RMSprop``'s
    arguments, defaults, state (``step``, ``square_avg``, ``momentum_buffer``, ``grad_avg``) and
    update. One fused C++ call per group.

    >>> import lamina
    >>> w = lamina.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lamina.optim.RMSprop([w], lr=0.01)
    >>> w.grad = lamina.tensor([3.0, -0.5])
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, -1.9]
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr, strict=True)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        _check_not_differentiable("RMSprop", differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)

    def _step_group(self, group: dict[str, Any]) -> None:
        params, ps, gs, back = self._with_grad(group)
        if not params:
            return
        momentum = float(group["momentum"])
        centered = bool(group["centered"])
        square_avgs, grad_avgs, bufs, steps = [], [], [], []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["square_avg"] = _zeros_like(p)
                if momentum > 0:
                    state["momentum_buffer"] = _zeros_like(p)
                if centered:
                    state["grad_avg"] = _zeros_like(p)
            # options switched on after the start get fresh state, as a new run would
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = _zeros_like(p)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = _zeros_like(p)
            square_avgs.append(state["square_avg"]._t)
            if momentum > 0:
                bufs.append(state["momentum_buffer"]._t)
            if centered:
                grad_avgs.append(state["grad_avg"]._t)
            steps.append(state["step"]._t)
        _C.rmsprop_step(ps, gs, square_avgs, grad_avgs, bufs, steps, lr=float(group["lr"]),
                        alpha=float(group["alpha"]), eps=float(group["eps"]),
                        weight_decay=float(group["weight_decay"]), momentum=momentum,
                        centered=centered, maximize=bool(group["maximize"]))
        self._write_back(back)
