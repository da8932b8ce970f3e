"""``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d``, as in ``torch.nn``: the same
constructor arguments, parameters (``weight``, ``bias``), buffers (``running_mean``,
``running_var``, ``num_batches_tracked``), ``state_dict`` keys and train/eval behaviour."""

from __future__ import annotations

import numbers

from ... import creation
from ..._dtype import int64
from ...tensor import Tensor
from .. import init
from ..functional._norm import batch_norm
from ..parameter import Parameter
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class _BatchNorm(Module):
    """The shared body of the batch-norm layers (torch's ``_NormBase`` + ``_BatchNorm``)."""

    _version = 2  # version 2 added num_batches_tracked (older checkpoints load with it at 0)
    __constants__ = ["track_running_stats", "momentum", "eps", "num_features", "affine"]

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None,
                 *, bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) or num_features < 0:
            raise ValueError(f"lamina.nn.{name}: argument 'num_features' must be a non-negative integer, "
                             f"got {num_features!r}")
        if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, numbers.Real)):
            raise TypeError(f"lamina.nn.{name}: argument 'momentum' must be a float or None, got "
                            f"{type(momentum).__name__}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(creation.empty(self.num_features, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(creation.empty(self.num_features, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(self.num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", creation.ones(self.num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.zeros((), dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Running stats to (0, 1), weight to ones and bias to zeros (PyTorch's defaults)."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"lamina.nn.{type(self).__name__}: expected a Tensor, got {type(input).__name__}")
        self._check_input_dim(input)
        momentum, training = self.momentum, self.training
        running_mean, running_var = self.running_mean, self.running_var
        factor = 0.0 if momentum is None else momentum
        if training and self.track_running_stats:
            count = self.num_batches_tracked
            if count is not None:
                count.add_(1)
                # momentum=None: the cumulative average of all batches seen so far.
                factor = 1.0 / float(count) if momentum is None else momentum
        # Batch statistics in training, and in evaluation when there are no running stats.
        use_batch = training or (running_mean is None and running_var is None)
        track = not training or self.track_running_stats
        return batch_norm(input, running_mean if track else None, running_var if track else None,
                          self.weight, self.bias, use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            key = prefix + "num_batches_tracked"
            if key not in state_dict:  # checkpoints from before num_batches_tracked existed
                state_dict[key] = (self.num_batches_tracked if self.num_batches_tracked is not None
                                   else creation.zeros((), dtype=int64))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over ``(N, C)`` or ``(N, C, L)`` inputs (as ``torch.nn.BatchNorm1d``).

    In training mode the batch's statistics normalise the input and update ``running_mean``
    and ``running_var`` (``momentum=None``: a cumulative average); in evaluation mode the running
    statistics normalise it.

    >>> import lamina
    >>> from lamina import nn
    >>> bn = nn.BatchNorm1d(3)
    >>> bn
    BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> list(bn.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    >>> bn(lamina.randn(8, 3)).shape
    lamina.Size([8, 3])
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 2 and input.dim() != 3:
            raise ValueError(f"lamina.nn.BatchNorm1d: expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization over ``(N, C, H, W)`` inputs (as ``torch.nn.BatchNorm2d``): one mean
    and variance per channel over the batch and both spatial dims.

    >>> import lamina
    >>> from lamina import nn
    >>> bn = nn.BatchNorm2d(16, momentum=None, affine=False)
    >>> bn
    BatchNorm2d(16, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=True)
    >>> bn(lamina.randn(4, 16, 5, 5)).shape
    lamina.Size([4, 16, 5, 5])
    >>> int(bn.num_batches_tracked)
    1
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 4:
            raise ValueError(f"lamina.nn.BatchNorm2d: expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch normalization over ``(N, C, D, H, W)`` inputs (as ``torch.nn.BatchNorm3d``).

    >>> import lamina
    >>> from lamina import nn
    >>> nn.BatchNorm3d(2)(lamina.randn(2, 2, 3, 3, 3)).shape
    lamina.Size([2, 2, 3, 3, 3])
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 5:
            raise ValueError(f"lamina.nn.BatchNorm3d: expected 5D input (got {input.dim()}D input)")
