"""``lamina.optim.Adam`` and ``AdamW``, as ``torch.optim.Adam`` / ``torch.optim.AdamW``."""

from __future__ import annotations

from typing import Any

from .. import _C
from ..tensor import Tensor
from .optimizer import (Optimizer, _check_fused_foreach, _check_lr, _check_not_differentiable,
                        _step_tensor, _zeros_like)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba), optionally AMSGrad, with ``torch.optim.Adam``'s arguments, defaults,
    state (``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``) and update. Weight decay
    is added to the gradient (L2), or applied to the weights when
    ``decoupled_weight_decay=True`` (that is AdamW). One fused C++ call per group.

    >>> import lamina
    >>> w = lamina.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lamina.optim.Adam([w], lr=0.1)
    >>> w.grad = lamina.tensor([3.0, -0.5])
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, -1.9]
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        _check_lr(lr, strict=True)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        for i in (0, 1):
            if isinstance(betas[i], Tensor) and betas[i].numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
        betas = tuple(float(b) for b in betas)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        _check_not_differentiable(type(self).__name__, differentiable)
        super().__init__(params, defaults)
        _check_fused_foreach(fused, foreach)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)

    def _step_group(self, group: dict[str, Any]) -> None:
        params, ps, gs, back = self._with_grad(group)
        if not params:
            return
        amsgrad = bool(group["amsgrad"])
        exp_avgs, exp_avg_sqs, max_sqs, steps = [], [], [], []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["exp_avg"] = _zeros_like(p)
                state["exp_avg_sq"] = _zeros_like(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = _zeros_like(p)
            if amsgrad and "max_exp_avg_sq" not in state:  # amsgrad switched on after the start
                state["max_exp_avg_sq"] = _zeros_like(p)
            exp_avgs.append(state["exp_avg"]._t)
            exp_avg_sqs.append(state["exp_avg_sq"]._t)
            if amsgrad:
                max_sqs.append(state["max_exp_avg_sq"]._t)
            steps.append(state["step"]._t)
        beta1, beta2 = group["betas"]
        _C.adam_step(ps, gs, exp_avgs, exp_avg_sqs, max_sqs, steps, lr=float(group["lr"]),
                     beta1=float(beta1), beta2=float(beta2), eps=float(group["eps"]),
                     weight_decay=float(group["weight_decay"]), amsgrad=amsgrad,
                     maximize=bool(group["maximize"]),
                     decoupled_weight_decay=bool(group["decoupled_weight_decay"]))
        self._write_back(back)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, ``p *= 1 - lr * wd`` before
    the Adam step, as ``torch.optim.AdamW`` (default ``weight_decay=1e-2``).

    >>> import lamina
    >>> w = lamina.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lamina.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = lamina.tensor([3.0, -0.5])
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.85, -1.8]
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
