"""Checks for assignment 03 — backpropagation through time, plus the toy data of its demo.

Each exercise is data for the harness (:mod:`utils.exercises.harness`). ``rnn_cell_backward``
and ``bptt`` have exactly the contracts of :mod:`utils.rnn` (the reference); the other
exercises' references are built from ``utils.rnn``, ``utils.losses`` and ``utils.optim``. Every
known mistake is the reference run with one thing switched (a cache entry, a slice of the
time steps, the targets, the sign of the learning rate). Contracts (the notebook states them):

- ``sequence_loss(y_hat, y, mask=None) -> float``: ``(1/m) sum_i sum_t mask[i, t] L<t>_i``,
  ``L<t>_i = -log y_hat[y[i, t], i, t]`` (nats; summed over time, averaged over the batch).
- ``rnn_cell_backward(da_next, cache) -> {dxt, da_prev, dWax, dWaa, dba}``.
- ``bptt(dz, caches) -> {dx, da0, dWax, dWaa, dba, dWya, dby}`` from ``dz`` = dJ/dz<t>,
  ``z<t> = Wya a<t> + by``, (n_y, m, T_x), and ``caches = (cell_caches, x)`` of ``rnn_forward``.
- ``loss_and_gradients(x, y, mask, a0, parameters) -> (loss, grads)``.
- ``train_step(x, y, mask, a0, parameters, learning_rate) -> (loss, new_parameters)``.
- ``truncated_bptt(x, y, mask, a0, parameters, chunk_length) -> (loss, grads, a_last)``.

Provided (not graded): :func:`make_delay_task`, the toy data of the training demo.
"""

from __future__ import annotations

import copy

import numpy as np

from utils import losses, optim, rnn
from utils.activations import relu_backward, tanh_backward
from utils.exercises._common import random_parameters, sizes
from utils.exercises.harness import Case, Exercise, Mistake, Output, asserted_gradcheck

__all__ = [
    "make_delay_task",
    "random_parameters",
]

ASSIGNMENT = 3
PARAMETER_NAMES = ("Waa", "Wax", "ba", "Wya", "by")
CACHE_FIELDS = rnn.RNNCache._fields  # (a_next, a_prev, xt, parameters, activation)
PARAMETER_GRADS = tuple("d" + name for name in PARAMETER_NAMES)
LOSS_FORBIDDEN = ("utils.losses.cross_entropy", "utils.losses.softmax_cross_entropy")
FORBIDDEN = (
    "utils.rnn.rnn_cell_backward",
    "utils.rnn.rnn_backward",
    "utils.rnn.bptt",
    "utils.rnn.dense_backward",
    "utils.rnn.rnn_model_forward",
    "utils.rnn.rnn_model_backward",
    "utils.kernels.rnn.rnn_backward",
    "utils.kernels.rnn.bptt",
    "utils.kernels.rnn.rnn_model_forward",
    "utils.kernels.rnn.rnn_model_backward",
    *LOSS_FORBIDDEN,
    "utils.optim.SGD",
)
SHAPES = {
    "x": "(n_x, m, T_x)",
    "xt": "(n_x, m)",
    "a0": "(n_a, m)",
    "a_prev": "(n_a, m)",
    "a_next": "(n_a, m)",
    "da_next": "(n_a, m)",
    "da_prev": "(n_a, m)",
    "y_hat": "(n_y, m, T_x)",
    "y": "(m, T_x)",
    "mask": "(m, T_x)",
    "dz": "(n_y, m, T_x)",
    "Waa": "(n_a, n_a)",
    "Wax": "(n_a, n_x)",
    "ba": "(n_a, 1)",
    "Wya": "(n_y, n_a)",
    "by": "(n_y, 1)",
}
GRADIENT_OUTPUTS = (
    Output("dWya", shape="(n_y, n_a)"),
    Output("dby", shape="(n_y, 1)"),
    Output("dWax", shape="(n_a, n_x)"),
    Output("dWaa", shape="(n_a, n_a)"),
    Output("dba", shape="(n_a, 1)"),
)
SEQUENCE_OUTPUTS = (
    *GRADIENT_OUTPUTS,
    Output("dx", shape="(n_x, m, T_x)"),
    Output("da0", shape="(n_a, m)"),
)
BACKWARD_TIME_HINT = (
    "Off-by-one in the time loop? The steps run right to left, t = T_x - 1 down to 0 "
    "(reversed(range(T_x))); dz[:, :, t] and cell_caches[t] belong to step t."
)
LABELS_HINT = (
    "y holds integer labels (m, T): y[i, t] is the true class of example i at step t, so the "
    "probability to pick is y_hat[y[i, t], i, t] (np.eye(n_y)[y] has shape (m, T, n_y))."
)


# --------------------------------------------------------------------------------------------
# Provided helper
# --------------------------------------------------------------------------------------------


def make_delay_task(
    rng: np.random.Generator, m: int, T_max: int, n_symbols: int = 4, delay: int = 2
):
    """Toy data: read random symbols, output at each step the symbol seen ``delay`` steps ago.

    Lengths vary between ``delay + 2`` and ``T_max``, so sequences are padded and the mask is
    False on padding and on the first ``delay`` steps (which have no target).

    Returns x (n_symbols, m, T_max) one-hot (zeros on padding), y (m, T_max) int labels
    (0 where masked) and mask (m, T_max) bool.
    """
    ids = rng.integers(0, n_symbols, size=(m, T_max))
    lengths = rng.integers(delay + 2, T_max + 1, size=m)
    steps = np.arange(T_max)
    real = steps[None, :] < lengths[:, None]
    x = np.eye(n_symbols)[ids].transpose(2, 0, 1) * real[None]
    y = np.zeros((m, T_max), dtype=np.int64)
    y[:, delay:] = ids[:, :-delay]
    mask = real & (steps[None, :] >= delay)
    return x, np.where(mask, y, 0), mask


# --------------------------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------------------------


def _sizes(n_x, n_a, n_y, m, **more):
    return {"n_x": n_x, "n_a": n_a, "n_y": n_y, "m": m, **more}


def _model_loss(x, y, mask, a0, parameters):
    """The reference loss and gradients of one batch, and the hidden states."""
    loss, a, cache = rnn.rnn_model_forward(x, a0, parameters, y, mask)
    return loss, rnn.rnn_model_backward(cache), a


# --------------------------------------------------------------------------------------------
# Exercise 1 — sequence_loss
# --------------------------------------------------------------------------------------------


def _loss_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    n_y, m, T = (5, 3, 4) if seed == 0 else tuple(int(v) for v in rng.integers(2, 8, size=3))

    def probabilities(shape):
        return rng.dirichlet(np.ones(shape[0]), size=shape[1:]).transpose(2, 0, 1)

    padded = np.ones((m, T), dtype=bool)
    padded[0, T // 2 :] = False
    padded[-1, 1:] = False
    rows = [
        ("no mask", probabilities((n_y, m, T)), None),
        ("all-ones mask", probabilities((n_y, m, T)), np.ones((m, T), dtype=bool)),
        ("padded batch, bool mask", probabilities((n_y, m, T)), padded),
        ("padded batch, 0/1 float mask", probabilities((n_y, m, T)), padded.astype(float)),
        ("T = 1, m = 1", probabilities((n_y, 1, 1)), None),
        ("float32", probabilities((n_y, m, T)).astype(np.float32), padded),
    ]
    cases = []
    for what, y_hat, mask in rows:
        n_y_, m_, T_ = y_hat.shape
        y = rng.integers(0, n_y_, size=(m_, T_))
        if mask is not None:
            # Padded steps give their label a tiny probability: ignoring the mask shows.
            for i, t in zip(*np.nonzero(~np.asarray(mask, dtype=bool)), strict=True):
                y_hat[:, i, t] = 1.0
                y_hat[y[i, t], i, t] = 1e-3
                y_hat[:, i, t] /= y_hat[:, i, t].sum()
        args = {"y_hat": y_hat, "y": y, "mask": mask}
        cases.append(Case(what, args, {"n_y": n_y_, "m": m_, "T": T_, "T_x": T_}))
    return cases


def _loss(case: Case, y=None, mask="same", reduction="per_sequence") -> float:
    """The reference loss (float64), with the targets, the mask or the reduction switched."""
    args = case.args
    mask = args["mask"] if isinstance(mask, str) else mask
    y = args["y"] if y is None else y
    return losses.cross_entropy(args["y_hat"].astype(np.float64), y, mask, reduction)


def _per_real_token(case: Case):
    mask = case.args["mask"]
    real = case.args["y"].size if mask is None else float(np.sum(mask))
    return _loss(case, reduction="sum") / max(real, 1.0)


def _all_classes(case: Case):
    """Every class counted as if it were the target: y switched to all-ones 'one-hot'."""
    return _loss(case, y=np.ones(case.args["y_hat"].shape))


SEQUENCE_LOSS = Exercise(
    name="sequence_loss",
    assignment=ASSIGNMENT,
    number=1,
    arguments=("y_hat", "y", "mask"),
    returns=(Output("loss", kind="float"),),
    reference=_loss,
    cases=_loss_cases,
    mistakes=(
        Mistake(
            "padded steps must not count: multiply each L<t> by the mask",
            lambda c: _loss(c, mask=None),
        ),
        Mistake(
            "the total loss sums L<t> over time and divides by m only; do not average over the "
            "time steps or the real tokens",
            lambda c: _loss(c) / c.args["y"].shape[1],
        ),
        Mistake("average over the m examples (divide by m)", lambda c: _loss(c, reduction="sum")),
        Mistake(
            "the course's loss sums over time and averages over sequences, not over real tokens",
            _per_real_token,
        ),
        Mistake("take -log of the probability of the true class only", _all_classes),
        Mistake("the loss is -log(probability): the sign is wrong", lambda c: -_loss(c)),
    ),
    forbidden=LOSS_FORBIDDEN,
    shapes={"y_hat": "(n_y, m, T)", "y": "(m, T)", "mask": "(m, T)"},
    index_hint=LABELS_HINT,
    doc="``sequence_loss(y_hat, y, mask=None)``: masked cross-entropy in nats, summed over "
    "time, averaged over the batch.",
)


# --------------------------------------------------------------------------------------------
# Exercise 2 — rnn_cell_backward
# --------------------------------------------------------------------------------------------


def _cell_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    x_rand, a_rand = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    da_rand = rng.standard_normal((n_a, m))
    one_unit = np.zeros((n_a, m))
    one_unit[n_a // 2, :] = 1.0
    x2, a2 = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    x32, a32, da32 = (v.astype(np.float32) for v in (x_rand, a_rand, da_rand))
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    rows = [
        ("da_next = 0 except one unit", x_rand, a_rand, one_unit, "tanh", p),
        ("xt = 0: dWax must be zero", np.zeros((n_x, m)), a_rand, da_rand, "tanh", p),
        ("a_prev = 0: dWaa must be zero", x_rand, np.zeros((n_a, m)), da_rand, "tanh", p),
        ("random", x_rand, a_rand, da_rand, "tanh", p),
        ("relu", x_rand, a_rand, da_rand, "relu", p),
        ("random", x2, a2, da_rand, "tanh", p),
        ("float32", x32, a32, da32, "tanh", p32),
    ]
    cases = []
    for what, xt, a_prev, da, activation, params in rows:
        _, _, cache = rnn.rnn_cell_forward(xt, a_prev, params, activation)
        cases.append(
            Case(
                f"{what}, activation={activation!r}",
                {"da_next": da, "cache": cache},
                _sizes(n_x, n_a, n_y, m),
            )
        )
    return cases


def _cell(case: Case, da_next=None, **switch):
    """The reference on the case, with cache entries switched (a_next=, a_prev=, xt=,
    parameters=, activation=)."""
    cache = rnn.RNNCache._make(case.args["cache"])._replace(**switch)
    da = case.args["da_next"] if da_next is None else da_next
    return rnn.rnn_cell_backward(da, cache)


def _waa_transposed(p):
    return {**p, "Waa": p["Waa"].T}


def _activation(case: Case) -> str:
    return case.args["cache"].activation


def _dz(case: Case) -> np.ndarray:
    """dz = da_next * g'(z), from the library's activation backward."""
    backward = tanh_backward if _activation(case) == "tanh" else relu_backward
    return backward(case.args["da_next"], case.args["cache"][0])


def _without_derivative(case: Case):
    """dz = da_next: a cached a_next for which g' is 1 everywhere (0 for tanh, 1 for relu)."""
    a_next = case.args["cache"][0]
    return _cell(
        case, a_next=np.zeros_like(a_next) if _activation(case) == "tanh" else 1 + 0 * a_next
    )


def _tanh_of_output(case: Case):
    """1 - tanh(a_next)**2: the derivative evaluated as if a_next were the pre-activation."""
    if _activation(case) != "tanh":
        return None
    return _cell(case, a_next=np.tanh(case.args["cache"][0]))


def _cell_dba(case: Case):
    return _cell(case)["dba"]


def _cell_proof(call, rng: np.random.Generator) -> None:
    """f = sum(w * a_next) for fixed random w, so da_next = w; float64, tanh and relu."""
    n_x, n_a, n_y, m = 3, 5, 4, 2
    p = random_parameters(rng, n_x, n_a, n_y)
    xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    for activation in ("tanh", "relu"):
        w = rng.standard_normal((n_a, m))
        _, _, cache = rnn.rnn_cell_forward(xt, a_prev, p, activation)
        label = f"gradient check, activation={activation!r}"
        grads = call(Case(label, {"da_next": w, "cache": cache}, _sizes(n_x, n_a, n_y, m)))

        def f(v, activation=activation, w=w):
            q = {**p, "Waa": v["Waa"], "Wax": v["Wax"], "ba": v["ba"]}
            return float(np.sum(w * rnn.rnn_cell_forward(v["xt"], v["a_prev"], q, activation)[0]))

        at = {"xt": xt, "a_prev": a_prev, "Waa": p["Waa"], "Wax": p["Wax"], "ba": p["ba"]}
        asserted_gradcheck(f"rnn_cell_backward (activation={activation!r})", f, at, grads)


RNN_CELL_BACKWARD = Exercise(
    name="rnn_cell_backward",
    assignment=ASSIGNMENT,
    number=2,
    arguments=("da_next", "cache"),
    packing="dict",
    returns=(
        Output("dba", shape="(n_a, 1)"),
        Output("dWax", shape="(n_a, n_x)"),
        Output("dWaa", shape="(n_a, n_a)"),
        Output("dxt", shape="(n_x, m)"),
        Output("da_prev", shape="(n_a, m)"),
    ),
    reference=lambda case: rnn.rnn_cell_backward(**case.args),
    cases=_cell_cases,
    mistakes=(
        Mistake(
            "the cache says activation='relu': use relu's derivative (a_next > 0)",
            lambda c: _cell(c, activation="tanh") if _activation(c) == "relu" else None,
        ),
        Mistake(
            "the tanh derivative is 1 - a_next**2: a_next is already tanh(z), so do not apply tanh "
            "to it again (that is the derivative at the pre-activation, evaluated at the output)",
            _tanh_of_output,
        ),
        Mistake(
            "backpropagate through the activation: dz = da_next * (1 - a_next**2) for tanh",
            _without_derivative,
        ),
        Mistake(
            "dWaa = dz a_prev^T: the recurrent weight multiplies a_prev, not a_next",
            lambda c: _cell(c, a_prev=c.args["cache"].a_next),
            outputs=("dWaa",),
        ),
        Mistake(
            "da_prev = Waa^T dz (transpose Waa)",
            lambda c: _cell(c, parameters=_waa_transposed(c.args["cache"].parameters)),
            outputs=("da_prev",),
        ),
        Mistake(
            "dba sums dz over the batch (axis 1), it does not average",
            lambda c: _cell(c, da_next=c.args["da_next"] / c.args["da_next"].shape[1]),
            outputs=("dba",),
        ),
        Mistake(
            "dba sums dz over the batch: dz.sum(axis=1, keepdims=True)", lambda c: {"dba": _dz(c)}
        ),
        Mistake(
            "dba must keep the shape (n_a, 1): sum(axis=1, keepdims=True)",
            lambda c: {"dba": _cell_dba(c)[:, 0]},
        ),
        Mistake(
            "dba sums dz over the batch (axis 1) only, one entry per unit",
            lambda c: {"dba": _cell_dba(c).sum()},
        ),
    ),
    forbidden=FORBIDDEN,
    shapes={**SHAPES, "dz": "(n_a, m)", "dxt": "(n_x, m)"},
    proofs=(_cell_proof,),
    doc="``rnn_cell_backward(da_next, cache)`` returns dxt, da_prev, dWax, dWaa, dba; checked "
    "against the reference and by an asserted gradient check.",
)


# --------------------------------------------------------------------------------------------
# Exercise 3 — bptt
# --------------------------------------------------------------------------------------------


def _bptt_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    lengths = [4, 1, 6] if seed == 0 else [int(rng.integers(2, 8)), 1]
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    rows = [(T, "tanh", p) for T in lengths]
    rows += [(lengths[0], "relu", p), (lengths[0], "tanh", p32)]
    cases = []
    for T_x, activation, params in rows:
        dtype = params["Waa"].dtype
        x = rng.standard_normal((n_x, m, T_x)).astype(dtype)
        a0 = rng.standard_normal((n_a, m)).astype(dtype)
        dz = rng.standard_normal((n_y, m, T_x)).astype(dtype)
        _, _, caches = rnn.rnn_forward(x, a0, params, activation)
        what = f"T_x={T_x}, activation={activation!r}" + (
            ", float32" if dtype == np.float32 else ""
        )
        cases.append(Case(what, {"dz": dz, "caches": caches}, _sizes(n_x, n_a, n_y, m, T_x=T_x)))
    return cases


def _steps(case: Case, steps: slice, cells=None) -> dict:
    """The reference run on some of the time steps only, as if the sequence had just those
    (``cells``: other cell caches, e.g. with a switched entry)."""
    cell_caches, x = case.args["caches"]
    cells = cell_caches if cells is None else cells
    return rnn.bptt(case.args["dz"][:, :, steps], (cells[steps], x[:, :, steps]))


def _T(case: Case) -> int:
    return case.args["dz"].shape[2]


def _overwritten(case: Case):
    """Only step 0's contribution to the shared parameters: all steps minus steps 1..T-1."""
    if _T(case) < 2:
        return None
    full, later = _steps(case, slice(None)), _steps(case, slice(1, None))
    return {k: full[k] - later[k] for k in PARAMETER_GRADS}


def _without_future(case: Case):
    """Every step backpropagated alone: nothing flows from step t+1 into a<t>."""
    alone = [_steps(case, slice(t, t + 1)) for t in range(_T(case))]
    grads = {k: sum(g[k] for g in alone) for k in PARAMETER_GRADS}
    return {**grads, "dx": np.concatenate([g["dx"] for g in alone], axis=2), "da0": alone[0]["da0"]}


def _left_to_right(case: Case):
    """The reference on the steps in reversed order scans them left to right."""
    grads = _steps(case, slice(None, None, -1))
    return {**grads, "dx": grads["dx"][:, :, ::-1]}


def _missing_first_step(case: Case):
    """The loop stops before t = 0 (range(T_x - 1, 0, -1))."""
    if _T(case) < 2:
        return None
    later = _steps(case, slice(1, None))
    dx = np.concatenate([np.zeros_like(later["dx"][:, :, :1]), later["dx"]], axis=2)
    return {**later, "dx": dx}


def _dWya_from_a_prev(case: Case):
    cells = [(c[1], *c[1:]) for c in case.args["caches"][0]]  # a_next read as a_prev
    return {"dWya": _steps(case, slice(None), cells)["dWya"]}


def _dby_per_step(case: Case) -> np.ndarray:
    """dby of each step, (n_y, 1, T_x): summed over the batch, not over time."""
    return np.stack([_steps(case, slice(t, t + 1))["dby"] for t in range(_T(case))], axis=2)


def _gradient_at_first_state(case: Case):
    """dJ/da<1>, what enters the first step's backward (from its output and from step 2)."""
    cell_caches, _ = case.args["caches"]
    a1 = cell_caches[0].a_next[:, :, None]
    from_output, _, _ = rnn.dense_backward(
        case.args["dz"][:, :, :1], (a1, cell_caches[0].parameters["Wya"])
    )
    from_future = _steps(case, slice(1, None))["da0"] if _T(case) > 1 else 0.0
    return {"da0": from_output[:, :, 0] + from_future}


DBY_HINT = (
    "dby is summed over the batch but not over time: by serves every step, so dby = sum over t "
    "and i of dz (dz.sum(axis=(1, 2)) as a column (n_y, 1))"
)
DA0_HINT = (
    "da0 is the da_prev returned by the backward of the first step (t = 0), the last one of the "
    "right-to-left scan"
)


def _bptt_proof(call, rng: np.random.Generator) -> None:
    """f = sum(w * z) over every output score z<t> = Wya a<t> + by, so dz = w (float64)."""
    n_x, n_a, n_y, m, T_x = 3, 5, 4, 2, 3
    p = random_parameters(rng, n_x, n_a, n_y)
    x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
    for activation in ("tanh", "relu"):
        w = rng.standard_normal((n_y, m, T_x))
        _, _, caches = rnn.rnn_forward(x, a0, p, activation)
        label = f"gradient check, activation={activation!r}"
        sizes_ = _sizes(n_x, n_a, n_y, m, T_x=T_x)
        grads = call(Case(label, {"dz": w, "caches": caches}, sizes_))

        def f(v, activation=activation, w=w):
            q = {k: v[k] for k in PARAMETER_NAMES}
            a, _ = rnn.rnn_layer_forward(v["x"], v["a0"], q, activation)
            return float(np.sum(w * rnn.dense_forward(a, q["Wya"], q["by"])[0]))

        asserted_gradcheck(f"bptt (activation={activation!r})", f, {"x": x, "a0": a0, **p}, grads)


BPTT = Exercise(
    name="bptt",
    assignment=ASSIGNMENT,
    number=3,
    arguments=("dz", "caches"),
    packing="dict",
    returns=SEQUENCE_OUTPUTS,
    reference=lambda case: rnn.bptt(**case.args),
    cases=_bptt_cases,
    mistakes=(
        Mistake(
            "accumulate the gradients over time (+=): this one holds a single time step's "
            "contribution (overwritten at every step)",
            _overwritten,
        ),
        Mistake(
            "da<t> is missing the term from step t+1: add the da_prev returned by step t+1 to "
            "Wya^T dz<t>",
            _without_future,
        ),
        Mistake(
            "scan the time steps right to left (reversed(range(T_x))): step t needs the "
            "gradient of step t+1's first",
            _left_to_right,
        ),
        Mistake(
            "the first step (t = 0) is never backpropagated: the loop must run down to t = 0 "
            "(reversed(range(T_x)), not range(T_x - 1, 0, -1))",
            _missing_first_step,
        ),
        Mistake(
            "dWya = sum_t dz<t> a<t>^T uses the state a<t> (a_next), not a<t-1>",
            _dWya_from_a_prev,
        ),
        Mistake(DBY_HINT, lambda c: {"dby": _dby_per_step(c)}),
        Mistake(DBY_HINT, lambda c: {"dby": _dby_per_step(c)[:, 0, :]}),
        Mistake(
            "da0 is the da_prev of the first step, not zeros",
            lambda c: {"da0": 0 * c.args["caches"][0][0].a_prev},
        ),
        Mistake(
            f"da0 is taken at the wrong step: this is dJ/da<1>, what enters the first step; "
            f"{DA0_HINT}",
            _gradient_at_first_state,
        ),
        Mistake(
            f"da0 is taken at the wrong step: this is the da_prev of the last step (t = T_x - 1), "
            f"the first one the scan processes; {DA0_HINT}",
            lambda c: {"da0": _steps(c, slice(-1, None))["da0"]} if _T(c) > 1 else None,
        ),
        Mistake(
            f"da0 is taken at the wrong step: this is the gradient that reaches a<1> from step 2; "
            f"{DA0_HINT}",
            lambda c: {"da0": _steps(c, slice(1, None))["da0"]} if _T(c) > 1 else None,
        ),
    ),
    forbidden=FORBIDDEN,
    shapes={**SHAPES, "dx": "(n_x, m, T_x)", "da": "(n_a, m)", "dzt": "(n_y, m)"},
    index_hint=BACKWARD_TIME_HINT,
    proofs=(_bptt_proof,),
    doc="``bptt(dz, caches)``: gradients of every parameter, of x and of a0, through the output "
    "layer and back through time; checked against the reference and by an asserted gradient "
    "check.",
)


# --------------------------------------------------------------------------------------------
# Exercises 4-6 — loss_and_gradients, train_step, truncated_bptt
# --------------------------------------------------------------------------------------------


def _training_case(rng: np.random.Generator, seed: int, T=None, **more) -> Case:
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    T = T or (5 if seed == 0 else int(rng.integers(2, 8)))
    mask = np.ones((m, T), dtype=bool)
    mask[0, T // 2 :] = False
    args = {
        "x": rng.standard_normal((n_x, m, T)),
        "y": rng.integers(0, n_y, size=(m, T)),
        "mask": mask,
        "a0": rng.standard_normal((n_a, m)),
        "parameters": p,
        **more,
    }
    return Case(f"T_x={T}", args, _sizes(n_x, n_a, n_y, m, T_x=T, T=T))


def _batch(case: Case) -> tuple:
    return tuple(case.args[k] for k in ("x", "y", "mask", "a0", "parameters"))


def _loss_and_gradients(case: Case):
    loss, grads, _ = _model_loss(*_batch(case))
    return loss, grads


def _grads_with(case: Case, mask="same", reduction="per_sequence", sign=1.0, targets=None):
    """The reference gradients from a switched dz: the loss's mask, its reduction, its sign, or
    other one-hot targets (n_y, m, T)."""
    x, y, case_mask, a0, p = _batch(case)
    mask = case_mask if isinstance(mask, str) else mask
    a, caches = rnn.rnn_layer_forward(x, a0, p)
    z, _ = rnn.dense_forward(a, p["Wya"], p["by"])
    _, dz = losses.softmax_cross_entropy(z, y, mask, reduction)
    if targets is not None:  # dz = (y_hat - Y) mask / m is linear in Y: swap the one-hot Y
        dz = dz - (targets - _one_hot(y, z.shape[0])) * np.asarray(mask)[None] / y.shape[0]
    return {"grads": rnn.bptt(sign * dz, caches)}


def _one_hot(y: np.ndarray, n_y: int) -> np.ndarray:
    return np.eye(n_y)[y].transpose(2, 0, 1)


def _reshaped_one_hot(case: Case):
    """np.eye(n_y)[y].reshape(n_y, m, T): the right entries, scrambled across the axes."""
    y = case.args["y"]
    n_y = case.args["parameters"]["Wya"].shape[0]
    return _grads_with(case, targets=np.eye(n_y)[y].reshape(n_y, *y.shape))


def _loss_gradients_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    return [_training_case(rng, seed), _training_case(rng, seed, T=1)]


def _loss_gradients_proof(call, rng: np.random.Generator) -> None:
    """The gradient check of the loss itself, which also proves the formula for dz."""
    case = _training_case(rng, 0, T=3)
    _, grads = call(case)
    x, y, mask, a0, p = _batch(case)

    def f(v):
        return rnn.rnn_model_forward(v["x"], v["a0"], {k: v[k] for k in p}, y, mask)[0]

    asserted_gradcheck("loss_and_gradients", f, {"x": x, "a0": a0, **p}, grads)


LOSS_AND_GRADIENTS = Exercise(
    name="loss_and_gradients",
    assignment=ASSIGNMENT,
    number=4,
    arguments=("x", "y", "mask", "a0", "parameters"),
    packing="tuple",
    returns=(
        Output(
            "loss",
            kind="float",
            hint=lambda got, want, case: (
                "the loss is sequence_loss(y_hat, y, mask) on rnn_forward's y_hat"
            ),
        ),
        Output("grads", kind="dict", keys=SEQUENCE_OUTPUTS),
    ),
    reference=_loss_and_gradients,
    cases=_loss_gradients_cases,
    mistakes=(
        Mistake(
            "padded steps must not contribute to the gradient: dz = (y_hat - y) * mask / m",
            lambda c: _grads_with(c, mask=None),
        ),
        Mistake(
            "dz must be divided by m: the loss is averaged over the batch",
            lambda c: _grads_with(c, reduction="sum"),
        ),
        Mistake(
            "dz = (y_hat - y) * mask / m; the sign is (y_hat - y), not (y - y_hat)",
            lambda c: _grads_with(c, sign=-1.0),
        ),
        Mistake(
            "the one-hot targets are scrambled: np.eye(n_y)[y] has shape (m, T, n_y), and "
            "reshape(n_y, m, T) keeps the memory order, mixing classes, examples and steps; move "
            "the class axis first with .transpose(2, 0, 1)",
            _reshaped_one_hot,
        ),
    ),
    forbidden=FORBIDDEN,
    shapes={**SHAPES, "y_one_hot": "(n_y, m, T_x)", "Y": "(n_y, m, T_x)"},
    index_hint=LABELS_HINT,
    proofs=(_loss_gradients_proof,),
    doc="``loss_and_gradients(x, y, mask, a0, parameters)`` returns the masked sequence loss and "
    "the dict of gradients (dWaa, dWax, dba, dWya, dby, dx, da0), proven by a gradient check.",
)


def _train_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    return [_training_case(rng, seed, learning_rate=lr) for lr in (0.1, 0.03)]


def _descend(case: Case, learning_rate=None, parameters=None):
    """The reference step: loss before the update, then SGD on a copy of the parameters."""
    loss, grads, _ = _model_loss(*_batch(case))
    new = copy.deepcopy(case.args["parameters"] if parameters is None else parameters)
    lr = case.args["learning_rate"] if learning_rate is None else learning_rate
    optim.SGD(lr).step(new, grads)
    return loss, new


def _loss_after_update(case: Case):
    _, new = _descend(case)
    x, y, mask, a0, _ = _batch(case)
    return {"loss": rnn.rnn_model_forward(x, a0, new, y, mask)[0]}


TRAIN_STEP = Exercise(
    name="train_step",
    assignment=ASSIGNMENT,
    number=5,
    arguments=("x", "y", "mask", "a0", "parameters", "learning_rate"),
    packing="tuple",
    returns=(
        Output("loss", kind="float"),
        Output(
            "new_parameters",
            kind="dict",
            keys=tuple(Output(k, shape=SHAPES[k]) for k in PARAMETER_NAMES),
        ),
    ),
    reference=_descend,
    cases=_train_cases,
    mistakes=(
        Mistake("return the loss computed before the update", _loss_after_update),
        Mistake(
            "gradient descent moves against the gradient: W - learning_rate * dW",
            lambda c: _descend(c, learning_rate=-c.args["learning_rate"]),
        ),
        Mistake(
            "this parameter was not updated: new_parameters[k] = parameters[k] - learning_rate "
            "* grads['d' + k] for every k",
            lambda c: _descend(c, learning_rate=0.0),
        ),
    ),
    forbidden=FORBIDDEN,
    shapes=SHAPES,
    doc="``train_step(x, y, mask, a0, parameters, learning_rate)`` returns (loss, new_parameters):"
    " the loss before the update and W - learning_rate * dW for every parameter, without changing"
    " the parameters passed in.",
)


def _truncated_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    base = _training_case(rng, seed, 7 if seed == 0 else int(rng.integers(5, 10)))
    T = base.args["x"].shape[2]
    return [
        Case(f"T_x={T}, chunk_length={k}", {**base.args, "chunk_length": k}, base.sizes)
        for k in (2, 3, T)
    ]


def _truncated(case: Case, carry=True, stop=True, accumulate=True):
    """The reference: chunk after chunk, the state carried forward as a constant; with switches
    for the known mistakes (state restarted from a0, gradients not stopped, last chunk only)."""
    x, y, mask, a0, p = _batch(case)
    k, T = case.args["chunk_length"], x.shape[2]
    total, grads, a_prev = 0.0, dict.fromkeys(PARAMETER_GRADS, 0.0), a0
    for start in range(0, T, k):
        part = slice(start, start + k)
        loss, g, a = _model_loss(
            x[:, :, part], y[:, part], mask[:, part], a_prev if carry else a0, p
        )
        total = total + loss if accumulate else loss
        grads = {n: (grads[n] if accumulate else 0.0) + g[n] for n in PARAMETER_GRADS}
        a_prev = a[:, :, -1]
    if not stop:
        grads = {n: _model_loss(x, y, mask, a0, p)[1][n] for n in PARAMETER_GRADS}
    return total, grads, a_prev


CARRY_HINT = (
    "carry the hidden state across chunks: each chunk starts from the last state of the previous "
    "one, not a0"
)
TRUNCATED_BPTT = Exercise(
    name="truncated_bptt",
    assignment=ASSIGNMENT,
    number=6,
    arguments=("x", "y", "mask", "a0", "parameters", "chunk_length"),
    packing="tuple",
    returns=(
        Output("loss", kind="float"),
        Output("grads", kind="dict", keys=GRADIENT_OUTPUTS),
        Output("a_last", shape="(n_a, m)"),
    ),
    reference=_truncated,
    cases=_truncated_cases,
    mistakes=(
        Mistake(CARRY_HINT, lambda c: _truncated(c, carry=False)),
        Mistake(
            "the gradients flowed past the truncation boundary (these are full-BPTT gradients): "
            "each chunk's backward pass must stop at its first step",
            lambda c: {"grads": _truncated(c, stop=False)[1]},
        ),
        Mistake(
            "add up the losses and the gradients of every chunk (these are the last chunk's only)",
            lambda c: _truncated(c, accumulate=False)[:2] + (None,),
        ),
    ),
    forbidden=FORBIDDEN,
    shapes=SHAPES,
    index_hint=(
        "The chunks are x[:, :, start:start + chunk_length], y[:, start:start + chunk_length] and "
        "mask[:, start:start + chunk_length]: time is the last axis of each."
    ),
    doc="``truncated_bptt(x, y, mask, a0, parameters, chunk_length)`` returns (loss, grads, "
    "a_last): the hidden state is carried across chunks (so loss and a_last equal the full "
    "forward's), while the gradients of each chunk stop at its first step.",
)
