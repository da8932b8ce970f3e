"""``lamina.datasets``: datasets that load as numpy arrays, reachable with no internet beyond PyPI
and Debian (see ``lamina.datasets.images`` for where each one comes from).

>>> from lamina import datasets
>>> (x_train, y_train), (x_test, y_test) = datasets.load("digits")
>>> x_train.shape, datasets.info("digits")["num_classes"]
((1437, 1, 8, 8), 10)
"""

from .idx import read_idx, write_idx
from .images import (NAMES, NUM_CLASSES, DatasetNotFoundError, cache_dir, data_dirs, digits, fashion_mnist, info,
                     load, mnist)

__all__ = ["digits", "mnist", "fashion_mnist", "load", "info", "NAMES", "NUM_CLASSES", "DatasetNotFoundError",
           "data_dirs", "cache_dir", "read_idx", "write_idx"]

try:  # Shakespeare and other text corpora (lamina/datasets/text.py, written separately)
    from .text import shakespeare, text_corpus  # noqa: F401

    __all__ += ["shakespeare", "text_corpus"]
except ImportError:
    pass
