"""The ``lamina`` command.

    lamina info [--json]
    lamina train [MODEL] [--dataset digits|mnist|fashion-mnist] [--epochs N] [--batch-size B] [--lr LR]
                 [--optimizer sgd|adam|adamw] [--device cpu|cuda] [--out DIR] [--resume CKPT] [--seed S]
                 [--threads T] ...
    lamina evaluate CKPT [--dataset D]
    lamina study {depth,scale,autoencoder,dbn} [--dataset digits|mnist] [--quick] [--out DIR] ...

Bare ``lamina train`` trains the small CNN on scikit-learn's 8x8 digits and prints the test
accuracy. Flags left out take the model's recipe (``lamina.train.recipes``). Usage errors, unknown
models or datasets and missing data print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ._argtypes import fraction as _fraction
from ._argtypes import nonneg_float as _nonneg_float
from ._argtypes import nonneg_int as _nonneg_int
from ._argtypes import positive_float as _pos_float
from ._argtypes import positive_int as _pos_int


class _Fail(Exception):
    """A user-facing error: printed as one line, exit status 2."""












def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lamina", description="Lamina: deep learning with its own kernels")
    sub = parser.add_subparsers(dest="command")
    p_info = sub.add_parser("info", help="version, build, CPU features, threads, CUDA")
    p_info.add_argument("--json", action="store_true", help="print as JSON")

    p = sub.add_parser("train", help="train a model on a dataset (bare: the small CNN on 8x8 digits)",
                       description="Train MODEL on a dataset; flags left out take the model's recipe "
                                   "(lamina.train.recipes). Writes the best and last checkpoints, log.csv, "
                                   "config.json, results.json and history.png to --out.")
    p.add_argument("model", nargs="?", default=None,
                   help="small_cnn (default), mlp, lenet5 or resnet")
    p.add_argument("--dataset", default=None, help="digits, mnist or fashion-mnist (default: the model's own: "
                                                   "small_cnn/mlp digits, lenet5 mnist, resnet fashion-mnist)")
    p.add_argument("--epochs", type=_nonneg_int, default=None, help="default: the recipe's (e.g. 20 on digits, 15 for "
                                                                     "lenet5 on mnist)")
    p.add_argument("--batch-size", type=_pos_int, default=None, help="default: 32 on digits, 128 otherwise")
    p.add_argument("--lr", type=_pos_float, default=None, help="peak learning rate (of the one-cycle schedule)")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default=None,
                   help="default: the recipe's (sgd with Nesterov momentum for lenet5/resnet, adam otherwise)")
    p.add_argument("--weight-decay", type=_nonneg_float, default=None,
                   help="default: the recipe's (5e-4 for lenet5 and resnet, else 0)")
    p.add_argument("--schedule", choices=["onecycle", "cosine", "none"], default=None,
                   help="learning-rate schedule (default onecycle)")
    p.add_argument("--augment", choices=["none", "crop", "flip", "crop+flip"], default=None,
                   help="random shifts (pad 2 and crop) and/or horizontal flips of the training images")
    p.add_argument("--val-split", type=_fraction, default=None,
                   help="fraction of the training set held out for validation (default 0.1)")
    p.add_argument("--grad-clip", type=_pos_float, default=None, help="clip the global gradient norm")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--out", default=None, help="run directory (default runs/MODEL-DATASET)")
    p.add_argument("--resume", default=None, metavar="CKPT", help="continue a run from its checkpoint "
                                                                   "(e.g. runs/small_cnn-digits/last.ckpt)")
    p.add_argument("--seed", type=_nonneg_int, default=None, help="seed of weights, shuffling and augmentation "
                                                                   "(default 0)")
    p.add_argument("--threads", type=_pos_int, default=None,
                   help="CPU threads for the kernels (default: 1 for the digits models, else all)")
    p.add_argument("--data-root", default=None, help="where to look for dataset files (also $LAMINA_DATA)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch)")

    e = sub.add_parser("evaluate", help="evaluate a checkpoint on its dataset's test set")
    e.add_argument("checkpoint", metavar="CKPT")
    e.add_argument("--dataset", default=None, help="default: the dataset the checkpoint was trained on")
    e.add_argument("--batch-size", type=_pos_int, default=500)
    e.add_argument("--device", default="cpu")
    e.add_argument("--threads", type=_pos_int, default=None)
    e.add_argument("--data-root", default=None)

    sub.add_parser("study", add_help=False,
                   help="experiments on what makes deep learning deep: " + ", ".join(_STUDIES) +
                        " (lamina study --help, lamina study NAME --help)")
    sub.add_parser("lm", add_help=False,
                   help="train the character-level LSTM language model on Shakespeare and sample from it "
                        "(lamina lm --help: its options)")
    return parser


_STUDIES = {
    "depth": "shallow against deep nets: bad initialisation, the wrong nonlinearity, vanishing gradients and their "
             "remedies (DBN pretraining, ReLU, batch norm, residual connections, dropout)",
    "scale": "test accuracy against training-set size for logistic regression, a shallow net and a deep CNN",
    "autoencoder": "deep autoencoders against PCA: compression, anomaly detection",
    "dbn": "a deep belief net: greedy layer-wise pretraining, fine-tuning, sampling",
}


def _study_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lamina study", description="Run a study from lamina.studies: it prints a "
                                "table and writes results.json and pictures to --out (default runs/study-NAME).")
    p.add_argument("name", choices=list(_STUDIES), metavar="NAME",
                   help="; ".join(f"{k}: {v}" for k, v in _STUDIES.items()))
    return p


def _study_main(argv: list[str]) -> int:
    """``lamina study NAME [options]``: only the named study's module is imported, so a study that
    is missing (or broken) fails cleanly without touching the others or the rest of the command."""
    import importlib

    from .studies import StudyError

    head = _study_parser()
    if not argv or argv[0].startswith("-"):
        head.parse_args(argv if argv else ["--help"])  # prints help or the usage error, exits
    head.parse_args(argv[:1])  # an unknown name: usage error, exit 2
    name = argv[0]
    try:
        mod = importlib.import_module(f"lamina.studies.{name}")
        if not (hasattr(mod, "add_arguments") and hasattr(mod, "run")):
            raise ImportError(f"lamina.studies.{name} has no add_arguments/run")
    except Exception as e:  # noqa: BLE001 - any failure to load a study is reported in one line
        missing = isinstance(e, ModuleNotFoundError) and e.name == f"lamina.studies.{name}"
        why = "is not part of this installation" if missing else f"cannot be loaded ({type(e).__name__}: {e})"
        print(f"lamina study {name}: error: the {name} study {why}", file=sys.stderr)
        return 2
    p = argparse.ArgumentParser(prog=f"lamina study {name}", description=_STUDIES[name])
    mod.add_arguments(p)
    args = p.parse_args(argv[1:])
    if getattr(args, "out", None) is None:
        args.out = os.path.join("runs", f"study-{name}")
    try:
        rc = mod.run(args)
    except (StudyError, _Fail) as e:
        print(f"lamina study {name}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nlamina study {name}: interrupted", file=sys.stderr)
        return 130
    return 0 if rc is None else int(rc)


def _threads(n: int) -> str:
    return f"{n} thread" + ("" if n == 1 else "s")


def _write_json(path: str, obj) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _check_device(device: str) -> str:
    import lamina

    if device == "cpu":
        return device
    if device.split(":")[0] != "cuda":
        raise _Fail(f"unknown device {device!r}; use cpu or cuda")
    if not lamina.cuda.is_available():
        raise _Fail(f"CUDA is not available ({lamina.cuda.unavailable_reason()}); use --device cpu")
    return device


def _dataset(name: str, root):
    from . import datasets

    try:
        info = datasets.info(name)
    except (ValueError, TypeError) as e:
        raise _Fail(str(e)) from None
    canonical = name.strip().lower().replace("_", "-")
    try:
        data = datasets.load(canonical, root=root)
    except (OSError, ValueError, ImportError) as e:  # DatasetNotFoundError is a FileNotFoundError
        raise _Fail(" ".join(str(e).split())) from None
    return canonical, info, data


def _read_config(path: str) -> dict:
    from . import io

    if not os.path.exists(path):
        raise _Fail(f"checkpoint {path} does not exist")
    try:
        meta = io.read_checkpoint(path)
    except (OSError, ValueError, KeyError) as e:
        raise _Fail(f"cannot read checkpoint {path}: {e}") from None
    return meta.get("config") or {}


def _train(args, argv) -> int:
    import lamina

    from . import models
    from .data import DataLoader, TensorDataset, random_split
    from .train import CSVLogger, ModelCheckpoint, NonFiniteLossError, Trainer
    from .train.augment import Augmented, RandomCropFlip
    from .train.recipes import DEFAULT_DATASET, build_optimizer, build_scheduler, recipe

    saved: dict = {}
    if args.resume:
        saved = _read_config(args.resume)
    name = args.model or saved.get("model") or "small_cnn"
    if name not in models.names():
        raise _Fail(f"unknown model {name!r}; choose one of {', '.join(models.names())}")
    if saved and saved.get("model") not in (None, name):
        raise _Fail(f"checkpoint {args.resume} holds a {saved['model']!r} model, not {name!r}")
    ds_name = args.dataset or saved.get("dataset") or DEFAULT_DATASET.get(name)
    if ds_name is None:
        raise _Fail(f"model {name!r} has no default dataset; give --dataset")
    device = _check_device(args.device)

    # settings: the recipe, then what the resumed run used, then the flags given now
    cfg = recipe(name, ds_name.strip().lower().replace("_", "-"))
    cfg["seed"] = 0
    cfg["grad_clip"] = None
    for k in list(cfg):
        if k in saved:
            cfg[k] = saved[k]
    for k in ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule", "augment", "val_split", "seed",
              "grad_clip", "threads"):
        v = getattr(args, k)
        if v is not None:
            cfg[k] = v
    if cfg["threads"]:
        lamina.set_num_threads(cfg["threads"])
    if saved and cfg["schedule"] == "onecycle" and cfg["epochs"] != saved.get("epochs", cfg["epochs"]):
        raise _Fail(f"the run in {args.resume} follows a one-cycle schedule planned for {saved['epochs']} epochs; "
                    f"resume it without --epochs, or start a new run with --epochs {cfg['epochs']}")

    ds_name, info, ((x_tr, y_tr), (x_te, y_te)) = _dataset(ds_name, args.data_root)
    lamina.manual_seed(cfg["seed"])
    try:
        model = models.for_dataset(name, info)
    except ValueError as e:
        raise _Fail(f"{e} (dataset {ds_name}: images {tuple(info['input_shape'])})") from None

    full = TensorDataset(x_tr, y_tr)
    n_val = int(round(cfg["val_split"] * len(full)))
    if n_val > 0:
        train_ds, val_ds = random_split(full, [len(full) - n_val, n_val], seed=cfg["seed"])
    else:
        train_ds, val_ds = full, None
    bs = cfg["batch_size"]
    train_loader = DataLoader(train_ds, batch_size=bs, shuffle=True, seed=cfg["seed"])
    if cfg["augment"] != "none":
        aug = RandomCropFlip(padding=2 if "crop" in cfg["augment"] else 0, flip="flip" in cfg["augment"],
                             seed=cfg["seed"] + 1)
        train_loader = Augmented(train_loader, aug)
    eval_bs = max(bs, 500)
    val_loader = DataLoader(val_ds, batch_size=eval_bs) if val_ds is not None else None
    test_loader = DataLoader(TensorDataset(x_te, y_te), batch_size=eval_bs)

    if device != "cpu":
        model.to(device)
    opt = build_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"], cfg["weight_decay"], cfg["momentum"])
    sched = build_scheduler(cfg["schedule"], opt, cfg["lr"], cfg["epochs"], len(train_loader))

    out = args.out or (os.path.dirname(os.path.abspath(args.resume)) if args.resume
                       else os.path.join("runs", f"{name}-{ds_name}"))
    os.makedirs(out, exist_ok=True)
    config = {"model": name, "dataset": ds_name, **cfg, "input_shape": list(info["input_shape"]),
              "num_classes": info["num_classes"], "lamina_version": lamina.__version__,
              "command": "lamina train " + " ".join(argv)}
    _write_json(os.path.join(out, "config.json"), config)

    n_params = sum(p.numel() for p in model.parameters())
    print(f"lamina train: {name} ({n_params:,} parameters) on {ds_name} ({len(train_ds)} train, {n_val} validation, "
          f"{len(x_te)} test images); {cfg['epochs']} epochs, batch {bs}, {cfg['optimizer']} lr {cfg['lr']:g} "
          f"({cfg['schedule']}), augment {cfg['augment']}, {_threads(lamina.get_num_threads())}, {device}; "
          f"run directory {out}", flush=True)
    monitor = "val_accuracy" if val_loader is not None else "accuracy"
    trainer = Trainer(device=device, grad_clip=cfg["grad_clip"], progress=False if args.no_progress else None,
                      config=config)
    callbacks = [ModelCheckpoint(out, monitor=monitor), CSVLogger(os.path.join(out, "log.csv"))]
    t0 = time.perf_counter()
    try:
        history = trainer.fit(model, train_loader, val_loader, epochs=cfg["epochs"], optimizer=opt, scheduler=sched,
                              callbacks=callbacks, resume=args.resume)
    except NonFiniteLossError as e:
        print(f"lamina train: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        last = callbacks[0].last_good_path
        hint = f"; resume with: lamina train --resume {last}" if last else ""
        print(f"\nlamina train: interrupted{hint}", file=sys.stderr)
        return 130
    train_s = time.perf_counter() - t0
    history.plot(os.path.join(out, "history.png"))
    test = trainer.evaluate(model, test_loader)
    results = {"test_accuracy": test["accuracy"], "test_loss": test["loss"], "epochs": trainer.epoch,
               "train_seconds": train_s, "best_checkpoint": callbacks[0].best_model_path,
               "last_checkpoint": callbacks[0].last_model_path}
    if history.epochs:
        results.update({k: v for k, v in history.last().items() if k in ("val_accuracy", "val_loss", "accuracy")})
    _write_json(os.path.join(out, "results.json"), results)
    print(f"test accuracy: {100 * test['accuracy']:.2f}% (loss {test['loss']:.4f}, {len(x_te)} {ds_name} test images) "
          f"after {trainer.epoch} epochs, {train_s:.1f} s; checkpoints in {out}")
    return 0


def _evaluate(args) -> int:
    import lamina

    from . import io, models
    from .data import DataLoader, TensorDataset
    from .train import Trainer

    cfg = _read_config(args.checkpoint)
    name = cfg.get("model")
    if not name:
        raise _Fail(f"checkpoint {args.checkpoint} records no model (it was not written by `lamina train`); "
                    "load it in Python with lamina.io.load_checkpoint")
    if name not in models.names():
        raise _Fail(f"checkpoint {args.checkpoint} holds an unknown model {name!r}")
    ds_name = args.dataset or cfg.get("dataset")
    if not ds_name:
        raise _Fail(f"checkpoint {args.checkpoint} records no dataset; give --dataset")
    device = _check_device(args.device)
    if args.threads:
        lamina.set_num_threads(args.threads)
    ds_name, info, (_, (x_te, y_te)) = _dataset(ds_name, args.data_root)
    if list(info["input_shape"]) != list(cfg.get("input_shape", info["input_shape"])) or \
            info["num_classes"] != cfg.get("num_classes", info["num_classes"]):
        raise _Fail(f"checkpoint {args.checkpoint} was trained on {cfg.get('dataset')} images "
                    f"{tuple(cfg['input_shape'])}; {ds_name} has {tuple(info['input_shape'])}")
    model = models.for_dataset(name, info)
    try:
        io.load_checkpoint(args.checkpoint, model=model, restore_rng=False)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise _Fail(f"cannot load checkpoint {args.checkpoint}: {e}") from None
    t0 = time.perf_counter()
    res = Trainer(device=device, progress=False, verbose=0).evaluate(
        model, DataLoader(TensorDataset(x_te, y_te), batch_size=args.batch_size), metrics=("accuracy", "top5"))
    el = time.perf_counter() - t0
    print(f"{name} on {ds_name} test ({len(x_te)} images): accuracy {100 * res['accuracy']:.2f}%, "
          f"top-5 {100 * res['top5_accuracy']:.2f}%, loss {res['loss']:.4f} ({el:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lm"]:  # its own options: lamina.models.char_lm
        from .models import char_lm

        return char_lm.main(argv[1:])
    if argv[:1] == ["study"]:  # each study has its own options: lamina.studies.<name>
        return _study_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        from ._info import format_info, info

        if args.json:
            print(json.dumps(info(), indent=2))
        else:
            print(format_info())
        return 0
    if args.command in ("train", "evaluate"):
        try:
            return _train(args, argv[1:]) if args.command == "train" else _evaluate(args)
        except _Fail as e:
            print(f"lamina {args.command}: error: {e}", file=sys.stderr)
            return 2
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
