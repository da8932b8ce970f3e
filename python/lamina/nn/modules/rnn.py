"""Recurrent layers, as in ``torch.nn``: ``LSTM``, ``GRU``, ``RNN`` (over whole sequences) and
``LSTMCell``, ``GRUCell``, ``RNNCell`` (one step).

A layer runs each (layer, direction) pair as one C++ call over the whole sequence, forward and
backward through time (``lamina.nn.functional.lstm_sequence``, ``gru_sequence``,
``rnn_sequence``): there is no Python loop over time steps. Parameters, their names
(``weight_ih_l{k}{_reverse}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``), shapes
(gates stacked: LSTM i, f, g, o; GRU r, z, n) and initialisation match PyTorch, so state_dicts
move between the two. Packed sequences (``lamina.nn.utils.rnn``) go in and come out.
"""

from __future__ import annotations

import math
import numbers
import warnings

from ... import creation
from ...tensor import Tensor, cat, stack
from .. import init
from ..functional._dropout import dropout as _dropout
from ..functional._rnn import lstm_cell, lstm_sequence
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, _as_index_list, _pack, _permute_batch, _unpack
from .module import Module

__all__ = ["RNNBase", "LSTM", "GRU", "RNN", "RNNCellBase", "LSTMCell", "GRUCell", "RNNCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_size(value, name: str, layer: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"lamina.nn.{layer}: {name} should be of type int, got: {type(value).__name__}")
    if value < minimum:
        what = "greater than zero" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"lamina.nn.{layer}: {name} must be {what}, got {value}")
    return int(value)


def _gru_rnn():
    # The GRU and vanilla-RNN kernels live in their own family; imported when first used.
    from ..functional import _gru_rnn

    return _gru_rnn


class RNNBase(Module):
    """Base class of ``LSTM``, ``GRU`` and ``RNN`` (as ``torch.nn.RNNBase``): holds the
    parameters of every layer and direction and runs them over a sequence.

    ``mode`` is ``"LSTM"``, ``"GRU"``, ``"RNN_TANH"`` or ``"RNN_RELU"``.
    """

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                     "dropout", "bidirectional", "proj_size"]

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"lamina.nn.RNNBase: unrecognized RNN mode: {mode!r}")
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        self.mode = mode
        self.input_size = _check_size(input_size, "input_size", name, 0)
        self.hidden_size = _check_size(hidden_size, "hidden_size", name, 1)
        self.num_layers = _check_size(num_layers, "num_layers", name, 1)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError(f"lamina.nn.{name}: dropout should be a number in range [0, 1] representing "
                             f"the probability of an element being zeroed, got {dropout!r}")
        self.dropout = float(dropout)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero "
                          f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        self.bidirectional = bool(bidirectional)
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) or proj_size < 0:
            raise ValueError(f"lamina.nn.{name}: proj_size should be a non-negative integer, got {proj_size!r}")
        if proj_size > 0:
            if mode != "LSTM":
                raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
            raise NotImplementedError("lamina.nn.LSTM: proj_size > 0 (LSTM with projections) is not "
                                      "implemented yet; use proj_size=0")
        self.proj_size = 0
        gate_size = _GATES[mode] * self.hidden_size
        num_directions = 2 if self.bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(self.num_layers):
            for direction in range(num_directions):
                layer_input = self.input_size if layer == 0 else self.hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes = [(gate_size, layer_input), (gate_size, self.hidden_size)]
                if self.bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(gate_size,), (gate_size,)]
                for n, s in zip(names, shapes):
                    setattr(self, n, Parameter(creation.empty(*s, device=device, dtype=dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op kept for PyTorch compatibility (the weights are used in place)."""

    def _layer_name(self) -> str:
        return {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(self.mode, self.mode)

    # ---------------------------------------------------------------- checks
    def _check_input(self, x: Tensor, batched: bool) -> None:
        name = self._layer_name()
        if not x.dtype.is_floating_point:
            raise TypeError(f"lamina.nn.{name}: input must be a floating-point tensor, got {x.dtype}")
        w = self.weight_ih_l0
        if x.dtype != w.dtype:
            raise TypeError(f"lamina.nn.{name}: input must have the type {w.dtype}, got type {x.dtype}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"lamina.nn.{name}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {x.shape[-1]}")

    def _check_hidden(self, h, expected: tuple, what: str) -> None:
        name = self._layer_name()
        if not isinstance(h, Tensor):
            raise TypeError(f"lamina.nn.{name}: {what} must be a Tensor, got {type(h).__name__}")
        if tuple(h.shape) != tuple(expected):
            raise ValueError(f"lamina.nn.{name}: Expected {what} size {tuple(expected)}, got "
                             f"{list(h.shape)}")
        if h.dtype != self.weight_ih_l0.dtype:
            raise TypeError(f"lamina.nn.{name}: {what} must have the type {self.weight_ih_l0.dtype}, "
                            f"got {h.dtype}")

    # ---------------------------------------------------------------- forward
    def _run_direction(self, x, h0, c0, weights, batch_sizes, reverse):
        """One layer, one direction: (output (T, B, H), h_n, c_n or None)."""
        w_ih, w_hh = weights[0], weights[1]
        b_ih, b_hh = (weights[2], weights[3]) if self.bias else (None, None)
        if self.mode == "LSTM":
            return lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh, batch_sizes=batch_sizes,
                                 reverse=reverse)
        g = _gru_rnn()
        if self.mode == "GRU":
            out, h_n = g.gru_sequence(x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes=batch_sizes,
                                      reverse=reverse)
        else:
            nl = "tanh" if self.mode == "RNN_TANH" else "relu"
            out, h_n = g.rnn_sequence(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nl,
                                      batch_sizes=batch_sizes, reverse=reverse)
        return out, h_n, None

    def forward(self, input, hx=None):
        name = self._layer_name()
        is_lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        sorted_idx = unsorted_idx = None
        batch_sizes = None
        if packed:
            batch_sizes = _as_index_list(input.batch_sizes)
            sorted_idx = _as_index_list(input.sorted_indices)
            unsorted_idx = _as_index_list(input.unsorted_indices)
            data = input.data
            if not isinstance(data, Tensor) or data.dim() != 2:
                raise ValueError(f"lamina.nn.{name}: packed input data must be 2-D (sum(lengths), "
                                 f"input_size), got shape {list(getattr(data, 'shape', []))}")
            self._check_input(data, True)
            B = batch_sizes[0]
            x = _unpack(data, batch_sizes, None, B, len(batch_sizes))
            batched = True
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"lamina.nn.{name}: input must be a Tensor or a PackedSequence, got "
                                f"{type(input).__name__}")
            if input.dim() not in (2, 3):
                raise ValueError(f"lamina.nn.{name}: Expected input to be 2D or 3D, got "
                                 f"{input.dim()}D tensor instead")
            batched = input.dim() == 3
            self._check_input(input, batched)
            x = input
            if not batched:
                x = x.unsqueeze(1)
            elif self.batch_first:
                x = x.transpose(0, 1)
            B = x.shape[1]
        D = 2 if self.bidirectional else 1
        L, H = self.num_layers, self.hidden_size
        state_shape = (L * D, B, H)
        dt, dev = self.weight_ih_l0.dtype, self.weight_ih_l0.device
        if hx is None:
            # One (B, H) block of zeros serves every layer and direction as h_0 and c_0: the kernels
            # only read their initial states.
            zero = creation.zeros(B, H, dtype=dt, device=dev)
            h0 = c0 = (zero,) * (L * D)
        else:
            if is_lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"lamina.nn.{name}: hx must be a tuple (h_0, c_0) of tensors, got "
                                    f"{type(hx).__name__}")
                h0, c0 = hx
            else:
                h0, c0 = hx, None
            if not batched:
                for what, h in (("hx", h0), ("cx", c0)) if is_lstm else (("hx", h0),):
                    if isinstance(h, Tensor) and h.dim() != 2:
                        raise ValueError(f"lamina.nn.{name}: For unbatched 2-D input, {what} should also "
                                         f"be 2-D but got a {h.dim()}-D tensor")
                h0 = h0.unsqueeze(1) if isinstance(h0, Tensor) else h0
                c0 = c0.unsqueeze(1) if isinstance(c0, Tensor) else c0
            elif not packed:
                for what, h in (("hx", h0), ("cx", c0)) if is_lstm else (("hx", h0),):
                    if isinstance(h, Tensor) and h.dim() != 3:
                        raise ValueError(f"lamina.nn.{name}: For batched 3-D input, {what} should also "
                                         f"be 3-D but got a {h.dim()}-D tensor")
            self._check_hidden(h0, state_shape, "hidden[0]" if is_lstm else "hidden")
            if is_lstm:
                self._check_hidden(c0, state_shape, "hidden[1]")
            if sorted_idx is not None:
                h0 = _permute_batch(h0, sorted_idx)
                c0 = _permute_batch(c0, sorted_idx) if is_lstm else None
        h_out, c_out = [], []
        layer_in = x
        for layer in range(L):
            outs = []
            for d in range(D):
                k = layer * D + d
                weights = self.all_weights[k]
                out, h_n, c_n = self._run_direction(layer_in, h0[k], c0[k] if is_lstm else None,
                                                    weights, batch_sizes, d == 1)
                outs.append(out)
                h_out.append(h_n)
                c_out.append(c_n)
            layer_in = outs[0] if D == 1 else cat(outs, 2)
            if self.dropout > 0 and self.training and layer < L - 1:
                layer_in = _dropout(layer_in, p=self.dropout, training=True)
        output = layer_in
        if len(h_out) == 1:  # one layer, one direction: a view, not a copy
            h_n = h_out[0].unsqueeze(0)
            c_n = c_out[0].unsqueeze(0) if is_lstm else None
        else:
            h_n = stack(h_out, 0)
            c_n = stack(c_out, 0) if is_lstm else None
        if packed:
            output = PackedSequence(_pack(output, batch_sizes, None), input.batch_sizes,
                                    input.sorted_indices, input.unsorted_indices)
            if unsorted_idx is not None:
                h_n = _permute_batch(h_n, unsorted_idx)
                c_n = _permute_batch(c_n, unsorted_idx) if is_lstm else None
        elif not batched:
            output = output.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if is_lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class LSTM(RNNBase):
    """A multi-layer long short-term memory network over a sequence (as ``torch.nn.LSTM``):
    ``output, (h_n, c_n) = lstm(input, (h_0, c_0))``.

    ``input`` is ``(L, N, input_size)`` (``(N, L, ...)`` with ``batch_first``), ``(L, input_size)``
    unbatched, or a ``PackedSequence``; ``h_0``/``c_0`` ``(num_layers * D, N, hidden_size)``,
    zeros when omitted. ``output`` holds the last layer's h at every step (both directions
    concatenated), ``h_n``/``c_n`` every layer's final state. Each layer and direction is one C++
    call over the whole sequence, forward and backward through time.

    >>> import lamina
    >>> from lamina import nn
    >>> rnn = nn.LSTM(10, 20, num_layers=2)
    >>> output, (h_n, c_n) = rnn(lamina.randn(5, 3, 10))
    >>> output.shape, h_n.shape, c_n.shape
    (lamina.Size([5, 3, 20]), lamina.Size([2, 3, 20]), lamina.Size([2, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """A multi-layer gated recurrent unit network (as ``torch.nn.GRU``):
    ``output, h_n = gru(input, h_0)``; gates r, z, n stacked in the weights.

    >>> import lamina
    >>> from lamina import nn
    >>> gru = nn.GRU(10, 20, num_layers=2)
    >>> gru.weight_ih_l0.shape
    lamina.Size([60, 10])
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


class RNN(RNNBase):
    """A multi-layer Elman RNN with tanh or ReLU (as ``torch.nn.RNN``):
    ``h_t = nonlinearity(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    >>> import lamina
    >>> from lamina import nn
    >>> rnn = nn.RNN(10, 20, nonlinearity="relu")
    >>> rnn
    RNN(10, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None) -> None:
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"lamina.nn.RNN: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity


# ---------------------------------------------------------------- cells


class RNNCellBase(Module):
    """Base class of the one-step cells (as ``torch.nn.RNNCellBase``): ``weight_ih``
    ``(gates * hidden, input)``, ``weight_hh`` ``(gates * hidden, hidden)``, ``bias_ih``,
    ``bias_hh``, all from U(-1/sqrt(hidden), 1/sqrt(hidden))."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size(input_size, "input_size", name, 0)
        self.hidden_size = _check_size(hidden_size, "hidden_size", name, 1)
        self.bias = bool(bias)
        g = num_chunks * self.hidden_size
        self.weight_ih = Parameter(creation.empty(g, self.input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(creation.empty(g, self.hidden_size, device=device, dtype=dtype))
        if self.bias:
            self.bias_ih = Parameter(creation.empty(g, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(g, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _prepare(self, input, hx, n_states: int):
        """(input as 2-D, states as 2-D (zeros when None), whether the input was 1-D)."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"lamina.nn.{name}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() not in (1, 2):
            raise ValueError(f"lamina.nn.{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.dtype != self.weight_ih.dtype:
            raise TypeError(f"lamina.nn.{name}: input must have the type {self.weight_ih.dtype}, got "
                            f"type {input.dtype}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"lamina.nn.{name}: input has inconsistent input_size: got {input.shape[-1]} "
                             f"expected {self.input_size}")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        B = x.shape[0]
        if hx is None:
            states = [creation.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)
                      for _ in range(n_states)]
        else:
            states = list(hx) if n_states == 2 else [hx]
            if n_states == 2 and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"lamina.nn.{name}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            for i, h in enumerate(states):
                if not isinstance(h, Tensor):
                    raise TypeError(f"lamina.nn.{name}: hidden state must be a Tensor, got {type(h).__name__}")
                if h.dim() != (2 if batched else 1):
                    raise ValueError(f"lamina.nn.{name}: {'Batched' if batched else 'Unbatched'} input "
                                     f"of shape {list(input.shape)} needs a "
                                     f"{2 if batched else 1}-D hidden state, got shape {list(h.shape)}")
                h = h if batched else h.unsqueeze(0)
                if tuple(h.shape) != (B, self.hidden_size):
                    raise ValueError(f"lamina.nn.{name}: hidden{'[%d]' % i if n_states == 2 else ''} has "
                                     f"inconsistent shape: got {list(h.shape)}, expected "
                                     f"{[B, self.hidden_size]}")
                states[i] = h
        return x, states, batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s


class LSTMCell(RNNCellBase):
    """One LSTM step (as ``torch.nn.LSTMCell``): ``h_1, c_1 = cell(input, (h_0, c_0))``.

    >>> import lamina
    >>> from lamina import nn
    >>> cell = nn.LSTMCell(10, 20)
    >>> h, c = cell(lamina.randn(3, 10))
    >>> h.shape
    lamina.Size([3, 20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx=None):
        x, (h, c), batched = self._prepare(input, hx, 2)
        h1, c1 = lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if not batched:
            h1, c1 = h1.squeeze(0), c1.squeeze(0)
        return h1, c1


class GRUCell(RNNCellBase):
    """One GRU step (as ``torch.nn.GRUCell``): ``h_1 = cell(input, h_0)``.

    >>> import lamina
    >>> from lamina import nn
    >>> nn.GRUCell(10, 20).weight_hh.shape
    lamina.Size([60, 20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._prepare(input, hx, 1)
        h1 = _gru_rnn().gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h1 if batched else h1.squeeze(0)


class RNNCell(RNNCellBase):
    """One Elman RNN step with tanh or ReLU (as ``torch.nn.RNNCell``).

    >>> import lamina
    >>> from lamina import nn
    >>> nn.RNNCell(10, 20, nonlinearity="relu")
    RNNCell(10, 20, nonlinearity=relu)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"lamina.nn.RNNCell: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._prepare(input, hx, 1)
        g = _gru_rnn()
        fn = g.rnn_tanh_cell if self.nonlinearity == "tanh" else g.rnn_relu_cell
        h1 = fn(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h1 if batched else h1.squeeze(0)
