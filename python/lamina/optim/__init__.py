"""``lamina.optim``: optimizers and learning-rate schedules, as ``torch.optim``.

Every optimizer updates all parameters of a param group with one fused C++ call
(``csrc/ops/optim.h``); its arguments, defaults, state and ``state_dict`` follow PyTorch's.

>>> import lamina
>>> w = lamina.tensor([1.0, 2.0], requires_grad=True)
>>> opt = lamina.optim.Adam([w], lr=0.1)
>>> opt.zero_grad()
>>> (w * w).sum().backward()
>>> opt.step()
>>> [round(v, 4) for v in w.tolist()]
[0.9, 1.9]
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
