"""Lamina: a deep-learning library whose kernels are its own.

>>> import lamina
>>> x = lamina.randn(3, 4, requires_grad=True)
>>> (x @ x.T).sum().backward()
>>> x.grad.shape
lamina.Size([3, 4])
"""

from __future__ import annotations

import os as _os

if _os.environ.get("LAMINA_BUILD_DIR"):
    # Development: load lamina._C from a CMake build directory (see README, "Developing").
    __path__.insert(0, _os.path.abspath(_os.environ["LAMINA_BUILD_DIR"]))

from . import _C
from ._dtype import (bfloat16, bool_, device, double, dtype, float16, float32, float64, half,
                     int64, long)
from ._dtype import float as float  # noqa: PLW0127  (lamina.float is float32, as in torch)
from ._info import info
from . import autograd, cuda
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, empty, empty_like, eye, full, full_like, linspace, ones,
                       ones_like, rand, rand_like, randint, randn, randn_like, zeros, zeros_like)
from .tensor import (Size, Tensor, as_tensor, bmm, cat, clamp, concat, from_dlpack, from_numpy,
                     is_tensor, matmul, mm, result_type, stack, tensor, where)
from . import _toplevel
from ._toplevel import *  # noqa: F401,F403  (exp, log, sum, mean, ... as functions)

bool = bool_  # noqa: A001  (lamina.bool, as torch.bool)
__version__ = _C.build_info()["version"]


def manual_seed(seed: int) -> None:
    """Seeds the default generator (CPU and CUDA share one counter-based stream)."""
    _C.manual_seed(int(seed))


def get_rng_state() -> tuple:
    """(seed, offset) of the default generator."""
    return _C.get_rng_state()


def set_rng_state(state: tuple) -> None:
    _C.set_rng_state(int(state[0]), int(state[1]))


def set_num_threads(n: int) -> None:
    """Threads used by CPU kernels (OpenMP)."""
    _C.set_num_threads(int(n))


def get_num_threads() -> int:
    return _C.get_num_threads()


def numel(x: Tensor) -> int:
    return x.numel()


from . import nn, optim  # noqa: E402  (after the tensor core they build on)
from . import data, datasets, io  # noqa: E402  (lamina.data, lamina.datasets, lamina.io)
