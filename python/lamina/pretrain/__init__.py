"""Unsupervised layer-wise pretraining: restricted Boltzmann machines, deep belief nets and
(denoising, stacked, deep) autoencoders.

>>> from lamina.pretrain import DBN
>>> dbn = DBN([784, 500, 500, 2000])          # doctest: +SKIP
>>> dbn.pretrain(x_train, epochs=10)          # doctest: +SKIP
>>> mlp = dbn.to_mlp(num_classes=10)          # doctest: +SKIP  (then fine-tune with backprop)
"""

from .autoencoder import (
    DeepAutoencoder,
    StackedAutoencoder,
    anomaly_scores,
    pca_reconstruct,
    pca_reconstruction_error,
    roc_auc,
)
from .dbn import DBN
from .rbm import RBM

__all__ = ["DBN", "RBM", "DeepAutoencoder", "StackedAutoencoder", "anomaly_scores", "pca_reconstruct",
           "pca_reconstruction_error", "roc_auc"]
