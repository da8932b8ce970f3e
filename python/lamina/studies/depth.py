"""``lamina study depth``: why deep nets did not train before 2006, and what made them train.

With one budget (epochs, batch size, SGD with momentum 0.9 and a cosine schedule; the learning
rate chosen per family the way a practitioner would: 0.1 for sigmoid nets and batch-normalised
nets, 0.01 for a plain deep ReLU net, which diverges at 0.1), it trains

- ``shallow``: one hidden sigmoid layer, Xavier initialisation;
- ``sigmoid_small``: 8 hidden sigmoid layers with the small random weights of the 1980s, N(0, 0.01);
- ``sigmoid_xavier``: the same net with Xavier initialisation (wrong initialisation, fixed);
- ``sigmoid_dbn``: the same net pretrained greedily as a deep belief net (``lamina.pretrain.dbn``),
  then fine-tuned (Hinton, Osindero and Teh 2006);
- ``relu_kaiming``: 8 hidden ReLU layers, Kaiming initialisation (wrong nonlinearity, fixed);
- ``relu_bn``: + batch normalisation; ``relu_bn_res``: + residual connections;
  ``relu_bn_res_dropout``: + dropout (p = 0.2),

and prints, per net, the test accuracy, the epochs until the test accuracy first reaches the
target (95%), the first-layer / last-layer gradient-norm ratio (``lamina.train.GradientFlow``) in
the first and the last epoch, the final training loss and the wall time. Hinton's other two
reasons are measured too: too little data (the shallow net and the full remedy trained on 1/10 of
the training set with the same number of updates) and too slow computers (the floating-point
operations of one deep run, and how long they take here and at 1980s speed).

Writes ``results.json``, ``test_accuracy.png`` (accuracy against epoch, all nets),
``gradient_flow.png`` (gradient norm against depth in the first epoch, all nets),
``gradflow-<net>.png`` (per net, one line per epoch) and ``filters-<net>.png`` (the first-layer
weights of the most accurate net as images).

    lamina study depth --dataset digits --quick      # seconds
    lamina study depth --dataset mnist --threads 1   # the full study: about 3 minutes on one core
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import numpy as np

from . import StudyError, format_table, load_dataset, write_json
from . import positive_int as _pos_int

__all__ = ["MODELS", "add_arguments", "build_model", "run"]

# key -> (label, family); the family sets the learning rate
MODELS: dict[str, tuple[str, str]] = {
    "shallow": ("shallow sigmoid, Xavier (1 hidden)", "sigmoid"),
    "sigmoid_small": ("deep sigmoid, N(0,0.01) init", "sigmoid"),
    "sigmoid_xavier": ("deep sigmoid, Xavier", "sigmoid"),
    "sigmoid_dbn": ("deep sigmoid, DBN-pretrained", "sigmoid"),
    "relu_kaiming": ("deep ReLU, Kaiming", "relu"),
    "relu_bn": ("deep ReLU + BatchNorm", "bn"),
    "relu_bn_res": ("deep ReLU + BN + residual", "bn"),
    "relu_bn_res_dropout": ("deep ReLU + BN + residual + dropout", "bn"),
}
LR = {"sigmoid": 0.1, "relu": 0.01, "bn": 0.1}
MOMENTUM = 0.9
DROPOUT = 0.2
SMALL_DATA_MODELS = ("shallow", "relu_bn_res_dropout")
SMALL_DATA_FRACTION = 10
FLOPS_1980S = 1e6  # floating-point operations per second of a fast 1980s workstation

# (dataset, quick) -> width, depth (hidden layers), epochs, batch size, DBN pretraining epochs per RBM,
# its batch size (Hinton's guide: 10 to 100), training images used (None: all)
_CONFIG: dict[tuple[str, bool], dict[str, Any]] = {
    ("digits", False): {"width": 64, "depth": 8, "epochs": 30, "batch_size": 32, "pretrain_epochs": 10,
                        "pretrain_batch": 10, "train_size": None},
    ("digits", True): {"width": 32, "depth": 8, "epochs": 5, "batch_size": 32, "pretrain_epochs": 2,
                       "pretrain_batch": 10, "train_size": None},
    ("mnist", False): {"width": 128, "depth": 8, "epochs": 5, "batch_size": 128, "pretrain_epochs": 1,
                       "pretrain_batch": 100, "train_size": None},
    ("mnist", True): {"width": 64, "depth": 8, "epochs": 2, "batch_size": 128, "pretrain_epochs": 1,
                      "pretrain_batch": 100, "train_size": 6000},
}


def _unit_fraction(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {s!r}") from None
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {s!r}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="digits (default; seconds) or mnist (the full study)")
    p.add_argument("--quick", action="store_true", help="smaller nets and fewer epochs (digits: seconds)")
    p.add_argument("--epochs", type=_pos_int, default=None, help="training epochs per net (default: 30 on digits, "
                                                                 "5 on mnist)")
    p.add_argument("--batch-size", type=_pos_int, default=None, help="default: 32 on digits, 128 on mnist")
    p.add_argument("--depth", type=_pos_int, default=None, help="hidden layers of the deep nets (default 8)")
    p.add_argument("--width", type=_pos_int, default=None, help="units per hidden layer (default: 64 on digits, "
                                                                "128 on mnist)")
    p.add_argument("--pretrain-epochs", type=_pos_int, default=None, help="RBM epochs per layer of the DBN")
    p.add_argument("--models", default=None,
                   help="comma-separated subset of: " + ", ".join(MODELS) + " (default: all)")
    p.add_argument("--target", type=_unit_fraction, default=0.95,
                   help="test accuracy whose first epoch the table reports (default 0.95)")
    p.add_argument("--no-small-data", action="store_true", help="skip the 1/10-of-the-data rows")
    p.add_argument("--out", default=None, help="output directory (default runs/study-depth)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling, dropout and pretraining")
    p.add_argument("--threads", type=_pos_int, default=None, help="CPU threads (default: 1 on digits, else all)")
    p.add_argument("--data-root", default=None, help="where to look for dataset files (also $LAMINA_DATA)")


# ---------------------------------------------------------------------- models
def _residual_block_class():
    from .. import nn

    class ResidualBlock(nn.Module):
        """``relu(x + bn(linear(dropout(x))))``: one residual layer of a fully connected net (dropout
        inside the branch, as in wide residual nets, so the identity path is never dropped)."""

        def __init__(self, width: int, dropout: float) -> None:
            super().__init__()
            self.linear = nn.Linear(width, width)
            self.bn = nn.BatchNorm1d(width)
            self.relu = nn.ReLU()
            self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

        def forward(self, x):
            return self.relu(x + self.bn(self.linear(self.dropout(x))))

    return ResidualBlock


def _init_linears(model, how: str) -> None:
    from .. import nn

    for m in model.modules():
        if isinstance(m, nn.Linear):
            if how == "small":
                nn.init.normal_(m.weight, 0.0, 0.01)
            elif how == "xavier":
                nn.init.xavier_uniform_(m.weight)
            elif how == "kaiming":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


def build_model(key: str, in_features: int, num_classes: int, width: int, depth: int):
    """The study's net ``key`` (one of ``MODELS`` except ``sigmoid_dbn``, which ``run`` builds from
    a pretrained DBN) as an ``nn.Sequential`` over flattened inputs."""
    from .. import nn

    if key == "shallow":
        model = nn.Sequential(nn.Linear(in_features, width), nn.Sigmoid(), nn.Linear(width, num_classes))
        _init_linears(model, "xavier")
        return model
    if key in ("sigmoid_small", "sigmoid_xavier", "relu_kaiming", "relu_bn"):
        act = nn.Sigmoid if key.startswith("sigmoid") else nn.ReLU
        layers: list = []
        d = in_features
        for _ in range(depth):
            layers.append(nn.Linear(d, width))
            if key == "relu_bn":
                layers.append(nn.BatchNorm1d(width))
            layers.append(act())
            d = width
        model = nn.Sequential(*layers, nn.Linear(d, num_classes))
        _init_linears(model, {"sigmoid_small": "small", "sigmoid_xavier": "xavier"}.get(key, "kaiming"))
        return model
    if key in ("relu_bn_res", "relu_bn_res_dropout"):
        p = DROPOUT if key.endswith("dropout") else 0.0
        block = _residual_block_class()
        layers = [nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU()]
        layers += [block(width, p) for _ in range(depth - 1)]
        model = nn.Sequential(*layers, nn.Linear(width, num_classes))
        _init_linears(model, "kaiming")
        return model
    raise ValueError(f"lamina.studies.depth: unknown model {key!r}")


def _macs(model) -> int:
    """Multiply-adds of one forward pass of one sample through the net's Linear layers."""
    from .. import nn

    return sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))


# ---------------------------------------------------------------------- training
def _train(key: str, cfg: dict, data, seed: int, eval_each_epoch: bool, epochs: int, log) -> dict[str, Any]:
    import lamina

    from ..data import DataLoader, TensorDataset
    from ..optim import SGD
    from ..optim.lr_scheduler import CosineAnnealingLR
    from ..train import GradientFlow, Trainer

    (x_tr, y_tr), (x_te, y_te) = data
    label, family = MODELS[key]
    lr = LR[family]
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    lamina.manual_seed(seed)
    t0 = time.perf_counter()
    pretrain_s = 0.0
    pretrain_errors = None
    if key == "sigmoid_dbn":
        from ..pretrain.dbn import DBN

        dbn = DBN([x_tr.shape[1]] + [cfg["width"]] * cfg["depth"])
        pretrain_errors = dbn.pretrain(x_tr, epochs=cfg["pretrain_epochs"], batch_size=cfg["pretrain_batch"],
                                       seed=seed)
        model = dbn.to_mlp(num_classes=n_classes)
        pretrain_s = time.perf_counter() - t0
    else:
        model = build_model(key, x_tr.shape[1], n_classes, cfg["width"], cfg["depth"])
    bs = cfg["batch_size"]
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=bs, shuffle=True, seed=seed)
    test_loader = DataLoader(TensorDataset(x_te, y_te), batch_size=1000)
    opt = SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    sched = CosineAnnealingLR(opt, T_max=epochs)
    flow = GradientFlow()
    trainer = Trainer(progress=False, verbose=0)
    t1 = time.perf_counter()
    hist = trainer.fit(model, loader, test_loader if eval_each_epoch else None, epochs=epochs, optimizer=opt,
                       scheduler=sched, callbacks=[flow])
    train_s = time.perf_counter() - t1
    if eval_each_epoch:
        test_acc = float(hist["val_accuracy"][-1])
    else:
        test_acc = float(trainer.evaluate(model, test_loader)["accuracy"])
    wall = time.perf_counter() - t0
    row = {"key": key, "label": label, "optimizer": f"sgd m{MOMENTUM:g} lr {lr:g} cosine", "lr": lr,
           "epochs": epochs, "train_images": int(len(x_tr)), "test_accuracy": test_acc,
           "train_loss": float(hist["loss"][-1]), "train_accuracy": float(hist["accuracy"][-1]),
           "grad_ratio_first_epoch": flow.first_last_ratio(0), "grad_ratio_last_epoch": flow.first_last_ratio(-1),
           "wall_s": wall, "train_s": train_s, "pretrain_s": pretrain_s,
           "macs_per_sample": _macs(model), "history": {k: list(v) for k, v in hist.items()},
           "gradient_flow": flow.history}
    if pretrain_errors is not None:
        row["pretrain_reconstruction_error"] = pretrain_errors
    log(f"  {label}: test accuracy {100 * test_acc:.2f}%, train loss {row['train_loss']:.4f}, "
        f"gradient ratio {row['grad_ratio_first_epoch']:.2g}, {wall:.1f} s")
    return row, model, flow


def _epochs_to(history: dict, target: float) -> int | None:
    for e, a in zip(history.get("epoch", []), history.get("val_accuracy", [])):
        if a >= target:
            return int(e)
    return None


def _fmt_ratio(r: float) -> str:
    return "-" if r is None or not math.isfinite(r) else f"{r:.2g}"


def _duration(s: float) -> str:
    for unit, n in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if s >= n:
            return f"{s / n:,.1f} {unit}"
    return f"{s:.1f} s"


def _first_linear_weight(model) -> np.ndarray:
    from .. import nn

    for m in model.modules():
        if isinstance(m, nn.Linear):
            return m.weight.detach().numpy().copy()
    raise ValueError("no Linear layer")


# ---------------------------------------------------------------------- run
def run(args) -> int:
    import lamina

    from .. import viz

    ds = str(args.dataset).strip().lower()
    data = load_dataset(ds, getattr(args, "data_root", None), study="depth")
    cfg = dict(_CONFIG[(ds, bool(args.quick))])
    for k in ("epochs", "batch_size", "depth", "width", "pretrain_epochs"):
        v = getattr(args, k, None)
        if v is not None:
            cfg[k] = v
    keys = list(MODELS)
    if args.models:
        keys = [k.strip() for k in str(args.models).split(",") if k.strip()]
        bad = [k for k in keys if k not in MODELS]
        if bad or not keys:
            raise StudyError(f"unknown model(s) {', '.join(bad) or repr(args.models)}; choose from "
                             f"{', '.join(MODELS)}")
    threads = args.threads or (1 if ds == "digits" else None)
    if threads:
        lamina.set_num_threads(threads)
    out = args.out or os.path.join("runs", "study-depth")
    os.makedirs(out, exist_ok=True)

    (x_tr, y_tr), (x_te, y_te) = data
    img_shape = x_tr.shape[2:]
    x_tr = x_tr.reshape(len(x_tr), -1)
    x_te = x_te.reshape(len(x_te), -1)
    if cfg["train_size"] is not None and cfg["train_size"] < len(x_tr):
        idx = np.random.default_rng(args.seed).permutation(len(x_tr))[:cfg["train_size"]]
        x_tr, y_tr = x_tr[np.sort(idx)], y_tr[np.sort(idx)]
    data = ((x_tr, y_tr), (x_te, y_te))
    epochs, target = cfg["epochs"], args.target
    print(f"lamina study depth: {ds}{' (quick)' if args.quick else ''}, {len(x_tr)} training and {len(x_te)} test "
          f"images; {cfg['depth']} hidden layers of {cfg['width']} units (shallow: 1); {epochs} epochs, batch "
          f"{cfg['batch_size']}, SGD momentum {MOMENTUM:g} with a cosine schedule, lr per family "
          f"(sigmoid {LR['sigmoid']:g}, ReLU {LR['relu']:g}, BatchNorm {LR['bn']:g}); DBN: "
          f"{cfg['pretrain_epochs']} CD-1 epochs per RBM; {lamina.get_num_threads()} thread(s); output {out}",
          flush=True)

    def log(msg: str) -> None:
        print(msg, flush=True)

    rows, models, flows = [], {}, {}
    for k in keys:
        row, model, flow = _train(k, cfg, data, args.seed, True, epochs, log)
        row["epochs_to_target"] = _epochs_to(row["history"], target)
        rows.append(row)
        models[k], flows[k] = model, flow

    small_rows = []
    if not args.no_small_data:
        n_small = max(len(x_tr) // SMALL_DATA_FRACTION, 1)
        idx = np.sort(np.random.default_rng(args.seed + 1).permutation(len(x_tr))[:n_small])
        small = ((x_tr[idx], y_tr[idx]), (x_te, y_te))
        for k in SMALL_DATA_MODELS:
            if k not in keys:
                continue
            row, _, _ = _train(k, cfg, small, args.seed, False, epochs * SMALL_DATA_FRACTION,
                               lambda m: log(m + f" [1/{SMALL_DATA_FRACTION} of the data]"))
            small_rows.append(row)

    # ------------------------------------------------------------------ table
    header = ["net", "test acc", f"epochs to {100 * target:g}%", "grad ratio ep1", "grad ratio last",
              "train loss", "optimizer", "wall s"]
    table = []
    for r in rows:
        to = r["epochs_to_target"]
        wall = f"{r['wall_s']:.1f}" + (f" ({r['pretrain_s']:.1f} pretrain)" if r["pretrain_s"] else "")
        table.append([r["label"], f"{100 * r['test_accuracy']:.2f}%", "-" if to is None else str(to),
                      _fmt_ratio(r["grad_ratio_first_epoch"]), _fmt_ratio(r["grad_ratio_last_epoch"]),
                      f"{r['train_loss']:.4f}", r["optimizer"], wall])
    for r in small_rows:
        table.append([f"{r['label']}, 1/{SMALL_DATA_FRACTION} data", f"{100 * r['test_accuracy']:.2f}%", "n/a",
                      _fmt_ratio(r["grad_ratio_first_epoch"]), _fmt_ratio(r["grad_ratio_last_epoch"]),
                      f"{r['train_loss']:.4f}", r["optimizer"], f"{r['wall_s']:.1f}"])
    print()
    print(format_table(header, table))

    notes = [f"test accuracy after {epochs} epochs; 'epochs to {100 * target:g}%': the first epoch whose test "
             "accuracy reached it ('-': never); grad ratio: first-layer / last-layer mean weight-gradient norm "
             "(lamina.train.GradientFlow) in the first and the last epoch; train loss: the last epoch's mean."]
    if small_rows:
        notes.append(f"too little data: the '1/{SMALL_DATA_FRACTION} data' rows train on "
                     f"{small_rows[0]['train_images']} images for {epochs * SMALL_DATA_FRACTION} epochs "
                     "(the same number of updates as the full rows).")
    deep_keys = [k for k in keys if k != "shallow"]
    if deep_keys:
        r = next(x for x in rows if x["key"] == deep_keys[0])
        flops = 6.0 * r["macs_per_sample"] * r["train_images"] * epochs
        secs = r["train_s"]
        notes.append(f"too slow computers: training the {r['label']} net took {flops / 1e12:.3g} TFLOP "
                     f"({6 * r['macs_per_sample']:,} FLOP per image per step x {r['train_images']} images x {epochs} "
                     f"epochs): {secs:.1f} s here ({flops / max(secs, 1e-9) / 1e9:.1f} GFLOP/s), "
                     f"{_duration(flops / FLOPS_1980S)} at {FLOPS_1980S / 1e6:g} MFLOP/s, a fast 1980s workstation.")
    for n in notes:
        print("note: " + n)

    # ------------------------------------------------------------------ pictures
    files = []
    series = {r["label"]: (r["history"]["epoch"], r["history"]["val_accuracy"]) for r in rows}
    path = os.path.join(out, "test_accuracy.png")
    if viz.plot_lines(path, series, title=f"depth study ({ds}): test accuracy", xlabel="epoch",
                      ylabel="test accuracy"):
        files.append(path)
    series = {}
    for r in rows:
        g = r["gradient_flow"]["grad_norm"][0]
        series[r["label"]] = (list(range(1, len(g) + 1)), g)
    path = os.path.join(out, "gradient_flow.png")
    if viz.plot_lines(path, series, title=f"depth study ({ds}): gradient norm per layer, first epoch",
                      xlabel="layer (1 = input side)", ylabel="mean weight-gradient norm", logy=True):
        files.append(path)
    for k, flow in flows.items():
        path = os.path.join(out, f"gradflow-{k}.png")
        if flow.plot(path, title=f"{MODELS[k][0]}: gradient norm per layer"):
            files.append(path)
    best = max(rows, key=lambda r: r["test_accuracy"])
    w = _first_linear_weight(models[best["key"]])
    path = os.path.join(out, f"filters-{best['key']}.png")
    viz.save_image_grid(path, w[:100].reshape(-1, *img_shape), normalize="each", scale=max(1, 56 // img_shape[0]))
    files.append(path)

    results = {"study": "depth", "dataset": ds, "quick": bool(args.quick), "seed": args.seed, "target": target,
               "config": {**cfg, "momentum": MOMENTUM, "lr": LR, "dropout": DROPOUT, "schedule": "cosine",
                          "threads": lamina.get_num_threads()},
               "rows": rows, "small_data_rows": small_rows, "notes": notes, "best": best["key"], "files": files}
    write_json(os.path.join(out, "results.json"), results)
    print(f"wrote {os.path.join(out, 'results.json')} and {len(files)} pictures to {out}")
    return 0
