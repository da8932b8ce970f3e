"""``lamina.nn.Module``: the base class of every layer, with ``torch.nn.Module``'s semantics.

A module owns parameters (``Parameter``), buffers (tensors saved with the model but not
trained, such as batch norm's running statistics) and submodules, each registered by plain
attribute assignment. ``state_dict`` keys are the dotted attribute paths, as in PyTorch, so a
model's weights move between Lamina and PyTorch unchanged.

>>> import lamina
>>> from lamina import nn
>>> class MLP(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc1 = nn.Linear(4, 8)
...         self.fc2 = nn.Linear(8, 2)
...     def forward(self, x):
...         return self.fc2(self.fc1(x).relu())
>>> list(MLP().state_dict())
['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
"""

from __future__ import annotations

import itertools
import weakref
from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from ... import _C
from ..._dtype import device as _device
from ..._dtype import dtype as _dtype
from ..._dtype import to_dtype
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...tensor import Tensor
from ..parameter import Parameter

__all__ = ["Module"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: ``(missing_keys, unexpected_keys)``."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, *hooks_dicts: dict):
        self.hooks_dicts_refs = [weakref.ref(d) for d in hooks_dicts]
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        for ref in self.hooks_dicts_refs:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class _HookDict(OrderedDict):
    """An OrderedDict that can be weakly referenced (for RemovableHandle)."""


def _addindent(s: str, num_spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(" " * num_spaces + line for line in lines)


def _typename(value: Any) -> str:
    if isinstance(value, Tensor):
        return "lamina.Tensor"
    t = type(value)
    mod = t.__module__
    return t.__qualname__ if mod in ("builtins", None) else f"{mod}.{t.__qualname__}"


def _as_tensor(value: Any) -> Tensor | None:
    """A state_dict value as a lamina Tensor: lamina tensors, numpy arrays and scalars, and
    torch tensors (through numpy) are accepted; anything else gives None. Integer and float
    dtypes Lamina has no kernels for are widened (int32 -> int64, float16 -> float32)."""
    if isinstance(value, Tensor):
        return value
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) in ("torch.bfloat16", "torch.float16"):
            value = value.float()
        value = value.numpy()
    if not isinstance(value, (np.ndarray, np.generic)):
        return None
    arr = np.asarray(value)
    if arr.dtype.kind in "iu" and arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "f" and arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    elif arr.dtype.kind not in "iufb":
        return None
    return Tensor._wrap(_C.from_numpy(np.array(arr, copy=True, order="C")))


def _check_name(kind: str, name: Any, module: "Module", store: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"lamina.nn.Module.register_{kind}: {kind} name should be a string, got "
                        f"{type(name).__name__}")
    if "." in name:
        raise KeyError(f"{kind} name can't contain \".\", got {name!r}")
    if name == "":
        raise KeyError(f"{kind} name can't be empty string \"\"")
    if hasattr(module, name) and name not in module.__dict__.get(store, {}):
        raise KeyError(f"attribute '{name}' already exists")


class _BackwardHookFn(Function):
    """Identity on the module's tensor inputs (or outputs); its backward reports the gradients
    flowing through to the module's full backward hooks."""

    @staticmethod
    def forward(ctx, state, which, *xs):
        ctx.state = state
        ctx.which = which
        return xs if len(xs) != 1 else xs[0]

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        if ctx.which == "out":
            state.grad_outputs = tuple(Tensor._wrap(g) if g is not None else None for g in grads)
            if state.n_inputs == 0:
                state.run(())  # no input needs grad: hooks still see grad_output
            return (None, None) + grads
        gin = tuple(Tensor._wrap(g) if g is not None else None for g in grads)
        gin = state.run(gin)
        return (None, None) + tuple(g._t if isinstance(g, Tensor) else g for g in gin)


class _BackwardHookState:
    def __init__(self, module: "Module", n_inputs: int):
        self.module = module
        self.n_inputs = n_inputs
        self.grad_outputs: tuple = ()

    def run(self, grad_inputs: tuple) -> tuple:
        for hook in list(self.module._backward_hooks.values()):
            out = hook(self.module, grad_inputs if grad_inputs else (None,), self.grad_outputs)
            if out is not None and grad_inputs:
                out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
                if len(out) != len(grad_inputs):
                    raise RuntimeError(
                        f"lamina.nn.Module: backward hook returned {len(out)} gradients, "
                        f"expected {len(grad_inputs)}")
                grad_inputs = out
        return grad_inputs


class Module:
    """Base class for all layers (as ``torch.nn.Module``).

    Subclasses call ``super().__init__()`` first, assign parameters, buffers and submodules as
    attributes, and define ``forward``. Call the module, not ``forward``, so hooks run.

    >>> import lamina
    >>> from lamina import nn
    >>> m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> [name for name, _ in m.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> m(lamina.randn(5, 3)).shape
    lamina.Size([5, 1])
    """

    _version: int = 1
    training: bool

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments: "
                            f"{args!r} {kwargs!r}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = _HookDict()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_forward_hooks"] = _HookDict()
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_hooks_always_called"] = set()
        d["_backward_hooks"] = _HookDict()
        d["_state_dict_hooks"] = _HookDict()
        d["_load_state_dict_post_hooks"] = _HookDict()

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required "
                                  "\"forward\" function")

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        try:
            hooked = d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} was called before Module.__init__(); "
                                 "call super().__init__() first in its __init__") from None
        if not hooked:
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {res!r}")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        state = None
        if self._backward_hooks and is_grad_enabled():
            idx = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
            state = _BackwardHookState(self, len(idx))
            if idx:
                wrapped = _BackwardHookFn.apply(state, "in", *[args[i] for i in idx])
                wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
                args = list(args)
                for i, w in zip(idx, wrapped):
                    args[i] = w
                args = tuple(args)
        try:
            result = self.forward(*args, **kwargs)
        except Exception:
            for hid, hook in list(self._forward_hooks.items()):
                if hid in self._forward_hooks_always_called:
                    if hid in self._forward_hooks_with_kwargs:
                        hook(self, args, kwargs, None)
                    else:
                        hook(self, args, None)
            raise
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, result)
            else:
                res = hook(self, args, result)
            if res is not None:
                result = res
        if state is not None:
            if isinstance(result, Tensor) and result.requires_grad:
                result = _BackwardHookFn.apply(state, "out", result)
            elif isinstance(result, tuple):
                idx = [i for i, r in enumerate(result) if isinstance(r, Tensor) and r.requires_grad]
                if idx:
                    wrapped = _BackwardHookFn.apply(state, "out", *[result[i] for i in idx])
                    wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
                    result = list(result)
                    for i, w in zip(idx, wrapped):
                        result[i] = w
                    result = tuple(result)
        return result

    # ------------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args) -> None or new args`` runs before ``forward``
        (``hook(module, args, kwargs) -> None or (args, kwargs)`` with ``with_kwargs=True``)."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False, always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output) -> None or new output`` runs after ``forward``."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output) -> None or new grad_input`` runs when the
        gradients with respect to the module's tensor inputs are computed."""
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)`` runs after ``state_dict``."""
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, incompatible_keys)`` runs after ``load_state_dict``; it may edit the
        key lists in place."""
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ registration
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Adds a parameter (or None, a declared but absent one, like ``bias=False``)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", name, self, "_parameters")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(lamina.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly. To express '{name}' as a "
                             "function of another Tensor, compute the value in the forward() method.")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Adds a buffer: saved in ``state_dict`` (unless ``persistent=False``), moved by
        ``to``, not trained."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name, self, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(lamina.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Adds a submodule (``self.name = module`` does the same)."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        _check_name("module", name, self, "_modules")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            _remove_from(name, d, d["_buffers"], d["_modules"], d["_non_persistent_buffers_set"])
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(lamina.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        else:
            modules = d.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError("cannot assign module before Module.__init__() call")
                _remove_from(name, d, d["_parameters"], d["_buffers"], d["_non_persistent_buffers_set"])
                modules[name] = value
            elif modules is not None and name in modules:
                if value is not None:
                    raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                    "(lamina.nn.Module or None expected)")
                modules[name] = value
            else:
                buffers = d.get("_buffers")
                if buffers is not None and name in buffers:
                    if value is not None and not isinstance(value, Tensor):
                        raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                        "(lamina.Tensor or None expected)")
                    buffers[name] = value
                else:
                    object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_parameters" in d:
            if name in d["_parameters"]:
                return d["_parameters"][name]
            if name in d["_buffers"]:
                return d["_buffers"][name]
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del d["_parameters"][name]
        elif name in d.get("_buffers", ()):
            del d["_buffers"][name]
            d["_non_persistent_buffers_set"].discard(name)
        elif name in d.get("_modules", ()):
            del d["_modules"][name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = (list(dir(type(self))) + list(self.__dict__) + list(self._parameters)
                + list(self._modules) + list(self._buffers))
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def get_submodule(self, target: str) -> "Module":
        """The submodule at a dotted path (``"features.3"``); ``""`` is the module itself."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item) or not isinstance(getattr(mod, item), Module):
                raise AttributeError(f"{mod._get_name()} has no submodule `{item}`"
                                     if not hasattr(mod, item) else f"`{item}` is not an nn.Module")
            mod = getattr(mod, item)
        return mod

    def get_parameter(self, target: str) -> Parameter:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters or mod._parameters[name] is None:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers or mod._buffers[name] is None:
            raise AttributeError(f"{mod._get_name()} has no buffer `{name}`")
        return mod._buffers[name]

    # ------------------------------------------------------------------ iteration
    def _named_members(self, get_members, prefix: str = "", recurse: bool = True,
                       remove_duplicate: bool = True):
        memo = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or id(v) in memo:
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ("." if module_prefix else "") + k), v

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters of this module (and, with ``recurse``, of its submodules), each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs in registration order, as in PyTorch."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        memo = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and every submodule, depth first, each once (by default)."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> "Module":
        """Sets training mode here and in every submodule (dropout, batch norm care)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every parameter's ``.grad`` (to None by default, or to zeros)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g = p.grad = g.detach()
                else:
                    g.requires_grad_(False)
                _C.fill_(g._t, 0)

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Calls ``fn`` on every submodule (children first) and then on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ dtype / device
    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> "Module":
        """Converts parameters (in place: ``param.data = fn(param)``, so optimizers keep their
        references), their gradients, and buffers."""
        if recurse:
            for m in self.children():
                m._apply(fn)
        with no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                new = fn(p)
                if new is not p:
                    p._t = new._t
                if p.grad is not None:
                    g = fn(p.grad)
                    if g is not p.grad:
                        p.grad._t = g._t
            for key, b in self._buffers.items():
                if b is not None:
                    self._buffers[key] = fn(b)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``: moves parameters
        and buffers; a dtype applies to floating-point ones only."""
        dev = kwargs.pop("device", None)
        dt = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"lamina.nn.Module.to: unexpected keyword arguments {sorted(kwargs)}")
        if len(args) > 3:
            raise TypeError(f"lamina.nn.Module.to: expected at most 2 positional arguments, got {len(args)}")
        for a in args:
            if isinstance(a, bool):
                continue  # non_blocking passed positionally
            if isinstance(a, Tensor):
                dev, dt = a.device, a.dtype
            elif isinstance(a, _device):
                dev = a
            elif isinstance(a, str):
                key = a.replace("lamina.", "").replace("torch.", "")
                if key.split(":")[0] in ("cpu", "cuda"):
                    dev = a
                else:
                    dt = a
            elif isinstance(a, _dtype) or a is float or type(a).__name__ == "dtype":
                dt = a
            elif type(a).__module__.startswith("torch"):
                dev = a
            else:
                raise TypeError(f"lamina.nn.Module.to: cannot interpret argument {a!r}")
        if dt is not None:
            dt = to_dtype(dt, "nn.Module.to")
            if not dt.is_floating_point:
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                                f"desired dtype={dt}")
        if dev is not None:
            dev = _device(dev)

        def convert(t: Tensor) -> Tensor:
            out = t
            if dt is not None and t.dtype.is_floating_point and t.dtype is not dt:
                out = Tensor._wrap(_C.to_dtype(out._t, dt.name))
            if dev is not None and out.device != dev:
                out = Tensor._wrap(_C.to_device(out._t, dev._c))
            return out

        return self._apply(convert)

    def cuda(self, device: int | None = None) -> "Module":
        return self.to(_device("cuda", device if device is not None else 0))

    def cpu(self) -> "Module":
        return self.to("cpu")

    def double(self) -> "Module":
        return self._apply(lambda t: Tensor._wrap(_C.to_dtype(t._t, "float64"))
                           if t.dtype.is_floating_point and t._t.dtype != "float64" else t)

    def float(self) -> "Module":
        return self._apply(lambda t: Tensor._wrap(_C.to_dtype(t._t, "float32"))
                           if t.dtype.is_floating_point and t._t.dtype != "float32" else t)

    # ------------------------------------------------------------------ state dict
    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by dotted name (PyTorch's keys, e.g.
        ``"features.3.running_mean"``); values share memory with the module's tensors."""
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # type: ignore[attr-defined]
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            out = hook(self, destination, prefix, local_metadata)
            if out is not None:
                destination = out
        return destination

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict,
                              strict: bool, missing_keys: list, unexpected_keys: list,
                              error_msgs: list) -> None:
        """Copies this module's own entries (not its children's) from ``state_dict``. Layers
        override it to upgrade old checkpoints, as in PyTorch."""
        persistent = {k: v for k, v in self._buffers.items()
                      if k not in self._non_persistent_buffers_set}
        local_state = {k: v for k, v in itertools.chain(self._parameters.items(), persistent.items())
                       if v is not None}
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            raw = state_dict[key]
            value = _as_tensor(raw)
            if value is None:
                error_msgs.append(f"While copying the parameter named \"{key}\", expected "
                                  "lamina.Tensor, numpy.ndarray or torch.Tensor from checkpoint "
                                  f"but received {type(raw)}")
                continue
            if param.ndim == 0 and value.ndim == 1 and value.shape[0] == 1:
                value = value.reshape([])
            if tuple(value.shape) != tuple(param.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{value.shape} from checkpoint, the shape in current model is "
                                  f"{param.shape}.")
                continue
            try:
                with no_grad():
                    if assign:
                        if isinstance(param, Parameter):
                            new = value if isinstance(value, Parameter) else Parameter(
                                value, requires_grad=param.requires_grad)
                        else:
                            new = value
                        setattr(self, name, new)
                    else:
                        src = value._t
                        if src.device != param._t.device:
                            src = _C.to_device(src, param._t.device)
                        if src.dtype != param._t.dtype:
                            src = _C.to_dtype(src, param._t.dtype)
                        _C.copy_(param._t, src)
            except Exception as ex:  # noqa: BLE001  (reported with the key, as torch does)
                error_msgs.append(f"While copying the parameter named \"{key}\", whose dimensions "
                                  f"in the model are {param.shape} and whose dimensions in the "
                                  f"checkpoint are {value.shape}, an exception occurred : {ex.args}.")
        if strict:
            for key in state_dict.keys():
                if not key.startswith(prefix):
                    continue
                parts = key[len(prefix):].split(".", 1)
                if len(parts) > 1:
                    if parts[0] not in self._modules:
                        unexpected_keys.append(key)
                elif parts[0] not in local_state:
                    unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copies parameters and buffers from ``state_dict`` (values: lamina tensors, numpy
        arrays or torch tensors). With ``strict``, missing or unexpected keys raise
        RuntimeError; a shape mismatch always does. Returns ``(missing_keys, unexpected_keys)``.

        >>> import lamina
        >>> from lamina import nn
        >>> a, b = nn.Linear(3, 2), nn.Linear(3, 2)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing: list = []
        unexpected: list = []
        error_msgs: list = []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata  # type: ignore[attr-defined]

        def load(module: Module, local: dict, prefix: str = "") -> None:
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = True
            module._load_from_state_dict(local, prefix, local_metadata, True, missing, unexpected,
                                         error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local.items() if k.startswith(child_prefix)},
                         child_prefix)
            keys = _IncompatibleKeys(missing, unexpected)
            for hook in module._load_state_dict_post_hooks.values():
                hook(module, keys)

        load(self, state_dict)
        if strict:
            if unexpected:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(error_msgs)))
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside ``Name(...)`` before the children; layers override it."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(m), 2) for key, m in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def num_parameters(self, only_trainable: bool = False) -> int:
        """The number of scalar parameters (each shared parameter counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not only_trainable)

    def __deepcopy__(self, memo):
        import copy

        if id(self) in memo:
            return memo[id(self)]
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            if k in ("_parameters", "_buffers", "_modules"):
                od = OrderedDict()
                for name, x in v.items():
                    if isinstance(x, Tensor) and not isinstance(x, Parameter):
                        od[name] = memo.setdefault(id(x), Tensor._wrap(_C.clone(x._t)))
                    else:
                        od[name] = copy.deepcopy(x, memo)
                new.__dict__[k] = od
            elif isinstance(v, Tensor) and not isinstance(v, Parameter):
                new.__dict__[k] = memo.setdefault(id(v), Tensor._wrap(_C.clone(v._t)))
            elif isinstance(v, _HookDict):
                new.__dict__[k] = _HookDict(v)
            else:
                new.__dict__[k] = copy.deepcopy(v, memo)
        return new

    def __getstate__(self):
        raise TypeError("lamina modules are not pickled; save weights with "
                        "module.state_dict() and lamina.io (safetensors)")


def _remove_from(name: str, *stores) -> None:
    for s in stores:
        if name in s:
            if isinstance(s, dict):
                del s[name]
            else:
                s.discard(name)

