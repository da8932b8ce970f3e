"""``lamina.nn.utils``: gradient clipping, as ``torch.nn.utils``; ``rnn`` packs variable-length
batches."""

from . import rnn

from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                        get_total_norm)

__all__ = ["rnn", "clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]
