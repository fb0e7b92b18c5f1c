"""Checks for assignment 03 — backpropagation through time, plus two helpers it provides.

Contracts checked here (the notebook states them):

- ``sequence_loss(y_hat, y, mask=None) -> float``: ``(1/m) sum_i sum_t mask[i, t] L<t>_i`` with
  ``L<t>_i = -log y_hat[y[i, t], i, t]`` (nats; summed over time, averaged over the batch).
- ``rnn_cell_backward(da_next, cache) -> dict(dxt, da_prev, dWax, dWaa, dba)`` for the cache
  ``(a_next, a_prev, xt, parameters, activation)`` of notebook 02.
- ``rnn_backward(dz, caches) -> dict(dx, da0, dWax, dWaa, dba, dWya, dby)`` where ``dz`` is
  dL/dz<t> for the output scores ``z<t> = Wya a<t> + by``, shape (n_y, m, T_x), and
  ``caches = (cell_caches, x)`` from :func:`rnn_forward`.
- ``loss_and_gradients(x, y, mask, a0, parameters) -> (loss, grads)``.
- ``train_step(x, y, mask, a0, parameters, learning_rate) -> (loss, new_parameters)``.
- ``truncated_bptt(x, y, mask, a0, parameters, chunk_length) -> (loss, grads, a_last)``.

Provided (not graded): :func:`rnn_forward` (notebook 02's forward pass, same caches) and
:func:`make_delay_task` (the toy data of the training demo).
"""

from __future__ import annotations

import numpy as np

from utils import losses, optim, rnn
from utils.checks import check_close, check_type
from utils.exercises._common import (
    call,
    compare,
    random_parameters,
    shape_ok,
    sizes,
    tolerances,
    unpack,
)
from utils.gradcheck import assert_gradients_close
from utils.kernels import rnn as kernels

__all__ = [
    "check_loss_and_gradients",
    "check_rnn_backward",
    "check_rnn_cell_backward",
    "check_sequence_loss",
    "check_train_step",
    "check_truncated_bptt",
    "make_delay_task",
    "rnn_forward",
]

PARAMETER_NAMES = ("Waa", "Wax", "ba", "Wya", "by")
THRESHOLD = 1e-6  # gradient-check pass level (worst relative error), as the notebook states
_BACKWARD_REFERENCES = [
    rnn.rnn_cell_backward,
    rnn.rnn_backward,
    rnn.dense_backward,
    rnn.rnn_model_backward,
    rnn.rnn_model_forward,
    rnn.bptt,
    kernels.rnn_backward,
    kernels.bptt,
    kernels.rnn_model_backward,
    kernels.rnn_model_forward,
    losses.cross_entropy,
    losses.softmax_cross_entropy,
    optim.SGD,
]


# --------------------------------------------------------------------------------------------
# Provided helpers
# --------------------------------------------------------------------------------------------


def rnn_forward(x, a0, parameters, activation="tanh"):
    """Notebook 02's forward pass (provided here so notebook 03 does not depend on your copy).

    Returns ``a`` (n_a, m, T_x), ``y_hat`` (n_y, m, T_x) and ``caches = (cell_caches, x)``,
    where ``cell_caches[t] = (a_next, a_prev, xt, parameters, activation)`` for step t.
    """
    _, m, T_x = np.shape(x)
    n_a, n_y = parameters["Waa"].shape[0], parameters["Wya"].shape[0]
    a, y_hat, cell_caches = np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x)), []
    a_prev = a0
    for t in range(T_x):
        a_prev, y_hat[:, :, t], cache = rnn.rnn_cell_forward(
            x[:, :, t], a_prev, parameters, activation
        )
        a[:, :, t] = a_prev
        cell_caches.append(cache)
    return a, y_hat, (cell_caches, x)


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
# Shared helpers
# --------------------------------------------------------------------------------------------


def _grads_dict(label, got, keys):
    check_type(f"the result of {label}", got, dict)
    missing = [k for k in keys if k not in got]
    if missing:
        raise AssertionError(
            f"{label} must return a dict with the keys {list(keys)}; missing {missing}"
        )


def _assert_gradcheck(label, f, at, grads, names=None):
    try:
        assert_gradients_close(f, at, grads, threshold=THRESHOLD, names=names)
    except AssertionError as error:
        raise AssertionError(
            f"gradient check of {label} failed (worst relative error must be <= {THRESHOLD:g}; "
            f"the analytic gradients disagree with finite differences):\n{error}"
        ) from None


def _one_hot_targets(y, n_y):
    return np.eye(n_y)[y].transpose(2, 0, 1)


def _loss_value(label, loss):
    """The loss as a 0-d float array; a non-number fails naming its type."""
    if isinstance(loss, np.ndarray) and loss.size == 1:
        loss = loss.reshape(())
    if not isinstance(loss, float | np.floating) and not (
        isinstance(loss, np.ndarray) and np.issubdtype(loss.dtype, np.floating)
    ):
        raise AssertionError(f"{label} should be a float, got {type(loss).__name__}: {loss!r:.80}")
    return np.asarray(loss, dtype=float)


def _check_loss(label, loss, want, hint=None):
    name = f"the loss from {label}"
    check_close(name, _loss_value(name, loss), want, hint=hint)


# --------------------------------------------------------------------------------------------
# Exercise 1 — sequence_loss
# --------------------------------------------------------------------------------------------


def _loss_variants(y_hat, y, mask):
    m = y_hat.shape[1]
    picked = -np.log(np.take_along_axis(y_hat, y[None], axis=0)[0])  # (m, T): L<t>_i
    w = np.ones_like(picked) if mask is None else np.asarray(mask, dtype=float)
    return [
        ("padded steps must not count: multiply each L<t> by the mask", picked.sum() / m),
        (
            "the total loss sums L<t> over time and divides by m only; do not average over the "
            "time steps or the real tokens",
            (picked * w).sum(1).mean() / y.shape[1],
        ),
        ("average over the m examples (divide by m)", (picked * w).sum()),
        (
            "the course's loss sums over time and averages over sequences, not over real tokens",
            (picked * w).sum() / max(w.sum(), 1),
        ),
        (
            "take -log of the probability of the true class only",
            -(np.log(y_hat).sum(0) * w).sum() / m,
        ),
        ("the loss is -log(probability): the sign is wrong", -(picked * w).sum() / m),
    ]


def check_sequence_loss(sequence_loss, seed: int = 0) -> None:
    """``sequence_loss(y_hat, y, mask=None)``: masked cross-entropy in nats, summed over time,
    averaged over the batch."""
    rng = np.random.default_rng(seed)
    n_y, m, T = (5, 3, 4) if seed == 0 else tuple(int(v) for v in rng.integers(2, 8, size=3))
    forbid = [losses.cross_entropy, losses.softmax_cross_entropy]

    def probabilities(shape):
        return rng.dirichlet(np.ones(shape[0]), size=shape[1:]).transpose(2, 0, 1)

    padded = np.ones((m, T), dtype=bool)
    padded[0, T // 2 :] = False
    padded[-1, 1:] = False
    cases = [
        ("no mask", probabilities((n_y, m, T)), None),
        ("all-ones mask", probabilities((n_y, m, T)), np.ones((m, T), dtype=bool)),
        ("padded batch, bool mask", probabilities((n_y, m, T)), padded),
        ("padded batch, 0/1 float mask", probabilities((n_y, m, T)), padded.astype(float)),
        ("T = 1, m = 1", probabilities((n_y, 1, 1)), None),
        ("float32", probabilities((n_y, m, T)).astype(np.float32), padded),
    ]
    for what, y_hat, mask in cases:
        n_y_, m_, T_ = y_hat.shape
        y = rng.integers(0, n_y_, size=(m_, T_))
        if mask is not None:
            # Padded steps give their label a tiny probability: ignoring the mask shows.
            y_hat = y_hat.copy()
            for i, t in zip(*np.nonzero(~np.asarray(mask, dtype=bool)), strict=True):
                y_hat[:, i, t] = 1.0
                y_hat[y[i, t], i, t] = 1e-3
                y_hat[:, i, t] /= y_hat[:, i, t].sum()
        label = f"sequence_loss(y_hat, y, mask) [{what}]"
        args = {"y_hat": y_hat, "y": y, "mask": mask}
        got = call(sequence_loss, label, args, {"y_hat": y_hat.shape, "y": y.shape}, forbid)
        got = _loss_value(f"the result of {label}", got)
        y64 = y_hat.astype(np.float64)
        want = losses.cross_entropy(y64, y, mask)
        variants = [(h, np.asarray(v)) for h, v in _loss_variants(y64, y, mask)]
        compare(f"the loss from {label}", got, np.asarray(want), variants, tolerances(y_hat))


# --------------------------------------------------------------------------------------------
# Exercise 2 — rnn_cell_backward
# --------------------------------------------------------------------------------------------

CELL_KEYS = ("dxt", "da_prev", "dWax", "dWaa", "dba")


def _cell_backward(
    da, cache, derivative="output", a_for_dWaa="a_prev", transpose=True, reduce="sum"
):
    a_next, a_prev, xt, p, activation = cache
    if activation == "relu":
        dz = da * (a_next > 0)
    elif derivative == "output":
        dz = da * (1 - a_next**2)
    elif derivative == "pre-activation":
        dz = da * (1 - np.tanh(a_next) ** 2)
    else:
        dz = da
    Waa = p["Waa"].T if transpose else p["Waa"]
    return {
        "dxt": p["Wax"].T @ dz,
        "da_prev": Waa @ dz,
        "dWax": dz @ xt.T,
        "dWaa": dz @ (a_prev if a_for_dWaa == "a_prev" else a_next).T,
        "dba": dz.sum(1, keepdims=True) if reduce == "sum" else dz.mean(1, keepdims=True),
    }


def _cell_variants(da, cache, key):
    a_next, _, _, _, activation = cache
    out = [
        (
            "the tanh derivative is 1 - a_next**2: a_next is already tanh(z), so do not apply tanh "
            "to it again (that is the derivative at the pre-activation, evaluated at the output)",
            _cell_backward(da, cache, derivative="pre-activation")[key],
        ),
        (
            "backpropagate through the activation: dz = da_next * (1 - a_next**2) for tanh",
            _cell_backward(da, cache, derivative="none")[key],
        ),
        (
            "dWaa = dz a_prev^T: the recurrent weight multiplies a_prev, not a_next",
            _cell_backward(da, cache, a_for_dWaa="a_next")[key],
        ),
        ("da_prev = Waa^T dz (transpose Waa)", _cell_backward(da, cache, transpose=False)[key]),
        (
            "dba sums dz over the batch (axis 1), it does not average",
            _cell_backward(da, cache, reduce="mean")[key],
        ),
    ]
    if activation == "relu":
        tanh_cache = (*cache[:4], "tanh")
        out.insert(
            0,
            (
                "the cache says activation='relu': use relu's derivative (a_next > 0)",
                _cell_backward(da, tanh_cache)[key],
            ),
        )
    if key == "dba":
        dz = da * ((1 - a_next**2) if activation == "tanh" else (a_next > 0))
        out.append(("dba sums dz over the batch: dz.sum(axis=1, keepdims=True)", dz))
        dba = _cell_backward(da, cache)["dba"]
        out.append(("dba must keep the shape (n_a, 1): sum(axis=1, keepdims=True)", dba[:, 0]))
        out.append(("dba sums dz over the batch (axis 1) only, one entry per unit", dba.sum()))
    return out


def check_rnn_cell_backward(rnn_cell_backward, seed: int = 0) -> None:
    """``rnn_cell_backward(da_next, cache)`` returns dxt, da_prev, dWax, dWaa, dba; checked
    against the reference on isolation and random cases, and by an asserted gradient check."""
    rng = np.random.default_rng(seed)
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    x_rand, a_rand = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    da_rand = rng.standard_normal((n_a, m))
    one_unit = np.zeros((n_a, m))
    one_unit[n_a // 2, :] = 1.0
    cases = [
        ("da_next = 0 except one unit", x_rand, a_rand, one_unit, "tanh"),
        ("xt = 0: dWax must be zero", np.zeros((n_x, m)), a_rand, da_rand, "tanh"),
        ("a_prev = 0: dWaa must be zero", x_rand, np.zeros((n_a, m)), da_rand, "tanh"),
        ("random", x_rand, a_rand, da_rand, "tanh"),
        ("relu", x_rand, a_rand, da_rand, "relu"),
        ("random", rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m)), da_rand, "tanh"),
    ]
    f32 = tuple(v.astype(np.float32) for v in (x_rand, a_rand, da_rand))
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    shapes = {"da_next": (n_a, m), "a_prev": (n_a, m), "xt": (n_x, m), "Waa": (n_a, n_a)}
    shapes.update({"Wax": (n_a, n_x)})
    names = {
        "dxt": "(n_x, m)",
        "da_prev": "(n_a, m)",
        "dWax": "(n_a, n_x)",
        "dWaa": "(n_a, n_a)",
        "dba": "(n_a, 1)",
    }
    for what, xt, a_prev, da, activation in [*cases, ("float32", *f32, "tanh")]:
        params = p32 if what == "float32" else p
        _, _, cache = rnn.rnn_cell_forward(xt, a_prev, params, activation)
        label = f"rnn_cell_backward(da_next, cache) [{what}, activation={activation!r}]"
        args = {"da_next": da, "cache": cache}
        got = call(rnn_cell_backward, label, args, shapes, _BACKWARD_REFERENCES)
        _grads_dict(label, got, CELL_KEYS)
        want = rnn.rnn_cell_backward(da, cache)
        a_next64, a_prev64, xt64 = (v.astype(np.float64) for v in cache[:3])
        p64 = {k: v.astype(np.float64) for k, v in params.items()}
        cache64 = (a_next64, a_prev64, xt64, p64, activation)
        tol = tolerances(da, *got.values())
        for key in ("dba", "dWax", "dWaa", "dxt", "da_prev"):
            variants = _cell_variants(da.astype(np.float64), cache64, key)
            compare(f"{key} from {label}", got[key], want[key], variants, tol, names[key])
    # The proof: analytic gradients agree with finite differences (float64).
    xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    for activation in ("tanh", "relu"):
        weights = rng.standard_normal((n_a, m))  # f = sum(weights * a_next): da_next = weights

        def f(v, activation=activation, weights=weights):
            q = {**p, "Waa": v["Waa"], "Wax": v["Wax"], "ba": v["ba"]}
            a_next, _, _ = rnn.rnn_cell_forward(v["xt"], v["a_prev"], q, activation)
            return float(np.sum(weights * a_next))

        at = {"xt": xt, "a_prev": a_prev, "Waa": p["Waa"], "Wax": p["Wax"], "ba": p["ba"]}
        _, _, cache = rnn.rnn_cell_forward(xt, a_prev, p, activation)
        args = {"da_next": weights, "cache": cache}
        grads = call(rnn_cell_backward, "rnn_cell_backward", args, shapes, _BACKWARD_REFERENCES)
        _assert_gradcheck(f"rnn_cell_backward (activation={activation!r})", f, at, grads)


# --------------------------------------------------------------------------------------------
# Exercise 3 — rnn_backward
# --------------------------------------------------------------------------------------------

SEQ_KEYS = ("dx", "da0", "dWax", "dWaa", "dba", "dWya", "dby")


def _sequence_backward(dz, caches, accumulate=True, carry=True, reverse=True, dWya_from="a_next"):
    """Reference BPTT on the lecture's caches, with switches that reproduce known mistakes."""
    cell_caches, x = caches
    p = cell_caches[0][3]
    n_x, m, T_x = x.shape
    g = {k: np.zeros_like(p[k[1:]], dtype=float) for k in ("dWaa", "dWax", "dba", "dWya", "dby")}
    g["dx"] = np.zeros((n_x, m, T_x))
    da_next = np.zeros_like(cell_caches[0][1], dtype=float)
    for t in reversed(range(T_x)) if reverse else range(T_x):
        a_next, a_prev = cell_caches[t][0], cell_caches[t][1]
        dzt = dz[:, :, t]
        step = {
            "dWya": dzt @ (a_next if dWya_from == "a_next" else a_prev).T,
            "dby": dzt.sum(1, keepdims=True),
        }
        da = p["Wya"].T @ dzt + (da_next if carry else 0.0)
        cell = _cell_backward(da, cell_caches[t])
        step.update({k: cell[k] for k in ("dWaa", "dWax", "dba")})
        for k, v in step.items():
            g[k] = g[k] + v if accumulate else v
        g["dx"][:, :, t] = cell["dxt"]
        da_next = cell["da_prev"]
    g["da0"] = da_next
    return g


def _sequence_variants(dz, caches, key):
    out = [
        (
            "accumulate the gradients over time (+=): this one holds a single time step's "
            "contribution (overwritten at every step)",
            _sequence_backward(dz, caches, accumulate=False)[key],
        ),
        (
            "da<t> is missing the term from step t+1: add the da_prev returned by step t+1 to "
            "Wya^T dz<t>",
            _sequence_backward(dz, caches, carry=False)[key],
        ),
        (
            "scan the time steps right to left (reversed(range(T_x))): step t needs the "
            "gradient of step t+1's first",
            _sequence_backward(dz, caches, reverse=False)[key],
        ),
        (
            "dWya = sum_t dz<t> a<t>^T uses the state a<t> (a_next), not a<t-1>",
            _sequence_backward(dz, caches, dWya_from="a_prev")[key],
        ),
    ]
    if key == "da0":
        out.append(
            ("da0 is the da_prev of the first step, not zeros", np.zeros_like(caches[0][0][1]))
        )
    return out


def _model_loss_fn(weights, activation):
    """f(v) = sum(weights * z) with z the output scores of the RNN run on the values in v."""

    def f(v):
        params = {k: v[k] for k in PARAMETER_NAMES}
        a, _ = rnn.rnn_layer_forward(v["x"], v["a0"], params, activation)
        z, _ = rnn.dense_forward(a, params["Wya"], params["by"])
        return float(np.sum(weights * z))

    return f


def check_rnn_backward(rnn_backward, seed: int = 0) -> None:
    """``rnn_backward(dz, caches)``: gradients of every parameter, of x and of a0, through the
    output layer and back through time; checked against the reference and by an asserted
    gradient check."""
    rng = np.random.default_rng(seed)
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    lengths = [4, 1, 6] if seed == 0 else [int(rng.integers(2, 8)), 1]
    names = {
        "dx": "(n_x, m, T_x)",
        "da0": "(n_a, m)",
        "dWax": "(n_a, n_x)",
        "dWaa": "(n_a, n_a)",
        "dba": "(n_a, 1)",
        "dWya": "(n_y, n_a)",
        "dby": "(n_y, 1)",
    }
    cases = [(T, "tanh") for T in lengths] + [(lengths[0], "relu")]
    for T_x, activation in cases:
        x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
        dz = rng.standard_normal((n_y, m, T_x))
        _, _, caches = rnn_forward(x, a0, p, activation)
        label = f"rnn_backward(dz, caches) [T_x={T_x}, activation={activation!r}]"
        shapes = {
            "dz": dz.shape,
            "x": x.shape,
            "Wya": (n_y, n_a),
            "Waa": (n_a, n_a),
            "Wax": (n_a, n_x),
        }
        got = call(rnn_backward, label, {"dz": dz, "caches": caches}, shapes, _BACKWARD_REFERENCES)
        _grads_dict(label, got, SEQ_KEYS)
        a, layer_cache = rnn.rnn_layer_forward(x, a0, p, activation)
        da, dWya, dby = rnn.dense_backward(dz, (a, p["Wya"]))
        want = {**rnn.rnn_backward(da, layer_cache), "dWya": dWya, "dby": dby}
        tol = tolerances(*got.values())
        for key in ("dWya", "dby", "dWax", "dWaa", "dba", "dx", "da0"):
            variants = _sequence_variants(dz, caches, key)
            compare(f"{key} from {label}", got[key], want[key], variants, tol, names[key])
    # The proof: a gradient check through the whole unrolled network (float64).
    T_x = 3
    x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
    for activation in ("tanh", "relu"):
        weights = rng.standard_normal((n_y, m, T_x))
        _, _, caches = rnn_forward(x, a0, p, activation)
        grads = call(
            rnn_backward,
            "rnn_backward",
            {"dz": weights, "caches": caches},
            {},
            _BACKWARD_REFERENCES,
        )
        at = {"x": x, "a0": a0, **p}
        f = _model_loss_fn(weights, activation)
        _assert_gradcheck(f"rnn_backward (activation={activation!r})", f, at, grads)


# --------------------------------------------------------------------------------------------
# Exercises 4-6 — loss_and_gradients, train_step, truncated_bptt
# --------------------------------------------------------------------------------------------


def _reference_loss_and_gradients(x, y, mask, a0, p):
    loss, a, cache = rnn.rnn_model_forward(x, a0, p, y, mask)
    return loss, rnn.rnn_model_backward(cache), a


def _training_case(rng, seed, T=None):
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    T = T or (5 if seed == 0 else int(rng.integers(2, 8)))
    x = rng.standard_normal((n_x, m, T))
    y = rng.integers(0, n_y, size=(m, T))
    mask = np.ones((m, T), dtype=bool)
    mask[0, T // 2 :] = False
    return x, y, mask, rng.standard_normal((n_a, m)), p


def _dz_variants(x, y, mask, a0, p):
    """Gradients from the usual wrong output gradients dz."""
    _, y_hat, caches = rnn_forward(x, a0, p)
    m = x.shape[1]
    Y = _one_hot_targets(y, y_hat.shape[0])
    w = np.asarray(mask, dtype=float)[None]
    return [
        (
            "padded steps must not contribute to the gradient: dz = (y_hat - y) * mask / m",
            _sequence_backward((y_hat - Y) / m, caches),
        ),
        (
            "dz must be divided by m: the loss is averaged over the batch",
            _sequence_backward((y_hat - Y) * w, caches),
        ),
        (
            "dz = (y_hat - y) * mask / m; the sign is (y_hat - y), not (y - y_hat)",
            _sequence_backward((Y - y_hat) * w / m, caches),
        ),
    ]


def check_loss_and_gradients(loss_and_gradients, seed: int = 0) -> None:
    """``loss_and_gradients(x, y, mask, a0, parameters)`` returns the masked sequence loss and
    the dict of gradients (dWaa, dWax, dba, dWya, dby, dx, da0), proven by a gradient check."""
    rng = np.random.default_rng(seed + 10)
    for T in (None, 1):
        x, y, mask, a0, p = _training_case(rng, seed, T)
        label = f"loss_and_gradients(x, y, mask, a0, parameters) [T_x={x.shape[2]}]"
        args = {"x": x, "y": y, "mask": mask, "a0": a0, "parameters": p}
        result = call(loss_and_gradients, label, args, {"x": x.shape}, _BACKWARD_REFERENCES)
        loss, grads = unpack(label, result, ("loss", "grads"))
        want_loss, want, _ = _reference_loss_and_gradients(x, y, mask, a0, p)
        hint = "the loss is sequence_loss(y_hat, y, mask) on rnn_forward's y_hat"
        _check_loss(label, loss, want_loss, hint)
        _grads_dict(label, grads, SEQ_KEYS)
        variants = _dz_variants(x, y, mask, a0, p)
        for key in ("dWya", "dby", "dWax", "dWaa", "dba", "dx", "da0"):
            kv = [(h, v[key]) for h, v in variants]
            compare(f"{key} from {label}", grads[key], want[key], kv, tolerances(grads[key]))
    # Gradient check of the loss itself: this also proves the formula for dz.
    x, y, mask, a0, p = _training_case(rng, seed, 3)
    _, grads = call(
        loss_and_gradients,
        "loss_and_gradients",
        {"x": x, "y": y, "mask": mask, "a0": a0, "parameters": p},
        {},
        _BACKWARD_REFERENCES,
    )

    def f(v):
        return rnn.rnn_model_forward(v["x"], v["a0"], {k: v[k] for k in PARAMETER_NAMES}, y, mask)[
            0
        ]

    _assert_gradcheck("loss_and_gradients", f, {"x": x, "a0": a0, **p}, grads)


def check_train_step(train_step, seed: int = 0) -> None:
    """``train_step(x, y, mask, a0, parameters, learning_rate)`` returns (loss, new_parameters):
    the loss before the update and W - learning_rate * dW for every parameter, without changing
    the parameters passed in."""
    rng = np.random.default_rng(seed + 20)
    for lr in (0.1, 0.03):
        x, y, mask, a0, p = _training_case(rng, seed)
        label = f"train_step(x, y, mask, a0, parameters, learning_rate={lr})"
        args = {"x": x, "y": y, "mask": mask, "a0": a0, "parameters": p, "learning_rate": lr}
        result = call(train_step, label, args, {"x": x.shape}, _BACKWARD_REFERENCES)
        loss, new = unpack(label, result, ("loss", "new_parameters"))
        check_type(f"new_parameters from {label}", new, dict)
        want_loss, g, _ = _reference_loss_and_gradients(x, y, mask, a0, p)
        _check_loss(label, loss, want_loss, "return the loss computed before the update")
        for k in PARAMETER_NAMES:
            if k not in new:
                raise AssertionError(
                    f"new_parameters from {label} has no {k!r}: update every parameter"
                )
            want = p[k] - lr * g["d" + k]
            variants = [
                (
                    f"gradient descent moves against the gradient: {k} - learning_rate * d{k}",
                    p[k] + lr * g["d" + k],
                ),
                (f"{k} was not updated", p[k]),
            ]
            compare(
                f"new_parameters[{k!r}] from {label}", new[k], want, variants, tolerances(new[k])
            )


def _truncated_reference(x, y, mask, a0, p, k, carry=True, stop=True, accumulate=True):
    T = x.shape[2]
    total, grads, a_prev = 0.0, None, a0
    for start in range(0, T, k):
        sl = slice(start, min(start + k, T))
        loss, g, a = _reference_loss_and_gradients(
            x[:, :, sl], y[:, sl], mask[:, sl], a_prev if carry else a0, p
        )
        total += loss
        g = {n: g[n] for n in ("dWaa", "dWax", "dba", "dWya", "dby")}
        grads = g if grads is None or not accumulate else {n: grads[n] + g[n] for n in g}
        a_prev = a[:, :, -1]
    if not stop:
        _, full, _ = _reference_loss_and_gradients(x, y, mask, a0, p)
        grads = {n: full[n] for n in grads}
    return total, grads, a_prev


def check_truncated_bptt(truncated_bptt, seed: int = 0) -> None:
    """``truncated_bptt(x, y, mask, a0, parameters, chunk_length)`` returns (loss, grads, a_last):
    the hidden state is carried across chunks (so loss and a_last equal the full forward's),
    while the gradients of each chunk stop at its first step (the carried state is a constant)."""
    rng = np.random.default_rng(seed + 30)
    x, y, mask, a0, p = _training_case(rng, seed, 7 if seed == 0 else int(rng.integers(5, 10)))
    T = x.shape[2]
    for k in (2, 3, T):
        label = f"truncated_bptt(x, y, mask, a0, parameters, chunk_length={k}) [T_x={T}]"
        args = {"x": x, "y": y, "mask": mask, "a0": a0, "parameters": p, "chunk_length": k}
        result = call(truncated_bptt, label, args, {"x": x.shape}, _BACKWARD_REFERENCES)
        loss, grads, a_last = unpack(label, result, ("loss", "grads", "a_last"))
        want_loss, want, want_a = _truncated_reference(x, y, mask, a0, p, k)
        restart = _truncated_reference(x, y, mask, a0, p, k, carry=False)
        hint = (
            "carry the hidden state across chunks: each chunk starts from the last state of the "
            "previous one, not a0"
        )
        restarted = shape_ok(a_last, want_a) and np.allclose(a_last, restart[2])
        check_close(
            f"a_last from {label}",
            a_last,
            want_a,
            names="(n_a, m)",
            hint=hint if restarted else None,
        )
        loss = _loss_value(f"the loss from {label}", loss)
        _check_loss(
            label,
            loss,
            want_loss,
            hint if np.isclose(loss, restart[0]) else "add up the losses of all chunks",
        )
        _grads_dict(label, grads, ("dWaa", "dWax", "dba", "dWya", "dby"))
        full = _truncated_reference(x, y, mask, a0, p, k, stop=False)[1]
        last_only = _truncated_reference(x, y, mask, a0, p, k, accumulate=False)[1]
        variants = {
            "the gradients flowed past the truncation boundary (these are full-BPTT gradients): "
            "each chunk's backward pass must stop at its first step": full,
            "add up the gradients of every chunk (these are the last chunk's only)": last_only,
            hint: restart[1],
        }
        for key in ("dWaa", "dWax", "dba", "dWya", "dby"):
            kv = [(h, v[key]) for h, v in variants.items()]
            compare(f"{key} from {label}", grads[key], want[key], kv, tolerances(grads[key]))
