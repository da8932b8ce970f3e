"""``lamina.nn.Parameter``: a tensor that a ``Module`` registers as one of its parameters.

As ``torch.nn.Parameter``: a leaf tensor sharing ``data``'s memory that requires grad by
default. Assigning one to a module attribute registers it; ops on it return plain tensors.
"""

from __future__ import annotations

from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf tensor that is a module parameter (shares memory with ``data``).

    >>> import lamina
    >>> p = lamina.nn.Parameter(lamina.zeros(2))
    >>> p.requires_grad, p.is_leaf
    (True, True)
    >>> type(p * 2).__name__
    'Tensor'
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from .. import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"lamina.nn.Parameter: argument 'data' must be a Tensor, got "
                            f"{type(data).__name__}")
        self = cls._wrap(data._t)
        if requires_grad:
            self.requires_grad_(True)  # raises for non-floating dtypes, as torch does
        return self

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        pass  # everything happens in __new__ (Tensor.__init__ refuses direct construction)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = type(self)(self.data.clone(), self.requires_grad)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        raise TypeError("lamina parameters are not pickled; save weights with lamina.io "
                        "(safetensors) or module.state_dict()")

