"""A character (or word) language model built on the vanilla RNN: data, scoring, sampling, training.

The lecture's language model gives a sequence the probability

    P(y<1>, ..., y<T>) = prod_t P(y<t> | y<1>, ..., y<t-1>),

and the RNN computes every factor: at step t its softmax ``y_hat<t>`` is a distribution over the
next token given all the tokens before it, because its input at step t is the previous token,
``x<t> = y<t-1>`` (one-hot), with ``x<1> = 0`` (nothing has been read yet). A sequence of ids
ends with ``<EOS>`` (``Vocabulary.encode`` appends it), so the model also learns where to stop.

Reference functions (notebook 04's exercises have exactly these contracts):

- :func:`make_lm_batch`: ``(x, y, mask)`` of a batch of id sequences, inputs shifted by one step;
- :func:`sequence_log_prob`: ``log P(ids)`` in nats, one step at a time;
- :func:`nats_and_perplexity`: cross-entropy per token and perplexity of held-out sequences;
- :func:`sample` and :func:`greedy_decode`: generate a sequence until ``<EOS>`` or ``max_len``;
- :func:`train_step`: one Adam step on a padded minibatch, gradients clipped by global norm.

Training and evaluation helpers (not exercises): :func:`init_adam_state`,
:func:`loss_and_gradients`, :func:`batch_nats_per_token`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from utils.activations import softmax
from utils.kernels import rnn as fast_rnn
from utils.optim import clip_by_global_norm

__all__ = [
    "PARAMETER_NAMES",
    "batch_nats_per_token",
    "greedy_decode",
    "init_adam_state",
    "loss_and_gradients",
    "make_lm_batch",
    "nats_and_perplexity",
    "sample",
    "sequence_log_prob",
    "train_step",
]

PARAMETER_NAMES = ("Waa", "Wax", "ba", "Wya", "by")


def make_lm_batch(sequences: Sequence[Sequence[int]], n_x: int):
    """Inputs, targets and mask of a language-model batch.

    Arguments:
    - sequences: ``m`` lists of token ids, each ending with ``<EOS>``; lengths may differ.
    - n_x: vocabulary size.

    Returns ``(x, y, mask)``:
    - x (n_x, m, T): ``x[:, i, 0] = 0`` and ``x[:, i, t]`` = one-hot of ``sequences[i][t-1]``
      for ``1 <= t < len(sequences[i])``; all-zero columns on padding;
    - y (m, T) int64: ``y[i, t] = sequences[i][t]``, 0 on padding;
    - mask (m, T) bool: True at the real steps; ``T`` is the longest length.
    """
    if isinstance(n_x, bool) or not isinstance(n_x, int | np.integer) or n_x < 1:
        raise ValueError(f"n_x must be a positive integer (the vocabulary size), got {n_x!r}")
    if len(sequences) == 0:
        raise ValueError("sequences is empty; need at least one sequence")
    m, T = len(sequences), max(len(s) for s in sequences)
    y = np.zeros((m, T), dtype=np.int64)
    mask = np.zeros((m, T), dtype=bool)
    for i, ids in enumerate(sequences):
        ids = np.asarray(ids)
        if ids.ndim != 1 or len(ids) == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"sequences[{i}] must be a non-empty list of integer ids")
        if ids.min() < 0 or ids.max() >= n_x:
            raise ValueError(f"sequences[{i}] holds ids outside 0 .. n_x - 1 = {n_x - 1}")
        y[i, : len(ids)] = ids
        mask[i, : len(ids)] = True
    x = np.zeros((n_x, m, T))
    example, step = np.nonzero(mask[:, 1:])  # every real step after the first ...
    x[y[example, step], example, step + 1] = 1  # ... reads the token of the step before it
    return x, y, mask


def _step(parameters: Mapping, xt: np.ndarray, a_prev: np.ndarray):
    """One step of the model: the new state and the output scores z<t> = Wya a<t> + by."""
    a_next = np.tanh(parameters["Waa"] @ a_prev + parameters["Wax"] @ xt + parameters["ba"])
    return a_next, parameters["Wya"] @ a_next + parameters["by"]


def _check_ids(name: str, ids, n_x: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty 1-D list of integer ids, got {ids!r:.60}")
    if ids.min() < 0 or ids.max() >= n_x:
        raise ValueError(f"{name} holds ids outside 0 .. n_x - 1 = {n_x - 1}")
    return ids


def sequence_log_prob(parameters: Mapping, ids: Sequence[int]) -> float:
    """``log P(ids) = sum_t log y_hat<t>[ids[t]]`` in nats, for one sequence (ending with
    ``<EOS>``), running the tanh RNN from ``a<0> = 0`` with ``x<1> = 0`` and
    ``x<t> = one-hot(ids[t-1])``."""
    n_y, n_a = parameters["Wya"].shape
    n_x = parameters["Wax"].shape[1]
    ids = _check_ids("ids", ids, n_y)
    a, xt, total = np.zeros((n_a, 1)), np.zeros((n_x, 1)), 0.0
    for token in ids:
        a, z = _step(parameters, xt, a)
        total += float(z[token, 0] - _logsumexp(z[:, 0]))  # log softmax(z)[token]
        xt = np.zeros((n_x, 1))
        xt[token] = 1  # the next step reads this token
    return total


def nats_and_perplexity(parameters: Mapping, sequences: Sequence[Sequence[int]]):
    """``(nats per token, perplexity)`` of ``sequences``: the total ``-log P`` divided by the
    total number of predicted tokens (every ``<EOS>`` included), and ``exp`` of it."""
    if len(sequences) == 0:
        raise ValueError("sequences is empty; need at least one sequence")
    total = sum(sequence_log_prob(parameters, ids) for ids in sequences)
    nats = -total / sum(len(ids) for ids in sequences)
    return nats, math.exp(nats)


def _generate(parameters, vocab, max_len, choose):
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    n_x, n_a = parameters["Wax"].shape[1], parameters["Waa"].shape[0]
    a, xt, ids = np.zeros((n_a, 1)), np.zeros((n_x, 1)), []
    while len(ids) < max_len:
        a, z = _step(parameters, xt, a)
        token = choose(z[:, 0])
        ids.append(token)
        if token == vocab.eos_id:
            break
        xt = np.zeros((n_x, 1))
        xt[token] = 1  # feed the chosen token back in
    return ids


def sample(parameters, vocab, rng: np.random.Generator, temperature: float = 1.0, max_len=20):
    """Draw one sequence of ids from the model: at each step a token from
    ``softmax(z<t> / temperature)``, fed back as the next input, until ``<EOS>`` (kept, last)
    or ``max_len`` tokens. ``rng`` is the only source of randomness."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")

    def draw(z):
        p = softmax((z / temperature)[:, None])[:, 0]  # stable: subtracts the max
        return int(rng.choice(len(p), p=p))

    return _generate(parameters, vocab, max_len, draw)


def greedy_decode(parameters, vocab, max_len=20):
    """The most likely token at every step (``argmax z<t>``), fed back, until ``<EOS>`` or
    ``max_len`` tokens: the limit of :func:`sample` as the temperature goes to 0."""
    return _generate(parameters, vocab, max_len, lambda z: int(np.argmax(z)))


def _logsumexp(z: np.ndarray) -> float:
    top = float(np.max(z))
    return top + math.log(float(np.sum(np.exp(z - top))))


def init_adam_state(parameters: Mapping) -> dict:
    """Adam's state for ``parameters``: step count ``t = 0`` and zero moments ``m``, ``v``
    (dicts keyed by parameter name)."""
    return {
        "t": 0,
        "m": {name: np.zeros_like(parameters[name]) for name in PARAMETER_NAMES},
        "v": {name: np.zeros_like(parameters[name]) for name in PARAMETER_NAMES},
    }


def loss_and_gradients(parameters: Mapping, x, y, mask):
    """Masked loss (nats summed over time, averaged over the batch) and its gradients
    ``{"dWaa", "dWax", "dba", "dWya", "dby"}`` for an :func:`make_lm_batch` batch, from
    ``a<0> = 0``."""
    a0 = np.zeros((parameters["Waa"].shape[0], x.shape[1]), dtype=x.dtype)
    loss, _, cache = fast_rnn.rnn_model_forward(x, a0, parameters, y, mask)  # the fused kernel
    grads = fast_rnn.rnn_model_backward(cache)
    return float(loss), {"d" + name: grads["d" + name] for name in PARAMETER_NAMES}


def batch_nats_per_token(parameters: Mapping, x, y, mask) -> float:
    """Nats per real token of a batch (the loss divided by the mean number of real steps)."""
    loss, _ = loss_and_gradients(parameters, x, y, mask)
    return loss * x.shape[1] / float(np.sum(mask))


def train_step(
    parameters: Mapping,
    adam_state: Mapping,
    x,
    y,
    mask,
    learning_rate: float = 0.01,
    clip_norm: float = 5.0,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
):
    """One Adam step on a batch: returns ``(loss, new_parameters, new_adam_state)``.

    The gradients of :func:`loss_and_gradients` are clipped by global norm to ``clip_norm``,
    then, with ``t`` the new step count and ``g`` a clipped gradient::

        m = beta1 m + (1 - beta1) g        v = beta2 v + (1 - beta2) g**2
        W = W - learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    Neither ``parameters`` nor ``adam_state`` is modified.
    """
    loss, grads = loss_and_gradients(parameters, x, y, mask)
    grads, _ = clip_by_global_norm(grads, clip_norm)
    t = adam_state["t"] + 1
    new_parameters, new_m, new_v = {}, {}, {}
    for name in PARAMETER_NAMES:
        g = grads["d" + name]
        new_m[name] = beta1 * adam_state["m"][name] + (1 - beta1) * g  # running mean
        new_v[name] = beta2 * adam_state["v"][name] + (1 - beta2) * g * g  # of squares
        m_hat = new_m[name] / (1 - beta1**t)  # bias correction: m, v start at 0
        v_hat = new_v[name] / (1 - beta2**t)
        new_parameters[name] = parameters[name] - learning_rate * m_hat / (np.sqrt(v_hat) + eps)
    return loss, new_parameters, {"t": t, "m": new_m, "v": new_v}
