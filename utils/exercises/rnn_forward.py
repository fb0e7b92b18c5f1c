"""Checks for assignment 02 — the RNN forward pass and the types of RNNs.

Each exercise is data for the harness (:mod:`utils.exercises.harness`). ``rnn_cell_forward`` and
``rnn_forward`` have exactly the contracts of :mod:`utils.rnn` (the reference); the other
exercises' references are built from ``utils.rnn`` functions. Seed 0 (the visible tests) has
n_x = 3, n_a = 5, n_y = 4, m = 2: all different, so a transposed weight changes a shape.
"""

from __future__ import annotations

import numpy as np

from utils import rnn
from utils.activations import softmax
from utils.checks import check_close, check_equal
from utils.exercises._common import random_parameters, sizes
from utils.exercises.harness import Case, Exercise, Mistake, Output, default_tolerance
from utils.exercises.hints import SOFTMAX_AXIS, columns_sum_to_one

__all__ = [
    "random_parameters",
]

FORBIDDEN = (
    "utils.rnn.rnn_cell_forward",
    "utils.rnn.rnn_forward",
    "utils.rnn.rnn_layer_forward",
    "utils.rnn.dense_forward",
    "utils.rnn.rnn_model_forward",
    "utils.kernels.rnn.rnn_forward",
    "utils.kernels.rnn.rnn_layer_forward",
    "utils.kernels.rnn.rnn_model_forward",
)
CACHE_FIELDS = rnn.RNNCache._fields  # (a_next, a_prev, xt, parameters, activation)
SHAPES = {
    "xt": "(n_x, m)",
    "a_prev": "(n_a, m)",
    "a_next": "(n_a, m)",
    "yt_pred": "(n_y, m)",
    "x": "(n_x, m, T_x)",
    "a0": "(n_a, m)",
    "a": "(n_a, m, T_x)",
    "y_hat": "(n_y, m, T_x)",
    "Waa": "(n_a, n_a)",
    "Wax": "(n_a, n_x)",
    "ba": "(n_a, 1)",
    "Wya": "(n_y, n_a)",
    "by": "(n_y, 1)",
}
TIME_HINT = (
    "Off-by-one in the time loop? The time steps are x[:, :, 0] .. x[:, :, T_x - 1] "
    "(for t in range(T_x))."
)


def _sizes(n_x, n_a, n_y, m, **more):
    return {"n_x": n_x, "n_a": n_a, "n_y": n_y, "m": m, **more}


def _with(case: Case, **changes) -> dict:
    """The case's arguments with some replaced (the switch a mistake flips)."""
    return {**case.args, **changes}


def _params(case: Case, **changes) -> dict:
    return {**case.args["parameters"], **changes}


def _zero(case: Case, name: str) -> dict:
    return _params(case, **{name: np.zeros_like(case.args["parameters"][name])})


def _scores(a: np.ndarray, p: dict) -> np.ndarray:
    """z = Wya a + by for a 2-D (n_a, m) or 3-D (n_a, m, T) state, from the reference layer."""
    z, _ = rnn.dense_forward(a if a.ndim == 3 else a[:, :, None], p["Wya"], p["by"])
    return z if a.ndim == 3 else z[:, :, 0]


def _columns_hint(got, want, case) -> str | None:
    same = isinstance(got, np.ndarray) and got.shape == want.shape
    if same and not np.allclose(got.sum(axis=0), 1, atol=1e-4):
        return columns_sum_to_one("column (one example's distribution over the n_y classes)")
    return None


# --------------------------------------------------------------------------------------------
# Exercise 1 — rnn_cell_forward
# --------------------------------------------------------------------------------------------


def check_cell_cache(name: str, cache, want, case: Case) -> None:
    """The cache must be the tuple (a_next, a_prev, xt, parameters, activation) that
    rnn_cell_backward reads, with the values of the reference's cache ``want``."""
    fields = ", ".join(CACHE_FIELDS)
    if not isinstance(cache, tuple) or len(cache) != len(CACHE_FIELDS):
        length = len(cache) if hasattr(cache, "__len__") else "?"
        raise AssertionError(
            f"{name} should be the tuple ({fields}) that rnn_cell_backward needs, got "
            f"{type(cache).__name__} of length {length}"
        )
    head, _, where = name.partition(" from ")
    tol = default_tolerance(case, cache)
    for i, field in enumerate(CACHE_FIELDS[:3]):
        check_close(
            f"{head}[{i}] ({field}) from {where}",
            cache[i],
            want[i],
            hint=f"the cache is ({fields}); the backward pass needs {field} here",
            **tol,
        )
    got, want = rnn.RNNCache._make(cache), rnn.RNNCache._make(want)  # a student's: a tuple
    stored = got.parameters
    if not isinstance(stored, dict) or not set(want.parameters) <= set(stored):
        raise AssertionError(
            f"{head}[3] from {where} should be the parameters dict (Waa, Wax, ba, Wya, by), "
            f"got {type(stored).__name__}"
        )
    for key, value in want.parameters.items():
        check_close(f"{head}[3][{key!r}] from {where}", stored[key], value, **tol)
    check_equal(f"{head}[4] (activation) from {where}", got.activation, want.activation)


def _cell_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    n_x, n_a, n_y, m = sizes(rng, seed)
    size = _sizes(n_x, n_a, n_y, m)
    p = random_parameters(rng, n_x, n_a, n_y)
    x, a = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    one_hot = np.eye(n_x)[:, rng.integers(0, n_x, size=m)]
    zx, za = np.zeros((n_x, m)), np.zeros((n_a, m))
    rows = [
        ("xt = 0, a_prev = 0: only the bias path", zx, za, p, "tanh"),
        ("a_prev = 0: the input path", x, za, p, "tanh"),
        ("xt = 0: the recurrent path", zx, a, p, "tanh"),
        ("all paths", x, a, p, "tanh"),
        ("one-hot input", one_hot, a, p, "tanh"),
        ("relu", x, a, p, "relu"),
        ("relu, xt = 0", zx, a, p, "relu"),
    ]
    for _ in range(2):
        q = random_parameters(rng, n_x, n_a, n_y)
        rows.append(
            ("random", rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m)), q, "tanh")
        )
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    rows.append(("float32", x.astype(np.float32), a.astype(np.float32), p32, "tanh"))
    return [
        Case(what, {"xt": xt, "a_prev": ap, "parameters": q, "activation": g}, size)
        for what, xt, ap, q, g in rows
    ]


def _cell(case: Case, **changes):
    return rnn.rnn_cell_forward(**_with(case, **changes))


def _other(activation: str) -> str:
    return "relu" if activation == "tanh" else "tanh"


def _no_activation(case: Case):
    """z itself: undo tanh on the reference's a_next (only tanh is invertible)."""
    if case.args["activation"] != "tanh":
        return None
    return {"a_next": np.arctanh(np.clip(_cell(case)[0], -1 + 1e-12, 1 - 1e-12))}


RNN_CELL_FORWARD = Exercise(
    name="rnn_cell_forward",
    assignment=2,
    number=1,
    arguments=("xt", "a_prev", "parameters", "activation"),
    packing="tuple",
    returns=(
        Output("a_next", shape="(n_a, m)"),
        Output("yt_pred", shape="(n_y, m)", hint=_columns_hint),
        Output("cache", kind="custom", check=check_cell_cache),
    ),
    reference=lambda case: rnn.rnn_cell_forward(**case.args),
    cases=_cell_cases,
    mistakes=(
        Mistake(
            "a_next ignores ba? (a_next = g(Waa a_prev + Wax xt + ba))",
            lambda c: _cell(c, parameters=_zero(c, "ba")),
            outputs=("a_next",),
        ),
        Mistake(
            "a_next ignores the Waa a_prev term? (the previous state must enter every step)",
            lambda c: _cell(c, a_prev=0 * c.args["a_prev"]),
            outputs=("a_next",),
        ),
        Mistake(
            "a_next ignores the Wax xt term? (the input must enter)",
            lambda c: _cell(c, xt=0 * c.args["xt"]),
            outputs=("a_next",),
        ),
        Mistake(
            "a_next uses Waa transposed? (Waa @ a_prev, not Waa.T @ a_prev)",
            lambda c: _cell(c, parameters=_params(c, Waa=c.args["parameters"]["Waa"].T)),
            outputs=("a_next",),
        ),
        Mistake(
            lambda c: (
                f"a_next uses {_other(c.args['activation'])} but "
                f"activation={c.args['activation']!r} was asked for"
            ),
            lambda c: _cell(c, activation=_other(c.args["activation"])),
            outputs=("a_next",),
        ),
        Mistake("a_next is missing the activation g (a_next = g(z), not z)", _no_activation),
        Mistake(
            "yt_pred is computed from a_prev; it must use the new state a_next",
            lambda c: {"yt_pred": softmax(_scores(c.args["a_prev"], c.args["parameters"]))},
        ),
        Mistake(
            "yt_pred ignores by? (yt_pred = softmax(Wya a_next + by))",
            lambda c: _cell(c, parameters=_zero(c, "by")),
            outputs=("yt_pred",),
        ),
        Mistake(
            SOFTMAX_AXIS,
            lambda c: {"yt_pred": softmax(_scores(_cell(c)[0], c.args["parameters"]).T).T},
        ),
        Mistake(
            "yt_pred is missing the softmax",
            lambda c: {"yt_pred": _scores(_cell(c)[0], c.args["parameters"])},
        ),
    ),
    forbidden=FORBIDDEN,
    shapes=SHAPES,
    doc="``rnn_cell_forward(xt, a_prev, parameters, activation)`` returns ``a_next`` (n_a, m), "
    "``yt_pred`` (n_y, m) and ``cache = (a_next, a_prev, xt, parameters, activation)``.",
)


# --------------------------------------------------------------------------------------------
# Exercise 2 — rnn_forward
# --------------------------------------------------------------------------------------------


def _sequence_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    T, T_last = (6, 7) if seed == 0 else (int(v) for v in rng.integers(2, 10, size=2))
    a0 = rng.standard_normal((n_a, m))
    one_hot = np.eye(n_x)[rng.integers(0, n_x, size=(m, T_last))].transpose(2, 0, 1)
    rows = [
        ("x = 0: only a0 and the biases drive the states", np.zeros((n_x, m, T)), a0, "tanh"),
        ("a0 = 0", rng.standard_normal((n_x, m, T)), np.zeros((n_a, m)), "tanh"),
        ("random", rng.standard_normal((n_x, m, T)), a0, "tanh"),
        ("T_x = 1", rng.standard_normal((n_x, m, 1)), a0, "tanh"),
        ("relu", rng.standard_normal((n_x, m, T_last)), a0, "relu"),
        ("one-hot", one_hot, rng.standard_normal((n_a, m)), "tanh"),
        (
            "float32",
            rng.standard_normal((n_x, m, T)).astype(np.float32),
            a0.astype(np.float32),
            "tanh",
        ),
    ]
    cases = []
    for what, x, a_init, g in rows:
        q = p if x.dtype == np.float64 else {k: v.astype(x.dtype) for k, v in p.items()}
        size = _sizes(n_x, n_a, n_y, m, T_x=x.shape[2])
        cases.append(
            Case(
                f"{what}, T_x={x.shape[2]}",
                {"x": x, "a0": a_init, "parameters": q, "activation": g},
                size,
            )
        )
    return cases


def _forward(case: Case, **changes):
    return rnn.rnn_forward(**_with(case, **changes))


def _states(case: Case, transform) -> dict:
    """The reference states with one time-indexing mistake applied."""
    a = _forward(case)[0]
    return {"a": transform(a, case.args["a0"])}


def _from_a0_every_step(case: Case) -> dict:
    x, a0 = case.args["x"], case.args["a0"]
    steps = [
        rnn.rnn_cell_forward(x[:, :, t], a0, case.args["parameters"], case.args["activation"])[0]
        for t in range(x.shape[2])
    ]
    return {"a": np.stack(steps, axis=2)}


def _last_missing(a, a0):
    out = a.copy()
    out[:, :, -1] = 0.0
    return out if a.shape[2] > 1 else None


def _shifted(a, a0):
    return np.concatenate([a0[:, :, None], a[:, :, :-1]], axis=2)


def _first_zero(a, a0):
    return (
        np.concatenate([np.zeros_like(a[:, :, :1]), a[:, :, :-1]], axis=2)
        if a.shape[2] > 1
        else None
    )


def check_sequence_caches(name: str, caches, want, case: Case) -> None:
    """caches = (cell_caches, x), one cell cache per step, as the reference's."""
    head, _, where = name.partition(" from ")
    if not isinstance(caches, tuple) or len(caches) != 2 or not isinstance(caches[0], list):
        raise AssertionError(
            f"{name} should be the tuple (cell_caches, x) with cell_caches a list of the T_x "
            f"caches of rnn_cell_forward, got {type(caches).__name__}"
        )
    cell_caches, x_cached = caches
    check_equal(
        f"len({head}[0]) from {where}",
        len(cell_caches),
        len(want[0]),
        hint="one cache per time step (append the cache of every call to rnn_cell_forward)",
    )
    check_close(f"{head}[1] (x) from {where}", x_cached, want[1])
    for t, (got_t, want_t) in enumerate(zip(cell_caches, want[0], strict=True)):
        check_cell_cache(f"{head}[0][{t}] from {where}", got_t, want_t, case)


RNN_FORWARD = Exercise(
    name="rnn_forward",
    assignment=2,
    number=2,
    arguments=("x", "a0", "parameters", "activation"),
    packing="tuple",
    returns=(
        Output("a", shape="(n_a, m, T_x)"),
        Output(
            "y_hat",
            shape="(n_y, m, T_x)",
            hint=lambda got, want, case: (
                columns_sum_to_one("y_hat[:, i, t]") if _columns_hint(got, want, case) else None
            ),
        ),
        Output("caches", kind="custom", check=check_sequence_caches),
    ),
    reference=lambda case: rnn.rnn_forward(**case.args),
    cases=_sequence_cases,
    mistakes=(
        Mistake("the cell ignores ba", lambda c: _forward(c, parameters=_zero(c, "ba")), ("a",)),
        Mistake(
            "the cell ignores the Waa a<t-1> term",
            lambda c: _forward(c, parameters=_zero(c, "Waa")),
            ("a",),
        ),
        Mistake(
            "the cell ignores the Wax x<t> term",
            lambda c: _forward(c, parameters=_zero(c, "Wax")),
            ("a",),
        ),
        Mistake(
            "rnn_forward ignores a0: the first step must use a_prev = a0, not zeros",
            lambda c: _forward(c, a0=0 * c.args["a0"]),
            ("a",),
        ),
        Mistake(
            "rnn_forward does not pass activation on: call rnn_cell_forward(..., activation) "
            "(these are the tanh states, but activation='relu' was asked for)",
            lambda c: _forward(c, activation="tanh") if c.args["activation"] != "tanh" else None,
            ("a", "y_hat"),
        ),
        Mistake(
            "a[:, :, t] holds a<t-1>: store the new state a_next at t (a[:, :, 0] is a<1>, not a0)",
            lambda c: _states(c, _shifted),
        ),
        Mistake(
            "a_prev is never updated: feed each new state a<t> into step t+1", _from_a0_every_step
        ),
        Mistake(
            "x<t> is read at the wrong time index (x[:, :, t - 1]?): off-by-one in the time loop",
            lambda c: _forward(c, x=np.roll(c.args["x"], 1, axis=2)),
            ("a",),
        ),
        Mistake(
            "the last time step is never computed (range(T_x - 1)?): off-by-one",
            lambda c: _states(c, _last_missing),
        ),
        Mistake(
            "the states are shifted by one step (a[:, :, 0] left at zero?): off-by-one in the "
            "time loop",
            lambda c: _states(c, _first_zero),
        ),
        Mistake(
            "y_hat[:, :, t] is computed from a<t-1>; use the new state a<t>",
            lambda c: {
                "y_hat": softmax(
                    _scores(_shifted(_forward(c)[0], c.args["a0"]), c.args["parameters"])
                )
            },
        ),
        Mistake("y_hat ignores by", lambda c: _forward(c, parameters=_zero(c, "by")), ("y_hat",)),
    ),
    forbidden=FORBIDDEN,
    shapes=SHAPES,
    index_hint=TIME_HINT,
    doc="``rnn_forward(x, a0, parameters, activation)`` returns ``a`` (n_a, m, T_x), ``y_hat`` "
    "(n_y, m, T_x) and ``caches = (cell_caches, x)`` with one cell cache per step.",
)


# --------------------------------------------------------------------------------------------
# Exercise 3 — many_to_one_forward
# --------------------------------------------------------------------------------------------


def _many_to_one_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    rows = [(5, "zero input", True), (4, "random", False), (1, "T_x = 1", False)]
    rows.append((int(rng.integers(2, 9)), "random", False))
    cases = []
    for T_x, what, zero in rows:
        x = np.zeros((n_x, m, T_x)) if zero else rng.standard_normal((n_x, m, T_x))
        args = {"x": x, "a0": rng.standard_normal((n_a, m)), "parameters": p}
        cases.append(Case(f"{what}, T_x={T_x}", args, _sizes(n_x, n_a, n_y, m, T_x=T_x)))
    return cases


def _all_steps(case: Case, **changes) -> np.ndarray:
    """y_hat at every step, from the reference forward pass."""
    return rnn.rnn_forward(**_with(case, **changes))[1]


LAST = "the prediction must come from the last state a<T_x>"
MANY_TO_ONE_FORWARD = Exercise(
    name="many_to_one_forward",
    assignment=2,
    number=3,
    arguments=("x", "a0", "parameters"),
    returns=(Output("y_hat", shape="(n_y, m)", hint=_columns_hint),),
    reference=lambda case: _all_steps(case)[:, :, -1],
    cases=_many_to_one_cases,
    mistakes=(
        Mistake(f"{LAST}, not the first", lambda c: _all_steps(c)[:, :, 0]),
        Mistake(f"{LAST}, not a0", lambda c: softmax(_scores(c.args["a0"], c.args["parameters"]))),
        Mistake(
            f"{LAST}, not the mean of the states",
            lambda c: softmax(
                _scores(rnn.rnn_layer_forward(**c.args)[0].mean(axis=2), c.args["parameters"])
            ),
        ),
        Mistake(
            "many_to_one_forward must return the (n_y, m) prediction of the last step only",
            _all_steps,
        ),
        Mistake(
            "many_to_one_forward ignores a0", lambda c: _all_steps(c, a0=0 * c.args["a0"])[:, :, -1]
        ),
        Mistake(
            "the softmax is missing: y_hat = softmax(Wya a<T_x> + by)",
            lambda c: _scores(rnn.rnn_layer_forward(**c.args)[0][:, :, -1], c.args["parameters"]),
        ),
    ),
    forbidden=FORBIDDEN,
    shapes=SHAPES,
    index_hint=TIME_HINT,
    doc="``many_to_one_forward(x, a0, parameters)`` returns ``softmax(Wya a<T_x> + by)``, "
    "(n_y, m): one prediction per sequence, from the last hidden state.",
)


# --------------------------------------------------------------------------------------------
# Exercise 4 — one_to_many_forward
# --------------------------------------------------------------------------------------------


def generate(x1, a0, parameters, T_y, feed="one_hot", carry=True) -> np.ndarray:
    """Run the reference cell T_y times from x1, feeding back the one-hot argmax (or, as a
    known mistake: the probabilities, x1 again, zeros; or not carrying the state)."""
    n_y, m = parameters["Wya"].shape[0], x1.shape[1]
    y_hat = np.zeros((n_y, m, T_y))
    xt, a_prev = x1, a0
    for t in range(T_y):
        a_next, y_hat[:, :, t], _ = rnn.rnn_cell_forward(xt, a_prev, parameters)
        a_prev = a_next if carry else a_prev
        if feed == "one_hot":
            xt = np.eye(n_y)[:, y_hat[:, :, t].argmax(axis=0)]
        elif feed == "probabilities":
            xt = y_hat[:, :, t]
        elif feed == "zeros":
            xt = np.zeros_like(x1)
    return y_hat


def _generation_mistakes(prefix: str, start) -> tuple[Mistake, ...]:
    """``start(case) -> (x1, a0, parameters, T_y)`` of the generation loop."""
    return (
        Mistake(
            f"{prefix}: feed back the one-hot vector of the most likely symbol (argmax), not the "
            "probabilities y_hat<t>",
            lambda c: generate(*start(c), feed="probabilities"),
        ),
        Mistake(
            f"{prefix}: the input of step t+1 must be the output of step t, not x1 again",
            lambda c: generate(*start(c), feed="x1"),
        ),
        Mistake(
            f"{prefix}: the input of step t+1 must be the output of step t, not zeros",
            lambda c: generate(*start(c), feed="zeros"),
        ),
        Mistake(
            f"{prefix}: carry the hidden state from step to step (a_prev = a_next)",
            lambda c: generate(*start(c), carry=False),
        ),
    )


def _one_to_many_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    _, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_y, n_a, n_y)
    p["Wya"] *= 2.0  # confident outputs: feeding probabilities and one-hots differ clearly
    rows = [
        ("x1 = 0, as in the lecture", np.zeros((n_y, m)), 6),
        ("one-hot x1", np.eye(n_y)[:, rng.integers(0, n_y, size=m)], 5),
        ("T_y = 1", np.eye(n_y)[:, rng.integers(0, n_y, size=m)], 1),
        ("random x1", rng.standard_normal((n_y, m)), int(rng.integers(3, 9))),
    ]
    return [
        Case(
            what,
            {"x1": x1, "a0": rng.standard_normal((n_a, m)), "parameters": p, "T_y": T_y},
            _sizes(n_y, n_a, n_y, m, T_y=T_y),
        )
        for what, x1, T_y in rows
    ]


def _one_to_many_start(case: Case):
    return case.args["x1"], case.args["a0"], case.args["parameters"], case.args["T_y"]


ONE_TO_MANY_FORWARD = Exercise(
    name="one_to_many_forward",
    assignment=2,
    number=4,
    arguments=("x1", "a0", "parameters", "T_y"),
    returns=(Output("y_hat", shape="(n_y, m, T_y)"),),
    reference=lambda case: generate(*_one_to_many_start(case)),
    cases=_one_to_many_cases,
    mistakes=_generation_mistakes("one_to_many_forward", _one_to_many_start),
    forbidden=FORBIDDEN,
    shapes={**SHAPES, "x1": "(n_y, m)", "xt": "(n_y, m)", "y_hat": "(n_y, m, T_y)"},
    doc="``one_to_many_forward(x1, a0, parameters, T_y)`` returns y_hat (n_y, m, T_y): step 1 "
    "reads x1, step t+1 the one-hot vector of argmax y_hat<t> (so n_x = n_y).",
)


# --------------------------------------------------------------------------------------------
# Exercise 5 — encoder_decoder_forward
# --------------------------------------------------------------------------------------------


def _encoder_decoder_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    n_x, n_a, n_y, m = sizes(rng, seed)
    encoder = random_parameters(rng, n_x, n_a, n_y)
    decoder = random_parameters(rng, n_y, n_a, n_y)
    decoder["Wya"] *= 2.0
    pairs = [(5, 3), (2, 6)] if seed == 0 else [(int(rng.integers(2, 9)), int(rng.integers(1, 9)))]
    pairs.append((1, 1))
    cases = []
    for T_x, T_y in pairs:
        args = {
            "x": rng.standard_normal((n_x, m, T_x)),
            "a0": rng.standard_normal((n_a, m)),
            "encoder": encoder,
            "decoder": decoder,
            "T_y": T_y,
        }
        cases.append(Case(f"T_x={T_x}", args, _sizes(n_x, n_a, n_y, m, T_x=T_x, T_y=T_y)))
    return cases


def _encoded(case: Case, a0=None) -> np.ndarray:
    a0 = case.args["a0"] if a0 is None else a0
    return rnn.rnn_layer_forward(case.args["x"], a0, case.args["encoder"])[0]


def _decode_from(case: Case, a_start) -> tuple:
    m = case.args["x"].shape[1]
    n_y = case.args["decoder"]["Wya"].shape[0]
    return np.zeros((n_y, m)), a_start, case.args["decoder"], case.args["T_y"]


ENCODER_DECODER_FORWARD = Exercise(
    name="encoder_decoder_forward",
    assignment=2,
    number=5,
    arguments=("x", "a0", "encoder", "decoder", "T_y"),
    returns=(Output("y_hat", shape="(n_y, m, T_y)"),),
    reference=lambda c: generate(*_decode_from(c, _encoded(c)[:, :, -1])),
    cases=_encoder_decoder_cases,
    mistakes=(
        Mistake(
            "the decoder must start from the encoder's last state a<T_x>, not a0",
            lambda c: generate(*_decode_from(c, c.args["a0"])),
        ),
        Mistake(
            "the decoder must start from the encoder's last state a<T_x>, not a<1>",
            lambda c: generate(*_decode_from(c, _encoded(c)[:, :, 0])),
        ),
        Mistake(
            "encoder_decoder_forward ignores a0 (the encoder starts from a0)",
            lambda c: generate(*_decode_from(c, _encoded(c, 0 * c.args["a0"])[:, :, -1])),
        ),
        *_generation_mistakes("the decoder", lambda c: _decode_from(c, _encoded(c)[:, :, -1])),
    ),
    forbidden=FORBIDDEN,
    shapes={"x": "(n_x, m, T_x)", "a0": "(n_a, m)", "y_hat": "(n_y, m, T_y)"},
    doc="``encoder_decoder_forward(x, a0, encoder, decoder, T_y)``: the encoder reads x from a0; "
    "its last state starts the decoder (first input zeros (n_y, m)), run as one_to_many_forward "
    "for T_y steps. Returns y_hat (n_y, m, T_y).",
)
