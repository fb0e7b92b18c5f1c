"""Checks for assignment 04 — the language model and sampling (on the exercise harness).

Contracts (identical to the references in :mod:`utils.lm`, which the checks call):

- ``make_lm_batch(sequences, n_x) -> (x, y, mask)``: inputs shifted by one step, ``x<1> = 0``;
- ``sequence_log_prob(parameters, ids) -> float``: ``log P(ids)`` in nats;
- ``nats_and_perplexity(parameters, sequences) -> (nats, perplexity)``;
- ``sample(parameters, vocab, rng, temperature=1.0, max_len=20) -> list of ids``;
- ``greedy_decode(parameters, vocab, max_len=20) -> list of ids``;
- ``train_step(parameters, adam_state, x, y, mask, learning_rate, clip_norm)
  -> (loss, new_parameters, new_adam_state)``.

Sampling is random, so ``sample`` is checked by invariants on every case and statistically in
its proofs: the frequencies of many draws against the model's exact probabilities (a
chi-square test at a false-alarm level of about 1e-6), x<1> = 0 (the likelihood of the draws
under a model that remembers its first input, against the same model started from <EOS>),
determinism given the generator, and the greedy limit at a low temperature; never against one
particular random sequence.

Every error raised inside a student's function is reported with the case it came from
(:func:`utils.exercises.harness.explain_or_wrap`).
"""

from __future__ import annotations

import math
import types

import numpy as np

from utils import data, lm, optim, rnn
from utils.activations import softmax
from utils.exercises.harness import (
    Case,
    Exercise,
    Mistake,
    Output,
    call_label,
    error_as_text,
    explain_or_wrap,
)

__all__ = [
    "random_lm_parameters",
]

ASSIGNMENT = 4
EOS = 1  # the id of <EOS> in every utils.data.Vocabulary
# Every graded function of this notebook must compute its answer itself. The training step
# may use lm.loss_and_gradients (and through it the library's model forward/backward).
FORBIDDEN_TRAINING = (
    "utils.lm.train_step",
    "utils.optim.Adam",
)
FORBIDDEN = (
    "utils.lm.make_lm_batch",
    "utils.lm.sequence_log_prob",
    "utils.lm.nats_and_perplexity",
    "utils.lm.sample",
    "utils.lm.greedy_decode",
    "utils.lm.train_step",
    "utils.lm.batch_nats_per_token",
    "utils.rnn.rnn_model_forward",
    "utils.kernels.rnn.rnn_model_forward",
    "utils.losses.cross_entropy",
    "utils.losses.softmax_cross_entropy",
    "utils.lm.loss_and_gradients",
    "utils.optim.Adam",
)
PARAMETER_SHAPES = {
    "Waa": "(n_a, n_a)",
    "Wax": "(n_a, n_x)",
    "ba": "(n_a, 1)",
    "Wya": "(n_y, n_a)",
    "by": "(n_y, 1)",
}


def random_lm_parameters(rng: np.random.Generator, n_x: int, n_a: int, scale: float = 1.0):
    """Parameters of a language model over ``n_x`` tokens (``n_y = n_x``) with every weight
    non-zero, so that each path of the computation changes the result."""

    def signed(shape, low, high):
        return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)

    return {
        "Waa": signed((n_a, n_a), 0.2, 0.8) / np.sqrt(n_a),
        "Wax": signed((n_a, n_x), 0.5, 1.5),
        "ba": signed((n_a, 1), 0.1, 0.5),
        "Wya": scale * signed((n_x, n_a), 0.5, 1.5),
        "by": scale * signed((n_x, 1), 0.2, 1.0),
    }


def _sizes(parameters, **more):
    n_a, n_x = parameters["Wax"].shape
    return {"n_a": n_a, "n_x": n_x, "n_y": parameters["Wya"].shape[0], **more}


def _random_ids(rng, length, n_x, eos=EOS):
    """``length - 1`` tokens other than <UNK> and <EOS>, then <EOS>."""
    return [int(v) for v in rng.integers(2, n_x, size=length - 1)] + [eos]


# --------------------------------------------------------------------------------------------
# Exercise 1 — make_lm_batch
# --------------------------------------------------------------------------------------------


def _batch_cases(rng, seed):
    n_x = 6 if seed == 0 else int(rng.integers(5, 12))
    lengths = [3, 1, 5] if seed == 0 else [int(v) for v in rng.integers(1, 9, size=4)]
    lengths[0] = max(lengths[0], 3)  # the first case tells a missing shift from x<1> = <EOS>
    batch = [_random_ids(rng, n, n_x) for n in lengths]
    edge = [n_x - 1, 2, n_x - 1, EOS]
    return [
        Case(
            "one name",
            {"sequences": [batch[0]], "n_x": n_x},
            {"n_x": n_x, "m": 1, "T": len(batch[0])},
        ),
        Case(
            "names of different lengths: padding",
            {"sequences": batch, "n_x": n_x},
            {"n_x": n_x, "m": len(batch), "T": max(lengths)},
        ),
        Case(
            "one name of one token, [<EOS>]: x<1> = 0",
            {"sequences": [[EOS]], "n_x": n_x},
            {"n_x": n_x, "m": 1, "T": 1},
        ),
        Case(
            "the last id n_x - 1",
            {"sequences": [edge, [EOS]], "n_x": n_x},
            {"n_x": n_x, "m": 2, "T": 4},
        ),
    ]


def _batch_reference(case):
    return lm.make_lm_batch(**case.args)


def _batch_variant(case, mistake):
    """The reference batch with one part made as the mistake makes it (by the library)."""
    sequences, n_x = case.args["sequences"], case.args["n_x"]
    x, y, mask = lm.make_lm_batch(sequences, n_x)
    T = x.shape[2]
    if mistake == "no shift":  # x<t> = one-hot of y<t> itself
        x = data.one_hot_batch(sequences, n_x, T)[0]
    elif mistake == "EOS first":
        x = x.copy()
        x[EOS, :, 0] = 1
    elif mistake == "next token":  # x<t> = one-hot of y<t+1>
        x = data.one_hot_batch([list(ids)[1:] for ids in sequences], n_x, T)[0]
    elif mistake == "EOS leaks":  # each name's <EOS> read at the step after it (padding)
        x = lm.make_lm_batch([list(ids) + [0] for ids in sequences], n_x)[0][:, :, :T]
    elif mistake == "padded x":  # the padding read as tokens too: sequences padded with id 0
        x = lm.make_lm_batch([list(ids) + [0] * (T - len(ids)) for ids in sequences], n_x)[0]
    elif mistake == "y padded with EOS":
        y = np.where(mask, y, EOS)
    return x, y, mask


def _check_mask(name, got, want, case):
    if not isinstance(got, np.ndarray) or got.dtype != bool:
        kind = getattr(got, "dtype", type(got).__name__)
        raise AssertionError(f"{name} should be a bool array (True at real steps), got {kind}")
    if got.shape != want.shape:
        raise AssertionError(f"{name} has shape {got.shape}, expected (m, T) = {want.shape}")
    if not np.array_equal(got, want):
        raise AssertionError(
            f"{name} is {got.astype(int).tolist()}, expected {want.astype(int).tolist()}: "
            "True exactly at the steps 0 .. len(sequence) - 1 of each sequence"
        )


MAKE_LM_BATCH = Exercise(
    name="make_lm_batch",
    assignment=ASSIGNMENT,
    number=1,
    arguments=("sequences", "n_x"),
    returns=(
        Output("x", shape="(n_x, m, T)", dtype="float"),
        Output("y", shape="(m, T)", dtype="int"),
        Output("mask", kind="custom", check=_check_mask),
    ),
    packing="tuple",
    reference=_batch_reference,
    cases=_batch_cases,
    mistakes=(
        Mistake(
            "x<t> must be the one-hot of the token *before* step t, y<t-1> (x<1> = 0): with "
            "x<t> = y<t> the model is shown the token it has to predict",
            lambda c: _batch_variant(c, "no shift"),
            outputs=("x",),
        ),
        Mistake(
            "x<1> is the zero vector (nothing has been read yet), not the one-hot of <EOS>",
            lambda c: _batch_variant(c, "EOS first"),
            outputs=("x",),
        ),
        Mistake(
            "the shift goes the wrong way: x<t> is the previous token y<t-1>, not the next one",
            lambda c: _batch_variant(c, "next token"),
            outputs=("x",),
        ),
        Mistake(
            "the <EOS> that ends a name is read at the padded step after it: <EOS> is only ever "
            "a target, and padded steps (mask False) are all-zero columns of x",
            lambda c: _batch_variant(c, "EOS leaks"),
            outputs=("x",),
        ),
        Mistake(
            "padded steps (mask False) must be all-zero columns of x: stop at each name's end",
            lambda c: _batch_variant(c, "padded x"),
            outputs=("x",),
        ),
        Mistake(
            "pad y with 0 after each name's <EOS> (the mask hides those steps)",
            lambda c: _batch_variant(c, "y padded with EOS"),
            outputs=("y",),
        ),
    ),
    forbidden=FORBIDDEN,
    shapes={"x": "(n_x, m, T)", "y": "(m, T)", "mask": "(m, T)"},
    index_hint="an index out of range: T is the longest name's length, x has n_x rows",
    doc="``make_lm_batch(sequences, n_x) -> (x, y, mask)`` with x<1> = 0, x<t> = y<t-1>.",
    explain=lambda case, error: explain_or_wrap(MAKE_LM_BATCH, case, error),
)


# --------------------------------------------------------------------------------------------
# Exercises 2 and 3 — scoring
# --------------------------------------------------------------------------------------------


def _log_prob_with_inputs(parameters, ids, x=None, mask=None):
    """log P(ids) by the library's masked loss of the one-sequence batch, with the inputs ``x``
    (default: the right ones) and the ``mask`` of the steps that count (default: all)."""
    right_x, y, right_mask = lm.make_lm_batch([ids], parameters["Wax"].shape[1])
    x = right_x if x is None else x
    return -lm.loss_and_gradients(parameters, x, y, right_mask if mask is None else mask)[0]


def _log_prob_variant(parameters, ids, mistake):
    """log P(ids) as the mistake computes it, from the reference with one input switched."""
    n_x = parameters["Wax"].shape[1]
    if mistake == "no shift":  # step t reads ids[t]
        return _log_prob_with_inputs(parameters, ids, x=data.one_hot_batch([ids], n_x)[0])
    if mistake == "EOS first":
        x = lm.make_lm_batch([ids], n_x)[0]
        x[EOS, 0, 0] = 1
        return _log_prob_with_inputs(parameters, ids, x=x)
    if mistake == "no EOS":  # the last step does not count
        return _log_prob_with_inputs(parameters, ids, mask=np.arange(len(ids))[None] < len(ids) - 1)
    if mistake == "state reset":  # a<t-1> = 0 at every step is the model with Waa = 0
        return lm.sequence_log_prob({**parameters, "Waa": 0 * parameters["Waa"]}, ids)
    raise ValueError(mistake)


def _log_prob_cases(rng, seed):
    n_x, n_a = (6, 4) if seed == 0 else (int(rng.integers(5, 10)), int(rng.integers(3, 8)))
    p = random_lm_parameters(rng, n_x, n_a)
    memoryless = {**p, "Waa": np.zeros_like(p["Waa"])}
    ids = _random_ids(rng, 5 if seed == 0 else int(rng.integers(3, 9)), n_x)
    return [
        Case("a name", {"parameters": p, "ids": ids}, _sizes(p)),
        Case(
            "Waa = 0: each step sees only the previous token",
            {"parameters": memoryless, "ids": ids},
            _sizes(p),
        ),
        Case(
            "ids = [<EOS>]: the first step only (x<1> = 0, a<0> = 0)",
            {"parameters": p, "ids": [EOS]},
            _sizes(p),
        ),
    ]


def _proof_long_sequence(call, rng):
    """400 tokens: a product of probabilities underflows to 0, a sum of logs does not."""
    n_x = 6
    p = random_lm_parameters(rng, n_x, 4)
    ids = _random_ids(rng, 400, n_x)
    case = Case("400 tokens", {"parameters": p, "ids": ids}, _sizes(p))
    got = call(case)
    label = call_label(SEQUENCE_LOG_PROB, case)
    want = lm.sequence_log_prob(p, ids)
    value = _as_float(got)
    if value is None:
        shown = f"an array of shape {got.shape}" if isinstance(got, np.ndarray) else repr(got)
        raise AssertionError(f"log_prob from {label} should be a float, got {shown:.100}")
    if not np.isfinite(value) or value == 0:
        raise AssertionError(
            f"log_prob from {label} is {value}, expected {want:.1f}: the product of many "
            "probabilities underflows to 0; add their logs instead"
        )
    if not math.isclose(value, want, rel_tol=1e-6):
        raise AssertionError(f"log_prob from {label} is {value:.6g}, expected {want:.6g}")


def _as_float(value):
    """``value`` as a Python float if the ordinary cases accept it as one (a float, a NumPy
    float, or a float array of one entry, as :class:`Output` ``"float"`` does); else None."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.ndim <= 2:
        value = value.reshape(())
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind == "f":
        return float(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return None


SEQUENCE_LOG_PROB = Exercise(
    name="sequence_log_prob",
    assignment=ASSIGNMENT,
    number=2,
    arguments=("parameters", "ids"),
    returns=(Output("log_prob", kind="float"),),
    reference=lambda c: lm.sequence_log_prob(**c.args),
    cases=_log_prob_cases,
    proofs=(_proof_long_sequence,),
    mistakes=(
        Mistake(
            "the input at step t must be the previous token ids[t-1] (x<1> = 0); reading ids[t] "
            "shows the model the token it is scored on",
            lambda c: _log_prob_variant(**c.args, mistake="no shift"),
        ),
        Mistake(
            "the <EOS> at the end is a token the model predicts too: include its log-probability",
            lambda c: _log_prob_variant(**c.args, mistake="no EOS"),
        ),
        Mistake(
            "carry the hidden state from step to step (a<t> feeds step t+1); it is not reset",
            lambda c: _log_prob_variant(**c.args, mistake="state reset"),
        ),
        Mistake(
            "x<1> is the zero vector, not the one-hot of <EOS>",
            lambda c: _log_prob_variant(**c.args, mistake="EOS first"),
        ),
        Mistake(
            "nats means the natural logarithm (np.log), not log2",
            lambda c: lm.sequence_log_prob(**c.args) / math.log(2),
        ),
        Mistake(
            "nats means the natural logarithm (np.log), not log10",
            lambda c: lm.sequence_log_prob(**c.args) / math.log(10),
        ),
        Mistake(
            "return log P (negative or zero), not -log P",
            lambda c: -lm.sequence_log_prob(**c.args),
        ),
    ),
    forbidden=FORBIDDEN,
    shapes={**PARAMETER_SHAPES, "xt": "(n_x, 1)", "a": "(n_a, 1)", "a_prev": "(n_a, 1)"},
    index_hint="ids holds token ids 0 .. n_y - 1; index y_hat (or z) with the target id",
    doc="``sequence_log_prob(parameters, ids)``: the sum over steps of log y_hat<t>[ids[t]].",
    explain=lambda case, error: explain_or_wrap(SEQUENCE_LOG_PROB, case, error),
)


def _nats_cases(rng, seed):
    n_x, n_a = (6, 4) if seed == 0 else (int(rng.integers(5, 10)), int(rng.integers(3, 8)))
    p = random_lm_parameters(rng, n_x, n_a)
    lengths = [2, 9, 4] if seed == 0 else [int(v) for v in rng.integers(1, 12, size=5)]
    lengths[0] = 1  # a one-token sequence makes per-name averaging differ from per-token
    return [
        Case("one name", {"parameters": p, "sequences": [_random_ids(rng, 6, n_x)]}, _sizes(p)),
        Case(
            "names of very different lengths",
            {"parameters": p, "sequences": [_random_ids(rng, n, n_x) for n in lengths]},
            _sizes(p),
        ),
    ]


def _nats_variant(parameters, sequences, mistake):
    """(nats, perplexity) as the mistake computes them, from the reference's figures."""
    nats, perplexity = lm.nats_and_perplexity(parameters, sequences)
    n_tokens, m = sum(len(ids) for ids in sequences), len(sequences)
    if mistake == "mean of means":
        nats = float(np.mean([lm.nats_and_perplexity(parameters, [ids])[0] for ids in sequences]))
    elif mistake == "no EOS":  # the same total over one token fewer per sequence
        nats = nats * n_tokens / max(n_tokens - m, 1)
    elif mistake == "total":
        nats = nats * n_tokens
    elif mistake == "bits":
        return nats / math.log(2), perplexity  # 2**bits is the same perplexity
    return nats, math.exp(nats)


NATS_AND_PERPLEXITY = Exercise(
    name="nats_and_perplexity",
    assignment=ASSIGNMENT,
    number=3,
    arguments=("parameters", "sequences"),
    returns=(Output("nats", kind="float"), Output("perplexity", kind="float")),
    packing="tuple",
    reference=lambda c: lm.nats_and_perplexity(**c.args),
    cases=_nats_cases,
    mistakes=(
        Mistake(
            "return (nats, perplexity) in this order: the cross-entropy in nats per token "
            "first, then the perplexity exp(nats); the two are swapped",
            lambda c: lm.nats_and_perplexity(**c.args)[::-1],
        ),
        Mistake(
            "average over all tokens of all sequences (total -log P / total tokens), not the "
            "mean of each sequence's average: long sequences must weigh more",
            lambda c: _nats_variant(**c.args, mistake="mean of means"),
        ),
        Mistake(
            "count every predicted token, the <EOS> of each sequence included, in the denominator",
            lambda c: _nats_variant(**c.args, mistake="no EOS"),
        ),
        Mistake(
            "divide the total -log P by the number of tokens (nats per token, not per corpus)",
            lambda c: _nats_variant(**c.args, mistake="total"),
        ),
        Mistake(
            "nats use the natural log; bits = nats / ln 2 are a different unit",
            lambda c: _nats_variant(**c.args, mistake="bits"),
        ),
        Mistake(
            "the perplexity is exp(nats per token)",
            lambda c: (
                lm.nats_and_perplexity(**c.args)[0],
                2 ** lm.nats_and_perplexity(**c.args)[0],
            ),
            outputs=("perplexity",),
        ),
    ),
    forbidden=FORBIDDEN,
    shapes=PARAMETER_SHAPES,
    doc="``nats_and_perplexity(parameters, sequences)``: -sum log P / number of tokens, exp.",
    explain=lambda case, error: explain_or_wrap(NATS_AND_PERPLEXITY, case, error),
)


# --------------------------------------------------------------------------------------------
# Exercises 5 and 6 — generating
# --------------------------------------------------------------------------------------------


def _generator(rng):
    """A fresh generator for one call of the student's sample (the runner expects drawing from
    a Generator argument to advance it: that is no change in place)."""
    return np.random.default_rng(int(rng.integers(2**32)))


def _check_sequence_invariants(name, got, want, case):
    """Type, ids in range, <EOS> only at the end, stop at <EOS> or max_len."""
    max_len = case.args["max_len"]
    n_y = case.args["parameters"]["Wya"].shape[0]
    if not isinstance(got, list) or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in got
    ):
        raise AssertionError(f"{name} should be a list of int token ids, got {got!r:.100}")
    if not got:
        raise AssertionError(f"{name} is empty: the first token is always drawn")
    if any(not 0 <= v < n_y for v in got):
        raise AssertionError(f"{name} holds ids outside 0 .. n_y - 1 = {n_y - 1}: {got}")
    if len(got) > max_len:
        raise AssertionError(
            f"{name} has {len(got)} tokens, more than max_len = {max_len}: stop after max_len"
        )
    if EOS in got[:-1]:
        raise AssertionError(
            f"{name} goes on after <EOS> (id {EOS}) at position {got.index(EOS)}: {got}; stop "
            "as soon as <EOS> is drawn (and keep it as the last token)"
        )
    if got[-1] != EOS and len(got) < max_len:
        raise AssertionError(
            f"{name} stopped after {len(got)} tokens without <EOS> and before max_len = {max_len}"
        )


def _sample_cases(rng, seed):
    n_x, n_a = (6, 4) if seed == 0 else (int(rng.integers(5, 10)), int(rng.integers(3, 8)))
    p = random_lm_parameters(rng, n_x, n_a)
    eos = (np.arange(n_x) == EOS)[:, None]
    stops = {**p, "by": p["by"] + 2.0 * eos}
    never_stops = {**p, "by": p["by"] - 40.0 * eos}
    cases = [_sample_case(p, n_x, rng, t, n) for t, n in ((1.0, 20), (0.5, 6), (2.0, 1))]
    for _ in range(3):  # <EOS> is drawn early in almost every one of these
        case = _sample_case(stops, n_x, rng, 1.0, 30)
        cases.append(Case("<EOS> likely: stop there", case.args, case.sizes))
    case = _sample_case(never_stops, n_x, rng, 1.0, 7)
    cases.append(Case("<EOS> almost never drawn: max_len stops it", case.args, case.sizes))
    return cases


def vocab_for(n_x: int) -> data.Vocabulary:
    """A new vocabulary of ``n_x`` tokens: <UNK>, <EOS>, a, b, ... (a new one for every case, so
    that a student's function that changes the one it is given cannot affect a later check)."""
    return data.Vocabulary([data.UNK, data.EOS, *[chr(ord("a") + i) for i in range(n_x - 2)]])


def _path_probabilities(
    parameters, ids, temperature, feed="drawn", carry=True, softmax_twice=False, first=None
):
    """The distribution each step of a sampler draws from along the drawn path ``ids``: the
    library's forward pass (:func:`utils.rnn.rnn_forward`) over the inputs that sampler reads,
    its scores divided by the temperature (``Wya / T``, ``by / T``). Returns (len(ids), n_y).

    The mistakes: ``feed`` "zeros" (nothing fed back: the model with ``Wax = 0``) or "argmax"
    (the inputs of the greedy path), ``carry=False`` (the state reset: ``Waa = 0``),
    ``softmax_twice`` (the softmax of the probabilities divided by the temperature), ``first``
    (x<1> the one-hot of this id, e.g. <EOS> as a start token, instead of 0)."""
    p = dict(parameters)
    if feed == "zeros":
        p["Wax"] = 0 * p["Wax"]
    if not carry:
        p["Waa"] = 0 * p["Waa"]
    path = lm.greedy_decode(p, _NO_EOS, len(ids)) if feed == "argmax" else ids
    x = lm.make_lm_batch([path], p["Wax"].shape[1])[0]
    if first is not None:
        x[first, 0, 0] = 1.0
    scale = 1.0 if softmax_twice else temperature
    scaled = {**p, "Wya": p["Wya"] / scale, "by": p["by"] / scale}
    _, y_hat, _ = rnn.rnn_forward(x, np.zeros((p["Waa"].shape[0], 1)), scaled)
    rows = y_hat[:, 0, :]
    if softmax_twice:
        rows = softmax(rows / temperature)
    return rows.T


_NO_EOS = types.SimpleNamespace(eos_id=None)  # a vocabulary whose end is never chosen


def _pair_fit(paths, probabilities):
    """Largest |z-score| over the cells (previous token, token) of the counts observed along
    ``paths`` against their expectation under ``probabilities`` (one array per path)."""
    n_y = probabilities[0].shape[1]
    observed = np.zeros((n_y + 1, n_y))  # row n_y: the first step (no previous token)
    expected = np.zeros_like(observed)
    variance = np.zeros_like(observed)
    for ids, p in zip(paths, probabilities, strict=True):
        previous = [n_y, *ids[:-1]]
        for row, token, p_t in zip(previous, ids, p, strict=True):
            observed[row, token] += 1
            expected[row] += p_t
            variance[row] += p_t * (1 - p_t)
    keep = variance > 0.5
    z = np.abs(observed - expected)[keep] / np.sqrt(variance[keep])
    impossible = float(np.sum(observed[~keep] - expected[~keep]))  # draws of ~0-probability
    return max(float(z.max(initial=0.0)), impossible)


Z_LIMIT = 5.5  # a correct sampler exceeds it with probability about 1e-6 over all the cells


def _proof_distribution(call, rng, n_calls=6, max_len=250):
    """Long samples (EOS made very unlikely) at temperatures 1, 0.5 and 2: the counts of every
    (previous token, token) pair along the drawn paths match the model's probabilities."""
    n_x, n_a = 5, 6
    p = random_lm_parameters(rng, n_x, n_a, scale=1.5)
    p["Wax"] = 2.5 * p["Wax"]  # the previous token matters a lot
    p["by"] = p["by"] - 40.0 * (np.arange(n_x) == EOS)[:, None]
    for temperature in (1.0, 0.5, 2.0):
        paths = [call(_sample_case(p, n_x, rng, temperature, max_len)) for _ in range(n_calls)]
        truth = [_path_probabilities(p, ids, temperature) for ids in paths]
        fit = _pair_fit(paths, truth)
        if fit <= Z_LIMIT:
            continue
        greedy = all(
            ids[t] == int(np.argmax(row))
            for ids, q in zip(paths, truth, strict=True)
            for t, row in enumerate(q)
        )
        alternatives = [
            (
                "the temperature is ignored: draw from softmax(z / temperature)",
                dict(temperature=1.0),
            ),
            (
                "divide the scores by the temperature, do not multiply: softmax(z / T)",
                dict(temperature=1.0 / temperature),
            ),
            ("apply the softmax once, to z / temperature", dict(softmax_twice=True)),
            ("feed the drawn token back as the next input x<t+1> (one-hot)", dict(feed="zeros")),
            ("carry the hidden state a<t> into the next step", dict(carry=False)),
            ("feed back the token you drew, not the argmax", dict(feed="argmax")),
        ]
        hint = None
        uniform = [np.full((len(ids), n_x), 1.0 / n_x) for ids in paths]
        if _pair_fit(paths, uniform) <= Z_LIMIT:
            hint = (
                "the draws are (nearly) uniform: draw from softmax(z / temperature), the softmax "
                "applied once, to the scores (not uniformly, not a softmax of probabilities)"
            )
        if hint is None and greedy:
            hint = (
                "draw the token at random with rng (e.g. rng.choice(n_y, p=probs)), do not take "
                "the argmax"
            )
        for text, switches in alternatives:
            options = {"temperature": temperature, **switches}
            if hint is not None or ("temperature" in switches and temperature == 1.0):
                continue  # already named, or the same as the right distribution at T = 1
            q = [_path_probabilities(p, ids, **options) for ids in paths]
            if _pair_fit(paths, q) <= Z_LIMIT:
                hint = text
        raise AssertionError(
            f"the tokens drawn by sample(temperature={temperature}) do not follow the model's "
            f"probabilities: over {sum(map(len, paths))} draws, the count of some (previous "
            f"token, token) pair is {fit:.1f} standard deviations from its expectation "
            f"(a correct sampler stays below {Z_LIMIT})" + (f": {hint}" if hint else "")
        )


def _sample_case(p, n_x, rng, temperature, max_len):
    args = {
        "parameters": p,
        "vocab": vocab_for(n_x),
        "rng": _generator(rng),
        "temperature": temperature,
        "max_len": max_len,
    }
    return Case(f"temperature {temperature}, max_len {max_len}", args, _sizes(p))


def _proof_generator_only(call, rng):
    """Same generator state, same sample; NumPy's global random state is not used. (<EOS> is
    made very unlikely, so that three samples of another source of randomness cannot agree by
    chance: each is 30 draws long.)"""
    n_x = 6
    p = random_lm_parameters(rng, n_x, 4)
    p["by"] = p["by"] - 40.0 * (np.arange(n_x) == EOS)[:, None]
    seed = int(rng.integers(2**32))
    outputs = []
    for _ in range(3):
        case = _sample_case(p, n_x, rng, 1.0, 30)
        case.args["rng"] = np.random.default_rng(seed)
        outputs.append(call(case))
    if not outputs[0] == outputs[1] == outputs[2]:
        raise AssertionError(
            f"three calls of sample with generators in the same state gave {outputs}: the rng "
            "argument must be the only source of randomness (np.random.* functions use NumPy's "
            "global generator instead)"
        )


def _latch_parameters(rng, n_x=5, n_a=4):
    """A model that remembers its first input: hidden unit 0 is a latch (self-weight 2.5, small
    weights from everything else) that the one-hot of <EOS> as x<1> switches on and that a zero
    x<1> leaves off for good; the latch's state moves every later distribution (Wya's column 0,
    +-1.5 by token; the other units' weights are small, so no token becomes certain), and
    <EOS> is made very unlikely (long samples)."""
    p = random_lm_parameters(rng, n_x, n_a)
    p["Waa"][0] = 0.05 * np.sign(p["Waa"][0])
    p["Waa"][0, 0] = 2.5
    p["Wax"][0] = 0.2 * np.sign(p["Wax"][0])
    p["Wax"][0, EOS] = 4.0
    p["ba"][0] = -0.5
    p["Wya"] = 0.3 * p["Wya"]  # the other units change the distributions a little
    p["Wya"][:, 0] = 1.5 * np.where(np.arange(n_x) % 2 == 0, 1.0, -1.0)
    p["by"] = 0.3 * p["by"] - 40.0 * (np.arange(n_x) == EOS)[:, None]
    return p


def _proof_first_input(call, rng, n_calls=2, max_len=30):
    """x<1> = 0: on a model that remembers its first input for good, the drawn paths are more
    likely under the model itself than under the same model started from the one-hot of <EOS>
    (a start token), which draws from the other state of the latch at every step. Each step
    weighs heavily (a correct sampler's log-likelihood ratio is about +250, a start token's
    about -250), so the sign decides with a negligible chance of error."""
    n_x = 5
    p = _latch_parameters(rng, n_x)
    paths = [call(_sample_case(p, n_x, rng, 1.0, max_len)) for _ in range(n_calls)]

    def log_likelihood(first):
        rows = [_path_probabilities(p, ids, 1.0, first=first) for ids in paths]
        return sum(
            float(np.sum(np.log(q[np.arange(len(ids)), ids])))
            for ids, q in zip(paths, rows, strict=True)
        )

    ratio = log_likelihood(None) - log_likelihood(EOS)
    if ratio < 0:
        raise AssertionError(
            f"the {sum(map(len, paths))} tokens drawn by sample(temperature=1.0) from a model "
            "whose first hidden unit remembers the first input are e^"
            f"{-ratio:.0f} times more likely under that model fed the one-hot of <EOS> as x<1> "
            "than under the model itself: x<1> is the zero vector (nothing has been read yet, "
            "and a<0> = 0); <EOS> is only ever drawn, never a start token, in this model"
        )


def _proof_greedy_limit(call, rng):
    """As the temperature goes to 0, sampling becomes greedy decoding (and stays finite)."""
    n_x = 6
    p = random_lm_parameters(rng, n_x, 4, scale=2.0)
    want = lm.greedy_decode(p, vocab_for(n_x), max_len=10)
    case = _sample_case(p, n_x, rng, 1e-3, 10)
    with np.errstate(over="raise", invalid="raise"):  # an overflow is an error (explained)
        got = call(case)
    if got != want:
        raise AssertionError(
            f"sample(temperature=0.001) returned {got}, but at a temperature this low it "
            f"should pick the most likely token at every step, as greedy decoding does: {want}"
        )


def _explain_sample(case, error):
    """An overflow in exp (raised here under np.errstate), or the NaN probabilities it leads
    to (which rng.choice refuses), is the unstable softmax; anything else as usual."""
    text = str(error)
    if isinstance(error, FloatingPointError | RuntimeWarning) or (
        isinstance(error, ValueError) and "NaN" in text
    ):
        return (
            f"{error_as_text(error)}. exp of large scores overflows to inf (at a low temperature "
            "z / T is large), and inf / inf is NaN: subtract the largest score before exp (or "
            "use utils.activations.softmax)"
        )
    return explain_or_wrap(SAMPLE, case, error)


SAMPLE = Exercise(
    name="sample",
    assignment=ASSIGNMENT,
    number=5,
    arguments=("parameters", "vocab", "rng", "temperature", "max_len"),
    returns=(Output("ids", kind="custom", check=_check_sequence_invariants),),
    reference=lambda c: None,  # random: checked by invariants and by the proofs' statistics
    cases=_sample_cases,
    proofs=(_proof_generator_only, _proof_distribution, _proof_first_input, _proof_greedy_limit),
    forbidden=FORBIDDEN,
    shapes={**PARAMETER_SHAPES, "xt": "(n_x, 1)", "a": "(n_a, 1)", "z": "(n_y, 1)"},
    index_hint="token ids run from 0 to n_y - 1; the one-hot input has n_x rows",
    doc="``sample(parameters, vocab, rng, temperature, max_len)``: draws until <EOS>/max_len.",
    explain=_explain_sample,
)


def _greedy_cases(rng, seed):
    n_x, n_a = (6, 4) if seed == 0 else (int(rng.integers(5, 10)), int(rng.integers(3, 8)))
    vocab = vocab_for(n_x)
    for _ in range(500):
        # parameters whose greedy path stops at <EOS> mid-way and needs both the token fed
        # back and the state carried (either one missing changes the path)
        p = random_lm_parameters(rng, n_x, n_a, scale=2.0)
        p["Wax"] = 3.0 * p["Wax"]
        p["Waa"] = 3.0 * p["Waa"]
        ids = lm.greedy_decode(p, vocab, max_len=12)
        fed = _greedy_variant(p, vocab, 12, "not fed back")
        carried = _greedy_variant(p, vocab, 12, "state reset")
        if 3 <= len(ids) < 12 and ids[-1] == EOS and len({str(ids), str(fed), str(carried)}) == 3:
            break
    else:
        raise RuntimeError("no parameters found for greedy_decode's first case")
    never_stops = {**p, "by": p["by"] - 40.0 * (np.arange(n_x) == EOS)[:, None]}
    return [
        Case(
            "stops at <EOS> after a few tokens",
            {"parameters": p, "vocab": vocab_for(n_x), "max_len": 12},
            _sizes(p),
        ),
        Case(
            "<EOS> never the argmax: max_len 5 stops it",
            {"parameters": never_stops, "vocab": vocab_for(n_x), "max_len": 5},
            _sizes(p),
        ),
        Case("max_len 1", {"parameters": p, "vocab": vocab_for(n_x), "max_len": 1}, _sizes(p)),
    ]


def _greedy_variant(parameters, vocab, max_len, mistake):
    """The reference decoding with one input switched to make the mistake."""
    if mistake == "not fed back":  # x<t> = 0 at every step is the model with Wax = 0
        return lm.greedy_decode({**parameters, "Wax": 0 * parameters["Wax"]}, vocab, max_len)
    if mistake == "state reset":  # a<t-1> = 0 at every step is the model with Waa = 0
        return lm.greedy_decode({**parameters, "Waa": 0 * parameters["Waa"]}, vocab, max_len)
    if mistake == "EOS dropped":
        ids = lm.greedy_decode(parameters, vocab, max_len)
        return ids[:-1] if ids[-1] == vocab.eos_id else ids
    if mistake == "one more":
        return lm.greedy_decode(parameters, vocab, max_len + 1)
    if mistake == "no stop":
        return lm.greedy_decode(parameters, _NO_EOS, max_len)
    raise ValueError(mistake)


GREEDY_DECODE = Exercise(
    name="greedy_decode",
    assignment=ASSIGNMENT,
    number=6,
    arguments=("parameters", "vocab", "max_len"),
    returns=(Output("ids", kind="exact", type=list),),
    reference=lambda c: lm.greedy_decode(**c.args),
    cases=_greedy_cases,
    mistakes=(
        Mistake(
            "feed each chosen token back as the next input x<t+1> (one-hot)",
            lambda c: _greedy_variant(**c.args, mistake="not fed back"),
        ),
        Mistake(
            "carry the hidden state a<t> into the next step (a<0> = 0 only before the first "
            "step); resetting it to zeros at every step forgets all but the last token",
            lambda c: _greedy_variant(**c.args, mistake="state reset"),
        ),
        Mistake(
            "keep the <EOS> as the last token of the result",
            lambda c: _greedy_variant(**c.args, mistake="EOS dropped"),
        ),
        Mistake(
            "return at most max_len tokens", lambda c: _greedy_variant(**c.args, mistake="one more")
        ),
        Mistake(
            "stop as soon as <EOS> is chosen",
            lambda c: _greedy_variant(**c.args, mistake="no stop"),
        ),
    ),
    forbidden=FORBIDDEN,
    shapes={**PARAMETER_SHAPES, "xt": "(n_x, 1)", "a": "(n_a, 1)", "z": "(n_y, 1)"},
    doc="``greedy_decode(parameters, vocab, max_len)``: argmax at every step, fed back.",
    explain=lambda case, error: explain_or_wrap(GREEDY_DECODE, case, error),
)


# --------------------------------------------------------------------------------------------
# Exercise 4 — train_step
# --------------------------------------------------------------------------------------------


def _train_cases(rng, seed):
    n_x, n_a = (6, 4) if seed == 0 else (int(rng.integers(5, 10)), int(rng.integers(3, 8)))
    p = random_lm_parameters(rng, n_x, n_a)
    sequences = [_random_ids(rng, n, n_x) for n in (4, 2, 6)]
    x, y, mask = lm.make_lm_batch(sequences, n_x)
    fresh = lm.init_adam_state(p)
    grads = lm.loss_and_gradients(p, x, y, mask)[1]
    warm = {
        "t": 3,
        "m": {k: 0.5 * grads["d" + k] + 0.01 for k in lm.PARAMETER_NAMES},
        "v": {k: grads["d" + k] ** 2 + 0.02 for k in lm.PARAMETER_NAMES},
    }
    norm = optim.global_norm(grads)
    batch = {"x": x, "y": y, "mask": mask}

    def case(label, state, learning_rate, clip_norm):
        args = {"parameters": p, "adam_state": state, **batch}
        return Case(
            label, {**args, "learning_rate": learning_rate, "clip_norm": clip_norm}, _sizes(p)
        )

    # The step with non-zero moments comes first: there a missing bias correction and one
    # computed with the old step count give different results (at t = 0 -> 1 a correction
    # with the old count, guarded against 1 - beta**0 = 0, is no correction at all).
    return [
        case("step t = 3 -> 4 with non-zero moments, no clipping", warm, 0.02, 10 * norm),
        case("first step (t = 0 -> 1), no clipping", fresh, 0.01, 10 * norm),
        case(
            "clipping active (clip_norm = half the largest gradient entry)",
            warm,
            0.02,
            max(float(np.max(np.abs(g))) for g in grads.values()) / 2,
        ),
        case(
            "first step with tiny gradients (clipped to a global norm of 1e-7): sqrt(v_hat) "
            "is about eps",
            fresh,
            0.01,
            1e-7,
        ),
    ]


def _adam_variant(case, bias=True, clip="norm", sign=-1.0, square=True, t_shift=1):
    """The reference step (:func:`utils.lm.train_step`) with its inputs switched so that it
    makes one mistake: clipping off (``clip_norm = inf``) and Adam's moments moved so that its
    update uses the gradient ``g`` of the mistake (clipped by global norm, by value, or not at
    all) in ``m`` and ``g**2`` or ``|g|`` in ``v``; a step count so large that the bias
    correction is 1 (``bias=False``) or one too small (``t_shift=0``); the learning rate
    negated (``sign=+1``)."""
    args, state = case.args, case.args["adam_state"]
    b1, b2 = 0.9, 0.999
    _, raw = lm.loss_and_gradients(args["parameters"], args["x"], args["y"], args["mask"])
    g = {
        "norm": lambda: optim.clip_by_global_norm(raw, args["clip_norm"])[0],
        "value": lambda: optim.clip_by_value(raw, args["clip_norm"])[0],
        None: lambda: raw,
    }[clip]()
    moved = {"t": 10**6 if not bias else state["t"] + t_shift - 1, "m": {}, "v": {}}
    for k in lm.PARAMETER_NAMES:
        d, r = g["d" + k], raw["d" + k]
        moved["m"][k] = state["m"][k] + (1 - b1) / b1 * (d - r)
        moved["v"][k] = state["v"][k] + (1 - b2) / b2 * ((d * d if square else np.abs(d)) - r * r)
    with np.errstate(divide="ignore", invalid="ignore"):  # t_shift=0 at t = 0 divides by 0
        loss, new_p, new_state = lm.train_step(
            args["parameters"],
            moved,
            args["x"],
            args["y"],
            args["mask"],
            learning_rate=-sign * args["learning_rate"],
            clip_norm=np.inf,
        )
    return loss, new_p, {**new_state, "t": state["t"] + 1}


def _adam_swapped_betas(case, corrections_swapped=True):
    """beta1 and beta2 swapped: the reference run with beta1 = 0.999, beta2 = 0.9 (everything
    swapped), or with only the moments' updates swapped (the bias corrections right): the
    reference fed old moments moved so that its new ones are the swapped ones."""
    args = case.args
    if corrections_swapped:
        return lm.train_step(**args, beta1=0.999, beta2=0.9)
    b1, b2, state = 0.9, 0.999, args["adam_state"]
    _, raw = lm.loss_and_gradients(args["parameters"], args["x"], args["y"], args["mask"])
    g = optim.clip_by_global_norm(raw, args["clip_norm"])[0]
    moved = {"t": state["t"], "m": {}, "v": {}}
    for k in lm.PARAMETER_NAMES:
        d = g["d" + k]
        wrong_m = b2 * state["m"][k] + (1 - b2) * d
        wrong_v = b1 * state["v"][k] + (1 - b1) * d * d
        moved["m"][k] = (wrong_m - (1 - b1) * d) / b1
        moved["v"][k] = (wrong_v - (1 - b2) * d * d) / b2
    return lm.train_step(**{**args, "adam_state": moved})


def _adam_eps_inside(case):
    """sqrt(v_hat + eps) instead of sqrt(v_hat) + eps: the reference with eps = 0 and every v
    raised so that v_hat is raised by eps (the new moments it returns are the right ones)."""
    args, state, b2, eps = case.args, case.args["adam_state"], 0.999, 1e-8
    lift = eps * (1 - b2 ** (state["t"] + 1)) / b2
    moved = {**state, "v": {k: v + lift for k, v in state["v"].items()}}
    loss, new_parameters, _ = lm.train_step(**{**args, "adam_state": moved}, eps=0.0)
    return loss, new_parameters, lm.train_step(**args)[2]


_SWAPPED_BETAS = (
    "beta1 and beta2 are swapped: beta1 = 0.9 goes with m, the mean of g, and its bias "
    "correction (1 - beta1**t); beta2 = 0.999 with v, the mean of g**2, and (1 - beta2**t)"
)
_ADAM_MISTAKES = (
    (
        "Adam's bias correction is missing: divide m by (1 - beta1**t) and v by (1 - beta2**t)",
        lambda c: _adam_variant(c, bias=False),
    ),
    (
        "the bias correction uses the old step count: with t = adam_state['t'] + 1 (the new "
        "count), divide m by (1 - beta1**t) and v by (1 - beta2**t)",
        lambda c: _adam_variant(c, t_shift=0),
    ),
    (
        "clip the gradients by their global norm before the update (utils.optim."
        "clip_by_global_norm)",
        lambda c: _adam_variant(c, clip=None),
    ),
    (
        "clip by the global norm (rescale all gradients together), not each entry by value",
        lambda c: _adam_variant(c, clip="value"),
    ),
    (
        "descend: W - learning_rate * m_hat / (sqrt(v_hat) + eps)",
        lambda c: _adam_variant(c, sign=1.0),
    ),
    (
        "v is the running mean of the squared gradients, g**2",
        lambda c: _adam_variant(c, square=False),
    ),
    (_SWAPPED_BETAS, _adam_swapped_betas),
    (_SWAPPED_BETAS, lambda c: _adam_swapped_betas(c, corrections_swapped=False)),
    (
        "eps goes outside the square root: sqrt(v_hat) + eps, not sqrt(v_hat + eps) (they "
        "differ where the gradients are tiny)",
        _adam_eps_inside,
    ),
)


def _adam_hint(case, got, path):
    """The first Adam mistake whose result equals the dict ``got`` (every array) at ``path``
    (("parameters",) or ("state", "m") / ("state", "v"))."""
    for text, derive in _ADAM_MISTAKES:
        with np.errstate(divide="ignore", invalid="ignore"):  # the old count at t = 0
            wrong = derive(case)
        candidate = wrong[1] if path[0] == "parameters" else wrong[2]
        for key in path[1:]:
            candidate = candidate[key]
        if all(
            np.allclose(got[k], candidate[k], rtol=1e-6, atol=1e-9, equal_nan=True)
            for k in candidate
        ):
            return text
    return None


def _check_arrays(name, got, want, case, path):
    """A dict of arrays keyed like ``want``, each close to it (or naming the Adam mistake)."""
    if not isinstance(got, dict) or sorted(got) != sorted(want):
        shown = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise AssertionError(f"{name} should be a dict with the keys {sorted(want)}, got {shown}")
    for key, w in want.items():
        g = got[key]
        if not isinstance(g, np.ndarray) or g.shape != w.shape:
            shape = getattr(g, "shape", type(g).__name__)
            raise AssertionError(f"{name}[{key!r}] should have shape {w.shape}, got {shape}")
        if not np.allclose(g, w, rtol=1e-6, atol=1e-9):
            hint = _adam_hint(case, got, path)
            raise AssertionError(
                f"{name}[{key!r}] is wrong (largest difference {float(np.max(np.abs(g - w))):.3g})"
                + (f": {hint}" if hint else "")
            )


def _check_new_parameters(name, got, want, case):
    _check_arrays(name, got, want, case, ("parameters",))


def _check_new_state(name, got, want, case):
    if not isinstance(got, dict) or sorted(got) != ["m", "t", "v"]:
        shown = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise AssertionError(f"{name} should be a dict with the keys ['m', 't', 'v'], got {shown}")
    if got["t"] != want["t"]:
        raise AssertionError(
            f"{name}['t'] is {got['t']!r}, expected {want['t']}: the step count goes up by 1"
        )
    for moment in ("m", "v"):
        _check_arrays(f"{name}[{moment!r}]", got[moment], want[moment], case, ("state", moment))


TRAIN_STEP = Exercise(
    name="train_step",
    assignment=ASSIGNMENT,
    number=4,
    arguments=("parameters", "adam_state", "x", "y", "mask", "learning_rate", "clip_norm"),
    returns=(
        Output("loss", kind="float"),
        Output("new_parameters", kind="custom", check=_check_new_parameters),
        Output("new_adam_state", kind="custom", check=_check_new_state),
    ),
    packing="tuple",
    reference=lambda c: lm.train_step(**c.args),
    cases=_train_cases,
    forbidden=FORBIDDEN_TRAINING,
    shapes=PARAMETER_SHAPES,
    key_hint="parameters and the moments m, v are dicts keyed 'Waa', 'Wax', 'ba', 'Wya', 'by'; "
    "the gradients are keyed 'dWaa', ...",
    doc="``train_step(...) -> (loss, new_parameters, new_adam_state)``: clipped Adam step.",
    explain=lambda case, error: explain_or_wrap(TRAIN_STEP, case, error),
)
