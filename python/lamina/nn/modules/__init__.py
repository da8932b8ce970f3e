"""Layers. One file per family; each defines ``__all__``."""

from .activation import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from . import activation, batchnorm, container, conv, dropout, linear, loss, module, pooling, rnn, sparse

__all__ = [n for m in (activation, batchnorm, container, conv, dropout, linear, loss, module, pooling, rnn,
                       sparse)
           for n in m.__all__]
