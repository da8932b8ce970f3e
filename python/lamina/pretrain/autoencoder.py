"""Autoencoders and their uses.

* :class:`StackedAutoencoder`: autoencoders pretrained greedily, one layer at a time, each
  trained to reconstruct its own input (Bengio et al. 2007), optionally from a corrupted copy
  with a fraction of its components set to zero (masking noise: the stacked *denoising*
  autoencoder of Vincent et al. 2008), with tied (decoder = encoder transposed) or untied weights.
* :class:`DeepAutoencoder`: an encoder of sigmoid layers with a linear code layer and a mirrored
  decoder ending in a sigmoid, either unrolled from a deep belief net whose top RBM has linear
  (Gaussian) hidden units (Hinton and Salakhutdinov, "Reducing the dimensionality of data with
  neural networks", Science 2006) or randomly initialised (the baseline), then fine-tuned with
  backpropagation on the reconstruction.
* Uses: :func:`pca_reconstruction_error` (compression against PCA with the same code size),
  :func:`anomaly_scores` and :func:`roc_auc` (anomaly detection by reconstruction error).

Every reconstruction error here is the same measure: the mean over samples of the squared error
summed over features (pixels), the one Hinton and Salakhutdinov report.

>>> import numpy as np, lamina
>>> from lamina.pretrain.autoencoder import DeepAutoencoder, pca_reconstruction_error
>>> x = np.random.default_rng(0).random((200, 16)).astype(np.float32)
>>> ae = DeepAutoencoder.from_sizes([16, 12, 4])
>>> errors = ae.fit(x, epochs=2, batch_size=50)
>>> ae.encode(lamina.from_numpy(x)).shape
lamina.Size([200, 4])
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import creation
from .._dtype import float32, float64, to_dtype
from ..autograd import no_grad
from ..nn import functional as F
from ..nn import init
from ..nn.modules.activation import ReLU, Sigmoid
from ..nn.modules.container import Sequential
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ..optim import SGD, Adam
from ..tensor import Tensor, from_numpy, where

__all__ = ["DeepAutoencoder", "StackedAutoencoder", "anomaly_scores", "pca_reconstruct",
           "pca_reconstruction_error", "roc_auc"]

_ACTIVATIONS = ("sigmoid", "relu")


# ---------------------------------------------------------------- argument checks


def _check_sizes(sizes, owner: str, minimum: int = 2) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"lamina.pretrain.{owner}: argument 'sizes' must be a list of layer sizes such as "
                        f"[784, 500, 30], got {type(sizes).__name__}")
    sizes = list(sizes)
    if len(sizes) < minimum:
        raise ValueError(f"lamina.pretrain.{owner}: argument 'sizes' must name at least {minimum} layer sizes "
                         f"(input and code), got {sizes}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0:
            raise ValueError(f"lamina.pretrain.{owner}: argument 'sizes' must hold positive integers, got {sizes}")
    return [int(s) for s in sizes]


def _check_choice(value, choices, owner: str, name: str) -> str:
    if value not in choices:
        raise ValueError(f"lamina.pretrain.{owner}: argument '{name}' must be one of "
                         f"{', '.join(repr(c) for c in choices)}, got {value!r}")
    return value


def _check_positive_int(value, owner: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"lamina.pretrain.{owner}: argument '{name}' must be a positive integer, got {value!r}")
    return int(value)


def _check_nonneg_int(value, owner: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"lamina.pretrain.{owner}: argument '{name}' must be a non-negative integer, "
                         f"got {value!r}")
    return int(value)


def _check_float(value, owner: str, name: str, lo: float = 0.0, hi: float = float("inf"),
                 hi_open: bool = False, lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"lamina.pretrain.{owner}: argument '{name}' must be a finite number, got {value!r}")
    v = float(value)
    bad = v < lo or v > hi or (hi_open and v == hi) or (lo_open and v == lo)
    if bad:
        interval = ("(" if lo_open else "[") + f"{lo:g}, {hi:g}" + (")" if hi_open else "]")
        raise ValueError(f"lamina.pretrain.{owner}: argument '{name}' must lie in {interval}, got {value!r}")
    return v


def _resolve_dtype(dtype, owner: str):
    if dtype is None:
        return float32
    dt = to_dtype(dtype, f"pretrain.{owner}")
    if dt not in (float32, float64):
        raise TypeError(f"lamina.pretrain.{owner}: argument 'dtype' must be lamina.float32 or lamina.float64, "
                        f"got {dt}")
    return dt


def _as_matrix(data, n_features: int | None, owner: str, name: str = "data", dtype=float32) -> np.ndarray:
    """``data`` (numpy array or lamina Tensor, shape (N, ...)) as a C-contiguous (N, features)
    numpy array of ``dtype``, checked: finite, at least one sample, the expected feature count."""
    if isinstance(data, Tensor):
        data = data.detach().cpu().numpy()
    if not isinstance(data, np.ndarray):
        try:
            data = np.asarray(data)
        except (TypeError, ValueError):
            data = None
        if data is None or data.dtype == object:
            raise TypeError(f"lamina.pretrain.{owner}: argument '{name}' must be a numpy array or a lamina "
                            "Tensor of shape (N, features)")
    if data.dtype.kind not in "fiub":
        raise TypeError(f"lamina.pretrain.{owner}: argument '{name}' must hold numbers, got dtype {data.dtype}")
    if data.ndim < 2 or data.shape[0] == 0:
        raise ValueError(f"lamina.pretrain.{owner}: argument '{name}' must have shape (N, features) with N >= 1 "
                         f"(or (N, C, H, W), flattened), got shape {tuple(data.shape)}")
    x = data.reshape(data.shape[0], -1)
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"lamina.pretrain.{owner}: argument '{name}' has {x.shape[1]} features per sample "
                         f"(shape {tuple(data.shape)}), expected {n_features}")
    x = np.ascontiguousarray(x, dtype=_np_dtype(dtype))
    if not np.isfinite(x).all():
        raise ValueError(f"lamina.pretrain.{owner}: argument '{name}' holds NaN or infinite values")
    return x


def _np_dtype(dt) -> np.dtype:
    return dt._np if isinstance(dt, type(float32)) else np.dtype(dt)


def _batches(n: int, batch_size: int, shuffle: bool, rng: np.random.Generator):
    order = rng.permutation(n) if shuffle else np.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


def _optimizer(params, optimizer: str, lr: float, momentum: float, weight_decay: float, owner: str):
    _check_choice(optimizer, ("adam", "sgd"), owner, "optimizer")
    if optimizer == "adam":
        return Adam(params, lr=lr, weight_decay=weight_decay)
    return SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _map_batches(fn, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``fn`` (Tensor -> Tensor) over ``x`` in batches without recording gradients; numpy out."""
    outs = []
    with no_grad():
        for i in range(0, x.shape[0], batch_size):
            outs.append(fn(from_numpy(x[i:i + batch_size])).numpy().copy())
    return np.concatenate(outs, axis=0)


def _sum_sq(recon: np.ndarray, x: np.ndarray) -> np.ndarray:
    d = recon.astype(np.float64) - x.astype(np.float64)
    return np.einsum("ij,ij->i", d, d)


def _in_unit_interval(x: np.ndarray) -> bool:
    return bool(x.min() >= 0.0 and x.max() <= 1.0)


def _linear_from(weight: Tensor, bias: Tensor, dtype) -> Linear:
    out_f, in_f = weight.shape
    lin = Linear(in_f, out_f, dtype=dtype)
    with no_grad():
        lin.weight.copy_(weight.detach().to(dtype).contiguous())
        lin.bias.copy_(bias.detach().to(dtype).contiguous())
    return lin


# ---------------------------------------------------------------- stacked (denoising) autoencoders


class _AutoencoderLayer(Module):
    """One autoencoder of the stack: ``h = act(x W^T + b)``, ``x_hat = out(h W + c)`` (tied) or
    ``out(h V^T + c)`` (untied, ``decoder_weight`` V of shape (n_in, n_out)).

    ``output`` is the decoder's nonlinearity: "sigmoid" (pixels in [0, 1]) or "linear"."""

    def __init__(self, n_in: int, n_out: int, activation: str, tied: bool, dtype) -> None:
        super().__init__()
        self.n_in, self.n_out, self.activation, self.tied = n_in, n_out, activation, tied
        self.output = "sigmoid"
        self.loss = "bce"
        self.weight = Parameter(creation.empty(n_out, n_in, dtype=dtype))
        self.bias = Parameter(creation.zeros(n_out, dtype=dtype))
        self.v_bias = Parameter(creation.zeros(n_in, dtype=dtype))
        if tied:
            self.register_parameter("decoder_weight", None)
        else:
            self.decoder_weight = Parameter(creation.empty(n_in, n_out, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot uniform for sigmoid layers (times 4, the range for the logistic function that
        Glorot and Bengio 2010 derive and the denoising-autoencoder tutorial uses), Kaiming
        uniform for ReLU; biases zero."""
        if self.activation == "sigmoid":
            init.xavier_uniform_(self.weight, gain=4.0)
            if self.decoder_weight is not None:
                init.xavier_uniform_(self.decoder_weight, gain=4.0)
        else:
            init.kaiming_uniform_(self.weight, nonlinearity="relu")
            if self.decoder_weight is not None:
                init.xavier_uniform_(self.decoder_weight)
        init.zeros_(self.bias)
        init.zeros_(self.v_bias)

    def encode(self, x: Tensor) -> Tensor:
        z = F.linear(x, self.weight, self.bias)
        return z.sigmoid() if self.activation == "sigmoid" else z.relu()

    def decode_logits(self, h: Tensor) -> Tensor:
        w = self.weight.T if self.decoder_weight is None else self.decoder_weight
        return F.linear(h, w, self.v_bias)

    def decode(self, h: Tensor) -> Tensor:
        z = self.decode_logits(h)
        return z.sigmoid() if self.output == "sigmoid" else z

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def extra_repr(self) -> str:
        return (f"n_in={self.n_in}, n_out={self.n_out}, activation={self.activation!r}, tied={self.tied}, "
                f"output={self.output!r}")


class StackedAutoencoder:
    """Autoencoders stacked and pretrained greedily, layer by layer (Bengio et al. 2007; with
    ``noise > 0`` the stacked denoising autoencoder of Vincent et al. 2008).

    ``sizes`` = [n_input, h1, h2, ...]: layer i encodes ``sizes[i]`` features into
    ``sizes[i+1]`` with ``activation`` ("sigmoid" or "relu"). During pretraining each layer is
    trained (Adam or SGD with momentum) to reconstruct its clean input from a copy in which a
    fraction ``noise`` of the components, drawn by Lamina's seeded generator, is set to zero
    (masking noise). The first layer uses a sigmoid decoder and the cross-entropy loss when the
    data lie in [0, 1] (a linear decoder and the squared error otherwise); the layers above use
    the squared error, with a sigmoid decoder over sigmoid codes and a linear one over ReLU
    codes. ``tied=True`` decodes with the encoder's weight transposed.

    >>> import numpy as np
    >>> from lamina.pretrain.autoencoder import StackedAutoencoder
    >>> x = np.random.default_rng(0).random((100, 20)).astype(np.float32)
    >>> sae = StackedAutoencoder([20, 16, 8], noise=0.2)
    >>> history = sae.pretrain(x, epochs=2, batch_size=25)   # [[layer 0 per epoch], [layer 1 ...]]
    >>> len(history), len(history[0])
    (2, 2)
    >>> sae.to_mlp(num_classes=10)[-1]
    Linear(in_features=8, out_features=10, bias=True)
    """

    def __init__(self, sizes, activation: str = "sigmoid", noise: float = 0.0, dtype=None,
                 tied: bool = True) -> None:
        self.sizes = _check_sizes(sizes, "StackedAutoencoder")
        self.activation = _check_choice(activation, _ACTIVATIONS, "StackedAutoencoder", "activation")
        self.noise = _check_float(noise, "StackedAutoencoder", "noise", 0.0, 1.0, hi_open=True)
        if not isinstance(tied, bool):
            raise TypeError(f"lamina.pretrain.StackedAutoencoder: argument 'tied' must be a bool, got {tied!r}")
        self.tied = tied
        self.dtype = _resolve_dtype(dtype, "StackedAutoencoder")
        self.layers = [_AutoencoderLayer(a, b, self.activation, tied, self.dtype)
                       for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        for layer in self.layers[1:]:
            layer.output, layer.loss = ("sigmoid" if self.activation == "sigmoid" else "linear"), "mse"

    def __repr__(self) -> str:
        return (f"StackedAutoencoder(sizes={self.sizes}, activation={self.activation!r}, noise={self.noise}, "
                f"tied={self.tied})")

    # -------------------------------------------------------------- corruption
    def corrupt(self, x: Tensor, noise: float | None = None) -> Tensor:
        """``x`` with each component set to zero independently with probability ``noise``
        (default: this stack's), drawn from Lamina's generator (``lamina.manual_seed``)."""
        p = self.noise if noise is None else _check_float(noise, "StackedAutoencoder", "noise", 0.0, 1.0,
                                                         hi_open=True)
        if not isinstance(x, Tensor):
            raise TypeError(f"lamina.pretrain.StackedAutoencoder.corrupt: argument 'x' must be a Tensor, "
                            f"got {type(x).__name__}")
        if p == 0.0:
            return x
        keep = creation.rand(*x.shape, dtype=x.dtype) >= p
        return where(keep, x, 0.0)

    # -------------------------------------------------------------- training
    def pretrain(self, data, epochs: int = 10, batch_size: int = 100, lr: float = 1e-3,
                 optimizer: str = "adam", momentum: float = 0.9, weight_decay: float = 0.0,
                 shuffle: bool = True, seed: int | None = None, verbose: bool = False) -> list[list[float]]:
        """Greedy layer-wise pretraining: layer 0 on ``data`` (numpy or Tensor, (N, sizes[0]) or
        (N, C, H, W)), layer i on the codes of layer i-1 (clean, without noise). Returns, per
        layer, the per-epoch training reconstruction error (mean over samples of the squared
        error summed over features, of the reconstruction from the corrupted input against the
        clean input). ``seed`` reseeds Lamina's generator (the masks) and seeds the shuffling."""
        owner = "StackedAutoencoder.pretrain"
        x = _as_matrix(data, self.sizes[0], owner, dtype=self.dtype)
        epochs = _check_nonneg_int(epochs, owner, "epochs")
        batch_size = _check_positive_int(batch_size, owner, "batch_size")
        lr = _check_float(lr, owner, "lr", lo_open=True)
        momentum = _check_float(momentum, owner, "momentum", 0.0, 1.0, hi_open=True)
        weight_decay = _check_float(weight_decay, owner, "weight_decay")
        _check_choice(optimizer, ("adam", "sgd"), owner, "optimizer")
        if seed is not None:
            from .. import manual_seed

            manual_seed(seed)
        rng = np.random.default_rng(seed)
        first = self.layers[0]
        first.output, first.loss = ("sigmoid", "bce") if _in_unit_interval(x) else ("linear", "mse")
        histories = []
        for i, layer in enumerate(self.layers):
            opt = _optimizer(layer.parameters(), optimizer, lr, momentum, weight_decay, owner)
            history = []
            for epoch in range(epochs):
                total = 0.0
                for idx in _batches(x.shape[0], batch_size, shuffle, rng):
                    xb = from_numpy(x[idx])
                    logits = layer.decode_logits(layer.encode(self.corrupt(xb)))
                    n = xb.shape[0]
                    if layer.output == "sigmoid":
                        recon = logits.sigmoid()
                    else:
                        recon = logits
                    if layer.loss == "bce":
                        loss = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum") / n
                    else:
                        loss = F.mse_loss(recon, xb, reduction="sum") / n
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    with no_grad():
                        total += float(((recon - xb) ** 2).sum())
                history.append(total / x.shape[0])
                if verbose:
                    print(f"autoencoder layer {i} ({layer.n_in}->{layer.n_out}) epoch {epoch + 1}/{epochs}: "
                          f"reconstruction error {history[-1]:.4f}")
            histories.append(history)
            if i + 1 < len(self.layers):
                x = _map_batches(layer.encode, x, 1000)
        return histories

    # -------------------------------------------------------------- inference
    def _check_layer(self, layer, owner: str) -> int | None:
        if layer is None:
            return None
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not \
                -len(self.layers) <= layer < len(self.layers):
            raise IndexError(f"lamina.pretrain.{owner}: argument 'layer' must be an index into the "
                             f"{len(self.layers)} layers, got {layer!r}")
        return int(layer) % len(self.layers)

    def transform(self, data, batch_size: int = 1000) -> np.ndarray:
        """The top-level codes (numpy, (N, sizes[-1])) of clean ``data``."""
        x = _as_matrix(data, self.sizes[0], "StackedAutoencoder.transform", dtype=self.dtype)

        def up(t):
            for layer in self.layers:
                t = layer.encode(t)
            return t

        return _map_batches(up, x, _check_positive_int(batch_size, "StackedAutoencoder.transform", "batch_size"))

    def reconstruct(self, data, batch_size: int = 1000, layer: int | None = None) -> np.ndarray:
        """Up through every layer and down again (numpy, same shape as the flattened input); with
        ``layer=i``, only autoencoder i on its own input (the codes of layer i-1)."""
        owner = "StackedAutoencoder.reconstruct"
        i = self._check_layer(layer, owner)
        batch_size = _check_positive_int(batch_size, owner, "batch_size")
        x = _as_matrix(data, self.sizes[0] if i is None else self.sizes[i], owner, dtype=self.dtype)
        layers = self.layers if i is None else [self.layers[i]]

        def updown(t):
            for ly in layers:
                t = ly.encode(t)
            for ly in reversed(layers):
                t = ly.decode(t)
            return t

        return _map_batches(updown, x, batch_size)

    def reconstruction_error(self, data, layer: int | None = None) -> float:
        """Mean over samples of the squared error summed over features, for clean ``data``
        through the whole stack (or through autoencoder ``layer`` alone, whose input it is)."""
        i = self._check_layer(layer, "StackedAutoencoder.reconstruction_error")
        x = _as_matrix(data, self.sizes[0] if i is None else self.sizes[i],
                       "StackedAutoencoder.reconstruction_error", dtype=self.dtype)
        return float(_sum_sq(self.reconstruct(x, layer=layer), x).mean())

    def encoder(self) -> Sequential:
        """``nn.Sequential(Linear, act, Linear, act, ...)`` holding copies of the encoder weights."""
        mods = []
        for layer in self.layers:
            mods.append(_linear_from(layer.weight, layer.bias, self.dtype))
            mods.append(Sigmoid() if self.activation == "sigmoid" else ReLU())
        return Sequential(*mods)

    def to_mlp(self, num_classes: int | None = None) -> Sequential:
        """The encoder, plus a freshly initialised ``Linear(sizes[-1], num_classes)`` output layer
        when ``num_classes`` is given: the network to fine-tune with backpropagation."""
        mlp = self.encoder()
        if num_classes is not None:
            mlp.append(Linear(self.sizes[-1], _check_positive_int(num_classes, "StackedAutoencoder.to_mlp",
                                                                  "num_classes"), dtype=self.dtype))
        return mlp


# ---------------------------------------------------------------- deep autoencoder


class DeepAutoencoder(Module):
    """Encoder ``Linear, act, ..., Linear`` ending in the code layer (linear by default) and a
    mirrored decoder ``Linear, act, ..., Linear, Sigmoid`` (Hinton and Salakhutdinov 2006:
    784-1000-500-250-30 for MNIST). ``forward(x)`` returns the reconstruction, ``encode(x)``
    the code, ``decode(code)`` the reconstruction of a code.

    Build it with :meth:`from_dbn` (unrolled from a pretrained deep belief net) or
    :meth:`from_sizes` (random initialisation: the baseline without pretraining), then
    :meth:`fit` it. ``output="linear"`` drops the final sigmoid (for real-valued data).

    >>> import lamina
    >>> ae = DeepAutoencoder.from_sizes([784, 1000, 500, 250, 30])
    >>> ae(lamina.rand(5, 784)).shape, ae.encode(lamina.rand(5, 784)).shape
    (lamina.Size([5, 784]), lamina.Size([5, 30]))
    """

    def __init__(self, sizes, activation: str = "sigmoid", linear_code: bool = True, output: str = "sigmoid",
                 dtype=None) -> None:
        super().__init__()
        self.sizes = _check_sizes(sizes, "DeepAutoencoder")
        self.activation = _check_choice(activation, _ACTIVATIONS, "DeepAutoencoder", "activation")
        self.output = _check_choice(output, ("sigmoid", "linear"), "DeepAutoencoder", "output")
        if not isinstance(linear_code, bool):
            raise TypeError(f"lamina.pretrain.DeepAutoencoder: argument 'linear_code' must be a bool, "
                            f"got {linear_code!r}")
        self.linear_code = linear_code
        dt = _resolve_dtype(dtype, "DeepAutoencoder")

        def act():
            return Sigmoid() if self.activation == "sigmoid" else ReLU()

        enc, dec = [], []
        n = len(self.sizes) - 1
        for i in range(n):
            enc.append(Linear(self.sizes[i], self.sizes[i + 1], dtype=dt))
            if i + 1 < n or not linear_code:
                enc.append(act())
        rev = self.sizes[::-1]
        for i in range(n):
            dec.append(Linear(rev[i], rev[i + 1], dtype=dt))
            if i + 1 < n:
                dec.append(act())
        if output == "sigmoid":
            dec.append(Sigmoid())
        self.encoder = Sequential(*enc)
        self.decoder = Sequential(*dec)

    # -------------------------------------------------------------- constructors
    @classmethod
    def from_sizes(cls, sizes, activation: str = "sigmoid", linear_code: bool = True, output: str = "sigmoid",
                   dtype=None) -> "DeepAutoencoder":
        """Randomly initialised (``nn.Linear``'s default, from ``lamina.manual_seed``'s
        generator): the baseline without pretraining."""
        return cls(sizes, activation=activation, linear_code=linear_code, output=output, dtype=dtype)

    @classmethod
    def from_dbn(cls, dbn) -> "DeepAutoencoder":
        """Unrolls a pretrained :class:`lamina.pretrain.dbn.DBN`: encoder layer i carries RBM i's
        ``weight`` and ``h_bias``; the decoder layer that mirrors it carries ``weight``
        transposed and ``v_bias``. A top RBM with ``hidden="gaussian"`` gives the linear code
        layer (a Bernoulli top gives a sigmoid code); Gaussian visible units at the bottom give
        a linear output layer. The hidden layers below the top must be Bernoulli (sigmoid)."""
        rbms = getattr(dbn, "rbms", None)
        if not rbms:
            raise TypeError("lamina.pretrain.DeepAutoencoder.from_dbn: argument 'dbn' must be a DBN with a "
                            f"non-empty list of RBMs in .rbms, got {type(dbn).__name__}")
        for i, rbm in enumerate(rbms[:-1]):
            if getattr(rbm, "hidden", "bernoulli") != "bernoulli":
                raise ValueError(f"lamina.pretrain.DeepAutoencoder.from_dbn: RBM {i} has hidden={rbm.hidden!r}; "
                                 "only the top RBM may have non-Bernoulli (linear) hidden units")
        for i, (a, b) in enumerate(zip(rbms[:-1], rbms[1:])):
            if a.weight.shape[0] != b.weight.shape[1]:
                raise ValueError(f"lamina.pretrain.DeepAutoencoder.from_dbn: RBM {i} has {a.weight.shape[0]} hidden "
                                 f"units but RBM {i + 1} has {b.weight.shape[1]} visible units")
        sizes = [rbms[0].weight.shape[1]] + [r.weight.shape[0] for r in rbms]
        dt = rbms[0].weight.dtype
        linear_code = getattr(rbms[-1], "hidden", "bernoulli") == "gaussian"
        output = "linear" if getattr(rbms[0], "visible", "bernoulli") == "gaussian" else "sigmoid"
        ae = cls(sizes, activation="sigmoid", linear_code=linear_code, output=output, dtype=dt)
        enc = [m for m in ae.encoder if isinstance(m, Linear)]
        dec = [m for m in ae.decoder if isinstance(m, Linear)]
        with no_grad():
            for lin, rbm in zip(enc, rbms):
                lin.weight.copy_(rbm.weight.detach().to(dt))
                lin.bias.copy_(rbm.h_bias.detach().to(dt))
            for lin, rbm in zip(dec, reversed(rbms)):
                lin.weight.copy_(rbm.weight.detach().to(dt).T.contiguous())
                lin.bias.copy_(rbm.v_bias.detach().to(dt))
        return ae

    # -------------------------------------------------------------- passes
    def _check_input(self, x, name: str = "input") -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"lamina.pretrain.DeepAutoencoder: argument '{name}' must be a Tensor, "
                            f"got {type(x).__name__}")
        if x.dim() > 2:
            x = x.flatten(1)
        if x.dim() != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"lamina.pretrain.DeepAutoencoder: argument '{name}' must have shape (N, {self.sizes[0]}) "
                             f"(or (N, ...) with {self.sizes[0]} features), got {list(x.shape)}")
        return x

    def encode(self, x: Tensor) -> Tensor:
        """The code (N, sizes[-1])."""
        return self.encoder(self._check_input(x))

    def decode(self, code: Tensor) -> Tensor:
        """The reconstruction (N, sizes[0]) of a code (N, sizes[-1])."""
        if not isinstance(code, Tensor) or code.dim() != 2 or code.shape[1] != self.sizes[-1]:
            got = list(code.shape) if isinstance(code, Tensor) else type(code).__name__
            raise ValueError(f"lamina.pretrain.DeepAutoencoder.decode: argument 'code' must be a Tensor of shape "
                             f"(N, {self.sizes[-1]}), got {got}")
        return self.decoder(code)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encode(x))

    def _logits(self, x: Tensor) -> Tensor:
        """The decoder's output before its final sigmoid (the reconstruction when linear)."""
        h = self.encoder(x)
        mods = list(self.decoder)
        if self.output == "sigmoid":
            mods = mods[:-1]
        for m in mods:
            h = m(h)
        return h

    def transform(self, data, batch_size: int = 1000) -> np.ndarray:
        """Codes (numpy, (N, sizes[-1])) of ``data`` (numpy or Tensor)."""
        x = _as_matrix(data, self.sizes[0], "DeepAutoencoder.transform", dtype=self._dtype())
        return _map_batches(self.encoder, x, _check_positive_int(batch_size, "DeepAutoencoder.transform",
                                                                 "batch_size"))

    def reconstruct(self, data, batch_size: int = 1000) -> np.ndarray:
        """Reconstructions (numpy, (N, sizes[0])) of ``data`` (numpy or Tensor)."""
        x = _as_matrix(data, self.sizes[0], "DeepAutoencoder.reconstruct", dtype=self._dtype())
        return _map_batches(self.forward, x, _check_positive_int(batch_size, "DeepAutoencoder.reconstruct",
                                                                 "batch_size"))

    def reconstruction_error(self, data, batch_size: int = 1000) -> float:
        """Mean over samples of the squared error summed over features."""
        x = _as_matrix(data, self.sizes[0], "DeepAutoencoder.reconstruction_error", dtype=self._dtype())
        return float(_sum_sq(self.reconstruct(x, batch_size), x).mean())

    def _dtype(self):
        return next(iter(self.parameters())).dtype

    # -------------------------------------------------------------- fine-tuning
    def fit(self, data, epochs: int = 10, batch_size: int = 100, lr: float = 1e-3, optimizer: str = "adam",
            momentum: float = 0.9, weight_decay: float = 0.0, loss: str | None = None, shuffle: bool = True,
            seed: int | None = None, verbose: bool | int = False, eval_data=None) -> list[float]:
        """Fine-tunes every layer with backpropagation on the reconstruction of ``data`` (numpy
        or Tensor, (N, sizes[0]) or (N, C, H, W)). ``loss``: "bce" (cross-entropy on pixels in
        [0, 1]; the default with a sigmoid output and data in [0, 1]) or "mse"; ``optimizer``:
        "adam" or "sgd" (with ``momentum``). Returns the per-epoch training reconstruction error
        (mean over samples of the summed squared error, over the epoch's batches as trained);
        with ``eval_data``, also fills ``self.eval_history`` with its error after each epoch.
        ``seed`` seeds the shuffling (numpy); the weights come from ``lamina.manual_seed``.
        ``verbose``: True prints every epoch, an integer n every n-th epoch (and the last)."""
        owner = "DeepAutoencoder.fit"
        dt = self._dtype()
        x = _as_matrix(data, self.sizes[0], owner, dtype=dt)
        epochs = _check_nonneg_int(epochs, owner, "epochs")
        batch_size = _check_positive_int(batch_size, owner, "batch_size")
        lr = _check_float(lr, owner, "lr", lo_open=True)
        momentum = _check_float(momentum, owner, "momentum", 0.0, 1.0, hi_open=True)
        weight_decay = _check_float(weight_decay, owner, "weight_decay")
        xe = None if eval_data is None else _as_matrix(eval_data, self.sizes[0], owner, "eval_data", dtype=dt)
        unit = _in_unit_interval(x)
        if loss is None:
            loss = "bce" if self.output == "sigmoid" and unit else "mse"
        _check_choice(loss, ("bce", "mse"), owner, "loss")
        if loss == "bce" and not (self.output == "sigmoid" and unit):
            raise ValueError(f"lamina.pretrain.{owner}: loss='bce' needs a sigmoid output and data in [0, 1]; "
                             f"got output={self.output!r} and data in [{x.min():g}, {x.max():g}] (use loss='mse')")
        opt = _optimizer(self.parameters(), optimizer, lr, momentum, weight_decay, owner)
        rng = np.random.default_rng(seed)
        self.train()
        history, self.eval_history = [], []
        for epoch in range(epochs):
            total = 0.0
            for idx in _batches(x.shape[0], batch_size, shuffle, rng):
                xb = from_numpy(x[idx])
                n = xb.shape[0]
                logits = self._logits(xb)
                recon = logits.sigmoid() if self.output == "sigmoid" else logits
                if loss == "bce":
                    objective = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum") / n
                else:
                    objective = F.mse_loss(recon, xb, reduction="sum") / n
                opt.zero_grad()
                objective.backward()
                opt.step()
                with no_grad():
                    total += float(((recon - xb) ** 2).sum())
            history.append(total / x.shape[0])
            line = f"deep autoencoder epoch {epoch + 1}/{epochs}: train squared error {history[-1]:.4f}"
            if xe is not None:
                self.eval_history.append(self.reconstruction_error(xe))
                line += f", eval {self.eval_history[-1]:.4f}"
            if verbose and (epoch + 1) % max(int(verbose), 1) == 0 or verbose and epoch + 1 == epochs:
                print(line, flush=True)
        self.eval()
        self.history = history
        return history

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, activation={self.activation!r}, linear_code={self.linear_code}, " \
               f"output={self.output!r}"


# ---------------------------------------------------------------- uses


def pca_reconstruct(train, test, n_components: int) -> np.ndarray:
    """Reconstructions of ``test`` from its first ``n_components`` principal components, fitted
    on ``train`` (numpy SVD of the centred training data, float64), as a float64 numpy array of
    shape (N_test, features)."""
    owner = "pca_reconstruction_error"
    a = _as_matrix(train, None, owner, "train", dtype=np.float64)
    b = _as_matrix(test, a.shape[1], owner, "test", dtype=np.float64)
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral) or \
            not 1 <= n_components <= min(a.shape):
        raise ValueError(f"lamina.pretrain.{owner}: argument 'n_components' must be an integer in "
                         f"[1, {min(a.shape)}] (min of the training data's shape {a.shape}), got {n_components!r}")
    mean = a.mean(axis=0)
    _, _, vt = np.linalg.svd(a - mean, full_matrices=False)
    v = vt[:int(n_components)]
    return (b - mean) @ v.T @ v + mean


def pca_reconstruction_error(train, test, n_components: int) -> float:
    """Mean over ``test`` samples of the squared error summed over features when each is
    reconstructed from its first ``n_components`` principal components of ``train`` (the
    autoencoders' error measure: compare a 30-dimensional code with 30-component PCA).

    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((100, 8))
    >>> pca_reconstruction_error(x, x, 8) < 1e-20
    True
    """
    b = _as_matrix(test, None, "pca_reconstruction_error", "test", dtype=np.float64)
    return float(_sum_sq(pca_reconstruct(train, test, n_components), b).mean())


def anomaly_scores(model, data, batch_size: int = 1000) -> np.ndarray:
    """Per-sample reconstruction error (squared error summed over features; numpy, (N,)): the
    higher, the less the sample looks like what ``model`` was trained on. ``model`` is a
    :class:`DeepAutoencoder` or :class:`StackedAutoencoder` (anything with ``reconstruct``),
    an RBM (one up-down pass with means: ``visible_mean(hidden_mean(v))``), or an ``nn.Module``
    whose forward returns the reconstruction."""
    owner = "anomaly_scores"
    batch_size = _check_positive_int(batch_size, owner, "batch_size")
    sizes = getattr(model, "sizes", None)
    n_in = sizes[0] if sizes else None
    if hasattr(model, "reconstruct"):
        x = _as_matrix(data, n_in, owner, dtype=np.float32)
        dt = getattr(model, "dtype", None)
        if isinstance(dt, type(float32)):
            x = x.astype(_np_dtype(dt))
        elif isinstance(model, Module):
            x = x.astype(_np_dtype(next(iter(model.parameters())).dtype))
        return _sum_sq(model.reconstruct(x, batch_size=batch_size), x)
    if hasattr(model, "hidden_mean") and hasattr(model, "visible_mean"):
        w = model.weight
        x = _as_matrix(data, w.shape[1], owner, dtype=w.dtype)
        return _sum_sq(_map_batches(lambda t: model.visible_mean(model.hidden_mean(t)), x, batch_size), x)
    if isinstance(model, Module):
        params = list(model.parameters())
        x = _as_matrix(data, None, owner, dtype=params[0].dtype if params else float32)
        return _sum_sq(_map_batches(model, x, batch_size).reshape(x.shape[0], -1), x)
    raise TypeError(f"lamina.pretrain.{owner}: argument 'model' must be an autoencoder (with .reconstruct), an "
                    f"RBM or an nn.Module returning reconstructions, got {type(model).__name__}")


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (1 or True = positive):
    the probability that a random positive scores above a random negative, ties counting one
    half (the Mann-Whitney U statistic from average ranks; equals
    ``sklearn.metrics.roc_auc_score``).

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    s = np.asarray(scores.numpy() if isinstance(scores, Tensor) else scores)
    y = np.asarray(labels.numpy() if isinstance(labels, Tensor) else labels)
    if s.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        raise TypeError(f"lamina.pretrain.roc_auc: arguments 'scores' and 'labels' must be numeric arrays, got "
                        f"dtypes {s.dtype} and {y.dtype}")
    if s.ndim != 1 or y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"lamina.pretrain.roc_auc: arguments 'scores' and 'labels' must be 1-D of the same length, "
                         f"got shapes {s.shape} and {y.shape}")
    if not np.isfinite(s.astype(np.float64)).all():
        raise ValueError("lamina.pretrain.roc_auc: argument 'scores' holds NaN or infinite values")
    values = np.unique(y)
    if not np.isin(values, [0, 1]).all():
        raise ValueError(f"lamina.pretrain.roc_auc: argument 'labels' must be binary (0/1 or bool), got values "
                         f"{values[:10].tolist()}")
    pos = y.astype(bool)
    n_pos = int(pos.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("lamina.pretrain.roc_auc: argument 'labels' must contain both classes (ROC-AUC is "
                         f"undefined), got {n_pos} positives and {n_neg} negatives")
    # average ranks (1-based) with ties sharing the mean of their positions
    _, inverse, counts = np.unique(s.astype(np.float64), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0
    ranks = avg_rank[inverse]
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))
