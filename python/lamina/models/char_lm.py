"""A character-level language model: Embedding -> multi-layer LSTM -> Linear, trained with
truncated backpropagation through time (the hidden state is carried, detached, from one chunk of
``seq_len`` characters to the next), gradient clipping and Adam; evaluated in bits per character
on a held-out tail of the corpus; sampled with a temperature.

Run it (the corpus is fetched once, see ``lamina.datasets.text``)::

    python -m lamina.models.char_lm --corpus shakespeare --minutes 10 --sample 400

>>> import lamina
>>> from lamina.models.char_lm import CharLM, Vocab, sample
>>> vocab = Vocab.from_text("hello world")
>>> model = CharLM(len(vocab), embed=8, hidden=16)
>>> logits, state = model(lamina.tensor(vocab.encode("hello")).reshape(5, 1))
>>> logits.shape
lamina.Size([5, 1, 8])
>>> len(sample(model, vocab, "he", 10, temperature=0.8, seed=1))
12
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Iterator, Sequence

import numpy as np

from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..nn import functional as F
from ..tensor import Tensor

__all__ = ["Vocab", "CharLM", "batchify", "bptt_batches", "bits_per_char", "evaluate", "train_steps",
           "sample", "main"]

LN2 = math.log(2.0)


class Vocab:
    """The characters of a corpus, sorted, and their ids (``itos[i]`` is the character of id i).

    >>> v = Vocab.from_text("abca")
    >>> v.itos, v.encode("cab").tolist(), v.decode([2, 0])
    (['a', 'b', 'c'], [2, 0, 1], 'ca')
    """

    def __init__(self, chars: Sequence[str]) -> None:
        self.itos = sorted(set(chars))
        if not self.itos:
            raise ValueError("lamina.models.char_lm.Vocab: the vocabulary is empty (empty text?)")
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        return cls(list(set(text)))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        """int64 ids of ``text``; raises ValueError naming the first character not in the vocabulary."""
        try:
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as e:
            raise ValueError(f"lamina.models.char_lm.Vocab: character {e.args[0]!r} is not in the "
                             f"vocabulary of {len(self)} characters") from None

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] for i in ids)

    def state_dict(self) -> dict:
        return {"itos": "".join(self.itos)}


class CharLM(nn.Module):
    """Embedding ``(vocab_size, embed)`` -> ``num_layers`` LSTM of ``hidden`` units (dropout between
    layers and before the output layer) -> Linear ``(hidden, vocab_size)``.

    ``forward(x, state=None)`` takes time-major int64 ids ``x (T, B)`` and the LSTM state
    ``(h, c)`` (each ``(num_layers, B, hidden)``, zeros when None) and returns logits
    ``(T, B, vocab_size)`` and the new state.
    """

    def __init__(self, vocab_size: int, embed: int = 64, hidden: int = 512, num_layers: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.vocab_size, self.embed_size, self.hidden_size = vocab_size, embed, hidden
        self.num_layers = num_layers
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: Tensor, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(self.drop(out)), state


def bits_per_char(nats: float) -> float:
    """Mean cross-entropy in nats per character -> bits per character (``nats / ln 2``)."""
    return nats / LN2


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Cuts ``ids`` into ``batch_size`` contiguous streams laid out time-major ``(L, batch_size)``:
    column b continues where it left off from one chunk to the next (the tail that does not fill a
    row is dropped)."""
    L = len(ids) // batch_size
    if L < 2:
        raise ValueError(f"lamina.models.char_lm: {len(ids)} characters are too few for batch size "
                         f"{batch_size} (each stream needs at least 2)")
    return np.ascontiguousarray(ids[: L * batch_size].reshape(batch_size, L).T)


def bptt_batches(data: np.ndarray, seq_len: int, offset: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
    """Chunks ``(x, y)`` of ``data (L, B)``: ``x = data[i:i+T]``, ``y = data[i+1:i+1+T]`` for
    ``i = offset, offset + seq_len, ...`` (the last chunk may be shorter)."""
    from ..tensor import tensor as make_tensor

    L = data.shape[0]
    for i in range(offset, L - 1, seq_len):
        n = min(seq_len, L - 1 - i)
        yield make_tensor(data[i:i + n]), make_tensor(data[i + 1:i + 1 + n])


def _detach(state):
    return None if state is None else tuple(s.detach() for s in state)


def _loss(model: CharLM, x: Tensor, y: Tensor, state, reduction: str = "mean"):
    logits, state = model(x, state)
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction=reduction), state


def evaluate(model: CharLM, ids: np.ndarray, batch_size: int = 32, seq_len: int = 128) -> float:
    """Bits per character of ``model`` predicting each character of ``ids`` from the ones before
    it (in ``batch_size`` streams, state carried across chunks of ``seq_len``)."""
    was_training = model.training
    model.eval()
    batch_size = max(1, min(batch_size, (len(ids) - 1) // 2))
    data = batchify(ids, batch_size)
    total, count, state = 0.0, 0, None
    with no_grad():
        for x, y in bptt_batches(data, seq_len):
            loss, state = _loss(model, x, y, state, reduction="sum")
            total += float(loss.item())
            count += y.numel()
    model.train(was_training)
    return bits_per_char(total / count)


def train_steps(model: CharLM, data: np.ndarray, optimizer, seq_len: int, clip: float = 5.0,
                max_steps: int | None = None, deadline: float | None = None, offset: int = 0,
                log=None) -> tuple[int, float]:
    """One pass of truncated BPTT over ``data (L, B)`` (or until ``max_steps`` / the
    ``time.perf_counter()`` ``deadline``): returns (steps taken, mean training loss in nats)."""
    from ..nn.utils import clip_grad_norm_

    model.train()
    state, steps, total = None, 0, 0.0
    for x, y in bptt_batches(data, seq_len, offset):
        if (max_steps is not None and steps >= max_steps) or (deadline is not None and time.perf_counter() >= deadline):
            break
        loss, state = _loss(model, x, y, _detach(state))
        optimizer.zero_grad()
        loss.backward()
        if clip:
            clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        steps += 1
        value = float(loss.item())
        total += value
        if log is not None:
            log(steps, value, y.numel())
    return steps, total / max(steps, 1)


def sample(model, vocab: Vocab, prime: str, length: int, temperature: float = 1.0, seed: int | None = None) -> str:
    """``prime`` followed by ``length`` characters drawn one at a time from
    ``softmax(logits / temperature)`` (``temperature == 0``: the most likely character). The same
    ``seed`` gives the same text. ``model(x (T, B), state)`` must return ``(logits (T, B, V), state)``."""
    from ..tensor import tensor as make_tensor

    if temperature < 0:
        raise ValueError(f"lamina.models.char_lm.sample: temperature must be >= 0, got {temperature}")
    if not prime:
        raise ValueError("lamina.models.char_lm.sample: 'prime' must hold at least one character")
    rng = np.random.default_rng(seed)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    out = list(prime)
    with no_grad():
        ids = vocab.encode(prime)
        logits, state = model(make_tensor(ids.reshape(-1, 1)), None)
        for _ in range(length):
            z = logits.detach().numpy()[-1, 0].astype(np.float64)
            if temperature == 0:
                nxt = int(np.argmax(z))
            else:
                z = z / temperature
                p = np.exp(z - z.max())
                p /= p.sum()
                nxt = int(rng.choice(len(p), p=p))
            out.append(vocab.itos[nxt])
            logits, state = model(make_tensor(np.array([[nxt]], dtype=np.int64)), state)
    if hasattr(model, "train"):
        model.train(was_training)
    return "".join(out)


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m lamina.models.char_lm",
                                description="Train a character-level LSTM language model; report validation "
                                            "bits per character; sample from it.")
    p.add_argument("--corpus", choices=["shakespeare", "pydoc"], default="shakespeare")
    p.add_argument("--cache-dir", default=None, help="corpus cache (default $LAMINA_DATA or ~/.cache/lamina)")
    p.add_argument("--minutes", type=float, default=10.0, help="training time budget (wall clock)")
    p.add_argument("--epochs", type=int, default=0, help="stop after this many passes (0: time budget only)")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--clip", type=float, default=5.0, help="max gradient norm (0: no clipping)")
    p.add_argument("--lr-final", type=float, default=0.1,
                   help="the learning rate decays linearly to this fraction of --lr over the time budget "
                        "(or the --epochs when there is no time budget); 1: constant")
    p.add_argument("--val-fraction", type=float, default=0.02, help="held-out tail of the corpus")
    p.add_argument("--eval-every", type=float, default=2.0, help="minutes between validation passes")
    p.add_argument("--eval-chars", type=int, default=20000,
                   help="characters of the held-out tail used by the periodic validation passes (the final "
                        "one uses all)")
    p.add_argument("--sample", type=int, default=300, help="characters to sample at the end (0: none)")
    p.add_argument("--prime", default="\n")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: lamina's default)")
    p.add_argument("--log-every", type=int, default=50, help="steps between progress lines")
    a = p.parse_args(argv)
    for name in ("seq_len", "batch_size", "embed", "hidden", "layers"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if not 0 < a.lr_final <= 1:
        p.error("--lr-final must be in (0, 1]")
    if not 0 < a.val_fraction < 1:
        p.error("--val-fraction must be in (0, 1)")
    if a.minutes <= 0 and a.epochs <= 0:
        p.error("give --minutes > 0 or --epochs > 0")
    return a


def main(argv: Sequence[str] | None = None) -> int:
    """The ``char_lm`` command: train, report validation bits per character, sample."""
    import lamina
    from ..datasets.text import text_corpus

    a = _parse(list(sys.argv[1:] if argv is None else argv))
    if a.threads:
        lamina.set_num_threads(a.threads)
    lamina.manual_seed(a.seed)
    text = text_corpus(a.corpus, a.cache_dir)
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    n_val = max(int(len(ids) * a.val_fraction), a.seq_len + 2)
    train_ids, val_ids = ids[:-n_val], ids[-n_val:]
    data = batchify(train_ids, a.batch_size)
    model = CharLM(len(vocab), embed=a.embed, hidden=a.hidden, num_layers=a.layers, dropout=a.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    opt = optim.Adam(model.parameters(), lr=a.lr)
    total_steps = a.epochs * ((data.shape[0] - 2) // a.seq_len + 1) if a.epochs else 0
    print(f"char_lm: corpus {a.corpus}: {len(text):,} characters, vocabulary {len(vocab)}; train {len(train_ids):,}, "
          f"validation {len(val_ids):,} (the tail); model embed {a.embed}, {a.layers}x LSTM {a.hidden}, "
          f"{n_params:,} parameters; batch {a.batch_size} x seq {a.seq_len}, "
          f"Adam lr {a.lr} (decaying to {a.lr * a.lr_final:g}), clip {a.clip}; "
          f"{lamina.get_num_threads()} threads", flush=True)

    start = time.perf_counter()
    deadline = start + a.minutes * 60 if a.minutes > 0 else None
    next_eval = start + a.eval_every * 60
    stats = {"steps": 0, "chars": 0, "loss": 0.0, "n": 0, "t": start}
    eval_time = [0.0]

    def log(step, loss, chars):
        nonlocal next_eval
        stats["steps"] += 1
        stats["chars"] += chars
        stats["loss"] += loss
        stats["n"] += 1
        now = time.perf_counter()
        # linear decay of the learning rate over the budget (time, or steps of --epochs)
        done = (now - start) / (a.minutes * 60) if deadline is not None else stats["steps"] / max(total_steps, 1)
        for group in opt.param_groups:
            group["lr"] = a.lr * (1 - (1 - a.lr_final) * min(done, 1.0))
        if stats["steps"] % a.log_every == 0:
            rate = stats["chars"] / max(now - start - eval_time[0], 1e-9)
            train_bpc = bits_per_char(stats["loss"] / stats["n"])
            print(f"  step {stats['steps']:6d}  {(now - start) / 60:5.1f} min  train {train_bpc:.3f} bpc  "
                  f"{rate:,.0f} chars/s", flush=True)
            stats["loss"], stats["n"] = 0.0, 0
        if a.eval_every > 0 and now >= next_eval and (deadline is None or now < deadline):
            t0 = time.perf_counter()
            bpc = evaluate(model, val_ids[: a.eval_chars + 1], a.batch_size, a.seq_len)
            dt = time.perf_counter() - t0
            eval_time[0] += dt
            print(f"  validation (first {min(a.eval_chars, len(val_ids) - 1):,} chars of the tail): {bpc:.3f} bpc "
                  f"({dt:.1f} s)", flush=True)
            model.train()
            next_eval = time.perf_counter() + a.eval_every * 60

    epoch = 0
    while True:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        if a.epochs and epoch >= a.epochs:
            break
        offset = (epoch * 17) % a.seq_len  # shift the chunk boundaries from one pass to the next
        steps, mean = train_steps(model, data, opt, a.seq_len, a.clip, deadline=deadline, offset=offset, log=log)
        epoch += 1
        print(f"  pass {epoch} done: {steps} steps, mean train {bits_per_char(mean):.3f} bpc", flush=True)
    elapsed = time.perf_counter() - start
    t0 = time.perf_counter()
    bpc = evaluate(model, val_ids, a.batch_size, a.seq_len)
    print(f"char_lm: trained {stats['steps']} steps ({stats['chars']:,} characters, {epoch} pass(es) started) in "
          f"{elapsed / 60:.1f} min; validation {bpc:.3f} bits per character on the held-out {len(val_ids):,} "
          f"characters ({time.perf_counter() - t0:.1f} s to evaluate)", flush=True)
    if a.sample > 0:
        print("sample:", flush=True)
        print(sample(model, vocab, a.prime, a.sample, a.temperature, a.seed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
