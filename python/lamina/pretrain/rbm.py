"""Restricted Boltzmann machines trained by contrastive divergence (CD-k) or persistent CD.

The recipe follows Hinton's "A Practical Guide to Training Restricted Boltzmann Machines"
(UTML TR 2010-003): weights from N(0, 0.01^2), hidden biases 0, visible biases
``log(p / (1 - p))`` from the data, momentum 0.5 for the first five epochs and 0.9 afterwards,
L2 weight decay 2e-4 on the weights only, and for CD-1 sampled binary hidden states driving the
reconstruction while the visible reconstruction and the final hidden statistics use
probabilities.

Energy (unit-variance Gaussian units where chosen)::

    E(v, h) = -b.v - c.h - h.W v              (Bernoulli visible, Bernoulli hidden)
    E(v, h) = |v - b|^2 / 2 - c.h - h.W v     (Gaussian visible)
    ... + |h|^2 / 2 instead of -c.h ...       (Gaussian hidden: h = c + W v + N(0, 1) noise)

Random numbers come from Lamina's seeded counter-based generator (``lamina.manual_seed``), never
numpy's. Each CD update runs in one fused C++ call (``lamina._C.rbm_cd_step``: up pass, sampling,
down pass, second up pass and the momentum update in place); ``RBM.use_fused = False`` selects
the reference written with Lamina tensor ops, which draws the same random numbers in the same
order (the tests check the two agree).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _C, creation
from .._dtype import float32, to_dtype
from ..autograd import no_grad
from ..nn import init
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor, from_numpy, matmul

__all__ = ["RBM"]

_FUSED = getattr(_C, "rbm_cd_step", None)

UNIT_TYPES = ("bernoulli", "gaussian")


def _check_int(value, name: str, op: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"lamina.pretrain.{op}: argument '{name}' must be an integer >= {minimum}, "
                         f"got {value!r}")
    return int(value)


def _check_real(value, name: str, op: str, low: float = 0.0, high: float = math.inf,
                high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"lamina.pretrain.{op}: argument '{name}' must be a finite real number, "
                         f"got {value!r}")
    v = float(value)
    if v < low or v > high or (high_open and v >= high):
        bound = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        raise ValueError(f"lamina.pretrain.{op}: argument '{name}' must lie in {bound}, got {value!r}")
    return v


def _check_units(value, name: str) -> str:
    if not isinstance(value, str) or value not in UNIT_TYPES:
        raise ValueError(f"lamina.pretrain.RBM: argument '{name}' must be 'bernoulli' or 'gaussian', "
                         f"got {value!r}")
    return value


def _as_array(data, name: str, op: str, n_cols: int, np_dtype) -> np.ndarray:
    """data (numpy array or lamina Tensor, (N, n_cols)) as a C-contiguous numpy array."""
    if isinstance(data, Tensor):
        if not data.device.type == "cpu":
            data = data.cpu()
        arr = data.detach().numpy()
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        raise TypeError(f"lamina.pretrain.{op}: argument '{name}' must be a numpy array or a "
                        f"lamina Tensor, got {type(data).__name__}")
    if arr.ndim != 2 or arr.shape[1] != n_cols:
        raise ValueError(f"lamina.pretrain.{op}: argument '{name}' must have shape (N, {n_cols}), "
                         f"got {tuple(arr.shape)}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"lamina.pretrain.{op}: argument '{name}' must hold numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np_dtype)
    if not np.isfinite(arr).all():
        raise ValueError(f"lamina.pretrain.{op}: argument '{name}' holds NaN or infinite values")
    return arr


class RBM(Module):
    """A restricted Boltzmann machine with Bernoulli or unit-variance Gaussian units.

    Parameters use ``nn.Linear``'s layout: ``weight`` ``(n_hidden, n_visible)`` from
    N(0, 0.01^2), ``h_bias`` ``(n_hidden,)`` and ``v_bias`` ``(n_visible,)`` zeros, so
    ``forward(v)`` (the hidden means) is ``sigmoid(linear(v, weight, h_bias))``.

    ``visible="gaussian"``: linear visible units with unit-variance noise; standardise the data
    (zero mean, unit variance per feature) first and use a learning rate 10-100x smaller
    (e.g. ``lr=0.001-0.01``). ``hidden="gaussian"``: linear hidden units with unit-variance noise
    (the linear code layer of Hinton & Salakhutdinov's deep autoencoder; they used ``lr=0.001``).

    >>> import lamina, numpy as np
    >>> from lamina.pretrain.rbm import RBM
    >>> lamina.manual_seed(0)
    >>> rbm = RBM(64, 32)
    >>> data = (np.random.default_rng(0).random((200, 64)) < 0.3).astype(np.float32)
    >>> errors = rbm.fit(data, epochs=2, batch_size=20)
    >>> rbm.transform(data).shape
    (200, 32)
    """

    use_fused = True  # one C++ call per CD update (lamina._C.rbm_cd_step) when available

    def __init__(self, n_visible: int, n_hidden: int, visible: str = "bernoulli",
                 hidden: str = "bernoulli", dtype=None) -> None:
        super().__init__()
        self.n_visible = _check_int(n_visible, "n_visible", "RBM", 1)
        self.n_hidden = _check_int(n_hidden, "n_hidden", "RBM", 1)
        self.visible = _check_units(visible, "visible")
        self.hidden = _check_units(hidden, "hidden")
        dt = float32 if dtype is None else to_dtype(dtype)
        if dt.name not in ("float32", "float64"):
            raise TypeError(f"lamina.pretrain.RBM: argument 'dtype' must be float32 or float64, got {dt}")
        self._dtype = dt
        self.weight = Parameter(creation.empty(self.n_hidden, self.n_visible, dtype=dt))
        self.h_bias = Parameter(creation.zeros(self.n_hidden, dtype=dt))
        self.v_bias = Parameter(creation.zeros(self.n_visible, dtype=dt))
        init.normal_(self.weight, 0.0, 0.01)
        self._vel = None     # momentum buffers (weight, h_bias, v_bias), made on the first update
        self._chain = None   # PCD fantasy particles (visible states), made on the first PCD update
        self.num_updates = 0

    def extra_repr(self) -> str:
        return (f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, visible={self.visible!r}, "
                f"hidden={self.hidden!r}")

    # ---- conditionals -------------------------------------------------------------------------

    def _input(self, v, name: str = "v") -> Tensor:
        if isinstance(v, np.ndarray):
            v = from_numpy(np.ascontiguousarray(v, dtype=self._dtype.name))
        if not isinstance(v, Tensor):
            raise TypeError(f"lamina.pretrain.RBM: argument '{name}' must be a lamina Tensor or a "
                            f"numpy array, got {type(v).__name__}")
        if v.ndim != 2 or v.shape[1] != self.n_visible:
            raise ValueError(f"lamina.pretrain.RBM: argument '{name}' must have shape "
                             f"(N, n_visible={self.n_visible}), got {tuple(v.shape)}")
        return v if v.dtype == self._dtype else v.to(self._dtype)

    def _hidden_input(self, h, name: str = "h") -> Tensor:
        if isinstance(h, np.ndarray):
            h = from_numpy(np.ascontiguousarray(h, dtype=self._dtype.name))
        if not isinstance(h, Tensor):
            raise TypeError(f"lamina.pretrain.RBM: argument '{name}' must be a lamina Tensor or a "
                            f"numpy array, got {type(h).__name__}")
        if h.ndim != 2 or h.shape[1] != self.n_hidden:
            raise ValueError(f"lamina.pretrain.RBM: argument '{name}' must have shape "
                             f"(N, n_hidden={self.n_hidden}), got {tuple(h.shape)}")
        return h if h.dtype == self._dtype else h.to(self._dtype)

    def _h_mean(self, v: Tensor) -> Tensor:
        x = matmul(v, self.weight.data.T) + self.h_bias.data
        return x if self.hidden == "gaussian" else x.sigmoid()

    def _v_mean(self, h: Tensor) -> Tensor:
        x = matmul(h, self.weight.data) + self.v_bias.data
        return x if self.visible == "gaussian" else x.sigmoid()

    def _sample(self, mean: Tensor, units: str) -> Tensor:
        """One draw from the default generator: N*D uniforms (Bernoulli) or normals (Gaussian)."""
        if units == "gaussian":
            return mean + creation.randn(*mean.shape, dtype=mean.dtype)
        return (creation.rand(*mean.shape, dtype=mean.dtype) < mean).to(mean.dtype)

    def forward(self, v: Tensor) -> Tensor:
        """Hidden means (probabilities, or the linear mean for Gaussian hidden units), (N, n_hidden)."""
        with no_grad():
            return self._h_mean(self._input(v))

    def hidden_mean(self, v: Tensor) -> Tensor:
        """E[h | v], (N, n_hidden)."""
        return self.forward(v)

    def visible_mean(self, h: Tensor) -> Tensor:
        """E[v | h], (N, n_visible)."""
        with no_grad():
            return self._v_mean(self._hidden_input(h))

    def sample_hidden(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """(E[h | v], a sample of h | v)."""
        with no_grad():
            mean = self._h_mean(self._input(v))
            return mean, self._sample(mean, self.hidden)

    def sample_visible(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """(E[v | h], a sample of v | h)."""
        with no_grad():
            mean = self._v_mean(self._hidden_input(h))
            return mean, self._sample(mean, self.visible)

    def gibbs(self, v: Tensor, k: int = 1) -> Tensor:
        """k steps of block Gibbs sampling v -> h -> v; returns the visible sample after k steps."""
        k = _check_int(k, "k", "RBM", 1)
        with no_grad():
            v = self._input(v)
            for _ in range(k):
                h = self._sample(self._h_mean(v), self.hidden)
                v = self._sample(self._v_mean(h), self.visible)
            return v

    def free_energy(self, v: Tensor) -> Tensor:
        """F(v) with p(v) = exp(-F(v)) / Z, (N,); constants independent of v are dropped.

        Bernoulli hidden: ``-sum softplus(W v + c)``; Gaussian hidden: ``-|W v + c|^2 / 2``;
        plus ``-b.v`` (Bernoulli visible) or ``|v - b|^2 / 2`` (Gaussian visible).
        """
        with no_grad():
            v = self._input(v)
            x = matmul(v, self.weight.data.T) + self.h_bias.data
            if self.hidden == "gaussian":
                hidden_term = (x * x).sum(1) * 0.5
            else:  # softplus(x) = max(x, 0) + log1p(exp(-|x|)), stable for any x
                hidden_term = (x.clamp_min(0.0) + (-x.abs()).exp().log1p()).sum(1)
            if self.visible == "gaussian":
                d = v - self.v_bias.data
                visible_term = (d * d).sum(1) * 0.5
            else:
                visible_term = -matmul(v, self.v_bias.data)
            return visible_term - hidden_term

    def reconstruction_error(self, v: Tensor) -> float:
        """Mean over samples of the summed squared error over visible units after one up-down pass
        with means: ``mean_n sum_i (v - E[v | E[h | v]])^2``."""
        with no_grad():
            v = self._input(v)
            if v.shape[0] == 0:
                raise ValueError("lamina.pretrain.RBM: argument 'v' must hold at least one sample")
            d = v - self._v_mean(self._h_mean(v))
            return float((d * d).sum().item()) / v.shape[0]

    # ---- learning -----------------------------------------------------------------------------

    def _velocity(self):
        if self._vel is None:
            self._vel = tuple(creation.zeros(*p.shape, dtype=self._dtype)
                              for p in (self.weight, self.h_bias, self.v_bias))
        return self._vel

    def reset_chain(self) -> None:
        """Forget the PCD fantasy particles (the next PCD update restarts them from its batch)."""
        self._chain = None

    def cd_step(self, v: Tensor, lr: float = 0.1, momentum: float = 0.5, weight_decay: float = 2e-4,
                k: int = 1, persistent: bool = False) -> float:
        """One CD-k (or PCD-k with ``persistent=True``) update on the batch ``v`` (N, n_visible).

        ``velocity = momentum * velocity + lr * (<v h>_data - <v h>_model - weight_decay * W)``
        (decay on the weights only, statistics averaged over the batch and over the fantasy
        particles), then ``W += velocity``; likewise for the biases. Hidden states are sampled at
        every step; the visible units use their means (probabilities), except on the persistent
        chain where they are sampled (Tieleman 2008). The persistent chain holds as many
        particles as the first PCD batch. Returns the batch's reconstruction error (summed
        squared error per sample): of the first reconstruction in the CD chain, or of a
        mean-field up-down pass for PCD.
        """
        lr = _check_real(lr, "lr", "RBM")
        momentum = _check_real(momentum, "momentum", "RBM", 0.0, 1.0, high_open=True)
        weight_decay = _check_real(weight_decay, "weight_decay", "RBM")
        k = _check_int(k, "k", "RBM", 1)
        v = self._input(v)
        if v.shape[0] == 0:
            raise ValueError("lamina.pretrain.RBM: argument 'v' must hold at least one sample")
        if v.device.type != "cpu":
            raise RuntimeError("lamina.pretrain.RBM: CUDA kernels for rbm_cd_step are not implemented "
                               "yet; move the model and data to the CPU")
        return self._step(v.contiguous(), lr, momentum, weight_decay, k, persistent)

    def _step(self, v: Tensor, lr: float, momentum: float, weight_decay: float, k: int,
              persistent: bool) -> float:
        """cd_step after its checks (fit checks once and calls this per batch)."""
        d = self.__dict__  # plain attributes, set without Module.__setattr__ (this runs per batch)
        if persistent and d["_chain"] is None:
            d["_chain"] = v.detach().clone()
        chain = d["_chain"] if persistent else None
        if self.use_fused and _FUSED is not None:
            vel = d["_vel"] or self._velocity()
            err = _FUSED(v._t, None if chain is None else chain._t, self.weight._t, self.h_bias._t,
                         self.v_bias._t, vel[0]._t, vel[1]._t, vel[2]._t, lr, momentum, weight_decay, k,
                         self.visible == "gaussian", self.hidden == "gaussian")
        else:
            with no_grad():
                err = self._cd_step_reference(v, chain, lr, momentum, weight_decay, k)
        d["num_updates"] += 1
        return float(err)

    def _cd_step_reference(self, v0: Tensor, chain: Tensor | None, lr: float, momentum: float,
                           weight_decay: float, k: int) -> float:
        """The CD/PCD update written with Lamina tensor ops (the reference for the fused kernel).

        Random draws, in order: for each of the k steps, one (M, n_hidden) draw for the hidden
        sample, then (PCD only) one (M, n_visible) draw for the visible sample, M being the
        number of chains (the batch for CD, the fantasy particles for PCD)."""
        W, hb, vb = self.weight.data, self.h_bias.data, self.v_bias.data
        n = v0.shape[0]
        h0 = self._h_mean(v0)
        persistent = chain is not None
        vk, hk = (chain, self._h_mean(chain)) if persistent else (v0, h0)
        recon = None
        for step in range(k):
            hs = self._sample(hk, self.hidden)
            vk = self._v_mean(hs)
            if persistent:
                vk = self._sample(vk, self.visible)
            elif step == 0:
                recon = vk
            hk = self._h_mean(vk)
        if persistent:
            chain.copy_(vk)
            recon = self._v_mean(h0)
        d = v0 - recon
        err = float((d * d).sum().item()) / n
        m = vk.shape[0]
        vel_w, vel_hb, vel_vb = self._velocity()
        grad_w = matmul(h0.T, v0) * (1.0 / n) - matmul(hk.T, vk) * (1.0 / m) - W * weight_decay
        vel_w.copy_(vel_w * momentum + grad_w * lr)
        vel_hb.copy_(vel_hb * momentum + (h0.mean(0) - hk.mean(0)) * lr)
        vel_vb.copy_(vel_vb * momentum + (v0.mean(0) - vk.mean(0)) * lr)
        W.add_(vel_w)
        hb.add_(vel_hb)
        vb.add_(vel_vb)
        return err

    def fit(self, data, epochs: int = 10, batch_size: int = 100, lr: float = 0.1,
            momentum=(0.5, 0.9), weight_decay: float = 2e-4, k: int = 1, persistent: bool = False,
            shuffle: bool = True, seed: int | None = None, verbose: bool = False,
            init_visible_bias: bool = True) -> list[float]:
        """Trains on ``data`` (numpy array or Tensor, (N, n_visible)) with mini-batch CD-k/PCD-k.

        ``momentum``: a float, or a pair (first 5 epochs, afterwards) as in Hinton's guide.
        ``seed`` reseeds Lamina's default generator (shuffling and sampling) before training.
        ``init_visible_bias``: before the first update only, set the visible biases to
        ``log(p / (1 - p))`` of the data's mean ``p`` (clipped to [0.001, 0.999]) for Bernoulli
        units, or to the data's mean for Gaussian units. Returns the per-epoch reconstruction
        error (the mean over the epoch's batches of ``cd_step``'s value).
        """
        epochs = _check_int(epochs, "epochs", "RBM", 0)
        batch_size = _check_int(batch_size, "batch_size", "RBM", 1)
        if isinstance(momentum, (tuple, list)):
            if len(momentum) != 2:
                raise ValueError("lamina.pretrain.RBM: argument 'momentum' must be a float or a pair "
                                 f"(first 5 epochs, afterwards), got {momentum!r}")
            moms = tuple(_check_real(m, "momentum", "RBM", 0.0, 1.0, high_open=True) for m in momentum)
        else:
            m = _check_real(momentum, "momentum", "RBM", 0.0, 1.0, high_open=True)
            moms = (m, m)
        lr = _check_real(lr, "lr", "RBM")
        weight_decay = _check_real(weight_decay, "weight_decay", "RBM")
        k = _check_int(k, "k", "RBM", 1)
        x = _as_array(data, "data", "RBM", self.n_visible, self._dtype.name)
        n = x.shape[0]
        if n == 0:
            raise ValueError("lamina.pretrain.RBM: argument 'data' must hold at least one sample")
        if seed is not None:
            _C.manual_seed(int(seed))
        if init_visible_bias and self.num_updates == 0:
            mean = x.mean(axis=0, dtype=np.float64)
            if self.visible == "bernoulli":
                p = np.clip(mean, 1e-3, 1 - 1e-3)
                mean = np.log(p / (1 - p))
            self.v_bias.data.copy_(from_numpy(mean.astype(self._dtype.name)))
        history = []
        for epoch in range(epochs):
            mom = moms[0] if epoch < 5 else moms[1]
            if shuffle:
                order = np.argsort(creation.rand(n, dtype="float64").numpy(), kind="stable")
                xe = x[order]
            else:
                xe = x
            total, count = 0.0, 0
            for s in range(0, n, batch_size):
                b = xe[s:s + batch_size]
                total += self._step(from_numpy(b), lr, mom, weight_decay, k, persistent) * b.shape[0]
                count += b.shape[0]
            history.append(total / count)
            if verbose:
                print(f"RBM {self.n_visible}-{self.n_hidden} epoch {epoch + 1}/{epochs}: "
                      f"reconstruction error {history[-1]:.4f}")
        return history

    def transform(self, data, batch_size: int = 1000) -> np.ndarray:
        """Hidden means of ``data`` (numpy or Tensor, (N, n_visible)) as a numpy (N, n_hidden) array."""
        batch_size = _check_int(batch_size, "batch_size", "RBM", 1)
        x = _as_array(data, "data", "RBM", self.n_visible, self._dtype.name)
        out = np.empty((x.shape[0], self.n_hidden), dtype=self._dtype.name)
        with no_grad():
            for s in range(0, x.shape[0], batch_size):
                out[s:s + batch_size] = self._h_mean(from_numpy(x[s:s + batch_size])).numpy()
        return out

    def to_linear(self) -> Linear:
        """An ``nn.Linear(n_visible, n_hidden)`` holding copies of ``weight`` and ``h_bias``
        (follow it with ``nn.Sigmoid()`` for Bernoulli hidden units to get ``forward``)."""
        lin = Linear(self.n_visible, self.n_hidden, dtype=self._dtype)
        with no_grad():
            lin.weight.data.copy_(self.weight.data)
            lin.bias.data.copy_(self.h_bias.data)
        return lin
