"""Checks for assignment 05 — vanishing and exploding gradients (on the exercise harness).

Contracts (identical to the references, which the checks call):

- ``clip_by_value(grads, max_value) -> (clipped, norm)``: :func:`utils.optim.clip_by_value`;
- ``clip_by_global_norm(grads, max_norm) -> (clipped, norm)``:
  :func:`utils.optim.clip_by_global_norm`;
- ``hidden_state_gradient_norms(da, caches) -> norms``:
  :func:`utils.gradient_flow.hidden_state_gradient_norms`.

``grads`` is a dict of arrays (``{"dWaa": ..., "dba": ...}``); ``norm`` is the global norm
``sqrt(sum of every squared entry)`` *before* clipping; the given dict and arrays must not
change, and ``clipped`` is a new dict of new arrays, also where nothing is rescaled (seen where
the function runs in this process: a result from the grader's sandbox is always new). Every
error raised inside a student's function is reported with the case it came from.
"""

from __future__ import annotations

import numpy as np

from utils import gradient_flow, optim, rnn
from utils.exercises.harness import Case, Exercise, Mistake, Output, explain_or_wrap
from utils.exercises.hints import SCAN_LEFT_TO_RIGHT

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
    _check_new_arrays(name, got, case)


def _check_new_arrays(name, got, case):
    """The clipped dict and its arrays are new: none is the caller's ``grads`` or shares its
    memory (a view). Seen where the student's function ran in this process (the notebook's
    kernel); a result that crossed the grader's sandbox boundary is always a new object."""
    grads = case.args["grads"]
    if got is grads:
        raise AssertionError(
            f"{name} is the dict grads itself: return a new dict of new arrays, so that "
            "changing the clipped gradients cannot change grads"
        )
    for key, g in got.items():
        if isinstance(g, np.ndarray) and np.shares_memory(g, grads[key]):
            raise AssertionError(
                f"{name}[{key!r}] is the caller's array grads[{key!r}] itself (or a view of "
                "it): return new arrays even when nothing is rescaled (g.copy(), or g * scale "
                "with scale = 1.0), so that changing the clipped gradients cannot change grads"
            )


def _spectral_norm(grads):
    """The global norm with each array's norm taken as np.linalg.norm(g, 2): for a matrix its
    largest singular value (the reference fed one number per array)."""
    return optim.global_norm({k: np.array(np.linalg.norm(g, 2)) for k, g in grads.items()})


def _sum_of_norms(grads):
    """The sum of the arrays' own norms (the reference run on each array alone, added up)."""
    return sum(optim.global_norm({k: g}) for k, g in grads.items())


SPECTRAL_NORM = (
    "np.linalg.norm(g, 2) (ord=2) of a matrix is its largest singular value, not the square "
    "root of the sum of its squared entries: use np.sqrt(np.sum(g**2)) (or np.linalg.norm(g) "
    "without ord) for each array"
)
SUM_OF_NORMS = (
    "the global norm is the square root of the sum of every squared entry of every array, "
    "sqrt(N_1**2 + N_2**2 + ...) with N_i each array's norm, not the sum N_1 + N_2 + ... of "
    "the arrays' norms"
)
_NORM_OUTPUT_MISTAKES = (
    Mistake(SPECTRAL_NORM, lambda c: (None, _spectral_norm(c.args["grads"])), outputs=("norm",)),
    Mistake(SUM_OF_NORMS, lambda c: (None, _sum_of_norms(c.args["grads"])), outputs=("norm",)),
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
        *_NORM_OUTPUT_MISTAKES,
    ),
    forbidden=FORBIDDEN_CLIPPING,
    key_hint="grads is a dict keyed 'dWaa', 'dWax', ...; return a dict with the same keys",
    doc="``clip_by_value(grads, max_value) -> (clipped, norm)``: entries into [-v, v].",
    explain=lambda case, error: explain_or_wrap(CLIP_BY_VALUE, case, error),
)


# --------------------------------------------------------------------------------------------
# Exercise 2 — clip_by_global_norm
# --------------------------------------------------------------------------------------------


def _per_array(case):
    out = {}
    for k, g in case.args["grads"].items():
        n = float(np.linalg.norm(g))
        out[k] = g * (case.args["max_norm"] / n if n > case.args["max_norm"] else 1.0)
    return out


def _clipped_with_norm(case, wrong_norm):
    """clip_by_global_norm's result when the global norm is taken as ``wrong_norm(grads)``:
    the reference with max_norm scaled by N / N', so that its factor max_norm / N applies
    exactly when, and as, max_norm / N' would."""
    grads, max_norm = case.args["grads"], case.args["max_norm"]
    return optim.clip_by_global_norm(
        grads, max_norm * optim.global_norm(grads) / wrong_norm(grads)
    )[0]


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
    (SPECTRAL_NORM, lambda c: _clipped_with_norm(c, _spectral_norm)),
    (SUM_OF_NORMS, lambda c: _clipped_with_norm(c, _sum_of_norms)),
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
        *_NORM_OUTPUT_MISTAKES,
    ),
    forbidden=FORBIDDEN_CLIPPING,
    key_hint="grads is a dict keyed 'dWaa', 'dWax', ...; return a dict with the same keys",
    doc="``clip_by_global_norm(grads, max_norm) -> (clipped, norm)``.",
    explain=lambda case, error: explain_or_wrap(CLIP_BY_GLOBAL_NORM, case, error),
)


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


def _probe_left_to_right(da, caches):
    """The scan run from t = 0 upwards: the reference on the time-reversed sequence (steps
    and their gradients from above reversed), its norms put back in time order."""
    cell_caches, x = caches
    reversed_caches = (list(reversed(cell_caches)), x[:, :, ::-1])
    return gradient_flow.hidden_state_gradient_norms(da[:, :, ::-1], reversed_caches)[::-1].copy()


def _probe_one_step_back(da, caches):
    """Only da[:, :, t] sent back from step t (not the whole dL/da<t>), so a gradient travels
    one step at most: norms[t] from the reference run on the two steps t, t+1 alone."""
    cell_caches, x = caches
    T = len(cell_caches)
    return np.array(
        [
            gradient_flow.hidden_state_gradient_norms(
                da[:, :, t : t + 2], (cell_caches[t : t + 2], x[:, :, t : t + 2])
            )[0]
            for t in range(T)
        ]
    )


def _probe_with_wax(da, caches):
    """The reference given Wax in place of Waa (possible where n_x = n_a; None elsewhere)."""
    if caches[0][0][3]["Wax"].shape != caches[0][0][3]["Waa"].shape:
        return None
    return _probe_with(da, caches, lambda *cache: _with_waa(cache, cache[3]["Wax"]))


def _g_prime_hint(case):
    if case.context.get("activation") == "relu":
        return (
            "ReLU's derivative is (a_next > 0): 1 where a unit is on, 0 where it is off. Here it "
            "was 1 everywhere: a_next >= 0 is always True, since ReLU's output is never "
            "negative (the same as no derivative at all)"
        )
    return (
        "back through the activation first: multiply by g'(z) = 1 - a_next**2 (tanh) or "
        "(a_next > 0) (ReLU) before Waa^T"
    )


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
    return Case(
        label,
        {"da": da, "caches": caches},
        {"n_x": n_x, "n_a": n_a, "m": m, "T_x": T},
        context={"activation": activation},
    )


def _probe_cases(rng, seed):
    n_x, n_a, m, T = (3, 5, 2, 6) if seed == 0 else tuple(int(v) for v in rng.integers(2, 9, 4))
    T = max(T, 3)
    # First a loss at every step, with n_x = n_a: there a scan from the left, a gradient not
    # carried at all and one carried a single step all give different norms (with a loss on
    # the last step only the first two give the same), and Wax^T used for the step back has
    # Waa^T's shape, so it gives a wrong value (named) instead of a shape error.
    return [
        _probe_case(rng, "a loss at every step (n_x = n_a)", n_a, n_a, m, T),
        _probe_case(rng, "a loss on the last step only", n_x, n_a, m, T, only_last=True),
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
        Mistake(_g_prime_hint, lambda c: _probe_without_g_prime(**c.args)),
        Mistake(
            "the step back is Waa^T (the transpose) times the gradient",
            lambda c: _probe_untransposed(**c.args),
        ),
        Mistake(
            "the step back to a<t-1> goes through Waa^T, the recurrent weight; Wax multiplies "
            "the input x<t> and sends nothing to a<t-1>",
            lambda c: _probe_with_wax(**c.args),
        ),
        Mistake(
            SCAN_LEFT_TO_RIGHT,
            lambda c: _probe_left_to_right(**c.args),
        ),
        Mistake(
            "dL/da<t> includes what comes back from step t+1: add it before taking the norm",
            lambda c: _probe_without_future(**c.args),
        ),
        Mistake(
            "send back the whole dL/da<t> (da[:, :, t] plus what came back from step t+1), "
            "not only da[:, :, t]: a loss at the last step must reach every earlier step",
            lambda c: _probe_one_step_back(**c.args),
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
    explain=lambda case, error: explain_or_wrap(HIDDEN_STATE_GRADIENT_NORMS, case, error),
)
