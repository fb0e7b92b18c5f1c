"""Helpers shared by the checks of the gated-cell assignments (06 GRU, 07 LSTM).

Sizes that make every transposition visible, float32 copies of argument trees, stacked
weights in the wrong order, the cache check (a tuple of named fields, a wrong gate explained
by a known mistake) and the asserted gradient check of a backward exercise.
"""

from __future__ import annotations

import numpy as np

from utils.exercises.harness import asserted_gradcheck

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
            shape = g.shape if isinstance(g, np.ndarray) else type(g).__name__
            raise AssertionError(
                f"{label} is not the expected {w.shape} array (got {shape}); the cache holds "
                f"({', '.join(fields)}) in that order"
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


def gradient_outputs(first, parameter_names, Output):
    """The outputs of a backward exercise: ``first`` (dxt, da_prev, ... with their shapes) and
    d + every parameter, (n_a, n_a + n_x) for a W, (n_a, 1) otherwise."""
    shapes = {
        "dxt": "(n_x, m)",
        "da_prev": "(n_a, m)",
        "dc_prev": "(n_a, m)",
        "dx": "(n_x, m, T_x)",
        "da0": "(n_a, m)",
        "dc0": "(n_a, m)",
    }
    names = (*first, *("d" + k for k in parameter_names))
    return tuple(
        Output(n, shape=shapes.get(n, "(n_a, n_a + n_x)" if n[1] == "W" else "(n_a, 1)"))
        for n in names
    )


def gradcheck(label, f, at, grads):
    """Asserted gradient check. The fourth-order stencil keeps the finite differences' own
    error far below the threshold even for gradient entries of 1e-5 (the notebook's
    second-order check would misjudge those)."""
    asserted_gradcheck(label, f, at, grads, order=4)
