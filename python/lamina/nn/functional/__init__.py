"""``lamina.nn.functional``: the differentiable ops layers are made of, as
``torch.nn.functional``. One file per op family; each defines ``__all__``."""

from ._activation import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._dropout import *  # noqa: F401,F403
from ._embedding import *  # noqa: F401,F403
from ._gru_rnn import *  # noqa: F401,F403
from ._linear import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._pool import *  # noqa: F401,F403
from ._rnn import *  # noqa: F401,F403
