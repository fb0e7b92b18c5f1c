"""Checks for assignment 05 — vanishing and exploding gradients (on the exercise harness).

Contracts (identical to the references, which the checks call):

- ``clip_by_value(grads, max_value) -> (clipped, norm)``: :func:`utils.optim.clip_by_value`;
- ``clip_by_global_norm(grads, max_norm) -> (clipped, norm)``:
  :func:`utils.optim.clip_by_global_norm`;
- ``hidden_state_gradient_norms(da, caches) -> norms``:
  :func:`utils.gradient_flow.hidden_state_gradient_norms`.

``grads`` is a dict of arrays (``{"dWaa": ..., "dba": ...}``); ``norm`` is the global norm
``sqrt(sum of every squared entry)`` *before* clipping; the given dict and arrays must not
change.
"""

from __future__ import annotations

import numpy as np

from utils import gradient_flow, optim, rnn
from utils.exercises.harness import Case, Exercise, Mistake, Output

__all__ = ["check_clip_by_global_norm", "check_clip_by_value", "check_hidden_state_gradient_norms"]

ASSIGNMENT = 5
FORBIDDEN_CLIPPING = (
    "utils.optim.clip_by_value",
    "utils.optim.clip_by_global_norm",
    "utils.optim.global_norm",
)
FORBIDDEN_PROBE = (
    "utils.gradient_flow.hidden_state_gradient_norms",
    "utils.rnn.rnn_cell_backward",
    "utils.rnn.rnn_backward",
    "utils.rnn.bptt",
    "utils.kernels.rnn.rnn_backward",
    "utils.kernels.rnn.bptt",
)
GRAD_SHAPES = {"dWaa": (4, 4), "dWax": (4, 3), "dba": (4, 1), "dWya": (2, 4), "dby": (2, 1)}


def _grads(rng, scale, shapes=GRAD_SHAPES, dtype=np.float64):
    return {k: (scale * rng.standard_normal(s)).astype(dtype) for k, s in shapes.items()}


def _shapes(rng, seed):
    if seed == 0:
        return GRAD_SHAPES
    n_a, n_x, n_y = (int(v) for v in rng.integers(2, 9, size=3))
    return {
        "dWaa": (n_a, n_a),
        "dWax": (n_a, n_x),
        "dba": (n_a, 1),
        "dWya": (n_y, n_a),
        "dby": (n_y, 1),
    }


def _check_grads(name, got, want, case):
    """A dict with the same keys, each array of the same shape and close to the reference."""
    if not isinstance(got, dict) or sorted(got) != sorted(want):
        shown = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise AssertionError(f"{name} should be a dict with the keys {sorted(want)}, got {shown}")
    tol = (
        {"rtol": 2e-4, "atol": 2e-5}
        if want[next(iter(want))].dtype == np.float32
        else {"rtol": 1e-7, "atol": 1e-10}
    )
    for key, w in want.items():
        g = got[key]
        if not isinstance(g, np.ndarray) or g.shape != w.shape:
            shape = getattr(g, "shape", type(g).__name__)
            raise AssertionError(f"{name}[{key!r}] should have shape {w.shape}, got {shape}")
        if not np.allclose(g, w, **tol):
            hint = None
            for text, derive in case.context.get("mistakes", ()):
                wrong = derive(case)
                if all(np.allclose(got[k], wrong[k], **tol) for k in want):
                    hint = text
                    break
            worst = float(np.max(np.abs(g - w)))
            raise AssertionError(
                f"{name}[{key!r}] is wrong (largest difference {worst:.3g})"
                + (f": {hint}" if hint else "")
            )


# --------------------------------------------------------------------------------------------
# Exercise 1 — clip_by_value
# --------------------------------------------------------------------------------------------

_VALUE_MISTAKES = (
    (
        "clip from below too: every entry goes into [-max_value, max_value]",
        lambda c: {k: np.minimum(g, c.args["max_value"]) for k, g in c.args["grads"].items()},
    ),
    (
        "the range is [-max_value, max_value], not [0, max_value]",
        lambda c: {k: np.clip(g, 0, c.args["max_value"]) for k, g in c.args["grads"].items()},
    ),
    (
        "clip by value means each entry separately, not rescaling by the global norm",
        lambda c: optim.clip_by_global_norm(c.args["grads"], c.args["max_value"])[0],
    ),
)


def _value_cases(rng, seed):
    shapes = _shapes(rng, seed)
    context = {"mistakes": _VALUE_MISTAKES}
    return [
        Case(
            "some entries above max_value, some below -max_value",
            {"grads": _grads(rng, 2.0, shapes), "max_value": 1.0},
            context=context,
        ),
        Case(
            "every entry already inside: unchanged copies",
            {"grads": _grads(rng, 0.1, shapes), "max_value": 5.0},
            context=context,
        ),
        Case(
            "max_value = 0.3",
            {"grads": _grads(rng, 1.0, shapes), "max_value": 0.3},
            context=context,
        ),
        Case(
            "float32",
            {"grads": _grads(rng, 2.0, shapes, np.float32), "max_value": 1.0},
            context=context,
        ),
    ]


CLIP_BY_VALUE = Exercise(
    name="clip_by_value",
    assignment=ASSIGNMENT,
    number=1,
    arguments=("grads", "max_value"),
    returns=(
        Output("clipped", kind="custom", check=_check_grads),
        Output("norm", kind="float"),
    ),
    packing="tuple",
    reference=lambda c: optim.clip_by_value(**c.args),
    cases=_value_cases,
    mistakes=(
        Mistake(
            "norm is the global norm of the gradients *before* clipping",
            lambda c: (None, optim.global_norm(optim.clip_by_value(**c.args)[0])),
            outputs=("norm",),
        ),
        Mistake(
            "the global norm is the square root of the sum of squares (np.sqrt)",
            lambda c: (None, optim.global_norm(c.args["grads"]) ** 2),
            outputs=("norm",),
        ),
        Mistake(
            "the global norm takes every entry of every array, not the largest array norm",
            lambda c: (None, max(float(np.linalg.norm(g)) for g in c.args["grads"].values())),
            outputs=("norm",),
        ),
    ),
    forbidden=FORBIDDEN_CLIPPING,
    key_hint="grads is a dict keyed 'dWaa', 'dWax', ...; return a dict with the same keys",
    doc="``clip_by_value(grads, max_value) -> (clipped, norm)``: entries into [-v, v].",
)
check_clip_by_value = CLIP_BY_VALUE.checker()


# --------------------------------------------------------------------------------------------
# Exercise 2 — clip_by_global_norm
# --------------------------------------------------------------------------------------------


def _per_array(case):
    out = {}
    for k, g in case.args["grads"].items():
        n = float(np.linalg.norm(g))
        out[k] = g * (case.args["max_norm"] / n if n > case.args["max_norm"] else 1.0)
    return out


_NORM_MISTAKES = (
    (
        "rescale every array by the same factor max_norm / (global norm of all of them), not "
        "each array by its own norm",
        _per_array,
    ),
    (
        "only rescale when the global norm exceeds max_norm; below it, return the gradients "
        "unchanged",
        lambda c: {
            k: g * c.args["max_norm"] / optim.global_norm(c.args["grads"])
            for k, g in c.args["grads"].items()
        },
    ),
    (
        "the factor is max_norm / norm (the clipped gradients then have norm max_norm), not "
        "1 / norm",
        lambda c: {k: g / optim.global_norm(c.args["grads"]) for k, g in c.args["grads"].items()},
    ),
    (
        "clip by global norm rescales all arrays together; clipping entries by value is another "
        "method",
        lambda c: optim.clip_by_value(c.args["grads"], c.args["max_norm"])[0],
    ),
    (
        "the global norm is the square root of the sum of squares",
        lambda c: {
            k: g * min(1.0, c.args["max_norm"] / optim.global_norm(c.args["grads"]) ** 2)
            for k, g in c.args["grads"].items()
        },
    ),
)


def _norm_cases(rng, seed):
    shapes = _shapes(rng, seed)
    context = {"mistakes": _NORM_MISTAKES}
    big = _grads(rng, 3.0, shapes)
    uneven = {**_grads(rng, 0.1, shapes), "dWaa": _grads(rng, 5.0, shapes)["dWaa"]}
    return [
        Case(
            "global norm above max_norm: rescaled", {"grads": big, "max_norm": 2.0}, context=context
        ),
        Case(
            "one large array among small ones: all rescaled by the same factor",
            {"grads": uneven, "max_norm": 1.0},
            context=context,
        ),
        Case(
            "global norm below max_norm: unchanged copies",
            {"grads": _grads(rng, 0.05, shapes), "max_norm": 10.0},
            context=context,
        ),
        Case(
            "float32",
            {"grads": _grads(rng, 3.0, shapes, np.float32), "max_norm": 2.0},
            context=context,
        ),
    ]


CLIP_BY_GLOBAL_NORM = Exercise(
    name="clip_by_global_norm",
    assignment=ASSIGNMENT,
    number=2,
    arguments=("grads", "max_norm"),
    returns=(
        Output("clipped", kind="custom", check=_check_grads),
        Output("norm", kind="float"),
    ),
    packing="tuple",
    reference=lambda c: optim.clip_by_global_norm(**c.args),
    cases=_norm_cases,
    mistakes=(
        Mistake(
            "norm is the global norm *before* clipping",
            lambda c: (None, min(optim.global_norm(c.args["grads"]), c.args["max_norm"])),
            outputs=("norm",),
        ),
        Mistake(
            "the global norm is the square root of the sum of squares (np.sqrt)",
            lambda c: (None, optim.global_norm(c.args["grads"]) ** 2),
            outputs=("norm",),
        ),
    ),
    forbidden=FORBIDDEN_CLIPPING,
    key_hint="grads is a dict keyed 'dWaa', 'dWax', ...; return a dict with the same keys",
    doc="``clip_by_global_norm(grads, max_norm) -> (clipped, norm)``.",
)
check_clip_by_global_norm = CLIP_BY_GLOBAL_NORM.checker()


# --------------------------------------------------------------------------------------------
# Exercise 3 — hidden_state_gradient_norms
# --------------------------------------------------------------------------------------------


def _probe_with(da, caches, change):
    """The reference probe, every cell cache ``(a_next, a_prev, xt, parameters, activation)``
    replaced by ``change(*cache)``."""
    cell_caches, x = caches
    changed = [change(*cache) for cache in cell_caches]
    return gradient_flow.hidden_state_gradient_norms(da, (changed, x))


def _probe_without_g_prime(da, caches):
    """The reference with g'(z) = 1 at every step: a_next = 0 under tanh (1 - 0**2)."""
    return _probe_with(da, caches, lambda a, a_prev, xt, p, _: (0 * a, a_prev, xt, p, "tanh"))


def _probe_untransposed(da, caches):
    """The reference given Waa^T, so that it steps back with Waa."""
    return _probe_with(da, caches, lambda *cache: _with_waa(cache, cache[3]["Waa"].T))


def _probe_without_future(da, caches):
    """The reference with Waa = 0: nothing comes back from step t+1."""
    return _probe_with(da, caches, lambda *cache: _with_waa(cache, 0 * cache[3]["Waa"]))


def _probe_after_step_back(da, caches):
    """norms[t] = ||Waa^T (g' * dL/da<t>)||, the gradient already sent back to a<t-1>: the
    reference on the sequence with a pass-through step (Waa = I, g' = 1, no gradient from
    above) before every step; the norms at those steps are the ones wanted."""
    cell_caches, x = caches
    cells, grads = [], []
    for t, cache in enumerate(cell_caches):
        a_next, _, _, p, _ = cache
        passing = _with_waa((0 * a_next, *cache[1:4], "tanh"), np.eye(p["Waa"].shape[0]))
        cells += [passing, cache]
        grads += [np.zeros_like(da[:, :, t]), da[:, :, t]]
    return gradient_flow.hidden_state_gradient_norms(np.stack(grads, axis=2), (cells, x))[::2]


def _with_waa(cache, Waa):
    """A cell cache whose parameters have ``Waa`` instead."""
    a_next, a_prev, xt, parameters, activation = cache
    return a_next, a_prev, xt, {**parameters, "Waa": Waa}, activation


def _probe_case(rng, label, n_x, n_a, m, T, activation="tanh", only_last=False, radius=None):
    p = {
        "Waa": gradient_flow.scaled_orthogonal(rng, n_a, radius or 0.9)
        @ np.diag(rng.uniform(0.6, 1.4, n_a)),
        "Wax": rng.standard_normal((n_a, n_x)),
        "ba": 0.3 * rng.standard_normal((n_a, 1)),
        "Wya": rng.standard_normal((2, n_a)),
        "by": np.zeros((2, 1)),
    }
    x = 0.7 * rng.standard_normal((n_x, m, T))
    _, _, caches = rnn.rnn_forward(x, np.zeros((n_a, m)), p, activation)
    da = rng.standard_normal((n_a, m, T))
    if only_last:
        da[:, :, :-1] = 0
    return Case(label, {"da": da, "caches": caches}, {"n_a": n_a, "m": m, "T_x": T})


def _probe_cases(rng, seed):
    n_x, n_a, m, T = (3, 5, 2, 6) if seed == 0 else tuple(int(v) for v in rng.integers(2, 9, 4))
    T = max(T, 3)
    return [
        _probe_case(rng, "a loss on the last step only", n_x, n_a, m, T, only_last=True),
        _probe_case(rng, "a loss at every step", n_x, n_a, m, T),
        _probe_case(rng, "ReLU", n_x, n_a, m, T, activation="relu"),
        _probe_case(rng, "T_x = 1", n_x, n_a, m, 1),
    ]


HIDDEN_STATE_GRADIENT_NORMS = Exercise(
    name="hidden_state_gradient_norms",
    assignment=ASSIGNMENT,
    number=3,
    arguments=("da", "caches"),
    returns=(Output("norms", shape="(T_x,)"),),
    reference=lambda c: gradient_flow.hidden_state_gradient_norms(**c.args),
    cases=_probe_cases,
    mistakes=(
        Mistake(
            "back through the activation first: multiply by g'(z) = 1 - a_next**2 (tanh) or "
            "(a_next > 0) (ReLU) before Waa^T",
            lambda c: _probe_without_g_prime(**c.args),
        ),
        Mistake(
            "the step back is Waa^T (the transpose) times the gradient",
            lambda c: _probe_untransposed(**c.args),
        ),
        Mistake(
            "dL/da<t> includes what comes back from step t+1: add it before taking the norm",
            lambda c: _probe_without_future(**c.args),
        ),
        Mistake(
            "norms[t] is the norm of dL/da<t> itself, taken before stepping back to t-1",
            lambda c: _probe_after_step_back(**c.args),
        ),
        Mistake(
            "the norm is the square root of the sum of squares",
            lambda c: gradient_flow.hidden_state_gradient_norms(**c.args) ** 2,
        ),
        Mistake(
            "norms[t] belongs to step t: store the values in time order, not reversed",
            lambda c: gradient_flow.hidden_state_gradient_norms(**c.args)[::-1].copy(),
        ),
    ),
    forbidden=FORBIDDEN_PROBE,
    shapes={
        "da": "(n_a, m, T_x)",
        "da_t": "(n_a, m)",
        "a_next": "(n_a, m)",
        "Waa": "(n_a, n_a)",
        "norms": "(T_x,)",
    },
    index_hint="t runs over 0 .. T_x - 1 (len(cell_caches)); da[:, :, t] is step t",
    doc="``hidden_state_gradient_norms(da, caches)``: ||dL/da<t>|| for every t, by BPTT.",
)
check_hidden_state_gradient_norms = HIDDEN_STATE_GRADIENT_NORMS.checker()

EXERCISES = (HIDDEN_STATE_GRADIENT_NORMS, CLIP_BY_VALUE, CLIP_BY_GLOBAL_NORM)
