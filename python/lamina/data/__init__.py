"""``lamina.data``: datasets and the batch loader, as ``torch.utils.data``.

>>> import numpy as np
>>> from lamina.data import DataLoader, TensorDataset
>>> loader = DataLoader(TensorDataset(np.ones((6, 2), np.float32), np.arange(6)), batch_size=4)
>>> [tuple(x.shape) for x, y in loader]
[(4, 2), (2, 2)]
"""

from .dataloader import DataLoader, default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate"]
