"""Checks for assignment 08 — bidirectional RNNs, plus the word-boundary task it provides.

Contracts checked here (the notebook states them), with ``cell`` one of "rnn", "gru", "lstm":

- ``brnn_forward(x, parameters, cell) -> (a, cache)``: ``parameters = {"forward": p_f,
  "backward": p_b}`` (each a parameter dict of ``cell``); ``a`` (2 n_a, m, T_x) stacks
  ``[a_fwd<t>; a_bwd<t>]`` at every step; ``cache = (n_a, cache_fwd, cache_bwd)`` holds the
  two ``layer_forward`` caches, the backward one from the run over the *reversed* sequence.
  This is exactly ``utils.bidirectional.bidirectional_forward(x, parameters, cell)``.
- ``brnn_backward(da, cache) -> {"forward": grads, "backward": grads, "dx": (n_x, m, T_x)}``:
  exactly ``utils.bidirectional.bidirectional_backward``.

The one readable reference is ``utils.bidirectional``; the mistakes are built from its building
block, the any-cell ``utils.layer.layer_forward`` / ``layer_backward``, with one thing switched.

Provided (not graded): :func:`word_boundary_lines` and :func:`boundary_batch`, the notebook's
tagging task (where does a word end, in a text without spaces?).
"""

from __future__ import annotations

import re

import numpy as np

from utils import bidirectional, init, layer
from utils.checks import check_close
from utils.exercises.harness import (
    Case,
    Exercise,
    Mistake,
    Output,
    asserted_gradcheck,
    default_tolerance,
    explain_or_wrap,
)

__all__ = [
    "LETTERS",
    "boundary_batch",
    "random_cell_parameters",
    "word_boundary_lines",
]

ASSIGNMENT = 8
LETTERS = "abcdefghijklmnopqrstuvwxyz"
_INIT = {
    "rnn": init.init_rnn_parameters,
    "gru": init.init_gru_parameters,
    "lstm": init.init_lstm_parameters,
}


# --------------------------------------------------------------------------------------------
# Provided: the word-boundary tagging task
# --------------------------------------------------------------------------------------------


def word_boundary_lines(text: str, min_words: int = 3, max_letters: int = 30) -> list[list[str]]:
    """The lines of ``text`` as lists of lower-case words (letters a-z only), keeping lines of
    at least ``min_words`` words and at most ``max_letters`` letters."""
    lines = []
    for line in text.splitlines():
        words = re.findall(r"[a-z]+", line.lower())
        if len(words) >= min_words and sum(map(len, words)) <= max_letters:
            lines.append(words)
    return lines


def boundary_batch(lines: list[list[str]]):
    """One padded batch of the tagging task: the letters of each line with the spaces removed.

    Returns x (26, m, T) one-hot letters (zero columns on padding), y (m, T) int labels,
    1 where a word ends at this letter (the right answer depends on the *next* letters), and
    mask (m, T) bool, True on real letters. T is the longest line's number of letters.
    """
    T = max(sum(map(len, words)) for words in lines)
    m = len(lines)
    x = np.zeros((len(LETTERS), m, T))
    y = np.zeros((m, T), dtype=np.int64)
    mask = np.zeros((m, T), dtype=bool)
    for i, words in enumerate(lines):
        letters = "".join(words)
        ids = [LETTERS.index(ch) for ch in letters]
        x[ids, i, np.arange(len(ids))] = 1.0
        ends = np.cumsum([len(w) for w in words]) - 1  # index of each word's last letter
        y[i, ends] = 1
        mask[i, : len(ids)] = True
    return x, y, mask


# --------------------------------------------------------------------------------------------
# Shared: parameters, the building block, cases
# --------------------------------------------------------------------------------------------


def _layer(x, parameters, cell):
    """The any-cell layer of ``utils``: states (n_a, m, T_x) and its cache."""
    return layer.layer_forward(cell, x, parameters)


def random_cell_parameters(rng: np.random.Generator, cell: str, n_x: int, n_a: int) -> dict:
    """Parameters of ``cell`` (names from ``utils.init``) with every entry non-zero: weights of
    size 0.2..1 / sqrt(fan-in) and random signs, biases 0.1..0.5."""
    shapes = {k: v.shape for k, v in _INIT[cell](n_x, n_a, np.random.default_rng(0)).items()}
    out = {}
    for name, shape in shapes.items():
        size = rng.uniform(0.2, 1.0, shape) if shape[1] > 1 else rng.uniform(0.1, 0.5, shape)
        scale = 1 / np.sqrt(shape[1]) if shape[1] > 1 else 1.0
        out[name] = size * scale * rng.choice([-1.0, 1.0], size=shape)
    return out


def _sizes(rng: np.random.Generator, seed: int) -> tuple[int, int, int, int]:
    """(n_x, n_a, m, T_x), all different so a swapped axis changes a shape."""
    if seed == 0:
        return 3, 4, 2, 5
    n_x, n_a, m, T_x = (int(v) for v in rng.permutation(np.arange(2, 9))[:4])
    return n_x, n_a, m, T_x


def _case_sizes(n_x, n_a, m, T_x):
    return {"n_x": n_x, "n_a": n_a, "2n_a": 2 * n_a, "m": m, "T_x": T_x}


def _brnn_params(rng, cell, n_x, n_a):
    return {
        "forward": random_cell_parameters(rng, cell, n_x, n_a),
        "backward": random_cell_parameters(rng, cell, n_x, n_a),
    }


def _forward_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    n_x, n_a, m, T_x = _sizes(rng, seed)
    sizes = _case_sizes(n_x, n_a, m, T_x)
    cases = []
    for cell in ("rnn", "gru", "lstm"):
        x = rng.standard_normal((n_x, m, T_x))
        cases.append(
            Case(
                f"{cell} cell",
                {"x": x, "parameters": _brnn_params(rng, cell, n_x, n_a), "cell": cell},
                sizes,
            )
        )
    p = _brnn_params(rng, "rnn", n_x, n_a)
    x = np.zeros((n_x, m, T_x))
    x[:, :, -1] = rng.standard_normal((n_x, m))
    cases.append(
        Case(
            "only x<T_x> non-zero: it reaches every backward state, no earlier forward state",
            {"x": x, "parameters": p, "cell": "rnn"},
            sizes,
        )
    )
    one = _case_sizes(n_x, n_a, m, 1)
    cases.append(
        Case(
            "T_x = 1", {"x": rng.standard_normal((n_x, m, 1)), "parameters": p, "cell": "rnn"}, one
        )
    )
    p32 = {d: {k: v.astype(np.float32) for k, v in q.items()} for d, q in p.items()}
    cases.append(
        Case(
            "float32",
            {
                "x": rng.standard_normal((n_x, m, T_x)).astype(np.float32),
                "parameters": p32,
                "cell": "rnn",
            },
            sizes,
        )
    )
    return cases


# --------------------------------------------------------------------------------------------
# Exercise 1 — brnn_forward
# --------------------------------------------------------------------------------------------


def _forward_reference(case: Case):
    return bidirectional.bidirectional_forward(**case.args)


def _stack(a_fwd, a_bwd):
    return np.concatenate([a_fwd, a_bwd], axis=0)


def _directions(case: Case, backward_input, backward_params="backward"):
    x, p, cell = case.args["x"], case.args["parameters"], case.args["cell"]
    a_fwd, _ = _layer(x, p["forward"], cell)
    a_run, _ = _layer(backward_input(x), p[backward_params], cell)
    return a_fwd, a_run


def _not_reversed(case):
    a_fwd, a_bwd = _directions(case, lambda x: x)
    return {"a": _stack(a_fwd, a_bwd)}


def _not_realigned(case):
    a_fwd, a_run = _directions(case, lambda x: x[:, :, ::-1])
    return {"a": _stack(a_fwd, a_run)}


def _swapped_order(case):
    a_fwd, a_run = _directions(case, lambda x: x[:, :, ::-1])
    return {"a": _stack(a_run[:, :, ::-1], a_fwd)}


def _features_reversed(case):
    a_fwd, a_run = _directions(case, lambda x: x[::-1])
    return {"a": _stack(a_fwd, a_run[:, :, ::-1])}


def _batch_reversed(case):
    a_fwd, a_run = _directions(case, lambda x: x[:, ::-1])
    return {"a": _stack(a_fwd, a_run[:, ::-1])}


def _forward_params_twice(case):
    a_fwd, a_run = _directions(case, lambda x: x[:, :, ::-1], backward_params="forward")
    return {"a": _stack(a_fwd, a_run[:, :, ::-1])}


def _wrong_axis(case):
    a_fwd, a_run = _directions(case, lambda x: x[:, :, ::-1])
    return {"a": np.concatenate([a_fwd, a_run[:, :, ::-1]], axis=2)}


def _time(v):
    return v[:, :, ::-1]


def _same(v):
    return v


def _two_runs(case, forward_in, forward_out, backward_in, backward_out):
    """Both directions of the reference layer with the time order switched on each side:
    ``*_in`` applied to x before that direction's run, ``*_out`` to the states after it."""
    x, p, cell = case.args["x"], case.args["parameters"], case.args["cell"]
    a_fwd, _ = _layer(forward_in(x), p["forward"], cell)
    a_run, _ = _layer(backward_in(x), p["backward"], cell)
    return {"a": _stack(forward_out(a_fwd), backward_out(a_run))}


def _unreversed_run_flipped(case):
    """The backward direction run on x itself; only its states flipped in time."""
    return _two_runs(case, _same, _same, _same, _time)


def _features_reversed_only(case):
    """x[::-1] (the features) for the backward run, and its states left as they came."""
    return _two_runs(case, _same, _same, lambda x: x[::-1], _same)


def _features_reversed_twice(case):
    """x[::-1] for the backward run, and its states flipped back along the features too."""
    return _two_runs(case, _same, _same, lambda x: x[::-1], lambda a: a[::-1])


def _both_reversed(case):
    """Both directions run on x[:, :, ::-1] (and both flipped back)."""
    return _two_runs(case, _time, _time, _time, _time)


def _both_reversed_forward_kept(case):
    """Both directions run on x[:, :, ::-1]; only the backward one's states flipped back."""
    return _two_runs(case, _time, _same, _time, _time)


def _both_reversed_none_flipped(case):
    """Both directions run on x[:, :, ::-1], neither flipped back."""
    return _two_runs(case, _time, _same, _time, _same)


def _forward_states_twice(flip):
    """The forward direction's states used for the backward half as well (as they are, or
    flipped in time)."""

    def derive(case):
        x, p, cell = case.args["x"], case.args["parameters"], case.args["cell"]
        a_fwd, _ = _layer(x, p["forward"], cell)
        return {"a": _stack(a_fwd, _time(a_fwd) if flip else a_fwd)}

    return derive


def _which_half(got, want, case) -> str | None:
    """For a wrong ``a`` no named mistake explains: which of the two halves is wrong."""
    n_a = case.sizes["n_a"]
    if not (isinstance(got, np.ndarray) and got.shape == want.shape):
        return None
    tol = default_tolerance(case, got)
    top = np.allclose(got[:n_a], want[:n_a], **tol)
    bottom = np.allclose(got[n_a:], want[n_a:], **tol)
    if top and not bottom:
        return (
            "the forward half (the first n_a rows) is right; the backward half (the last n_a "
            "rows) is not: a_bwd<t> = the states of the run over x[:, :, ::-1] with "
            "parameters['backward'], flipped back in time"
        )
    if bottom and not top:
        return (
            "the backward half (the last n_a rows) is right; the forward half (the first n_a "
            "rows) is not: a_fwd = the states of the run over x itself, left to right, with "
            "parameters['forward']"
        )
    return None


_TIME_NOT_FEATURES = (
    "x[::-1] reverses the features (axis 0), not time: run the backward direction on "
    "x[:, :, ::-1] (time is the last axis), then flip its states back with [:, :, ::-1]"
)
_ONLY_BACKWARD_REVERSED = (
    "only the backward direction reads the sequence reversed: the forward direction runs on x "
    "as it is, left to right, and its states are used as they come; the backward one runs on "
    "x[:, :, ::-1] and its states are flipped back"
)


def _check_cache(name, got, want, case):
    """The cache must work with the reference backward (same structure as the reference's)."""
    n_a = case.sizes["n_a"]
    shape = (2 * n_a, case.sizes["m"], case.sizes["T_x"])
    da = np.random.default_rng(5).standard_normal(shape)
    expected = bidirectional.bidirectional_backward(da, want)
    layout = (
        "cache must be (n_a, cache_fwd, cache_bwd): the hidden size, then the layer_forward "
        "caches of the forward run and of the run over the reversed sequence"
    )
    if not isinstance(got, tuple) or len(got) != 3:
        raise AssertionError(
            f"{name}: {layout}; got {type(got).__name__} of length "
            f"{len(got) if hasattr(got, '__len__') else '?'}"
        )
    if got[0] != n_a:
        raise AssertionError(f"{name}: the first entry must be n_a = {n_a}, got {got[0]!r}")
    try:
        grads = bidirectional.bidirectional_backward(da, got)
    except Exception as error:  # a malformed inner cache
        raise AssertionError(
            f"{name}: {layout} (the reference backward failed on it: "
            f"{type(error).__name__}: {error})"
        ) from None
    for direction in ("forward", "backward"):
        for key, value in expected[direction].items():
            check_close(
                f"the gradient {direction}.{key} computed from {name}",
                grads[direction][key],
                value,
                hint=f"the {direction} direction's cache is not that of the right run: "
                + (
                    "the run over x"
                    if direction == "forward"
                    else "the run over x reversed in time (x[:, :, ::-1])"
                ),
                rtol=2e-4,
                atol=2e-5,
            )


BRNN_FORWARD = Exercise(
    name="brnn_forward",
    assignment=ASSIGNMENT,
    number=1,
    arguments=("x", "parameters", "cell"),
    returns=(
        Output("a", shape="(2n_a, m, T_x)", hint=_which_half),
        Output("cache", kind="custom", check=_check_cache),
    ),
    packing="tuple",
    reference=_forward_reference,
    cases=_forward_cases,
    mistakes=(
        Mistake(
            "the backward direction must read the sequence reversed in time: run it on "
            "x[:, :, ::-1] (not on x, and not reversed twice)",
            _not_reversed,
        ),
        Mistake(
            "the backward direction's states come out in reversed order: put them back at their "
            "step t (a_bwd = a_reversed_run[:, :, ::-1]) before stacking",
            _not_realigned,
        ),
        Mistake(
            "stack the forward states first: a<t> = [a_fwd<t>; a_bwd<t>] (the order Wy expects)",
            _swapped_order,
        ),
        Mistake(
            "x[::-1] reverses the features (axis 0); time is the last axis: x[:, :, ::-1]",
            _features_reversed,
        ),
        Mistake(
            "x[:, ::-1] reverses the batch (axis 1); time is the last axis: x[:, :, ::-1]",
            _batch_reversed,
        ),
        Mistake(
            "the backward direction has its own parameters: parameters['backward']",
            _forward_params_twice,
        ),
        Mistake(
            "stack the two directions along the features (axis 0), not along time",
            _wrong_axis,
        ),
        Mistake(
            "the backward direction ran on x itself and only its states were flipped: the run "
            "must read the sequence reversed in time, x[:, :, ::-1]; its states are then "
            "flipped back with [:, :, ::-1]",
            _unreversed_run_flipped,
        ),
        Mistake(_TIME_NOT_FEATURES, _features_reversed_only),
        Mistake(_TIME_NOT_FEATURES, _features_reversed_twice),
        Mistake(_ONLY_BACKWARD_REVERSED, _both_reversed),
        Mistake(_ONLY_BACKWARD_REVERSED, _both_reversed_forward_kept),
        Mistake(_ONLY_BACKWARD_REVERSED, _both_reversed_none_flipped),
        Mistake(
            "the backward half holds the forward direction's states: the backward direction "
            "has its own run, with parameters['backward'] over x[:, :, ::-1], whose states "
            "(flipped back) are the last n_a rows",
            _forward_states_twice(flip=False),
        ),
        Mistake(
            "the backward half holds the forward direction's states flipped in time: flipping "
            "does not make a backward direction; it needs its own run, with "
            "parameters['backward'] over x[:, :, ::-1], whose states are then flipped back",
            _forward_states_twice(flip=True),
        ),
    ),
    forbidden=(
        "utils.bidirectional.bidirectional_forward",
        "utils.bidirectional.bidirectional_backward",
        "utils.kernels.deep.deep_forward",
    ),
    shapes={
        "x": "(n_x, m, T_x)",
        "a": "(2n_a, m, T_x)",
        "a_fwd": "(n_a, m, T_x)",
        "a_bwd": "(n_a, m, T_x)",
    },
    key_hint="parameters has the keys 'forward' and 'backward', each the parameter dict of a cell",
    doc="``brnn_forward(x, parameters, cell)`` -> (a (2 n_a, m, T_x), cache).",
    explain=lambda case, error: explain_or_wrap(BRNN_FORWARD, case, error),
)


# --------------------------------------------------------------------------------------------
# Exercise 2 — brnn_backward
# --------------------------------------------------------------------------------------------


def _backward_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    cases = []
    for forward_case in _forward_cases(rng, seed):
        a, cache = _forward_reference(forward_case)
        da = rng.standard_normal(a.shape).astype(a.dtype)
        context = dict(forward_case.args)
        cases.append(
            Case(forward_case.label, {"da": da, "cache": cache}, forward_case.sizes, context)
        )
    n_x, n_a, m, T_x = _sizes(rng, seed)
    p = _brnn_params(rng, "gru", n_x, n_a)
    x = rng.standard_normal((n_x, m, T_x))
    a, cache = bidirectional.bidirectional_forward(x, p, "gru")
    da = np.zeros(a.shape)
    da[n_a:] = rng.standard_normal((n_a, m, T_x))
    cases.append(
        Case(
            "da = 0 on the forward half: only the backward direction gets a gradient",
            {"da": da, "cache": cache},
            _case_sizes(n_x, n_a, m, T_x),
            {"x": x, "parameters": p, "cell": "gru"},
        )
    )
    return cases


def _backward_reference(case: Case):
    return bidirectional.bidirectional_backward(**case.args)


def _direction_grads(case: Case, da_fwd, da_bwd):
    """Each direction's layer_backward on the given upstream gradients."""
    _, cache_fwd, cache_bwd = case.args["cache"]
    g_fwd = layer.layer_backward(da_fwd, cache_fwd)
    g_bwd = layer.layer_backward(da_bwd, cache_bwd)
    return g_fwd, g_bwd


def _halves(case):
    da = case.args["da"]
    n_a = da.shape[0] // 2
    return da[:n_a], da[n_a:]


def _result(g_fwd, g_bwd, dx):
    g_fwd, g_bwd = dict(g_fwd), dict(g_bwd)
    g_fwd.pop("dx")
    g_bwd.pop("dx")
    return {"forward": g_fwd, "backward": g_bwd, "dx": dx}


def _right_order(case):
    top, bottom = _halves(case)
    return _direction_grads(case, top, bottom[:, :, ::-1])


def _dx_forward_only(case):
    g_fwd, _g_bwd = _right_order(case)
    return {"dx": g_fwd["dx"]}


def _dx_backward_only(case):
    _g_fwd, g_bwd = _right_order(case)
    return {"dx": g_bwd["dx"][:, :, ::-1]}


def _dx_not_reversed_back(case):
    g_fwd, g_bwd = _right_order(case)
    return {"dx": g_fwd["dx"] + g_bwd["dx"]}


def _da_not_reversed(case):
    top, bottom = _halves(case)
    g_fwd, g_bwd = _direction_grads(case, top, bottom)
    return _result(g_fwd, g_bwd, g_fwd["dx"] + g_bwd["dx"][:, :, ::-1])


def _da_not_reversed_either(case):
    top, bottom = _halves(case)
    g_fwd, g_bwd = _direction_grads(case, top, bottom)
    return _result(g_fwd, g_bwd, g_fwd["dx"] + g_bwd["dx"])


def _halves_swapped(case):
    top, bottom = _halves(case)
    g_fwd, g_bwd = _direction_grads(case, bottom, top[:, :, ::-1])
    return _result(g_fwd, g_bwd, g_fwd["dx"] + g_bwd["dx"][:, :, ::-1])


_BACKWARD_MISTAKES = (
    Mistake(
        "dx must add both directions' input gradients (both read every x<t>); the backward "
        "direction's part is missing",
        _dx_forward_only,
    ),
    Mistake(
        "dx must add both directions' input gradients (both read every x<t>); the forward "
        "direction's part is missing",
        _dx_backward_only,
    ),
    Mistake(
        "the backward direction's dx is in reversed time order: flip it back "
        "(dx_bwd[:, :, ::-1]) before adding it to the forward direction's",
        _dx_not_reversed_back,
    ),
    Mistake(
        "the backward half of da must be reversed in time (da[n_a:, :, ::-1]) before it goes "
        "into that direction's backward pass, which ran over the reversed sequence",
        _da_not_reversed,
    ),
    Mistake(
        "the backward half of da must be reversed in time before that direction's backward "
        "pass, and its dx flipped back afterwards",
        _da_not_reversed_either,
    ),
    Mistake(
        "da's first n_a rows belong to the forward direction, the last n_a to the backward one",
        _halves_swapped,
    ),
)


def _check_direction(direction):
    def check(name, got, want, case):
        if not isinstance(got, dict):
            raise AssertionError(f"{name} must be a dict of gradients, got {type(got).__name__}")
        missing = [k for k in want if k not in got]
        if missing:
            raise AssertionError(f"{name} must hold {sorted(want)}; missing {missing}")
        tol = default_tolerance(case, got)
        for key, value in want.items():
            have = got[key]
            if (
                isinstance(have, np.ndarray)
                and have.shape == value.shape
                and np.allclose(have, value, **tol)
            ):
                continue
            hint = None
            for mistake in _BACKWARD_MISTAKES:
                wrong = mistake.derive(case).get(direction)
                if (
                    wrong is not None
                    and isinstance(have, np.ndarray)
                    and have.shape == wrong[key].shape
                    and np.allclose(have, wrong[key], **tol)
                ):
                    hint = mistake.hint
                    break
            if hint is None and isinstance(have, np.ndarray) and not have.any() and value.any():
                hint = (
                    f"the {direction} direction's gradients are missing (all zero): its "
                    "layer_backward result goes into this dict"
                )
            check_close(f"{name}[{key!r}]", have, value, hint=hint, **tol)

    return check


def _gradient_proof(call, rng):
    """An asserted gradient check of brnn_backward through the whole bidirectional layer."""
    for cell in ("rnn", "lstm"):
        n_x, n_a, m, T_x = 3, 2, 2, 4
        p = _brnn_params(rng, cell, n_x, n_a)
        x = rng.standard_normal((n_x, m, T_x))
        w = rng.standard_normal((2 * n_a, m, T_x))
        _a, cache = bidirectional.bidirectional_forward(x, p, cell)
        grads = call(
            Case(
                f"gradient check, {cell} cell",
                {"da": w, "cache": cache},
                _case_sizes(n_x, n_a, m, T_x),
            )
        )

        def f(v, cell=cell, w=w):
            a, _ = bidirectional.bidirectional_forward(
                v["x"], {"forward": v["forward"], "backward": v["backward"]}, cell
            )
            return float(np.sum(w * a))

        # Fourth-order differences: ~50x more margin below the threshold than the classic
        # stencil for LSTM cells, whose smallest true gradients are ~1e-5.
        asserted_gradcheck(f"brnn_backward ({cell} cell)", f, {"x": x, **p}, grads, order=4)


BRNN_BACKWARD = Exercise(
    name="brnn_backward",
    assignment=ASSIGNMENT,
    number=2,
    arguments=("da", "cache"),
    returns=(
        Output("dx", shape="(n_x, m, T_x)"),
        Output("forward", kind="custom", check=_check_direction("forward")),
        Output("backward", kind="custom", check=_check_direction("backward")),
    ),
    packing="dict",
    reference=_backward_reference,
    cases=_backward_cases,
    mistakes=_BACKWARD_MISTAKES,
    forbidden=BRNN_FORWARD.forbidden,
    shapes={"da": "(2n_a, m, T_x)", "dx": "(n_x, m, T_x)"},
    proofs=(_gradient_proof,),
    doc="``brnn_backward(da, cache)`` -> {'forward': grads, 'backward': grads, 'dx'}.",
    explain=lambda case, error: explain_or_wrap(BRNN_BACKWARD, case, error),
)
