"""Helpers shared by the checks of the gated-cell assignments (06 GRU, 07 LSTM).

Sizes that make every transposition visible, float32 copies of argument trees, stacked
weights in the wrong order, the cache check (a tuple of named fields, a wrong gate explained
by a known mistake, an entry in another entry's place named), the asserted gradient check of a
backward exercise, and the explanations of errors that the gated exercises share (time read
from the batch axis of ``x``, a state gradient started with the shape of ``x``, an optional
argument that is None).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from utils.exercises.harness import asserted_gradcheck, error_as_text, explain_or_wrap

CACHE_TOLERANCE = {"rtol": 2e-4, "atol": 2e-5}  # float32 caches are fine
INDEX_HINT = "Off-by-one in the time loop? The steps are x[:, :, 0] .. x[:, :, T_x - 1]."


def input_first(p, n_x):
    """Weights that, on [h; x], compute what the given ones compute on [x; h] (x has n_x
    rows): the stacked vector in the wrong order, as a switch on the reference's parameters."""
    return {
        k: np.concatenate([v[:, n_x:], v[:, :n_x]], axis=1) if k[0] == "W" else v
        for k, v in p.items()
    }


def columns_input_first(grads, n_x, names):
    """Weight gradients built on [x; h] instead of [h; x]: the reference's with the x columns
    first."""
    return {
        k: np.concatenate([v[:, -n_x:], v[:, :-n_x]], axis=1)
        for k, v in grads.items()
        if k in names
    }


def draw_sizes(rng, seed):
    """(n_x, n_a, m), all different so that a transposition changes a shape."""
    if seed == 0:
        return 3, 5, 2
    n_x, n_a, m = (int(v) for v in rng.permutation(7)[:3] + 2)
    return n_x, n_a, m


def float32(tree):
    if isinstance(tree, dict):
        return {k: float32(v) for k, v in tree.items()}
    return tree.astype(np.float32)


def explained(case, mistakes, entry, got, tol):
    """The hint of the first mistake whose result has ``got`` where ``entry(result)`` points."""
    for mistake in mistakes:
        wrong = mistake.derive(case)
        if not isinstance(wrong, tuple):
            continue
        try:
            value = entry(wrong)
        except (TypeError, IndexError):  # a mistake that derives no cache
            continue
        if (
            isinstance(value, np.ndarray)
            and value.shape == got.shape
            and np.allclose(got, value, **tol)
        ):
            return mistake.hint
    return None


def check_cache(name, got, want, case, fields, explain=None):
    """The cache is a tuple with these fields, equal to the reference's; a wrong gate value is
    explained by ``explain(i, got_entry)`` (the hint of a known mistake, or None)."""
    if not isinstance(got, tuple) or len(got) != len(fields):
        length = f" of length {len(got)}" if isinstance(got, tuple) else ""
        raise AssertionError(
            f"{name} should be the tuple ({', '.join(fields)}), got {type(got).__name__}{length}"
        )
    tol = CACHE_TOLERANCE
    for i, (field, g, w) in enumerate(zip(fields, got, want, strict=True)):
        label = f"{name}: entry {field}"
        if field == "parameters":
            if not isinstance(g, dict) or any(
                k not in g or not np.allclose(g[k], v, **tol) for k, v in w.items()
            ):
                raise AssertionError(f"{label} should be the parameters dict that was given")
        elif w is None:
            if g is not None:
                raise AssertionError(f"{label} should be None, got {type(g).__name__}")
        elif isinstance(w, str | bool):
            if type(g) is not type(w) or g != w:
                raise AssertionError(f"{label} should be {w!r}, got {g!r:.60}")
        elif not (isinstance(g, np.ndarray) and g.shape == w.shape and np.allclose(g, w, **tol)):
            hint = explain(i, g) if explain and isinstance(g, np.ndarray) else None
            if hint:
                raise AssertionError(f"{label} is wrong: {hint}")
            order = f"the cache holds ({', '.join(fields)}) in that order"
            if not isinstance(g, np.ndarray):
                raise AssertionError(
                    f"{label} should be an array of shape {w.shape}, got {type(g).__name__}; "
                    f"{order}"
                )
            if g.shape != w.shape:
                raise AssertionError(f"{label} should have shape {w.shape}, got {g.shape}; {order}")
            elsewhere = [
                other
                for other, value in zip(fields, want, strict=True)
                if other != field
                and isinstance(value, np.ndarray)
                and value.shape == g.shape
                and np.allclose(g, value, **tol)
            ]
            if elsewhere:
                raise AssertionError(f"{label} holds the value of {elsewhere[0]}: {order}")
            raise AssertionError(
                f"{label} has the right shape {g.shape} but not the values of {field} (the "
                f"outputs were right, so the cache stores some other array here); {order}"
            )


def check_sequence_caches(name, got, want, case, fields, mistakes, where):
    """``caches = (cell_caches, x)``: x itself and one cell cache per step, each checked by
    :func:`check_cache`; a wrong gate is explained by the sequence mistakes, whose caches sit
    at ``result[where]``."""
    if not isinstance(got, tuple) or len(got) != 2:
        raise AssertionError(f"{name} should be the tuple (cell_caches, x)")
    cell_caches, x = got
    if not isinstance(x, np.ndarray) or not np.array_equal(x, case.args["x"]):
        raise AssertionError(f"{name}: the second entry should be x itself")
    T = case.sizes["T_x"]
    if not isinstance(cell_caches, list | tuple) or len(cell_caches) != T:
        count = len(cell_caches) if isinstance(cell_caches, list | tuple) else "no list"
        raise AssertionError(
            f"{name}: cell_caches should hold one cache per step, T_x = {T}, got {count}"
        )
    for t, (g, w) in enumerate(zip(cell_caches, want[0], strict=True)):

        def explain(i, value, t=t):
            return explained(case, mistakes, lambda r: r[where][0][t][i], value, CACHE_TOLERANCE)

        check_cache(f"{name}: cell_caches[{t}]", g, w, case, fields, explain)


MEMORY_GRADIENTS = ("dc_prev", "dc0")


def gradient_outputs(first, parameter_names, Output):
    """The outputs of a backward exercise: ``first`` (dxt, da_prev, ... with their shapes) and
    d + every parameter, (n_a, n_a + n_x) for a W, (n_a, 1) otherwise.

    They are compared in the order that lets each mistake be told from its neighbours: the
    memory's gradient (LSTM's dc_prev) first, then the parameters' gradients, then da_prev and
    dxt last. dxt (or dx) sums every gate's share, so many mistakes change it alike: a missing
    Γr share of dxt and a Γr with no gradient at all give the same dxt, and only dWr tells
    them apart; a peephole term added to dc after the gate derivatives and one never added give
    the same dW, and only dc_prev tells them apart."""
    shapes = {
        "dxt": "(n_x, m)",
        "da_prev": "(n_a, m)",
        "dc_prev": "(n_a, m)",
        "dx": "(n_x, m, T_x)",
        "da0": "(n_a, m)",
        "dc0": "(n_a, m)",
    }
    memory = tuple(n for n in first if n in MEMORY_GRADIENTS)
    rest = tuple(n for n in first if n not in MEMORY_GRADIENTS)
    names = (*memory, *("d" + k for k in parameter_names), *reversed(rest))
    return tuple(
        Output(n, shape=shapes.get(n, "(n_a, n_a + n_x)" if n[1] == "W" else "(n_a, 1)"))
        for n in names
    )


def gradcheck(label, f, at, grads):
    """Asserted gradient check. The fourth-order stencil keeps the finite differences' own
    error far below the threshold even for gradient entries of 1e-5 (the notebook's
    second-order check would misjudge those)."""
    asserted_gradcheck(label, f, at, grads, order=4)


# --------------------------------------------------------------------------------------------
# Errors raised inside a student's function, explained by the case's shapes
# --------------------------------------------------------------------------------------------


def with_explanations(exercise, *specific):
    """``exercise`` whose ``explain`` tries ``specific(case, error)`` in order (each a message
    naming the bug, or None), then the harness's generic explanation, and otherwise shows the
    error as raised (:func:`~utils.exercises.harness.explain_or_wrap`): every error of the
    student's code names the case it came from (a stub's NotImplementedError stays as it is)."""

    def explain(case, error):
        for explanation in specific:
            message = explanation(case, error)
            if message:
                return message
        return explain_or_wrap(bound, case, error)

    bound = dataclasses.replace(exercise, explain=explain)
    return bound


def _locals(error):
    return {k: tuple(v) for k, v in (getattr(error, "student_locals", {}) or {}).items()}


def _lines(error):
    return [line for _, line in getattr(error, "student_trace", []) or [] if line]


_SLICED_TIME = re.compile(r"\bx\s*\[\s*(?::\s*,\s*t\s*(?:,\s*:\s*)?|t\s*(?:,\s*:\s*)*)\]")


def time_axis(case, error):
    """A sequence forward that read step t as ``x[:, t, :]`` (or ``x[t]``): the shape of what
    the step got tells, or the line that sliced x."""
    if not isinstance(error, ValueError | IndexError):
        return None
    n_x, m, T = case.sizes["n_x"], case.sizes["m"], case.sizes["T_x"]
    read = {(n_x, T): ("x[:, t, :]", "(n_x, T_x)"), (m, T): ("x[t]", "(m, T_x)")}
    fed = ""
    if m != T:
        for name, shape in _locals(error).items():
            if shape in read:
                slicing, spec = read[shape]
                fed = f"{name} has shape {shape} = {spec}: step t was given {slicing}. "
                break
    if not fed and not any(_SLICED_TIME.search(line) for line in _lines(error)):
        return None
    return (
        f"{error_as_text(error)}. {fed}Time is the last axis of x (n_x, m, T_x): step t reads "
        f"x[:, :, t], of shape (n_x, m) = {(n_x, m)} (x[:, t, :] is the whole sequence of "
        "example t)."
    )


_X_LIKE = re.compile(r"d?x(?:t|_t|_|\d|$)")  # x, xt, dx, dxt, x_t ...: meant to be x-sized


def carried_like_x(case, error):
    """A sequence backward whose gradient carried from step t+1 was started with the shape of
    x (``np.zeros_like(x)``) or of one step of x, where a state's gradient (n_a, m) belongs."""
    if not isinstance(error, ValueError):
        return None
    n_x, n_a, m, T = (case.sizes[k] for k in ("n_x", "n_a", "m", "T_x"))
    like = {
        (n_x, m, T): ("(n_x, m, T_x), the shape of x", "np.zeros_like(x) has the shape of dx"),
        (n_x, m): ("(n_x, m), one step of x", "np.zeros_like(xt) has the shape of dxt"),
    }
    line = _lines(error)[-1] if _lines(error) else ""
    for name, shape in _locals(error).items():
        named = not line or re.search(rf"\b{re.escape(name)}\b", line)  # the line, if known
        if shape in like and not _X_LIKE.match(name) and named:
            spec, instead = like[shape]
            return (
                f"{error_as_text(error)}. {name} has shape {shape} = {spec}: the gradient "
                f"carried back from step t+1 belongs to a state, shape (n_a, m) = {(n_a, m)}; "
                f"start it at np.zeros((n_a, m)) ({instead}, not of a state)."
            )
    return None


def _about_none(error):
    text = str(error)
    return isinstance(error, TypeError | AttributeError) and "NoneType" in text


def none_argument(hints):
    """``hints``: per argument name, what to do when it is None (which the contract allows);
    used when the student's code failed on a None and that argument is None in the case."""

    def explain(case, error):
        if not _about_none(error):
            return None
        for name, hint in hints.items():
            if name in case.args and case.args[name] is None:
                return f"{error_as_text(error)}. {name} is None in this case: {hint}"
        return None

    return explain


def none_in_case(test, hint):
    """Like :func:`none_argument` for a None the case holds elsewhere (e.g. in a cache):
    ``test(case)`` says whether the case has it."""

    def explain(case, error):
        if _about_none(error) and test(case):
            return f"{error_as_text(error)}. {hint}"
        return None

    return explain
