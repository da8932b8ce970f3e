"""``lamina.optim.SGD``: stochastic gradient descent with momentum, as ``torch.optim.SGD``."""

from __future__ import annotations

from typing import Any

from .. import _C
from ..tensor import Tensor
from .optimizer import Optimizer, _check_fused_foreach, _check_lr, _check_not_differentiable

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum, dampening, Nesterov momentum and
    weight decay), with ``torch.optim.SGD``'s arguments, defaults and update::

        g = -grad if maximize else grad;  g += weight_decay * p
        b = g (first step) or momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b;  p -= lr * g

    All parameters of a group are updated by one fused C++ call.

    >>> import lamina
    >>> w = lamina.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lamina.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = lamina.tensor([1.0, 1.0])
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, -2.1]
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        _check_lr(lr, strict=False)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_not_differentiable("SGD", differentiable)
        super().__init__(params, defaults)
        _check_fused_foreach(fused, foreach)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def _step_group(self, group: dict[str, Any]) -> None:
        params, ps, gs, back = self._with_grad(group)
        if not params:
            return
        momentum = float(group["momentum"])
        if momentum != 0:
            old = [self.state[p].get("momentum_buffer") for p in params]
            bufs = [b._t if isinstance(b, Tensor) else None for b in old]
        else:
            old, bufs = [], []
        nesterov = bool(group["nesterov"])
        if nesterov and (momentum <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        new = _C.sgd_step(ps, gs, bufs, lr=float(group["lr"]), momentum=momentum,
                          dampening=float(group["dampening"]),
                          weight_decay=float(group["weight_decay"]), nesterov=nesterov,
                          maximize=bool(group["maximize"]))
        self._write_back(back)
        for p, b_old, b_new in zip(params, old, new):
            if not isinstance(b_old, Tensor):  # first step: the kernel allocated the buffer
                self.state[p]["momentum_buffer"] = Tensor._wrap(b_new)
