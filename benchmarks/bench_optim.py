"""Optimizer step and clip_grad_norm_ speed against PyTorch (CPU) in the same run: one step over
the parameters of an MLP 784-512-512-10 (6 tensors, 670K values), of LeNet-5 (10 tensors, 62K)
and of one 4M-value tensor.

    python benchmarks/bench_optim.py [--threads 2] [--json benchmarks/results/optim.json]
"""

from __future__ import annotations

import argparse

import numpy as np

import lamina
from harness import Report, median_time

MODELS = {
    "mlp784-512-512-10": [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)],
    "lenet5": [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,),
               (10, 84), (10,)],
    "one 4M tensor": [(2048, 2048)],
}

OPTIMIZERS = [
    ("SGD momentum=0.9", "SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD nesterov wd", "SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    ("Adam", "Adam", dict(lr=1e-3)),
    ("AdamW amsgrad", "AdamW", dict(lr=1e-3, amsgrad=True)),
    ("RMSprop centered momentum", "RMSprop", dict(lr=1e-3, centered=True, momentum=0.9)),
]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import torch

    if args.threads:
        lamina.set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    else:
        torch.set_num_threads(lamina.get_num_threads())
    rep = Report("optimizer step (cpu)", "torch")
    rng = np.random.default_rng(0)
    for model, shapes in MODELS.items():
        init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in shapes]
        for label, name, kwargs in OPTIMIZERS:
            lp = [lamina.tensor(a, requires_grad=True) for a in init]
            tp = [torch.tensor(a, requires_grad=True) for a in init]
            for p_, q, g in zip(lp, tp, grads):
                p_.grad = lamina.tensor(g)
                q.grad = torch.tensor(g)
            lopt = getattr(lamina.optim, name)(lp, **kwargs)
            topt = getattr(torch.optim, name)(tp, **kwargs)
            rep.add(f"{label} [{model}]", median_time(lopt.step), median_time(topt.step),
                    params=sum(int(np.prod(s)) for s in shapes))
        lp = [lamina.tensor(a, requires_grad=True) for a in init]
        tp = [torch.tensor(a, requires_grad=True) for a in init]
        for p_, q, g in zip(lp, tp, grads):
            p_.grad = lamina.tensor(g)
            q.grad = torch.tensor(g)
        # max_norm large: measures the norm and the (unit) scaling pass of both libraries
        rep.add(f"clip_grad_norm_ [{model}]",
                median_time(lambda: lamina.nn.utils.clip_grad_norm_(lp, 1e9)),
                median_time(lambda: torch.nn.utils.clip_grad_norm_(tp, 1e9)))
    rep.save(args.json)


if __name__ == "__main__":
    main()
