"""``lamina.train``: the Trainer (fit / evaluate / predict), its metrics and callbacks.

>>> import lamina
>>> from lamina.train import Trainer, EarlyStopping, ModelCheckpoint, CSVLogger
>>> trainer = Trainer(grad_clip=1.0)
"""

from .callbacks import CSVLogger, Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from .diagnostics import GradientFlow
from .metrics import Accuracy, Loss, Metric, TopK, get_metric
from .trainer import History, NonFiniteLossError, Trainer

__all__ = ["Accuracy", "CSVLogger", "Callback", "EarlyStopping", "GradientFlow", "History", "LearningRateMonitor",
           "Loss", "Metric", "ModelCheckpoint", "NonFiniteLossError", "TopK", "Trainer", "get_metric"]
