"""``lamina study autoencoder``: a deep autoencoder against PCA with the same code size.

Hinton and Salakhutdinov ("Reducing the dimensionality of data with neural networks", Science
2006) pretrained a 784-1000-500-250-30 deep belief net whose top RBM has linear (Gaussian)
hidden units, unrolled it into an encoder and a mirrored decoder, fine-tuned the whole
autoencoder with backpropagation, and reported an average squared reconstruction error per test
image of 3.00 against 13.87 for 30-component PCA. This study repeats it:

1. **compression**: the deep autoencoder (``--pretrain dbn``: unrolled from a pretrained DBN,
   ``lamina.pretrain.dbn``; ``--pretrain none``: random initialisation, the baseline) fine-tuned
   with Adam on the pixel cross-entropy; test squared error (mean over test images of the error
   summed over pixels) against PCA with ``--code`` components fitted on the training set, and
   the ratio (``--baseline`` adds the randomly initialised autoencoder trained the same way);
2. **anomaly detection**: an autoencoder of the same shape trained (without pretraining) on
   every digit except ``--anomaly-class``; every test image is scored by its reconstruction
   error; the unseen class is the positive class; ROC-AUC, next to PCA's error as the score;
3. **generation**: with DBN pretraining, samples from the DBN (Gibbs sampling in its top RBM,
   then a down-pass).

Writes ``results.json``, ``autoencoder.safetensors`` (the fine-tuned weights; load them into
``DeepAutoencoder(sizes)``), ``reconstructions.png`` (rows: test originals, autoencoder, PCA),
``filters.png`` (first-layer weights of the encoder as images), ``samples.png`` (DBN samples,
with ``--pretrain dbn``) and ``curves.png`` (reconstruction error against epoch, with PCA's as a
line; needs matplotlib).

    lamina study autoencoder --dataset digits --quick    # seconds
    lamina study autoencoder --dataset mnist --threads 2 # the full comparison (tens of minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from .._argtypes import nonneg_int as _nonneg_int
from .._argtypes import positive_int as _pos_int
from . import StudyError, format_table, load_dataset, write_json

__all__ = ["add_arguments", "run"]

# (dataset, quick) -> hidden sizes (code appended), default code size, RBM epochs per layer, fine-tuning
# epochs, anomaly-model epochs, batch size, training images used (None: all), Adam learning rate
_CONFIG: dict[tuple[str, bool], dict[str, Any]] = {
    ("mnist", False): {"hidden": [1000, 500, 250], "code": 30, "pretrain_epochs": 10, "epochs": 30,
                       "anomaly_epochs": 5, "batch_size": 100, "train_size": None, "lr": 1e-3},
    ("mnist", True): {"hidden": [1000, 500, 250], "code": 30, "pretrain_epochs": 1, "epochs": 2,
                      "anomaly_epochs": 1, "batch_size": 100, "train_size": 6000, "lr": 1e-3},
    ("digits", False): {"hidden": [128, 64, 32], "code": 8, "pretrain_epochs": 20, "epochs": 200,
                        "anomaly_epochs": 100, "batch_size": 32, "train_size": None, "lr": 1e-3},
    ("digits", True): {"hidden": [128, 64, 32], "code": 8, "pretrain_epochs": 5, "epochs": 60,
                       "anomaly_epochs": 40, "batch_size": 32, "train_size": None, "lr": 1e-2},
}
RBM_LR = 0.1           # CD-1 for the Bernoulli-hidden RBMs (Hinton and Salakhutdinov)
RBM_LR_LINEAR = 0.001  # ... and for the top RBM with linear hidden units






def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="mnist", help="mnist (default; the full comparison) or digits (seconds)")
    p.add_argument("--quick", action="store_true",
                   help="fewer epochs (mnist: also 6,000 training images); digits --quick takes seconds")
    p.add_argument("--code", type=_pos_int, default=None, help="code size, and PCA's components (default: 30 on "
                                                               "mnist, 8 on digits)")
    p.add_argument("--hidden", default=None, help="comma-separated hidden sizes of the encoder below the code "
                                                  "(default: 1000,500,250 on mnist, 128,64,32 on digits)")
    p.add_argument("--pretrain", default="dbn", choices=("dbn", "none"),
                   help="dbn: unroll a pretrained DBN (default); none: random initialisation (the baseline)")
    p.add_argument("--baseline", action="store_true",
                   help="with --pretrain dbn, also fine-tune the same autoencoder from random initialisation")
    p.add_argument("--pretrain-epochs", type=_pos_int, default=None, help="CD-1 epochs per RBM")
    p.add_argument("--epochs", type=_nonneg_int, default=None, help="fine-tuning epochs of the autoencoder")
    p.add_argument("--anomaly-epochs", type=_nonneg_int, default=None,
                   help="training epochs of the anomaly model (0 skips anomaly detection)")
    p.add_argument("--anomaly-class", type=int, default=0, help="digit held out of training and scored as the "
                                                                "anomaly (default 0)")
    p.add_argument("--batch-size", type=_pos_int, default=None, help="default: 100 on mnist, 32 on digits")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate of fine-tuning and of the anomaly "
                                                          "model (default 0.001; 0.01 with digits --quick)")
    p.add_argument("--sample-steps", type=_nonneg_int, default=200,
                   help="Gibbs steps in the top RBM per DBN sample (default 200)")
    p.add_argument("--out", default=None, help="output directory (default runs/study-autoencoder)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling and sampling")
    p.add_argument("--threads", type=_pos_int, default=None, help="CPU threads (default: 1 on digits, else all)")
    p.add_argument("--data-root", default=None, help="where to look for dataset files (also $LAMINA_DATA)")


def _hidden_sizes(text: str | None, default: list[int]) -> list[int]:
    if text is None:
        return list(default)
    try:
        sizes = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(s <= 0 for s in sizes):
        raise StudyError(f"--hidden must be comma-separated positive integers such as 1000,500,250, got {text!r}")
    return sizes


def _one_per_class(y: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` test images of each class, class by class."""
    idx = [np.flatnonzero(y == c)[:per_class] for c in np.unique(y)]
    return np.stack(idx, axis=1).reshape(-1) if all(len(i) == per_class for i in idx) else np.arange(
        min(len(y), 10 * per_class))


def run(args) -> int:
    import lamina

    from .. import viz
    from ..pretrain.autoencoder import (DeepAutoencoder, anomaly_scores, pca_reconstruct,
                                        pca_reconstruction_error, roc_auc)

    ds = str(args.dataset).strip().lower()
    data = load_dataset(ds, getattr(args, "data_root", None), study="autoencoder")
    cfg = dict(_CONFIG[(ds, bool(args.quick))])
    for k in ("code", "pretrain_epochs", "epochs", "anomaly_epochs", "batch_size", "lr"):
        v = getattr(args, k, None)
        if v is not None:
            cfg[k] = v
    cfg["hidden"] = _hidden_sizes(getattr(args, "hidden", None), cfg["hidden"])
    lr = float(cfg["lr"])
    if not np.isfinite(lr) or lr <= 0:
        raise StudyError(f"--lr must be a positive number, got {lr!r}")
    threads = args.threads or (1 if ds == "digits" else None)
    if threads:
        lamina.set_num_threads(threads)
    out = args.out or os.path.join("runs", "study-autoencoder")
    os.makedirs(out, exist_ok=True)

    (x_tr, y_tr), (x_te, y_te) = data
    img_shape = x_tr.shape[2:]
    x_tr = x_tr.reshape(len(x_tr), -1)
    x_te = x_te.reshape(len(x_te), -1)
    if cfg["train_size"] is not None and cfg["train_size"] < len(x_tr):
        idx = np.sort(np.random.default_rng(args.seed).permutation(len(x_tr))[:cfg["train_size"]])
        x_tr, y_tr = x_tr[idx], y_tr[idx]
    n_in = x_tr.shape[1]
    code = cfg["code"]
    if code > min(x_tr.shape):
        raise StudyError(f"--code {code} is larger than the data allow for PCA (at most {min(x_tr.shape)})")
    sizes = [n_in] + cfg["hidden"] + [code]
    held = args.anomaly_class
    if cfg["anomaly_epochs"] and held not in set(np.unique(y_tr).tolist()):
        raise StudyError(f"--anomaly-class must be one of the dataset's classes {np.unique(y_tr).tolist()}, "
                         f"got {held}")
    bs = cfg["batch_size"]
    init_text = (f"DBN pretraining, {cfg['pretrain_epochs']} CD-1 epochs per RBM" if args.pretrain == "dbn"
                 else "random initialisation")
    print(f"lamina study autoencoder: {ds}{' (quick)' if args.quick else ''}, {len(x_tr)} training and "
          f"{len(x_te)} test images; autoencoder {'-'.join(map(str, sizes))} (linear code), {init_text}; "
          f"fine-tuning {cfg['epochs']} epochs, Adam lr {lr:g}, batch {bs}; "
          f"{lamina.get_num_threads()} thread(s); output {out}", flush=True)
    results: dict[str, Any] = {"study": "autoencoder", "dataset": ds, "quick": bool(args.quick), "sizes": sizes,
                               "pretrain": args.pretrain, "config": cfg, "lr": lr, "seed": args.seed,
                               "threads": lamina.get_num_threads(), "train_size": len(x_tr),
                               "test_size": len(x_te)}
    t_start = time.perf_counter()

    # ------------------------------------------------------------ PCA
    t0 = time.perf_counter()
    pca_err = pca_reconstruction_error(x_tr, x_te, code)
    results["pca"] = {"n_components": code, "test_error": pca_err, "seconds": time.perf_counter() - t0}
    print(f"PCA ({code} components): test squared error {pca_err:.3f}", flush=True)

    # ------------------------------------------------------------ deep autoencoder
    lamina.manual_seed(args.seed)
    dbn = None
    t0 = time.perf_counter()
    if args.pretrain == "dbn":
        from ..pretrain.dbn import DBN

        dbn = DBN(sizes, visible="bernoulli", top_hidden="gaussian")
        n_rbm = len(dbn.rbms)
        layer_kwargs = [{"lr": RBM_LR_LINEAR if i == n_rbm - 1 else RBM_LR} for i in range(n_rbm)]
        print(f"pretraining the DBN ({n_rbm} RBMs; lr {RBM_LR:g}, linear top {RBM_LR_LINEAR:g})", flush=True)
        pre = dbn.pretrain(x_tr, epochs=cfg["pretrain_epochs"], batch_size=bs, layer_kwargs=layer_kwargs,
                           seed=args.seed, verbose=False)
        for rbm, h in zip(dbn.rbms, pre):
            print(f"  RBM {rbm.n_visible}-{rbm.n_hidden}: reconstruction error {h[0]:.3f} -> {h[-1]:.3f}",
                  flush=True)
        ae = DeepAutoencoder.from_dbn(dbn)
        results["pretrain_history"] = pre
    else:
        ae = DeepAutoencoder.from_sizes(sizes)
    results["pretrain_seconds"] = time.perf_counter() - t0
    before = ae.reconstruction_error(x_te)
    print(f"autoencoder before fine-tuning: test squared error {before:.3f}", flush=True)
    t0 = time.perf_counter()
    hist = ae.fit(x_tr, epochs=cfg["epochs"], batch_size=bs, lr=lr, seed=args.seed, eval_data=x_te,
                  verbose=max(1, cfg["epochs"] // 20))
    ae_err = ae.reconstruction_error(x_te)
    ratio = ae_err / pca_err if pca_err > 0 else float("nan")
    results["autoencoder"] = {"test_error_before_finetuning": before, "test_error": ae_err,
                              "train_history": hist, "test_history": ae.eval_history,
                              "finetune_seconds": time.perf_counter() - t0, "ratio_to_pca": ratio}

    baseline = None
    if getattr(args, "baseline", False) and args.pretrain == "dbn":
        t0 = time.perf_counter()
        lamina.manual_seed(args.seed)
        base = DeepAutoencoder.from_sizes(sizes)
        print("baseline: the same autoencoder from random initialisation", flush=True)
        bh = base.fit(x_tr, epochs=cfg["epochs"], batch_size=bs, lr=lr, seed=args.seed, eval_data=x_te,
                      verbose=max(1, cfg["epochs"] // 20))
        b_err = base.reconstruction_error(x_te)
        baseline = {"test_error": b_err, "train_history": bh, "test_history": base.eval_history,
                    "finetune_seconds": time.perf_counter() - t0, "ratio_to_pca": b_err / pca_err}
        results["baseline"] = baseline

    # ------------------------------------------------------------ anomaly detection
    anomaly = None
    if cfg["anomaly_epochs"]:
        t0 = time.perf_counter()
        seen = y_tr != held
        lamina.manual_seed(args.seed + 1)
        an = DeepAutoencoder.from_sizes(sizes)
        an.fit(x_tr[seen], epochs=cfg["anomaly_epochs"], batch_size=bs, lr=lr, seed=args.seed)
        positive = y_te == held
        auc = roc_auc(anomaly_scores(an, x_te), positive)
        pca_scores = ((pca_reconstruct(x_tr[seen], x_te, code) - x_te) ** 2).sum(axis=1)
        auc_pca = roc_auc(pca_scores, positive)
        anomaly = {"held_out_class": held, "epochs": cfg["anomaly_epochs"], "roc_auc": auc, "roc_auc_pca": auc_pca,
                   "positives": int(positive.sum()), "negatives": int((~positive).sum()),
                   "seconds": time.perf_counter() - t0}
        results["anomaly"] = anomaly

    # ------------------------------------------------------------ table
    label = "deep autoencoder (" + ("DBN-pretrained" if args.pretrain == "dbn" else "random init") + ")"
    rows = [[label, "-".join(map(str, sizes)), f"{ae_err:.3f}", f"{ratio:.3f}",
             f"{anomaly['roc_auc']:.3f}" if anomaly else "-"],
            [f"PCA ({code} components)", f"{n_in}-{code}", f"{pca_err:.3f}", "1.000",
             f"{anomaly['roc_auc_pca']:.3f}" if anomaly else "-"]]
    if baseline is not None:
        rows.insert(1, ["deep autoencoder (random init)", "-".join(map(str, sizes)), f"{baseline['test_error']:.3f}",
                        f"{baseline['ratio_to_pca']:.3f}", "-"])
    auc_head = f"ROC-AUC (class {held} unseen)" if anomaly else "ROC-AUC"
    print()
    print(format_table(["model", "sizes", "test squared error", "ratio to PCA", auc_head], rows))
    bar = ae_err <= 0.5 * pca_err
    print(f"\nautoencoder error / PCA error = {ratio:.3f} ({'at most' if bar else 'above'} one half)")
    results["autoencoder_at_most_half_of_pca"] = bool(bar)

    # ------------------------------------------------------------ pictures
    pics = []
    sel = _one_per_class(y_te, 2)
    orig = x_te[sel]
    rec_ae = ae.reconstruct(orig)
    rec_pca = np.clip(pca_reconstruct(x_tr, orig, code), 0.0, 1.0)
    grid = np.concatenate([orig, rec_ae, rec_pca]).reshape(-1, *img_shape)
    scale = 2 if img_shape[0] >= 20 else 4
    pics.append(viz.save_image_grid(os.path.join(out, "reconstructions.png"), grid, nrow=len(sel), normalize=None,
                                    scale=scale))
    w = ae.encoder[0].weight.detach().numpy()[:100].reshape(-1, *img_shape)
    pics.append(viz.save_image_grid(os.path.join(out, "filters.png"), w, nrow=10, normalize="each", scale=scale))
    if dbn is not None and args.sample_steps is not None:
        samples = dbn.sample(40, gibbs_steps=args.sample_steps, seed=args.seed)
        pics.append(viz.save_image_grid(os.path.join(out, "samples.png"), samples.reshape(-1, *img_shape), nrow=10,
                                        normalize=None, scale=scale))
        results["samples"] = {"n": 40, "gibbs_steps": args.sample_steps}
    epochs_axis = list(range(1, len(hist) + 1))
    if epochs_axis:
        curves = {"autoencoder (train)": (epochs_axis, hist), "autoencoder (test)": (epochs_axis, ae.eval_history),
                  f"PCA {code} (test)": (epochs_axis, [pca_err] * len(epochs_axis))}
        if baseline is not None:
            curves["random init (test)"] = (epochs_axis, baseline["test_history"])
        if viz.plot_lines(os.path.join(out, "curves.png"), curves, title=f"{ds}: reconstruction error",
                          xlabel="fine-tuning epoch", ylabel="squared error per image", logy=True):
            pics.append(os.path.join(out, "curves.png"))
    from .. import io

    io.save(ae.state_dict(), os.path.join(out, "autoencoder.safetensors"),
            metadata={"sizes": ",".join(map(str, sizes)), "pretrain": args.pretrain})
    results["weights"] = "autoencoder.safetensors"
    results["pictures"] = [os.path.basename(p) for p in pics]
    results["seconds"] = time.perf_counter() - t_start
    write_json(os.path.join(out, "results.json"), results)
    print(f"wrote {os.path.join(out, 'results.json')} and {', '.join(results['pictures'])} "
          f"({results['seconds']:.1f} s)")
    return 0
