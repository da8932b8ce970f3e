"""``lamina study dbn``: a deep belief net pretrained layer by layer, then fine-tuned (Hinton,
Osindero and Teh 2006; Hinton and Salakhutdinov 2006).

It pretrains a stack of RBMs greedily with CD-1 (``lamina.pretrain.dbn.DBN``: 784-500-500-2000 on
MNIST, Hinton's recipe: lr 0.1, momentum 0.5 then 0.9, weight decay 2e-4, batches of 100), turns
the stack into an MLP with a fresh 10-way softmax layer (``DBN.to_mlp``), fine-tunes every layer
with backpropagation (SGD with momentum 0.9, a cosine schedule, and dropout as in Hinton et al.
2012: on MNIST 120 epochs at lr 0.5, dropout 0.5 on the hidden layers and 0.2 on the pixels), and
prints the test error (1.12% on MNIST with the defaults, seed 0, about 36 minutes on one core).
With ``--baseline`` the same network is also trained from a random initialisation with the same
budget.

Writes ``results.json``, ``rbm1_weights.png`` (the first RBM's weights as 28x28 images),
``dbn_samples.png`` (samples: Gibbs sampling in the top RBM, then a down-pass),
``dbn_samples_from_data.png`` (the same, with the chains started at test images),
``pretraining.png`` (reconstruction error per epoch and layer) and ``finetune.png`` (test error
per epoch).

    lamina study dbn --dataset digits --quick          # seconds
    lamina study dbn --dataset mnist --threads 2       # the full run (pretraining + fine-tuning)
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from .._argtypes import fraction as _fraction
from .._argtypes import int_list
from . import StudyError, format_table, load_dataset, write_json
from . import positive_int as _pos_int

__all__ = ["add_arguments", "run"]

# (dataset, quick) -> sizes, pretraining epochs per RBM, fine-tuning epochs, batch, lr, dropout, train size
_CONFIG = {
    ("mnist", False): dict(sizes=[784, 500, 500, 2000], pretrain_epochs=10, epochs=120, batch_size=100,
                           lr=0.5, dropout=0.5, input_dropout=0.2, train_size=None, gibbs_steps=1000),
    ("mnist", True): dict(sizes=[784, 200, 200, 400], pretrain_epochs=1, epochs=2, batch_size=100,
                          lr=0.1, dropout=0.0, input_dropout=0.0, train_size=6000, gibbs_steps=100),
    ("digits", False): dict(sizes=[64, 200, 200, 400], pretrain_epochs=20, epochs=60, batch_size=20,
                            lr=0.1, dropout=0.1, input_dropout=0.0, train_size=None, gibbs_steps=500),
    ("digits", True): dict(sizes=[64, 100, 100, 200], pretrain_epochs=3, epochs=10, batch_size=20,
                           lr=0.1, dropout=0.0, input_dropout=0.0, train_size=None, gibbs_steps=50),
}




def _sizes(s: str) -> list[int]:
    return int_list(s, seps="-,", least=2, what="at least two positive layer sizes such as 784-500-500-2000")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="digits (default; seconds) or mnist (the full run)")
    p.add_argument("--quick", action="store_true", help="a small net and few epochs (seconds)")
    p.add_argument("--sizes", type=_sizes, default=None,
                   help="layer sizes, e.g. 784-500-500-2000 (default: that on mnist, 64-200-200-400 on digits)")
    p.add_argument("--pretrain-epochs", type=_pos_int, default=None, help="CD-1 epochs per RBM (default 10 on mnist)")
    p.add_argument("--epochs", type=_pos_int, default=None, help="fine-tuning epochs (default 120 on mnist)")
    p.add_argument("--batch-size", type=_pos_int, default=None, help="batch of pretraining and fine-tuning (100)")
    p.add_argument("--lr", type=float, default=None, help="fine-tuning learning rate (default 0.5 on mnist, else 0.1)")
    p.add_argument("--dropout", type=_fraction, default=None,
                   help="dropout on the hidden layers while fine-tuning (default 0.5 on mnist; 0 turns it off)")
    p.add_argument("--input-dropout", type=_fraction, default=None,
                   help="dropout on the input pixels while fine-tuning (default 0.2 on mnist, as Hinton et al. 2012)")
    p.add_argument("--save-dbn", default=None, help="save the pretrained RBMs' parameters to this .npz file")
    p.add_argument("--load-dbn", default=None,
                   help="load pretrained RBM parameters from this .npz file (from --save-dbn); skips pretraining")
    p.add_argument("--baseline", action="store_true", help="also train the same net from a random initialisation")
    p.add_argument("--samples", type=int, default=100, help="DBN samples drawn for dbn_samples.png (0: none)")
    p.add_argument("--gibbs-steps", type=int, default=None, help="Gibbs steps in the top RBM per sample")
    p.add_argument("--out", default=None, help="output directory (default runs/study-dbn)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling and sampling")
    p.add_argument("--threads", type=_pos_int, default=None, help="CPU threads (default: all)")
    p.add_argument("--data-root", default=None, help="where to look for dataset files (also $LAMINA_DATA)")


def _with_dropout(mlp, p: float, p_input: float = 0.0):
    """The MLP with ``nn.Dropout(p)`` after each hidden activation (none after the classifier), and
    ``nn.Dropout(p_input)`` on the input."""
    from .. import nn

    if p <= 0 and p_input <= 0:
        return mlp
    layers = list(mlp)
    out = [nn.Dropout(p_input)] if p_input > 0 else []
    for i, m in enumerate(layers):
        if p <= 0:
            out.append(m)
            continue
        out.append(m)
        if type(m).__name__ in ("Sigmoid", "ReLU", "Tanh") and i < len(layers) - 1:
            out.append(nn.Dropout(p))
    return nn.Sequential(*out)


def _error(model, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    import lamina

    model.eval()
    wrong = 0
    with lamina.no_grad():
        for s in range(0, len(x), batch):
            pred = model(lamina.from_numpy(x[s:s + batch])).numpy().argmax(1)
            wrong += int((pred != y[s:s + batch]).sum())
    model.train()
    return wrong / len(x)


def _finetune(model, data, epochs: int, batch: int, lr: float, seed: int, label: str):
    """SGD (momentum 0.9, cosine schedule) on cross-entropy; returns per-epoch train loss and test error."""
    import lamina
    from .. import optim
    from ..nn import functional as F

    (x_tr, y_tr), (x_te, y_te) = data
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    rng = np.random.default_rng(seed)
    losses, errors = [], []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = rng.permutation(len(x_tr))
        xs, ys = x_tr[order], y_tr[order]
        total = 0.0
        model.train()
        for s in range(0, len(xs), batch):
            xb, yb = lamina.from_numpy(xs[s:s + batch]), lamina.from_numpy(ys[s:s + batch])
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(yb)
        sched.step()
        losses.append(total / len(xs))
        errors.append(_error(model, x_te, y_te))
        print(f"  {label} epoch {epoch + 1}/{epochs}: train loss {losses[-1]:.4f}, test error "
              f"{100 * errors[-1]:.2f}% ({time.perf_counter() - t0:.1f}s)", flush=True)
    return losses, errors


def _load_dbn(dbn, path: str) -> list:
    """Copies the RBM parameters saved by --save-dbn into ``dbn``; returns the saved histories."""
    import lamina

    try:
        f = np.load(path)
    except (OSError, ValueError) as e:
        raise StudyError(f"cannot read --load-dbn file {path!r}: {e}") from None
    with f:
        for i, r in enumerate(dbn.rbms):
            for name in ("weight", "h_bias", "v_bias"):
                key = f"{name}{i}"
                p = getattr(r, name)
                if key not in f or tuple(f[key].shape) != tuple(p.shape):
                    raise StudyError(f"--load-dbn file {path!r} does not match the DBN "
                                     f"{'-'.join(map(str, dbn.sizes))} ({key})")
                p.data.copy_(lamina.from_numpy(np.ascontiguousarray(f[key], dtype=np.float32)))
        return [f[f"history{i}"].tolist() if f"history{i}" in f else [] for i in range(len(dbn.rbms))]


def run(args) -> int:
    import lamina

    from .. import viz
    from ..pretrain.dbn import DBN

    ds = str(args.dataset).strip().lower()
    data = load_dataset(ds, getattr(args, "data_root", None), study="dbn")
    key = (ds, bool(args.quick))
    cfg = dict(_CONFIG[key])
    for k, a in (("sizes", "sizes"), ("pretrain_epochs", "pretrain_epochs"), ("epochs", "epochs"),
                 ("batch_size", "batch_size"), ("lr", "lr"), ("dropout", "dropout"),
                 ("input_dropout", "input_dropout"), ("gibbs_steps", "gibbs_steps")):
        v = getattr(args, a, None)
        if v is not None:
            cfg[k] = v
    if not (math.isfinite(cfg["lr"]) and cfg["lr"] > 0):
        raise StudyError(f"--lr must be a positive number, got {cfg['lr']}")
    if args.samples < 0 or cfg["gibbs_steps"] < 0:
        raise StudyError("--samples and --gibbs-steps must be >= 0")
    (x_tr, y_tr), (x_te, y_te) = data
    img_shape = x_tr.shape[2:]
    x_tr = np.ascontiguousarray(x_tr.reshape(len(x_tr), -1))
    x_te = np.ascontiguousarray(x_te.reshape(len(x_te), -1))
    if x_tr.shape[1] != cfg["sizes"][0]:
        raise StudyError(f"--sizes must start with the image size {x_tr.shape[1]}, got {cfg['sizes'][0]}")
    if cfg["train_size"] is not None and cfg["train_size"] < len(x_tr):
        idx = np.sort(np.random.default_rng(args.seed).permutation(len(x_tr))[:cfg["train_size"]])
        x_tr, y_tr = x_tr[idx], y_tr[idx]
    if args.threads:
        lamina.set_num_threads(args.threads)
    out = args.out or os.path.join("runs", "study-dbn")
    os.makedirs(out, exist_ok=True)
    sizes = cfg["sizes"]
    print(f"lamina study dbn: {ds}{' (quick)' if args.quick else ''}, {len(x_tr)} training and {len(x_te)} test "
          f"images; DBN {'-'.join(map(str, sizes))}, {cfg['pretrain_epochs']} CD-1 epochs per RBM (lr 0.1, "
          f"momentum 0.5/0.9, weight decay 2e-4, batch {cfg['batch_size']}); fine-tuning {cfg['epochs']} epochs, "
          f"SGD lr {cfg['lr']:g} momentum 0.9 cosine, dropout {cfg['dropout']:g} (input {cfg['input_dropout']:g}); "
          f"{lamina.get_num_threads()} "
          f"thread(s); output {out}", flush=True)

    lamina.manual_seed(args.seed)
    dbn = DBN(sizes)
    t0 = time.perf_counter()
    if args.load_dbn:
        pre = _load_dbn(dbn, args.load_dbn)
        print(f"loaded the pretrained RBMs from {args.load_dbn}", flush=True)
    else:
        pre = dbn.pretrain(x_tr, epochs=cfg["pretrain_epochs"], batch_size=cfg["batch_size"], verbose=True,
                           seed=args.seed)
    t_pre = time.perf_counter() - t0
    print(f"pretraining took {t_pre:.1f}s", flush=True)
    if args.save_dbn:
        arrays = {f"{name}{i}": getattr(r, name).detach().numpy() for i, r in enumerate(dbn.rbms)
                  for name in ("weight", "h_bias", "v_bias")}
        arrays.update({f"history{i}": np.asarray(h) for i, h in enumerate(pre)})
        np.savez(args.save_dbn, **arrays)

    viz.save_image_grid(os.path.join(out, "rbm1_weights.png"),
                        dbn.rbms[0].weight.detach().numpy()[:100].reshape(-1, *img_shape), normalize="each")
    sample_time = 0.0
    if args.samples > 0:
        t0 = time.perf_counter()
        samples = dbn.sample(args.samples, gibbs_steps=cfg["gibbs_steps"], seed=args.seed)
        sample_time = time.perf_counter() - t0
        viz.save_image_grid(os.path.join(out, "dbn_samples.png"), samples.reshape(-1, *img_shape), normalize=None)
        # chains started at test images (the top RBM mixes slowly; these wander between digits)
        pick = np.random.default_rng(args.seed).choice(len(x_te), size=min(args.samples, len(x_te)), replace=False)
        from_data = dbn.sample(len(pick), gibbs_steps=cfg["gibbs_steps"], seed=args.seed, start=x_te[pick])
        sample_time = time.perf_counter() - t0
        viz.save_image_grid(os.path.join(out, "dbn_samples_from_data.png"), from_data.reshape(-1, *img_shape),
                            normalize=None)

    lamina.manual_seed(args.seed + 1)
    mlp = _with_dropout(dbn.to_mlp(num_classes=10), cfg["dropout"], cfg["input_dropout"])
    t0 = time.perf_counter()
    losses, errors = _finetune(mlp, ((x_tr, y_tr), (x_te, y_te)), cfg["epochs"], cfg["batch_size"], cfg["lr"],
                               args.seed, "DBN-pretrained")
    t_ft = time.perf_counter() - t0
    results = {"dataset": ds, "quick": bool(args.quick), "train_size": len(x_tr), "test_size": len(x_te),
               "config": cfg, "loaded_dbn": args.load_dbn,
               "seed": args.seed, "threads": lamina.get_num_threads(),
               "pretraining_reconstruction_error": pre, "pretraining_s": t_pre, "sampling_s": sample_time,
               "dbn": {"train_loss": losses, "test_error": errors, "final_test_error": errors[-1],
                       "finetune_s": t_ft}}
    rows = [["DBN-pretrained", f"{100 * errors[-1]:.2f}%", f"{100 * min(errors):.2f}%", f"{losses[-1]:.4f}",
             f"{t_pre + t_ft:.0f}s"]]
    series = {"DBN-pretrained": (list(range(1, len(errors) + 1)), [100 * e for e in errors])}
    if args.baseline:
        from ..nn import Linear, Sequential, Sigmoid

        lamina.manual_seed(args.seed + 2)
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [Linear(a, b), Sigmoid()]
        base = _with_dropout(Sequential(*layers, Linear(sizes[-1], 10)), cfg["dropout"], cfg["input_dropout"])
        t0 = time.perf_counter()
        b_losses, b_errors = _finetune(base, ((x_tr, y_tr), (x_te, y_te)), cfg["epochs"], cfg["batch_size"],
                                       cfg["lr"], args.seed, "random init")
        results["baseline"] = {"train_loss": b_losses, "test_error": b_errors, "final_test_error": b_errors[-1],
                               "train_s": time.perf_counter() - t0}
        rows.append(["random init (same net)", f"{100 * b_errors[-1]:.2f}%", f"{100 * min(b_errors):.2f}%",
                     f"{b_losses[-1]:.4f}", f"{results['baseline']['train_s']:.0f}s"])
        series["random init"] = (list(range(1, len(b_errors) + 1)), [100 * e for e in b_errors])

    print()
    print(format_table(["net", "test error (final)", "(best epoch)", "train loss", "time"], rows))
    print(f"\nDBN {'-'.join(map(str, sizes))}: final test error {100 * errors[-1]:.2f}% "
          f"(Hinton, Osindero and Teh 2006: 1.25% on MNIST)")
    viz.plot_lines(os.path.join(out, "finetune.png"), series, title=f"DBN fine-tuning on {ds}",
                   xlabel="epoch", ylabel="test error (%)")
    viz.plot_lines(os.path.join(out, "pretraining.png"),
                   {f"RBM {i + 1} ({sizes[i]}-{sizes[i + 1]})": (list(range(1, len(h) + 1)), h)
                    for i, h in enumerate(pre)},
                   title="greedy pretraining", xlabel="epoch", ylabel="reconstruction error per sample")
    write_json(os.path.join(out, "results.json"), results)
    pictures = ", dbn_samples.png, dbn_samples_from_data.png" if args.samples > 0 else ""
    print(f"wrote {out}/results.json, rbm1_weights.png{pictures}", flush=True)
    return 0
