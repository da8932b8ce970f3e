"""``lamina.optim.Optimizer``: parameter groups, per-parameter state and their state_dict, as
``torch.optim.Optimizer``.

Subclasses implement ``_step_group(group)``, which gathers the parameters of one group that have
a gradient and updates them all with one fused C++ call (``lamina._C.sgd_step``, ``adam_step``,
``rmsprop_step``). The kernels write into each parameter's own storage (the Python objects are
never replaced) and bump its version, so tensors saved for a backward pass before the update are
detected as stale.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain
from typing import Any, Callable

import numpy as np

from .. import _C
from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton class representing a required parameter for an Optimizer."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _zeros_like(p: Tensor) -> Tensor:
    """A contiguous zero tensor with p's shape, dtype and device (optimizer state)."""
    return Tensor._wrap(_C.full(list(p._t.shape), 0, p._t.dtype, p._t.device))


def _step_tensor(value: float = 0.0) -> Tensor:
    """state['step'] as torch 2.x keeps it: a 0-d float32 CPU tensor."""
    return Tensor._wrap(_C.full([], float(value), "float32", "cpu"))


def _to_lamina(value) -> Tensor | None:
    """A lamina tensor from a lamina, numpy or DLPack (torch, JAX, CuPy) tensor; None otherwise."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._wrap(_C.from_numpy(np.ascontiguousarray(value)))
    if hasattr(value, "__dlpack__") and hasattr(value, "__dlpack_device__"):
        from ..tensor import from_dlpack

        if getattr(value, "requires_grad", False):
            value = value.detach()
        return from_dlpack(value)
    return None


class Optimizer:
    """Base class of the optimizers.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts each holding
    ``'params'`` and per-group options that override ``defaults``.

    >>> import lamina
    >>> w = lamina.ones(3, requires_grad=True)
    >>> opt = lamina.optim.SGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.tolist()
    [0.0, 0.0, 0.0]
    """

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__module__}.{type(params).__name__}")
        self.state: defaultdict[Any, dict] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # ------------------------------------------------------------------ pickling / repr
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.defaults.setdefault("differentiable", False)

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group of parameters with its own options (e.g. when unfreezing layers)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                            "the ordering of tensors in sets will change between runs. Please use "
                            "a list instead.")
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names

        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(param).__module__}.{type(param).__name__}")
            if not (param.is_leaf or getattr(param, "_retains_grad", False)):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            param_group.setdefault(name, default)

        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; "
                          "see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients: to None (default) or, with ``set_to_none=False``, to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    with no_grad():
                        p.grad.zero_()

    # ------------------------------------------------------------------ step
    def step(self, closure: Callable[[], Any] | None = None):
        """Updates every parameter that has a gradient; ``closure`` (optional) recomputes the
        loss with grad enabled and its result is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def _with_grad(group: dict[str, Any]):
        """The group's parameters that have a gradient, and the C++ tensors the kernel gets:
        (params, param tensors, grad tensors, write-backs). A non-contiguous parameter is
        updated through a contiguous copy that is copied back afterwards (``_write_back``)."""
        params, ps, gs, back = [], [], [], []
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"lamina.optim: a parameter's .grad must be a Tensor, got "
                                f"{type(g).__name__}")
            t = p._t
            if not t.is_contiguous:
                c = _C.contiguous(t)
                back.append((t, c))
                t = c
            gt = g._t
            if not gt.is_contiguous:
                gt = _C.contiguous(gt)
            params.append(p)
            ps.append(t)
            gs.append(gt)
        return params, ps, gs, back

    @staticmethod
    def _write_back(back) -> None:
        for dst, src in back:
            _C.copy_(dst, src)

    # ------------------------------------------------------------------ state_dict
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as torch:
        parameters are numbered in group order; state values are the live state tensors."""
        mapping: dict[int, int] = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a state_dict from ``state_dict()`` (this optimizer's or torch's structure; state
        tensors may be lamina, numpy or torch tensors). Tensors are copied, cast to their
        parameter's dtype (except ``step``)."""
        state_dict = state_dict.copy()
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param: Tensor, value, key=None):
            t = _to_lamina(value)
            if t is not None:
                if key == "step":
                    return Tensor._wrap(_C.clone(t._t))
                out = _C.to_device(_C.to_dtype(t._t, param._t.dtype), param._t.device)
                return Tensor._wrap(_C.clone(out))
            if key == "step" and isinstance(value, (int, float)):
                return _step_tensor(value)  # an old-style number, as torch's __setstate__ converts
            if isinstance(value, dict):
                return {k: cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state: defaultdict[Any, dict] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})


def _check_lr(lr, strict: bool) -> None:
    """torch's checks: ``lr < 0.0`` (SGD) or ``not 0.0 <= lr`` (the others; rejects NaN)."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if (not 0.0 <= lr) if strict else (lr < 0.0):
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_not_differentiable(name: str, differentiable: bool) -> None:
    if differentiable:
        raise NotImplementedError(f"lamina.optim.{name}: differentiable=True is not supported "
                                  "(the updates run as fused C++ kernels outside autograd)")


def _check_fused_foreach(fused, foreach) -> None:
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
