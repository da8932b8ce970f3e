"""Training defaults per model and dataset: what ``lamina train MODEL --dataset D`` uses for every
flag it is not given.

Each recipe is chosen to reach the issue's bar on a 2-core CPU: the small CNN on the 8x8
digits in seconds; LeNet-5 >= 99.0% on MNIST; the small ResNet >= 93% on Fashion-MNIST (random
shifts and flips, SGD with Nesterov momentum and a one-cycle schedule).

>>> from lamina.train.recipes import recipe
>>> r = recipe("lenet5", "mnist")
>>> r["optimizer"], r["epochs"], r["batch_size"]
('sgd', 15, 128)
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_DATASET", "build_optimizer", "build_scheduler", "recipe"]

# The dataset a model trains on when --dataset is not given.
DEFAULT_DATASET = {"small_cnn": "digits", "mlp": "digits", "lenet5": "mnist", "resnet": "fashion-mnist"}

_BASE: dict[str, Any] = {"optimizer": "adam", "lr": 3e-3, "weight_decay": 0.0, "momentum": 0.9, "schedule": "onecycle",
                         "augment": "none", "val_split": 0.1}

_RECIPES: dict[tuple[str, str], dict[str, Any]] = {
    # 1,293 training images: small batches, many epochs, still seconds.
    ("small_cnn", "digits"): {"epochs": 20, "batch_size": 32, "optimizer": "adam", "lr": 3e-3},
    ("mlp", "digits"): {"epochs": 30, "batch_size": 32, "optimizer": "adam", "lr": 2e-3},
    ("resnet", "digits"): {"epochs": 20, "batch_size": 32, "optimizer": "adam", "lr": 3e-3},
    ("mlp", "mnist"): {"epochs": 12, "batch_size": 128, "optimizer": "adam", "lr": 1e-3},
    ("mlp", "fashion-mnist"): {"epochs": 15, "batch_size": 128, "optimizer": "adam", "lr": 1e-3},
    ("small_cnn", "mnist"): {"epochs": 8, "batch_size": 128, "optimizer": "adam", "lr": 2e-3},
    ("small_cnn", "fashion-mnist"): {"epochs": 15, "batch_size": 128, "optimizer": "adam", "lr": 2e-3,
                                     "augment": "flip"},
    ("lenet5", "mnist"): {"epochs": 15, "batch_size": 128, "optimizer": "sgd", "lr": 0.05, "weight_decay": 5e-4},
    ("lenet5", "fashion-mnist"): {"epochs": 20, "batch_size": 128, "optimizer": "sgd", "lr": 0.05,
                                  "weight_decay": 5e-4, "augment": "flip"},
    ("resnet", "mnist"): {"epochs": 10, "batch_size": 128, "optimizer": "sgd", "lr": 0.1, "weight_decay": 5e-4,
                          "augment": "crop"},
    ("resnet", "fashion-mnist"): {"epochs": 20, "batch_size": 128, "optimizer": "sgd", "lr": 0.1,
                                  "weight_decay": 5e-4, "augment": "crop+flip"},
}


def recipe(model: str, dataset: str) -> dict[str, Any]:
    """The defaults for (model, dataset): epochs, batch_size, optimizer, lr (the peak of the
    one-cycle schedule), weight_decay, momentum, schedule, augment, val_split, threads (None: the
    library's default)."""
    r = dict(_BASE)
    big = dataset != "digits"
    # The digits models are too small to gain from a second thread, and OpenMP threads that wait
    # for a busy core cost more than they give on a shared machine: one thread for them.
    r.update({"epochs": 10 if big else 20, "batch_size": 128 if big else 32, "threads": None if big else 1})
    r.update(_RECIPES.get((model, dataset), {}))
    return r


def build_optimizer(name: str, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9):
    from ..optim import SGD, Adam, AdamW

    if name == "sgd":
        return SGD(params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay)
    if name == "adam":
        return Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of sgd, adam, adamw")


def build_scheduler(name: str, optimizer, lr: float, epochs: int, steps_per_epoch: int):
    from ..optim.lr_scheduler import CosineAnnealingLR, OneCycleLR

    if name == "none":
        return None
    if name == "cosine":
        return CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if name == "onecycle":
        sgd = type(optimizer).__name__ == "SGD"
        return OneCycleLR(optimizer, max_lr=lr, epochs=max(epochs, 1), steps_per_epoch=max(steps_per_epoch, 1),
                          cycle_momentum=sgd)
    raise ValueError(f"unknown schedule {name!r}; choose one of onecycle, cosine, none")
