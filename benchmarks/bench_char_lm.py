"""Character language model on the Census first names: our minibatch training vs a per-example loop.

Run from the repository root (one BLAS thread unless you set OPENBLAS_NUM_THREADS yourself):

    .venv/bin/python benchmarks/bench_char_lm.py              # race to the bigram + long run
    .venv/bin/python benchmarks/bench_char_lm.py --long-steps 0   # the race only (~1 min)

Both trainers fit the same model (a tanh RNN with ``--hidden`` units and a softmax over the 28
ids of the names vocabulary) on the same training split (``utils.data.load_names``) and are
scored on the same held-out names, in nats per character (every letter and each end mark):

- **ours**: ``utils.lm.train_step``, minibatches of ``--batch`` padded names with the mask
  (``x<1> = 0``, ``x<t> = y<t-1>``), the whole batch in one matmul per step, Adam, gradients
  clipped by global norm 5. Scored with ``utils.lm.batch_nats_per_token``.
- **per-example**: in the style of Karpathy's min-char-rnn (written here from its description,
  not copied): the training names joined into one stream with the end mark between them, one
  chunk of ``seq_length = 25`` characters per update, the hidden state carried from chunk to
  chunk, one column vector per step, Adagrad (learning rate 0.1), every gradient entry clipped
  into [-5, 5]. Scored on the held-out names as a stream in the same way (the first name is
  read after an end mark), which counts exactly the same tokens.

The clock runs only while training (scoring the held-out names is paused out of it). The race
reports the wall time until the held-out loss first goes below the add-k bigram baseline
(``utils.ngram``); the long run trains ours for ``--long-steps`` steps and reports when it
first reached ``--target`` nats/char (below the add-k trigram).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads its BLAS
os.environ.setdefault("OMP_NUM_THREADS", os.environ["OPENBLAS_NUM_THREADS"])

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import itertools

from utils import data, init, lm, ngram


def baselines(train, validation):
    """Held-out nats/char of the add-k bigram and trigram, k tuned on a slice of train."""
    out = {}
    for order, label in ((2, "bigram"), (3, "trigram")):
        k = ngram.tune_k(order, train, [0.01, 0.03, 0.1, 0.3, 1.0], np.random.default_rng(0))
        out[label] = ngram.nats_per_token(ngram.NGramModel(order, k).fit(train), validation)
    return out


class Clock:
    """Accumulates wall time between start() and stop() only."""

    def __init__(self):
        self.total, self._t0 = 0.0, None

    def start(self):
        self._t0 = time.perf_counter()

    def stop(self):
        self.total += time.perf_counter() - self._t0


def train_ours(train_ids, val_batch, n_x, args, target, max_steps, eval_every, seed=0):
    """Minibatch Adam; returns (seconds to reach target or None, steps, final nats, curve)."""
    rng = np.random.default_rng(seed)
    p = init.init_rnn_parameters(n_x, args.hidden, rng, n_y=n_x)
    state = lm.init_adam_state(p)
    clock, curve, tokens = Clock(), [], 0
    for step in range(1, max_steps + 1):
        clock.start()
        batch = [train_ids[i] for i in rng.integers(0, len(train_ids), args.batch)]
        _, p, state = lm.train_step(p, state, *lm.make_lm_batch(batch, n_x), learning_rate=0.01)
        clock.stop()
        tokens += sum(len(ids) for ids in batch)
        if step % eval_every == 0:
            nats = lm.batch_nats_per_token(p, *val_batch)
            curve.append((clock.total, step, tokens, nats))
            if nats <= target:
                return clock.total, step, tokens, nats, curve
    return None, max_steps, tokens, curve[-1][3], curve


class PerExampleRNN:
    """min-char-rnn style: column vectors, one 25-character chunk per update, Adagrad."""

    def __init__(self, n_x, n_a, rng, lr=0.1, clip=5.0):
        # min-char-rnn's initialisation: small Gaussian weights, zero biases
        shapes = {"Waa": (n_a, n_a), "Wax": (n_a, n_x), "ba": (n_a, 1), "Wya": (n_x, n_a)}
        self.p = {k: 0.01 * rng.standard_normal(s) for k, s in shapes.items()}
        self.p["ba"] = np.zeros((n_a, 1))
        self.p["by"] = np.zeros((n_x, 1))
        self.G = {k: np.zeros_like(v) for k, v in self.p.items()}  # Adagrad memory
        self.lr, self.clip, self.n_x = lr, clip, n_x

    def loss_and_grads(self, inputs, targets, a_prev):
        Waa, Wax, ba, Wya, by = (self.p[k] for k in lm.PARAMETER_NAMES)
        xs, hs, ps = {}, {-1: a_prev}, {}
        loss = 0.0
        for t, (i, j) in enumerate(zip(inputs, targets, strict=True)):
            xs[t] = np.zeros((self.n_x, 1))
            xs[t][i] = 1
            hs[t] = np.tanh(Waa @ hs[t - 1] + Wax @ xs[t] + ba)
            z = Wya @ hs[t] + by
            e = np.exp(z - z.max())
            ps[t] = e / e.sum()
            loss -= np.log(ps[t][j, 0])
        g = {k: np.zeros_like(v) for k, v in self.p.items()}
        da_next = np.zeros_like(a_prev)
        for t in reversed(range(len(inputs))):
            dz = ps[t].copy()
            dz[targets[t]] -= 1  # softmax + cross-entropy
            g["Wya"] += dz @ hs[t].T
            g["by"] += dz
            dpre = (Wya.T @ dz + da_next) * (1 - hs[t] ** 2)  # back through tanh
            g["Waa"] += dpre @ hs[t - 1].T
            g["Wax"] += dpre @ xs[t].T
            g["ba"] += dpre
            da_next = Waa.T @ dpre
        return loss, g, hs[len(inputs) - 1]

    def update(self, g):
        for k, W in self.p.items():
            dW = np.clip(g[k], -self.clip, self.clip)
            self.G[k] += dW * dW
            W -= self.lr * dW / np.sqrt(self.G[k] + 1e-8)

    def stream_nats(self, stream):
        """Nats per predicted token of a stream read from an end mark with a zero state."""
        Waa, Wax, ba, Wya, by = (self.p[k] for k in lm.PARAMETER_NAMES)
        a, total = np.zeros((Waa.shape[0], 1)), 0.0
        for i, j in itertools.pairwise(stream):
            a = np.tanh(Waa @ a + Wax[:, [i]] + ba)
            z = (Wya @ a + by)[:, 0]
            total -= z[j] - z.max() - np.log(np.exp(z - z.max()).sum())
        return total / (len(stream) - 1)


def train_per_example(train_stream, val_stream, n_x, args, target, max_updates, eval_every):
    rng = np.random.default_rng(0)
    model = PerExampleRNN(n_x, args.hidden, rng)
    clock, curve, pos = Clock(), [], 0
    a_prev = np.zeros((args.hidden, 1))
    L = 25
    for update in range(1, max_updates + 1):
        clock.start()
        if pos + L + 1 > len(train_stream):  # back to the start, fresh state
            pos, a_prev = 0, np.zeros((args.hidden, 1))
        chunk = train_stream[pos : pos + L + 1]
        _, g, a_prev = model.loss_and_grads(chunk[:-1], chunk[1:], a_prev)
        model.update(g)
        pos += L
        clock.stop()
        if update % eval_every == 0:
            nats = model.stream_nats(val_stream)
            curve.append((clock.total, update, update * L, nats))
            if nats <= target:
                return clock.total, update, update * L, nats, curve
    return None, max_updates, max_updates * L, curve[-1][3], curve


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--max-updates", type=int, default=20000, help="of the per-example loop")
    parser.add_argument("--long-steps", type=int, default=3000)
    parser.add_argument("--target", type=float, default=2.05)
    args = parser.parse_args()

    train, validation = data.load_names("train"), data.load_names("validation")
    vocab = data.Vocabulary.from_corpus([list(n) for n in train])
    n_x = len(vocab)
    train_ids = [vocab.encode(list(n)) for n in train]
    val_ids = [vocab.encode(list(n)) for n in validation]
    val_batch = lm.make_lm_batch(val_ids, n_x)
    eos = vocab.eos_id
    train_stream = [eos] + [i for ids in train_ids for i in ids]
    val_stream = [eos] + [i for ids in val_ids for i in ids]
    assert len(val_stream) - 1 == int(val_batch[2].sum())  # the same tokens are scored
    base = baselines(train, validation)

    print(
        f"# {platform.processor() or platform.machine()}, NumPy {np.__version__}, "
        f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, n_a={args.hidden}"
    )
    print(f"# held-out baselines: bigram {base['bigram']:.3f}, trigram {base['trigram']:.3f}")
    ours = train_ours(train_ids, val_batch, n_x, args, base["bigram"], 5000, eval_every=5)
    per = train_per_example(
        train_stream, val_stream, n_x, args, base["bigram"], args.max_updates, 50
    )
    print(
        "| trainer | time to beat the bigram (s) | updates | characters trained on | "
        "held-out nats/char |"
    )
    print("|---|---|---|---|---|")
    for label, (seconds, steps, tokens, nats, _) in (
        (f"ours, minibatch {args.batch}, Adam", ours),
        ("per-example, seq_length 25, Adagrad", per),
    ):
        shown = "not reached" if seconds is None else f"{seconds:.2f}"
        print(f"| {label} | {shown} | {steps} | {tokens:,} | {nats:.3f} |")
    if ours[0] and per[0]:
        print(f"\nspeed-up to the bigram: {per[0] / ours[0]:.1f}x")
    if args.long_steps:
        _, _, _, _, curve = train_ours(
            train_ids, val_batch, n_x, args, -1.0, args.long_steps, eval_every=50
        )
        reached = [(t, s, v) for t, s, _, v in curve if v <= args.target]
        best = min(curve, key=lambda c: c[3])
        print(
            f"\nlong run, ours: {args.long_steps} steps in {curve[-1][0]:.1f} s, "
            f"final {curve[-1][3]:.3f}, best {best[3]:.3f} at step {best[1]}"
        )
        if reached:
            t, s, v = reached[0]
            print(f"first <= {args.target}: {v:.3f} at step {s}, after {t:.1f} s of training")
        else:
            print(f"never reached {args.target} nats/char")


if __name__ == "__main__":
    main()
