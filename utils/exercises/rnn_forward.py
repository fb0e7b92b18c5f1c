"""Checks for assignment 02 — the RNN forward pass and the types of RNNs.

Each check raises ``AssertionError`` naming the first problem it finds and returns ``None``
when the function passes. ``seed`` selects the sizes and the random cases; the visible tests use
``seed=0`` (n_x = 3, n_a = 5, n_y = 4, m = 2: all different, so a transposed weight cannot go
unnoticed), the hidden tests other seeds and therefore other shapes.

Contracts checked here (the notebook states them):

- ``rnn_cell_forward(xt, a_prev, parameters, activation="tanh") -> (a_next, yt_pred, cache)``
  with ``cache = (a_next, a_prev, xt, parameters, activation)``, exactly what
  ``rnn_cell_backward`` (notebook 03, and ``utils.rnn.rnn_cell_backward``) reads.
- ``rnn_forward(x, a0, parameters, activation="tanh") -> (a, y_hat, caches)`` with
  ``caches = (cell_caches, x)`` and ``cell_caches[t]`` the cache of step ``t``.
- ``many_to_one_forward(x, a0, parameters) -> y_hat (n_y, m)`` from the last hidden state.
- ``one_to_many_forward(x1, a0, parameters, T_y) -> y_hat (n_y, m, T_y)``, feeding the one-hot
  vector of the most likely symbol back as the next input.
- ``encoder_decoder_forward(x, a0, encoder, decoder, T_y) -> y_hat (n_y, m, T_y)``.
"""

from __future__ import annotations

import numpy as np

from utils import rnn
from utils.activations import softmax
from utils.checks import check_close, check_equal
from utils.exercises._common import (
    call,
    compare,
    random_parameters,
    shape_ok,
    sizes,
    tolerances,
    unpack,
)
from utils.kernels import rnn as kernels

__all__ = [
    "check_encoder_decoder_forward",
    "check_many_to_one_forward",
    "check_one_to_many_forward",
    "check_rnn_cell_forward",
    "check_rnn_forward",
    "random_parameters",
]

CACHE_FIELDS = ("a_next", "a_prev", "xt", "parameters", "activation")
_REFERENCES = [
    rnn.rnn_cell_forward,
    rnn.rnn_forward,
    rnn.rnn_layer_forward,
    rnn.dense_forward,
    rnn.rnn_model_forward,
    kernels.rnn_forward,
    kernels.rnn_layer_forward,
    kernels.rnn_model_forward,
]


def _activate(z, activation):
    return np.tanh(z) if activation == "tanh" else np.maximum(z, 0.0)


# --------------------------------------------------------------------------------------------
# Exercise 1 — rnn_cell_forward
# --------------------------------------------------------------------------------------------


def _a_next_variants(xt, a_prev, p, activation):
    g = activation
    other = "relu" if activation == "tanh" else "tanh"
    z = p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"]
    return [
        ("a_next ignores ba? (a_next = g(Waa a_prev + Wax xt + ba))", _activate(z - p["ba"], g)),
        (
            "a_next ignores the Waa a_prev term? (the previous state must enter every step)",
            _activate(p["Wax"] @ xt + p["ba"], g),
        ),
        ("a_next ignores the Wax xt term? (the input must enter)", _activate(z - p["Wax"] @ xt, g)),
        (
            "a_next uses Waa transposed? (Waa @ a_prev, not Waa.T @ a_prev)",
            _activate(p["Waa"].T @ a_prev + p["Wax"] @ xt + p["ba"], g),
        ),
        (f"a_next uses {other} but activation={activation!r} was asked for", _activate(z, other)),
        ("a_next is missing the activation g (a_next = g(z), not z)", z),
    ]


def _y_variants(a_next, a_prev, p):
    z = p["Wya"] @ a_next + p["by"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return [
        (
            "yt_pred is computed from a_prev; it must use the new state a_next",
            softmax(p["Wya"] @ a_prev + p["by"]),
        ),
        ("yt_pred ignores by? (yt_pred = softmax(Wya a_next + by))", softmax(z - p["by"])),
        (
            "softmax over the wrong axis: each column (one example) must sum to 1, i.e. "
            "normalise over axis 0",
            e / e.sum(axis=1, keepdims=True),
        ),
        ("yt_pred is missing the softmax", z),
    ]


def _check_cell_cache(name, where, cache, a_next, a_prev, xt, parameters, activation, tol):
    """The cache must hold exactly what rnn_cell_backward reads, in the documented order.

    ``name`` is how the student knows the cache (``"cache"``, ``"caches[0][3]"``), ``where``
    the call it came from."""
    label = f"{name} {where}"
    fields = ", ".join(CACHE_FIELDS)
    if not isinstance(cache, tuple) or len(cache) != len(CACHE_FIELDS):
        raise AssertionError(
            f"{label} should be the tuple ({fields}) that rnn_cell_backward needs, got "
            f"{type(cache).__name__} of length {len(cache) if hasattr(cache, '__len__') else '?'}"
        )
    expected = dict(zip(CACHE_FIELDS, (a_next, a_prev, xt, parameters, activation), strict=True))
    for i, field in enumerate(CACHE_FIELDS[:3]):
        check_close(
            f"{name}[{i}] ({field}) {where}",
            cache[i],
            expected[field],
            hint=f"the cache is ({fields}); the backward pass needs {field} here",
            **tol,
        )
    stored = cache[3]
    if not isinstance(stored, dict) or not {"Waa", "Wax", "ba", "Wya", "by"} <= set(stored):
        raise AssertionError(
            f"{name}[3] {where} should be the parameters dict (Waa, Wax, ba, Wya, by), "
            f"got {stored!r:.80}"
        )
    for key in ("Waa", "Wax", "ba", "Wya", "by"):
        check_close(f"{name}[3][{key!r}] {where}", stored[key], parameters[key], **tol)
    check_equal(f"{name}[4] (activation) {where}", cache[4], activation)


def check_rnn_cell_forward(rnn_cell_forward, seed: int = 0) -> None:
    """``rnn_cell_forward(xt, a_prev, parameters, activation)`` must return ``a_next``
    (n_a, m), ``yt_pred`` (n_y, m) and ``cache = (a_next, a_prev, xt, parameters, activation)``.
    """
    rng = np.random.default_rng(seed)
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    x_rand, a_rand = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    one_hot = np.eye(n_x)[:, rng.integers(0, n_x, size=m)]
    zx, za = np.zeros((n_x, m)), np.zeros((n_a, m))
    cases = [
        # Isolation: only one path open, every weight non-zero.
        ("xt = 0, a_prev = 0: only the bias path", zx, za, p, "tanh"),
        ("a_prev = 0: the input path", x_rand, za, p, "tanh"),
        ("xt = 0: the recurrent path", zx, a_rand, p, "tanh"),
        ("all paths", x_rand, a_rand, p, "tanh"),
        ("one-hot input", one_hot, a_rand, p, "tanh"),
        ("relu", x_rand, a_rand, p, "relu"),
        ("relu, xt = 0", zx, a_rand, p, "relu"),
    ]
    for _ in range(2):
        q = random_parameters(rng, n_x, n_a, n_y)
        cases.append(
            ("random", rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m)), q, "tanh")
        )
    q32 = {k: v.astype(np.float32) for k, v in p.items()}
    cases.append(("float32", x_rand.astype(np.float32), a_rand.astype(np.float32), q32, "tanh"))

    shapes = {"xt": (n_x, m), "a_prev": (n_a, m), "Waa": (n_a, n_a), "Wax": (n_a, n_x)}
    shapes.update({"Wya": (n_y, n_a), "ba": (n_a, 1), "by": (n_y, 1)})
    for what, xt, a_prev, params, activation in cases:
        label = f"rnn_cell_forward(xt, a_prev, parameters, activation={activation!r}) [{what}]"
        args = {"xt": xt, "a_prev": a_prev, "parameters": params, "activation": activation}
        result = call(rnn_cell_forward, label, args, shapes, forbid=_REFERENCES)
        a_next, yt_pred, cache = unpack(label, result, ("a_next", "yt_pred", "cache"))
        want_a, want_y, _ = rnn.rnn_cell_forward(xt, a_prev, params, activation)
        tol = tolerances(xt, a_next, yt_pred)
        p64 = {k: v.astype(np.float64) for k, v in params.items()}
        x64, a64 = xt.astype(np.float64), a_prev.astype(np.float64)
        compare(
            f"a_next from {label}",
            a_next,
            want_a,
            _a_next_variants(x64, a64, p64, activation),
            tol,
            names="(n_a, m)",
        )
        hint = None
        if shape_ok(yt_pred, want_y) and not np.allclose(yt_pred.sum(axis=0), 1, atol=1e-4):
            hint = (
                "each column of yt_pred is a probability distribution over the n_y "
                "classes and must sum to 1 (softmax over axis 0)"
            )
        variants = _y_variants(want_a.astype(np.float64), a64, p64)
        compare(f"yt_pred from {label}", yt_pred, want_y, variants, tol, "(n_y, m)", hint)
        _check_cell_cache(
            "cache", f"from {label}", cache, want_a, a_prev, xt, params, activation, tol
        )


# --------------------------------------------------------------------------------------------
# Exercise 2 — rnn_forward
# --------------------------------------------------------------------------------------------


def _sequence(x, a0, p, activation="tanh"):
    """Hidden states of the recurrence: the ``utils`` reference."""
    return rnn.rnn_layer_forward(x, a0, p, activation)[0]


def _states_from_a0(x, a0, p, activation):
    """The known mistake of never updating a_prev: every step starts from a0."""
    steps = [rnn.rnn_cell_forward(x[:, :, t], a0, p, activation)[0] for t in range(x.shape[2])]
    return np.stack(steps, axis=2)


def _outputs(a, p):
    """softmax(Wya a<t> + by) at every step."""
    return softmax(rnn.dense_forward(a, p["Wya"], p["by"])[0])


def _a_variants(x, a0, p, activation):
    T_x = x.shape[2]
    want = _sequence(x, a0, p, activation)
    shifted = np.concatenate([a0[:, :, None], want[:, :, :-1]], axis=2)
    last_missing = want.copy()
    last_missing[:, :, -1] = 0.0
    first_missing = np.concatenate([np.zeros_like(want[:, :, :1]), want[:, :, :-1]], axis=2)
    without = {name: {**p, name: np.zeros_like(p[name])} for name in ("ba", "Waa", "Wax")}
    variants = [
        ("the cell ignores ba", _sequence(x, a0, without["ba"], activation)),
        ("the cell ignores the Waa a<t-1> term", _sequence(x, a0, without["Waa"], activation)),
        ("the cell ignores the Wax x<t> term", _sequence(x, a0, without["Wax"], activation)),
        (
            "rnn_forward ignores a0: the first step must use a_prev = a0, not zeros",
            _sequence(x, np.zeros_like(a0), p, activation),
        ),
        (
            "a[:, :, t] holds a<t-1>: store the new state a_next at t (a[:, :, 0] is a<1>, not a0)",
            shifted,
        ),
        (
            "a_prev is never updated: feed each new state a<t> into step t+1",
            _states_from_a0(x, a0, p, activation),
        ),
        (
            "x<t> is read at the wrong time index (x[:, :, t - 1]?): off-by-one in the time loop",
            _sequence(np.roll(x, 1, axis=2), a0, p, activation),
        ),
    ]
    if T_x > 1:
        variants += [
            ("the last time step is never computed (range(T_x - 1)?): off-by-one", last_missing),
            (
                "the states are shifted by one step (a[:, :, 0] left at zero?): off-by-one in the "
                "time loop",
                first_missing,
            ),
        ]
    return variants


def check_rnn_forward(rnn_forward, seed: int = 0) -> None:
    """``rnn_forward(x, a0, parameters, activation)`` must return ``a`` (n_a, m, T_x),
    ``y_hat`` (n_y, m, T_x) and ``caches = (cell_caches, x)`` with one cell cache per step."""
    rng = np.random.default_rng(seed)
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    T_first, T_last = (6, 7) if seed == 0 else (int(v) for v in rng.integers(2, 10, size=2))
    lengths = [T_first, 1, T_last]
    a0 = rng.standard_normal((n_a, m))
    T = lengths[0]
    cases = [
        ("x = 0: only a0 and the biases drive the states", np.zeros((n_x, m, T)), a0, "tanh"),
        ("a0 = 0", rng.standard_normal((n_x, m, T)), np.zeros((n_a, m)), "tanh"),
        ("random", rng.standard_normal((n_x, m, T)), a0, "tanh"),
        ("T_x = 1", rng.standard_normal((n_x, m, lengths[1])), a0, "tanh"),
        ("relu", rng.standard_normal((n_x, m, lengths[2])), a0, "relu"),
        (
            "one-hot",
            np.eye(n_x)[rng.integers(0, n_x, size=(m, lengths[2]))].transpose(2, 0, 1),
            rng.standard_normal((n_a, m)),
            "tanh",
        ),
    ]
    x32 = rng.standard_normal((n_x, m, T)).astype(np.float32)
    cases.append(("float32", x32, a0.astype(np.float32), "tanh"))
    for what, x, a_init, activation in cases:
        params = p if x.dtype == np.float64 else {k: v.astype(x.dtype) for k, v in p.items()}
        T_x = x.shape[2]
        label = f"rnn_forward(x, a0, parameters, activation={activation!r}) [{what}, T_x={T_x}]"
        shapes = {"x": x.shape, "a0": a_init.shape, "Waa": (n_a, n_a), "Wax": (n_a, n_x)}
        shapes.update({"Wya": (n_y, n_a)})
        args = {"x": x, "a0": a_init, "parameters": params, "activation": activation}
        result = call(rnn_forward, label, args, shapes, forbid=_REFERENCES)
        a, y_hat, caches = unpack(label, result, ("a", "y_hat", "caches"))
        x64, a064 = x.astype(np.float64), a_init.astype(np.float64)
        p64 = {k: v.astype(np.float64) for k, v in params.items()}
        want_a = _sequence(x64, a064, p64, activation)
        want_y = _outputs(want_a, p64)
        tol = tolerances(x, a, y_hat)
        variants = _a_variants(x64, a064, p64, activation)
        compare(f"a from {label}", a, want_a, variants, tol, names="(n_a, m, T_x)")
        shifted = np.concatenate([a064[:, :, None], want_a[:, :, :-1]], axis=2)
        y_variants = [
            (
                "y_hat[:, :, t] is computed from a<t-1>; use the new state a<t>",
                _outputs(shifted, p64),
            ),
            ("y_hat ignores by", _outputs(want_a, {**p64, "by": np.zeros_like(p64["by"])})),
        ]
        hint = None
        if shape_ok(y_hat, want_y) and not np.allclose(y_hat.sum(axis=0), 1, atol=1e-4):
            hint = "each y_hat[:, i, t] must sum to 1: softmax over axis 0 (the classes)"
        compare(f"y_hat from {label}", y_hat, want_y, y_variants, tol, "(n_y, m, T_x)", hint)
        _check_caches(label, caches, x, a_init, want_a, params, activation, tol)


def _check_caches(label, caches, x, a0, want_a, params, activation, tol):
    if not isinstance(caches, tuple) or len(caches) != 2 or not isinstance(caches[0], list):
        raise AssertionError(
            f"caches from {label} should be the tuple (cell_caches, x) with cell_caches a list "
            f"of the T_x caches of rnn_cell_forward, got {type(caches).__name__}: {caches!r:.80}"
        )
    cell_caches, x_cached = caches
    T_x = x.shape[2]
    check_equal(
        f"len(caches[0]) from {label}",
        len(cell_caches),
        T_x,
        hint="one cache per time step (append the cache of every call to rnn_cell_forward)",
    )
    check_close(f"caches[1] (x) from {label}", x_cached, x, **tol)
    a_prev = a0
    for t in range(T_x):
        _check_cell_cache(
            f"caches[0][{t}]",
            f"from {label}",
            cell_caches[t],
            want_a[:, :, t],
            a_prev,
            x[:, :, t],
            params,
            activation,
            tol,
        )
        a_prev = want_a[:, :, t]


# --------------------------------------------------------------------------------------------
# Exercise 3 — many_to_one_forward
# --------------------------------------------------------------------------------------------


def check_many_to_one_forward(many_to_one_forward, seed: int = 0) -> None:
    """``many_to_one_forward(x, a0, parameters)`` must return ``softmax(Wya a<T_x> + by)``,
    shape (n_y, m): one prediction per sequence, from the last hidden state."""
    rng = np.random.default_rng(seed + 1)
    n_x, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_x, n_a, n_y)
    cases = [(5, "zero input", True), (4, "random", False), (1, "T_x = 1", False)]
    cases.append((int(rng.integers(2, 9)), "random", False))
    for T_x, what, zero_x in cases:
        x = np.zeros((n_x, m, T_x)) if zero_x else rng.standard_normal((n_x, m, T_x))
        a0 = rng.standard_normal((n_a, m))
        label = f"many_to_one_forward(x, a0, parameters) [{what}, T_x={T_x}]"
        args = {"x": x, "a0": a0, "parameters": p}
        shapes = {"x": x.shape, "a0": a0.shape, "Wya": (n_y, n_a)}
        got = call(many_to_one_forward, label, args, shapes, forbid=_REFERENCES)
        a = _sequence(x, a0, p)
        y = _outputs(a, p)
        last = "the prediction must come from the last state a<T_x>"
        from_a0 = _outputs(a0[:, :, None], p)[:, :, 0]
        from_mean = _outputs(a.mean(axis=2, keepdims=True), p)[:, :, 0]
        variants = [
            (f"{last}, not the first", y[:, :, 0]),
            (f"{last}, not a0", from_a0),
            (f"{last}, not the mean of the states", from_mean),
            ("many_to_one_forward must return the (n_y, m) prediction of the last step only", y),
            ("many_to_one_forward ignores a0", _outputs(_sequence(x, 0 * a0, p), p)[:, :, -1]),
        ]
        compare(f"y_hat from {label}", got, y[:, :, -1], variants, tolerances(got), "(n_y, m)")


# --------------------------------------------------------------------------------------------
# Exercise 4 — one_to_many_forward
# --------------------------------------------------------------------------------------------


def _generate(x1, a0, p, T_y, feed="one_hot", carry=True):
    """One-to-many reference and its wrong variants (float64)."""
    n_y, m = p["Wya"].shape[0], x1.shape[1]
    y_hat = np.zeros((n_y, m, T_y))
    xt, a_prev = x1, a0
    for t in range(T_y):
        a_next, y_hat[:, :, t], _ = rnn.rnn_cell_forward(xt, a_prev, p)
        if carry:
            a_prev = a_next
        if feed == "one_hot":
            xt = np.eye(n_y)[:, y_hat[:, :, t].argmax(axis=0)]
        elif feed == "probabilities":
            xt = y_hat[:, :, t]
        elif feed == "zeros":
            xt = np.zeros_like(x1)
    return y_hat


def _generation_variants(x1, a0, p, T_y, prefix):
    return [
        (
            f"{prefix}: feed back the one-hot vector of the most likely symbol (argmax), not the "
            "probabilities y_hat<t>",
            _generate(x1, a0, p, T_y, feed="probabilities"),
        ),
        (
            f"{prefix}: the input of step t+1 must be the output of step t, not x1 again",
            _generate(x1, a0, p, T_y, feed="x1"),
        ),
        (
            f"{prefix}: the input of step t+1 must be the output of step t, not zeros",
            _generate(x1, a0, p, T_y, feed="zeros"),
        ),
        (
            f"{prefix}: carry the hidden state from step to step (a_prev = a_next)",
            _generate(x1, a0, p, T_y, carry=False),
        ),
    ]


def check_one_to_many_forward(one_to_many_forward, seed: int = 0) -> None:
    """``one_to_many_forward(x1, a0, parameters, T_y)`` must return y_hat (n_y, m, T_y): step 1
    reads x1, and step t+1 reads the one-hot vector of argmax y_hat<t> (so n_x = n_y)."""
    rng = np.random.default_rng(seed + 2)
    _, n_a, n_y, m = sizes(rng, seed)
    p = random_parameters(rng, n_y, n_a, n_y)
    p["Wya"] *= 2.0  # confident outputs: feeding probabilities and one-hots differ clearly
    cases = [
        ("x1 = 0, as in the lecture", np.zeros((n_y, m)), 6),
        ("one-hot x1", np.eye(n_y)[:, rng.integers(0, n_y, size=m)], 5),
        ("T_y = 1", np.eye(n_y)[:, rng.integers(0, n_y, size=m)], 1),
        ("random x1", rng.standard_normal((n_y, m)), int(rng.integers(3, 9))),
    ]
    for what, x1, T_y in cases:
        a0 = rng.standard_normal((n_a, m))
        label = f"one_to_many_forward(x1, a0, parameters, T_y={T_y}) [{what}]"
        args = {"x1": x1, "a0": a0, "parameters": p, "T_y": T_y}
        shapes = {"x1": x1.shape, "a0": a0.shape, "Wax": (n_a, n_y), "Wya": (n_y, n_a)}
        got = call(one_to_many_forward, label, args, shapes, forbid=_REFERENCES)
        want = _generate(x1, a0, p, T_y)
        variants = _generation_variants(x1, a0, p, T_y, "one_to_many_forward")
        compare(f"y_hat from {label}", got, want, variants, tolerances(got), "(n_y, m, T_y)")


# --------------------------------------------------------------------------------------------
# Exercise 5 — encoder_decoder_forward
# --------------------------------------------------------------------------------------------


def check_encoder_decoder_forward(encoder_decoder_forward, seed: int = 0) -> None:
    """``encoder_decoder_forward(x, a0, encoder, decoder, T_y)``: the encoder reads x from a0;
    its last state a<T_x> starts the decoder, whose first input is zeros (n_y, m) and which then
    runs as one_to_many_forward for T_y steps. Returns y_hat (n_y, m, T_y)."""
    rng = np.random.default_rng(seed + 3)
    n_x, n_a, n_y, m = sizes(rng, seed)
    encoder = random_parameters(rng, n_x, n_a, n_y)
    decoder = random_parameters(rng, n_y, n_a, n_y)
    decoder["Wya"] *= 2.0
    pairs = [(5, 3), (2, 6)] if seed == 0 else [(int(rng.integers(2, 9)), int(rng.integers(1, 9)))]
    pairs.append((1, 1))
    for T_x, T_y in pairs:
        x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
        label = f"encoder_decoder_forward(x, a0, encoder, decoder, T_y={T_y}) [T_x={T_x}]"
        args = {"x": x, "a0": a0, "encoder": encoder, "decoder": decoder, "T_y": T_y}
        shapes = {"x": x.shape, "a0": a0.shape, "encoder Wax": (n_a, n_x)}
        shapes.update({"decoder Wax": (n_a, n_y), "decoder Wya": (n_y, n_a)})
        got = call(encoder_decoder_forward, label, args, shapes, forbid=_REFERENCES)
        a = _sequence(x, a0, encoder)
        start = np.zeros((n_y, m))
        want = _generate(start, a[:, :, -1], decoder, T_y)
        variants = [
            (
                "the decoder must start from the encoder's last state a<T_x>, not a0",
                _generate(start, a0, decoder, T_y),
            ),
            (
                "the decoder must start from the encoder's last state a<T_x>, not a<1>",
                _generate(start, a[:, :, 0], decoder, T_y),
            ),
            (
                "encoder_decoder_forward ignores a0 (the encoder starts from a0)",
                _generate(start, _sequence(x, 0 * a0, encoder)[:, :, -1], decoder, T_y),
            ),
        ]
        variants += _generation_variants(start, a[:, :, -1], decoder, T_y, "the decoder")
        compare(f"y_hat from {label}", got, want, variants, tolerances(got), "(n_y, m, T_y)")
