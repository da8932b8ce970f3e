"""Deep belief nets: RBMs stacked greedily layer by layer (Hinton, Osindero and Teh 2006), then
unrolled into an ``nn.Sequential`` MLP for supervised fine-tuning with backpropagation."""

from __future__ import annotations

import numpy as np

from .. import _C, creation
from ..autograd import no_grad
from ..nn.modules.activation import ReLU, Sigmoid, Tanh
from ..nn.modules.container import Sequential
from ..nn.modules.linear import Linear
from ..tensor import from_numpy
from .rbm import RBM, _as_array, _check_int, _check_units

__all__ = ["DBN"]

_ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh}


class DBN:
    """A stack of RBMs: ``sizes = [784, 500, 500, 2000]`` makes RBMs 784-500, 500-500, 500-2000.

    The first RBM's visible units are ``visible`` ("bernoulli", or "gaussian" for standardised
    real-valued data), the top RBM's hidden units ``top_hidden`` ("gaussian" gives the linear
    code layer of a deep autoencoder); every other unit is Bernoulli.

    >>> import lamina, numpy as np
    >>> from lamina.pretrain.dbn import DBN
    >>> lamina.manual_seed(0)
    >>> dbn = DBN([64, 32, 16])
    >>> data = (np.random.default_rng(0).random((100, 64)) < 0.3).astype(np.float32)
    >>> errors = dbn.pretrain(data, epochs=1, batch_size=20)
    >>> dbn.transform(data).shape
    (100, 16)
    >>> mlp = dbn.to_mlp(num_classes=10)   # Linear, Sigmoid, Linear, Sigmoid, Linear
    """

    def __init__(self, sizes, visible: str = "bernoulli", top_hidden: str = "bernoulli",
                 dtype=None) -> None:
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError("lamina.pretrain.DBN: argument 'sizes' must be a list of at least two "
                             f"layer sizes, got {sizes!r}")
        self.sizes = [_check_int(s, "sizes", "DBN", 1) for s in sizes]
        self.visible = _check_units(visible, "visible")
        self.top_hidden = _check_units(top_hidden, "top_hidden")
        n = len(self.sizes) - 1
        self.rbms: list[RBM] = [
            RBM(self.sizes[i], self.sizes[i + 1],
                visible=self.visible if i == 0 else "bernoulli",
                hidden=self.top_hidden if i == n - 1 else "bernoulli", dtype=dtype)
            for i in range(n)]

    def __repr__(self) -> str:
        return f"DBN(sizes={self.sizes}, visible={self.visible!r}, top_hidden={self.top_hidden!r})"

    def pretrain(self, data, epochs: int = 10, batch_size: int = 100, verbose: bool = False,
                 layer_kwargs=None, **rbm_fit_kwargs) -> list[list[float]]:
        """Greedy layer-wise training: RBM 0 fits ``data``, RBM i fits RBM i-1's hidden means.

        ``rbm_fit_kwargs`` go to every ``RBM.fit`` (lr, momentum, weight_decay, k, persistent,
        seed ...); ``layer_kwargs``, a list with one dict per RBM, overrides them per layer (e.g. a
        smaller lr for a Gaussian layer). A ``seed`` seeds RBM i's fit with ``seed + i``. Returns each
        RBM's per-epoch reconstruction errors.
        """
        n = len(self.rbms)
        if layer_kwargs is not None and (not isinstance(layer_kwargs, (list, tuple))
                                         or len(layer_kwargs) != n
                                         or not all(isinstance(d, dict) for d in layer_kwargs)):
            raise ValueError(f"lamina.pretrain.DBN: argument 'layer_kwargs' must be a list of {n} "
                             f"dicts (one per RBM), got {layer_kwargs!r}")
        x = _as_array(data, "data", "DBN", self.sizes[0], self.rbms[0]._dtype.name)
        history = []
        for i, rbm in enumerate(self.rbms):
            kw = dict(rbm_fit_kwargs)
            if kw.get("seed") is not None:
                kw["seed"] = int(kw["seed"]) + i  # one stream per layer
            if layer_kwargs is not None:
                kw.update(layer_kwargs[i])
            if verbose:
                print(f"DBN: pretraining RBM {i + 1}/{n} ({rbm.n_visible}-{rbm.n_hidden})")
            history.append(rbm.fit(x, epochs=epochs, batch_size=batch_size, verbose=verbose, **kw))
            if i + 1 < n:
                x = rbm.transform(x)
        return history

    def transform(self, data) -> np.ndarray:
        """The up-pass: the top RBM's hidden means, numpy (N, sizes[-1])."""
        x = data
        for rbm in self.rbms:
            x = rbm.transform(x)
        return x

    def to_mlp(self, num_classes: int | None = None, activation: str = "sigmoid") -> Sequential:
        """``nn.Sequential(Linear, Sigmoid, ..., Linear, Sigmoid[, Linear(sizes[-1], num_classes)])``
        carrying the RBMs' weights and hidden biases (copies); the classifier layer is freshly
        initialised (PyTorch's default). A Gaussian top layer gets no activation (linear code), so
        with ``activation="sigmoid"`` the network's features equal ``transform``."""
        if not isinstance(activation, str) or activation not in _ACTIVATIONS:
            raise ValueError("lamina.pretrain.DBN: argument 'activation' must be one of "
                             f"{sorted(_ACTIVATIONS)}, got {activation!r}")
        if num_classes is not None:
            num_classes = _check_int(num_classes, "num_classes", "DBN", 1)
        layers = []
        for i, rbm in enumerate(self.rbms):
            layers.append(rbm.to_linear())
            if not (i == len(self.rbms) - 1 and rbm.hidden == "gaussian"):
                layers.append(_ACTIVATIONS[activation]())
        if num_classes is not None:
            layers.append(Linear(self.sizes[-1], num_classes, dtype=self.rbms[-1]._dtype))
        return Sequential(*layers)

    def sample(self, n: int, gibbs_steps: int = 1000, seed: int | None = None, start=None) -> np.ndarray:
        """Generates ``n`` samples: ``gibbs_steps`` of alternating Gibbs sampling in the top RBM,
        then a down-pass through the lower RBMs with means. Returns the visible means, numpy
        (n, sizes[0]).

        The chains start from uniform random binary states of the top RBM's visible units, or,
        with ``start`` (data, (n, sizes[0])), from a sample of those units given the up-pass of
        ``start``: a top RBM trained briefly with CD-1 mixes slowly, so chains started at random
        tend to fall into a few modes, while chains started at data wander from digit to digit."""
        n = _check_int(n, "n", "DBN", 1)
        gibbs_steps = _check_int(gibbs_steps, "gibbs_steps", "DBN", 0)
        if start is not None:
            start = _as_array(start, "start", "DBN", self.sizes[0], self.rbms[0]._dtype.name)
            if start.shape[0] != n:
                raise ValueError(f"lamina.pretrain.DBN: argument 'start' must have n={n} rows, got "
                                 f"{start.shape[0]}")
        if seed is not None:
            _C.manual_seed(int(seed))
        top = self.rbms[-1]
        with no_grad():
            dt = top._dtype
            if start is not None:
                x = start
                for rbm in self.rbms[:-1]:
                    x = rbm.transform(x)
                v = top._sample(from_numpy(np.ascontiguousarray(x)), top.visible)
            elif top.visible == "gaussian":
                v = creation.randn(n, top.n_visible, dtype=dt)
            else:
                v = (creation.rand(n, top.n_visible, dtype=dt) < 0.5).to(dt)
            for _ in range(gibbs_steps):
                h = top._sample(top._h_mean(v), top.hidden)
                v = top._sample(top._v_mean(h), top.visible)
            # the last visible state of the top RBM as a mean, then means all the way down
            x = top._v_mean(top._sample(top._h_mean(v), top.hidden)) if gibbs_steps else v
            for rbm in reversed(self.rbms[:-1]):
                x = rbm._v_mean(x)
            return x.numpy().copy()
