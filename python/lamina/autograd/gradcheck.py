"""``gradcheck``: compares analytical gradients with central finite differences in float64,
like ``torch.autograd.gradcheck``."""

from __future__ import annotations

import numpy as np

from .. import _C


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical Jacobians differ."""


def _host64(t: _C.Tensor) -> np.ndarray:
    """A float64 numpy copy of a tensor on any device."""
    return np.array(_C.to_device(_C.to_dtype(t, "float64"), "cpu"), dtype=np.float64)


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Checks d func(*inputs) / d inputs for every input that requires grad.

    Inputs that require grad must be float64 (single precision is too coarse for finite
    differences). For each output element the analytical row of the Jacobian comes from one
    backward pass; each numerical column from two forward passes with the input nudged by
    ``eps``. Passes when ``|analytical - numerical| <= atol + rtol * |numerical|`` everywhere.

    >>> import lamina
    >>> x = lamina.randn(3, dtype=lamina.float64, requires_grad=True)
    >>> lamina.autograd.gradcheck(lambda t: (t * t).sum(), (x,))
    True
    """
    from ..tensor import Tensor
    from . import grad as autograd_grad
    from .grad_mode import no_grad

    inputs = tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("lamina.gradcheck: at least one input must require grad")
    for i in diff:
        if inputs[i].dtype.name != "float64":
            raise TypeError(f"lamina.gradcheck: input {i} requires grad but is {inputs[i].dtype}; "
                            "gradcheck needs float64 inputs")

    def run():
        out = func(*inputs)
        return out if isinstance(out, tuple) else (out,)

    outs = run()
    sizes = [o.numel() for o in outs]

    # Numerical Jacobians, column by column: nudge one input element, rerun the forward.
    numerical = {}
    with no_grad():
        for i in diff:
            x = inputs[i]._t
            host = _C.to_device(x, "cpu")  # x itself on the CPU
            arr = np.asarray(host)
            cols = [np.zeros((x.numel, n)) for n in sizes]
            for k, idx in enumerate(np.ndindex(*arr.shape)):
                orig = arr[idx].item()
                values = []
                for delta in (eps, -eps):
                    arr[idx] = orig + delta
                    if not host.shares_storage(x):
                        _C.copy_(x, host)
                    values.append([_host64(o._t).ravel() for o in run()])
                arr[idx] = orig
                if not host.shares_storage(x):
                    _C.copy_(x, host)
                for j in range(len(outs)):
                    cols[j][k] = (values[0][j] - values[1][j]) / (2 * eps)
            numerical[i] = cols

    # Analytical Jacobians, row by row: one backward per output element.
    analytical = {i: [np.zeros((inputs[i].numel(), n)) for n in sizes] for i in diff}
    for j, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for e in range(sizes[j]):
            onehot = np.zeros(sizes[j])
            onehot[e] = 1.0
            g = _C.to_dtype(_C.from_numpy(onehot.reshape(tuple(o.shape))), o._t.dtype)
            res = autograd_grad([o], [inputs[i] for i in diff],
                                grad_outputs=[Tensor._wrap(_C.to_device(g, o._t.device))],
                                retain_graph=True, allow_unused=True)
            for i, r in zip(diff, res):
                if r is not None:
                    analytical[i][j][:, e] = _host64(r._t).ravel()

    for i in diff:
        for j in range(len(outs)):
            a, n = analytical[i][j], numerical[i][j]
            if np.all(np.isfinite(a) == np.isfinite(n)) and np.allclose(a, n, rtol=rtol, atol=atol):
                continue
            bad = np.argmax(np.abs(a - n) - rtol * np.abs(n))
            msg = (f"lamina.gradcheck: Jacobian mismatch for output {j} with respect to input {i}\n"
                   f"numerical:\n{n}\nanalytical:\n{a}\n"
                   f"worst element {np.unravel_index(bad, a.shape)}: analytical "
                   f"{a.flat[bad]!r} vs numerical {n.flat[bad]!r}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
