"""Checks for assignment 06 — the gated recurrent unit, on the exercise harness.

Contracts (the notebook states them; they are those of the readable reference ``utils.gru``,
for the lecture's two variants ``"full"`` and ``"simplified"``):

- ``gru_cell_forward(xt, a_prev, parameters, variant="full") -> (a_next, cache)`` with
  ``cache = (a_next, a_prev, xt, gamma_u, gamma_r, c_tilde, parameters, variant)``
  (``gamma_r`` None for the simplified GRU).
- ``gru_forward(x, a0, parameters, variant="full") -> (a, caches)``, ``caches = (cell_caches, x)``.
- ``gru_cell_backward(da_next, cache) -> {"dxt", "da_prev", "dWu", "dbu", "dWc", "dbc"}`` plus
  ``"dWr", "dbr"`` for the full GRU.
- ``gru_backward(da, caches) -> {"dx", "da0", ...}``: the parameter gradients summed over time.

Each mistake is derived from the reference with one thing switched: a negated update gate
(Γu and 1 − Γu swapped), permuted weight columns (the stacked vector in the wrong order), the
reset-after variant (Γr after the product), the simplified variant (Γr missing), a zeroed
bias, x with its batch and time axes exchanged; or the reference's own gates recombined with
one change (Γr multiplying the whole product Wc [c<t-1>, x<t>]); backward mistakes drop or
change one edge of the graph (see :func:`_cell_backward`).

Errors raised inside the student's functions name the case and, where the shapes tell, what
was fed where (:mod:`utils.exercises._gated`): x[:, t, :] read as step t, a carried gradient
started with the shape of x, the simplified GRU's gamma_r (None) used.
"""

from __future__ import annotations

import numpy as np

from utils import gru
from utils.exercises._common import nonzero
from utils.exercises._gated import (
    CACHE_TOLERANCE,
    INDEX_HINT,
    carried_like_x,
    check_cache,
    check_sequence_caches,
    columns_input_first,
    draw_sizes,
    explained,
    float32,
    gradcheck,
    gradient_outputs,
    input_first,
    none_in_case,
    time_axis,
    with_explanations,
)
from utils.exercises.harness import Case, Exercise, Mistake, Output
from utils.exercises.hints import SCAN_LEFT_TO_RIGHT

__all__ = [
    "random_parameters",
]

ASSIGNMENT = 6
FORBIDDEN = (
    "utils.gru.gru_cell_forward",
    "utils.gru.gru_forward",
    "utils.gru.gru_cell_backward",
    "utils.gru.gru_backward",
    "utils.kernels.gru.gru_forward",
    "utils.kernels.gru.gru_backward",
)
CACHE_FIELDS = gru.GRUCache._fields  # (a_next, a_prev, xt, gamma_u, gamma_r, c_tilde, ...)
SHAPES = {
    "xt": "(n_x, m)",
    "a_prev": "(n_a, m)",
    "c_prev": "(n_a, m)",
    "a_next": "(n_a, m)",
    "c_next": "(n_a, m)",
    "gamma_u": "(n_a, m)",
    "gamma_r": "(n_a, m)",
    "c_tilde": "(n_a, m)",
    "concat": "(n_a + n_x, m)",
    "Wu": "(n_a, n_a + n_x)",
    "Wr": "(n_a, n_a + n_x)",
    "Wc": "(n_a, n_a + n_x)",
    "bu": "(n_a, 1)",
    "br": "(n_a, 1)",
    "bc": "(n_a, 1)",
    "x": "(n_x, m, T_x)",
    "a": "(n_a, m, T_x)",
    "a0": "(n_a, m)",
    "da": "(n_a, m, T_x)",
    "da_next": "(n_a, m)",
    "dz_u": "(n_a, m)",
    "dz_c": "(n_a, m)",
    "dz_r": "(n_a, m)",
}
KEY_HINT = (
    "The simplified GRU (variant='simplified') has no Wr, br: only the full GRU computes Γr; "
    "and the parameter names are Wu, Wr, Wc, bu, br, bc."
)


def _simplified(case):
    return case.context["variant"] == "simplified"


NO_GAMMA_R_FORWARD = none_in_case(
    _simplified,
    "This is the simplified GRU (variant='simplified'): it has no Γr (and no Wr, br), so "
    "compute Γr only when variant == 'full' and give the simplified candidate [c<t-1>, x<t>].",
)
NO_GAMMA_R_BACKWARD = none_in_case(
    _simplified,
    "This is the simplified GRU: its cache holds gamma_r = None (there is no Γr), so compute "
    "the Γr terms (d_rc * Γr, dz_r, dWr, dbr) only when variant == 'full'; the simplified "
    "candidate saw [c<t-1>, x<t>], so dWc = dz_c [c<t-1>, x<t>]^T and Wc^T dz_c goes to both "
    "halves.",
)


def _names(variant):
    return (
        ("Wu", "bu", "Wc", "bc")
        if variant == "simplified"
        else ("Wu", "bu", "Wr", "br", "Wc", "bc")
    )


def random_parameters(rng: np.random.Generator, n_x: int, n_a: int, variant: str = "full"):
    """GRU parameters with every entry non-zero (|w| in 0.2..1, scaled so that the gates and
    the candidate are far from saturation)."""
    scale = 1 / np.sqrt(n_a + n_x)
    params = {}
    for name in _names(variant):
        shape = (n_a, n_a + n_x) if name[0] == "W" else (n_a, 1)
        params[name] = nonzero(rng, shape) * (2 * scale if name[0] == "W" else 0.6)
    return params


# --------------------------------------------------------------------------------------------
# Mistakes shared by the forward exercises: the reference with one thing switched
# --------------------------------------------------------------------------------------------


def _swapped_gate(p):
    """σ(-z) = 1 - σ(z): negating Wu, bu swaps Γu and 1 - Γu."""
    return {**p, "Wu": -p["Wu"], "bu": -p["bu"]}


def _reset_after(p):
    """Γr applied after the product: utils.gru's reset-after variant with no extra bias."""
    return {**p, "bcr": np.zeros_like(p["bu"])}


def _gated_product(inside_bias):
    """A step whose candidate is tanh(Γr * (Wc [c<t-1>, x<t>]) + bc) (``inside_bias``:
    tanh(Γr * (Wc [c<t-1>, x<t>] + bc))): the reference's own Γu and Γr, with Γr moved from
    c<t-1> onto the whole product. Returns ``step(xt, a_prev, parameters) -> (a_next,
    cache)``."""

    def step(xt, a_prev, p):
        _, cache = gru.gru_cell_forward(xt, a_prev, p, "full")
        gamma_u, gamma_r = cache.gamma_u, cache.gamma_r
        product = p["Wc"] @ np.concatenate([a_prev, xt])
        if inside_bias:
            c_tilde = np.tanh(gamma_r * (product + p["bc"]))
        else:
            c_tilde = np.tanh(gamma_r * product + p["bc"])
        a_next = gamma_u * c_tilde + (1 - gamma_u) * a_prev
        return a_next, (a_next, a_prev, xt, gamma_u, gamma_r, c_tilde, p, "full")

    return step


def _forward_mistakes(run, over):
    """Mistakes of a forward pass; ``run(case, parameters, variant)`` runs the reference on the
    case with other parameters or variant, ``over(case, step)`` runs a mistaken step
    ``step(xt, a_prev, parameters) -> (a_next, cache)`` on the case (at every time step of a
    sequence)."""

    def full_only(change):
        def derive(case):
            variant = case.context["variant"]
            if variant != "full":
                return {}  # nothing to compare: the simplified GRU has no Γr
            return change(case, variant)

        return derive

    return (
        Mistake(
            "Γu and (1 − Γu) are swapped: c<t> = Γu * c~<t> + (1 − Γu) * c<t-1> (the gate "
            "multiplies the candidate; 1 − Γu keeps the old memory)",
            lambda c: run(c, _swapped_gate(c.context["parameters"]), c.context["variant"]),
        ),
        Mistake(
            "the gates are computed from the wrong concatenation order: stack the memory "
            "first, [c<t-1>, x<t>] (the first n_a columns of each W act on c<t-1>)",
            lambda c: run(
                c, input_first(c.context["parameters"], c.sizes["n_x"]), c.context["variant"]
            ),
        ),
        Mistake(
            "Γr is applied after the product (Γr * (Wc c<t-1>)); the lecture applies it to "
            "c<t-1> before: c~ = tanh(Wc [Γr * c<t-1>, x<t>] + bc)",
            full_only(lambda c, v: run(c, _reset_after(c.context["parameters"]), "reset_after")),
        ),
        Mistake(
            "Γr is applied after the product, to all of Wc [c<t-1>, x<t>] (so it scales the "
            "input's part too); the lecture applies it to c<t-1> before the product: "
            "c~ = tanh(Wc [Γr * c<t-1>, x<t>] + bc)",
            full_only(lambda c, v: over(c, _gated_product(inside_bias=False))),
        ),
        Mistake(
            "Γr is applied after the product, to all of Wc [c<t-1>, x<t>] + bc; the lecture "
            "applies it to c<t-1> before the product: c~ = tanh(Wc [Γr * c<t-1>, x<t>] + bc)",
            full_only(lambda c, v: over(c, _gated_product(inside_bias=True))),
        ),
        Mistake(
            "Γr is missing: the full GRU's candidate uses [Γr * c<t-1>, x<t>], not [c<t-1>, x<t>]",
            full_only(lambda c, v: run(c, c.context["parameters"], "simplified")),
        ),
        Mistake(
            "Γr is computed with Wu, bu: the relevance gate has its own Wr, br",
            full_only(
                lambda c, v: run(
                    c,
                    {
                        **c.context["parameters"],
                        "Wr": c.context["parameters"]["Wu"],
                        "br": c.context["parameters"]["bu"],
                    },
                    v,
                )
            ),
        ),
        *(
            Mistake(
                f"{b} is missing: every gate and the candidate have a bias "
                "(z = W [..] + b, with b of shape (n_a, 1))",
                lambda c, b=b: _without(run, c, b),
            )
            for b in ("bu", "bc", "br")
        ),
    )


def _without(run, case, bias):
    """The reference with one bias zeroed (nothing to compare if the variant has none)."""
    p = case.context["parameters"]
    if bias not in p:
        return {}
    return run(case, {**p, bias: 0 * p[bias]}, case.context["variant"])


# --------------------------------------------------------------------------------------------
# Exercise 1 — gru_cell_forward
# --------------------------------------------------------------------------------------------


def _step_cases(rng, seed):
    n_x, n_a, m = draw_sizes(rng, seed)
    sizes = {"n_x": n_x, "n_a": n_a, "m": m}
    full = random_parameters(rng, n_x, n_a)
    simple = random_parameters(rng, n_x, n_a, "simplified")
    xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    zx, za = np.zeros((n_x, m)), np.zeros((n_a, m))

    def case(label, xt, a_prev, p, variant, default=False):
        args = {"xt": xt, "a_prev": a_prev, "parameters": p}
        if not default:
            args["variant"] = variant
        return Case(label, args, sizes, {"parameters": p, "variant": variant})

    cases = [
        case("xt = 0 and a_prev = 0: only the biases bu, bc", zx, za, full, "full"),
        case("a_prev = 0: the input columns of Wu, Wc", xt, za, full, "full"),
        case("xt = 0: the memory path, through Γr", zx, a_prev, full, "full"),
        case("random inputs, full GRU", xt, a_prev, full, "full"),
        case("variant left out: the default is the full GRU", xt, a_prev, full, "full", True),
        case("simplified GRU (no Γr)", xt, a_prev, simple, "simplified"),
        case("xt = 0, simplified GRU", zx, a_prev, simple, "simplified"),
        case("float32", float32(xt), float32(a_prev), float32(full), "full"),
    ]
    if seed != 0:
        one = {"xt": xt[:, :1], "a_prev": a_prev[:, :1], "parameters": full, "variant": "full"}
        cases.append(Case("m = 1", one, {**sizes, "m": 1}, {"parameters": full, "variant": "full"}))
    return cases


def _cell(case, parameters=None, variant=None):
    """The reference on the case, optionally with other parameters or variant."""
    c = case.context
    return gru.gru_cell_forward(
        case.args["xt"],
        case.args["a_prev"],
        c["parameters"] if parameters is None else parameters,
        c["variant"] if variant is None else variant,
    )


def _cell_forward_reference(case):
    return _cell(case)


def _cell_over(case, step):
    return step(case.args["xt"], case.args["a_prev"], case.context["parameters"])


CELL_FORWARD_MISTAKES = _forward_mistakes(_cell, _cell_over)


def _check_cell_cache(name, got, want, case):
    tol = CACHE_TOLERANCE
    check_cache(
        name,
        got,
        want,
        case,
        CACHE_FIELDS,
        lambda i, g: explained(case, CELL_FORWARD_MISTAKES, lambda r: r[1][i], g, tol),
    )


GRU_CELL_FORWARD = Exercise(
    name="gru_cell_forward",
    assignment=ASSIGNMENT,
    number=1,
    arguments=("xt", "a_prev", "parameters", "variant"),
    returns=(
        Output("a_next", shape="(n_a, m)"),
        Output("cache", kind="custom", check=_check_cell_cache),
    ),
    packing="tuple",
    reference=_cell_forward_reference,
    cases=_step_cases,
    mistakes=CELL_FORWARD_MISTAKES,
    forbidden=FORBIDDEN,
    shapes=SHAPES,
    key_hint=KEY_HINT,
    doc="``gru_cell_forward(xt, a_prev, parameters, variant)``: one step of the lecture's GRU.",
)
GRU_CELL_FORWARD = with_explanations(GRU_CELL_FORWARD, NO_GAMMA_R_FORWARD)


# --------------------------------------------------------------------------------------------
# Exercise 2 — gru_forward
# --------------------------------------------------------------------------------------------


def _sequence_cases(rng, seed):
    n_x, n_a, m = draw_sizes(rng, seed)
    T = 4 if seed == 0 else int(rng.integers(3, 7))
    full = random_parameters(rng, n_x, n_a)
    simple = random_parameters(rng, n_x, n_a, "simplified")
    x, a0 = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m))

    def case(label, x, a0, p, variant, default=False):
        args = {"x": x, "a0": a0, "parameters": p}
        if not default:
            args["variant"] = variant
        sizes = {"n_x": n_x, "n_a": n_a, "m": m, "T_x": x.shape[2]}
        return Case(label, args, sizes, {"parameters": p, "variant": variant})

    return [
        case("full GRU, a0 non-zero", x, a0, full, "full"),
        case("simplified GRU", x, a0, simple, "simplified"),
        case("variant left out: the default is the full GRU", x, a0, full, "full", True),
        case("T_x = 1", x[:, :, :1], a0, full, "full"),
        case("float32", float32(x), float32(a0), float32(full), "full"),
    ]


def _sequence(case, parameters=None, variant=None, a0=None):
    c = case.context
    return gru.gru_forward(
        case.args["x"],
        case.args["a0"] if a0 is None else a0,
        c["parameters"] if parameters is None else parameters,
        c["variant"] if variant is None else variant,
    )


def _sequence_over(case, step):
    """``step`` at every time step, the state carried as the reference carries it."""
    x, a_next, p = case.args["x"], case.args["a0"], case.context["parameters"]
    states, cell_caches = [], []
    for t in range(x.shape[2]):
        a_next, cache = step(x[:, :, t], a_next, p)
        states.append(a_next)
        cell_caches.append(cache)
    return np.stack(states, axis=2), (cell_caches, x)


SEQUENCE_FORWARD_MISTAKES = _forward_mistakes(_sequence, _sequence_over)


def _not_carried(case):
    """Every step from a0: the reference cell at each step, without the recurrence."""
    x, a0 = case.args["x"], case.args["a0"]
    p, variant = case.context["parameters"], case.context["variant"]
    steps = [gru.gru_cell_forward(x[:, :, t], a0, p, variant)[0] for t in range(x.shape[2])]
    return {"a": np.stack(steps, axis=2)}


def _shifted(case):
    """a[:, :, t] = the state before step t: [a0, a<1>, ..., a<T-1>]."""
    a, _ = _sequence(case)
    return {"a": np.concatenate([case.args["a0"][:, :, None], a[:, :, :-1]], axis=2)}


def _time_from_batch_axis(case):
    """Step t read as x[:, t, :]: the reference on x with its batch and time axes exchanged
    (only possible when m = T_x; otherwise the student's code fails, explained by
    :func:`utils.exercises._gated.time_axis`)."""
    x = case.args["x"]
    if x.shape[1] != x.shape[2]:
        return {}
    swapped = Case(case.label, {**case.args, "x": x.transpose(0, 2, 1)}, case.sizes, case.context)
    return {"a": _sequence(swapped)[0]}


def _last_missing(case):
    a, _ = _sequence(case)
    out = a.copy()
    out[:, :, -1] = 0
    return {"a": out}


def _check_caches(name, got, want, case):
    check_sequence_caches(name, got, want, case, CACHE_FIELDS, SEQUENCE_FORWARD_MISTAKES, 1)


GRU_FORWARD = Exercise(
    name="gru_forward",
    assignment=ASSIGNMENT,
    number=2,
    arguments=("x", "a0", "parameters", "variant"),
    returns=(
        Output("a", shape="(n_a, m, T_x)"),
        Output("caches", kind="custom", check=_check_caches),
    ),
    packing="tuple",
    reference=lambda case: _sequence(case),
    cases=_sequence_cases,
    mistakes=(
        Mistake(
            "the state is not carried: each step must start from the previous step's a<t-1> "
            "(a0 only at the first step)",
            _not_carried,
        ),
        Mistake(
            "the sequence starts from zeros: the first step starts from a0",
            lambda c: {"a": _sequence(c, a0=np.zeros_like(c.args["a0"]))[0]},
        ),
        Mistake(
            "off by one in time: a[:, :, t] must be the state after step t (a<t+1> in 1-based "
            "terms), not before it",
            _shifted,
        ),
        Mistake("the last step is missing: loop over range(T_x)", _last_missing),
        Mistake(
            "step t read x[:, t, :], example t of the batch: time is the last axis of x "
            "(n_x, m, T_x), so step t reads x[:, :, t]",
            _time_from_batch_axis,
        ),
        *SEQUENCE_FORWARD_MISTAKES,
    ),
    forbidden=FORBIDDEN,
    shapes=SHAPES,
    key_hint=KEY_HINT,
    index_hint=INDEX_HINT,
    doc="``gru_forward(x, a0, parameters, variant)``: the GRU over all T_x steps.",
)
GRU_FORWARD = with_explanations(GRU_FORWARD, time_axis, NO_GAMMA_R_FORWARD)


# --------------------------------------------------------------------------------------------
# Exercise 3 — gru_cell_backward
# --------------------------------------------------------------------------------------------


def _cell_backward(da_next, cache, **change):
    """The backward of one step written edge by edge, so that a mistake can change one edge.

    ``change`` replaces an intermediate: ``direct`` (dc * (1 - Γu)), ``dz_u``, ``dz_c``,
    ``dz_r``, ``via_r`` (d_rc * Γr), ``r_to_c`` / ``r_to_x`` (the first n_a / last n_x rows of
    Wr^T dz_r, Γr's share of da_prev / dxt), ``c_to_x`` (the last n_x rows of Wc^T dz_c, the
    candidate's share of dxt), ``candidate_input`` (the vector dWc multiplies), ``sum`` (how
    biases are summed). Without changes it equals ``utils.gru.gru_cell_backward`` (tested).
    """
    _, c_prev, xt, gamma_u, gamma_r, c_tilde, p, variant = cache
    n_a = c_prev.shape[0]
    dc = da_next
    concat = np.concatenate([c_prev, xt])
    direct = change.get("direct", dc * (1 - gamma_u))
    dz_u = change.get("dz_u", dc * (c_tilde - c_prev) * gamma_u * (1 - gamma_u))
    dz_c = change.get("dz_c", dc * gamma_u * (1 - c_tilde**2))
    sum_batch = change.get("sum", lambda dz: dz.sum(axis=1, keepdims=True))
    grads = {"dWu": dz_u @ concat.T, "dbu": sum_batch(dz_u), "dbc": sum_batch(dz_c)}
    dconcat = p["Wu"].T @ dz_u
    da_prev = direct
    if variant == "simplified":
        candidate_input = change.get("candidate_input", concat)
        dconcat = dconcat + p["Wc"].T @ dz_c
    else:
        candidate_input = change.get("candidate_input", np.concatenate([gamma_r * c_prev, xt]))
        d_relevant = p["Wc"].T @ dz_c
        d_rc = d_relevant[:n_a]
        dz_r = change.get("dz_r", d_rc * c_prev * gamma_r * (1 - gamma_r))
        da_prev = da_prev + change.get("via_r", d_rc * gamma_r)
        grads["dWr"] = dz_r @ concat.T
        grads["dbr"] = sum_batch(dz_r)
        via_wr = p["Wr"].T @ dz_r  # Γr saw [c<t-1>, x<t>]
        r_to_c = change.get("r_to_c", via_wr[:n_a])
        r_to_x = change.get("r_to_x", via_wr[n_a:])
        c_to_x = change.get("c_to_x", d_relevant[n_a:])  # the candidate saw x<t>
        dconcat = dconcat + np.concatenate([r_to_c, r_to_x + c_to_x])
    grads["dWc"] = dz_c @ candidate_input.T
    grads["da_prev"] = da_prev + dconcat[:n_a]
    grads["dxt"] = dconcat[n_a:]
    return grads


def _gates(case):
    _, c_prev, _, gamma_u, gamma_r, c_tilde, _, _ = case.args["cache"]
    return case.args["da_next"], c_prev, gamma_u, gamma_r, c_tilde


def _uses_r(edges, case):
    full_only = {"dz_r", "via_r", "r_to_c", "r_to_x", "c_to_x"}
    return case.context["variant"] == "simplified" and bool(full_only & set(edges))


def _changed_step(da_next, cache, edges, case):
    """The step's backward with the edges computed by ``edges[name](step_case)``."""
    step = Case(case.label, {"da_next": da_next, "cache": cache}, case.sizes, case.context)
    return _cell_backward(da_next, cache, **{k: f(step) for k, f in edges.items()})


def _backward_change(**edges):
    """A mistake: the step's backward with the edges computed by ``edges[name](case)``; the
    edges are kept on the function so that the sequence exercise reuses the mistake."""

    def derive(case):
        if _uses_r(edges, case):
            return {}  # the simplified GRU has no Γr
        return _changed_step(case.args["da_next"], case.args["cache"], edges, case)

    derive.edges = edges
    return derive


def _weights_input_first(case):
    ref = gru.gru_cell_backward(case.args["da_next"], case.args["cache"])
    return columns_input_first(ref, case.sizes["n_x"], ("dWu", "dWr", "dWc"))


CELL_BACKWARD_MISTAKES = (
    Mistake(
        "da_prev misses the direct path: c<t> = ... + (1 − Γu) * c<t-1> sends dc * (1 − Γu) "
        "straight to c<t-1>",
        _backward_change(direct=lambda c: 0 * c.args["da_next"]),
    ),
    Mistake(
        "Γu and (1 − Γu) are swapped in the backward: the direct path gets dc * (1 − Γu), the "
        "candidate dc * Γu",
        _backward_change(
            direct=lambda c: _gates(c)[0] * _gates(c)[2],
            dz_c=lambda c: _gates(c)[0] * (1 - _gates(c)[2]) * (1 - _gates(c)[4] ** 2),
        ),
    ),
    Mistake(
        "the sign of dΓu is flipped: dΓu = dc * (c~ − c<t-1>)",
        _backward_change(
            dz_u=lambda c: (
                -_gates(c)[0] * (_gates(c)[4] - _gates(c)[1]) * _gates(c)[2] * (1 - _gates(c)[2])
            )
        ),
    ),
    Mistake(
        "σ' is missing: dz_u = dΓu * Γu * (1 − Γu)",
        _backward_change(dz_u=lambda c: _gates(c)[0] * (_gates(c)[4] - _gates(c)[1])),
    ),
    Mistake(
        "tanh' is missing: dz_c = dc * Γu * (1 − c~**2)",
        _backward_change(dz_c=lambda c: _gates(c)[0] * _gates(c)[2]),
    ),
    Mistake(
        "dWc is computed from [c<t-1>, x<t>]; the candidate saw [Γr * c<t-1>, x<t>]",
        _backward_change(
            candidate_input=lambda c: np.concatenate([_gates(c)[1], c.args["cache"][2]])
        ),
    ),
    Mistake(
        "the path through Γr * c<t-1> to c<t-1> is missing: add d_rc * Γr to da_prev",
        _backward_change(via_r=lambda c: 0 * c.args["da_next"]),
    ),
    Mistake(
        "dxt misses Γr's share: Γr = σ(Wr [c<t-1>, x<t>] + br) saw x<t> too, so dxt adds the "
        "last n_x rows of Wr^T dz_r (as da_prev adds its first n_a rows)",
        _backward_change(r_to_x=lambda c: 0 * c.args["cache"][2]),
    ),
    Mistake(
        "da_prev misses Γr's share: Γr = σ(Wr [c<t-1>, x<t>] + br) saw c<t-1>, so da_prev adds "
        "the first n_a rows of Wr^T dz_r (as dxt adds its last n_x rows)",
        _backward_change(r_to_c=lambda c: 0 * c.args["da_next"]),
    ),
    Mistake(
        "dxt misses the candidate's share: c~ = tanh(Wc [Γr * c<t-1>, x<t>] + bc) saw x<t>, so "
        "dxt adds the last n_x rows of Wc^T dz_c",
        _backward_change(c_to_x=lambda c: 0 * c.args["cache"][2]),
    ),
    Mistake(
        "Γr gets no gradient: dz_r = (d_rc * c<t-1>) * Γr * (1 − Γr), with d_rc the first "
        "n_a rows of Wc^T dz_c",
        _backward_change(dz_r=lambda c: 0 * c.args["da_next"]),
    ),
    Mistake(
        "the bias gradients must be summed over the batch, keeping the shape (n_a, 1): "
        "dz.sum(axis=1, keepdims=True)",
        _backward_change(sum=lambda c: lambda dz: dz),
    ),
    Mistake(
        "keepdims is missing: the bias gradients have shape (n_a, 1), "
        "dz.sum(axis=1, keepdims=True)",
        _backward_change(sum=lambda c: lambda dz: dz.sum(axis=1)),
    ),
    Mistake(
        "the weight gradients are built on [x<t>, c<t-1>]: dW = dz [c<t-1>, x<t>]^T (memory "
        "rows first)",
        _weights_input_first,
    ),
)


def _backward_cases(rng, seed, variant):
    n_x, n_a, m = draw_sizes(rng, seed)
    sizes = {"n_x": n_x, "n_a": n_a, "m": m}
    p = random_parameters(rng, n_x, n_a, variant)
    xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    da_next = rng.standard_normal((n_a, m))

    def case(label, xt, a_prev, p, da_next=da_next):
        _, cache = gru.gru_cell_forward(xt, a_prev, p, variant)
        return Case(label, {"da_next": da_next, "cache": cache}, sizes, {"variant": variant})

    closed = {**p, "bu": p["bu"] - 12.0}  # Γu ≈ 0: only the direct path is left
    opened = {**p, "bu": p["bu"] + 12.0}  # Γu ≈ 1: no direct path
    return [
        case(f"{variant} GRU, random", xt, a_prev, p),
        case(f"{variant} GRU, Γu ≈ 0 (bu − 12): mostly the direct path", xt, a_prev, closed),
        case(f"{variant} GRU, Γu ≈ 1 (bu + 12): no direct path", xt, a_prev, opened),
        case(f"{variant} GRU, xt = 0", np.zeros_like(xt), a_prev, p),
        case(
            f"{variant} GRU, float32",
            float32(xt),
            float32(a_prev),
            float32(p),
            da_next.astype(np.float32),
        ),
    ]


def _cell_gradcheck(variant):
    def proof(call, rng):
        n_x, n_a, m = 3, 4, 2
        p = random_parameters(rng, n_x, n_a, variant)
        xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
        w = rng.standard_normal((n_a, m))
        _, cache = gru.gru_cell_forward(xt, a_prev, p, variant)
        sizes = {"n_x": n_x, "n_a": n_a, "m": m}
        grads = call(
            Case("gradient check", {"da_next": w, "cache": cache}, sizes, {"variant": variant})
        )

        def f(v):
            a_next, _ = gru.gru_cell_forward(v["xt"], v["a_prev"], {k: v[k] for k in p}, variant)
            return float(np.sum(w * a_next))

        gradcheck(f"gru_cell_backward ({variant} GRU)", f, {"xt": xt, "a_prev": a_prev, **p}, grads)

    return proof


def _cell_backward_exercise(variant, number):
    exercise = Exercise(
        name="gru_cell_backward",
        assignment=ASSIGNMENT,
        number=number,
        arguments=("da_next", "cache"),
        returns=gradient_outputs(("dxt", "da_prev"), _names(variant), Output),
        packing="dict",
        reference=lambda case: gru.gru_cell_backward(case.args["da_next"], case.args["cache"]),
        cases=lambda rng, seed: _backward_cases(rng, seed, variant),
        mistakes=CELL_BACKWARD_MISTAKES,
        forbidden=FORBIDDEN,
        shapes=SHAPES,
        key_hint=KEY_HINT,
        proofs=(_cell_gradcheck(variant),),
        doc="``gru_cell_backward(da_next, cache)``: backward of one GRU step.",
    )
    return with_explanations(exercise, NO_GAMMA_R_BACKWARD)


GRU_CELL_BACKWARD = _cell_backward_exercise("full", 3)
GRU_CELL_BACKWARD_SIMPLIFIED = _cell_backward_exercise("simplified", 13)


# --------------------------------------------------------------------------------------------
# Exercise 4 — gru_backward
# --------------------------------------------------------------------------------------------


def _bptt(case, order="right to left", upstream="added", keep=None, edges=None):
    """BPTT with the reference cell backward, optionally with one mistake in the loop:
    ``upstream`` "added" (right), "missing" (da[:, :, t] only) or "replaced" (the gradient
    from step t+1 instead of da[:, :, t]); ``keep`` = t returns only step t's parameter
    gradients; ``edges``: a cell mistake at every step (see :func:`_backward_change`)."""
    if edges and _uses_r(edges, case):
        return {}
    da, (cell_caches, x) = case.args["da"], case.args["caches"]
    T = x.shape[2]
    steps = reversed(range(T)) if order == "right to left" else range(T)
    dx, sums, carried, kept, first = np.zeros(x.shape), {}, np.zeros(da.shape[:2]), None, True
    for t in steps:
        if upstream == "added":
            dc = da[:, :, t] + carried
        elif upstream == "missing":
            dc = da[:, :, t]
        else:
            dc = da[:, :, t] if first else carried
        first = False
        if edges:
            step = _changed_step(dc, cell_caches[t], edges, case)
        else:
            step = gru.gru_cell_backward(dc, cell_caches[t])
        dx[:, :, t] = step.pop("dxt")
        carried = step.pop("da_prev")
        for k, g in step.items():
            sums[k] = sums.get(k, 0) + g
        if keep == t:
            kept = step
    return {"dx": dx, "da0": carried, **(kept if keep is not None else sums)}


def _sequence_backward_cases(rng, seed, variant):
    n_x, n_a, m = draw_sizes(rng, seed)
    T = 4 if seed == 0 else int(rng.integers(3, 7))
    p = random_parameters(rng, n_x, n_a, variant)
    x, a0 = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T))

    def case(label, x, a0, p, da):
        _, caches = gru.gru_forward(x, a0, p, variant)
        sizes = {"n_x": n_x, "n_a": n_a, "m": m, "T_x": x.shape[2]}
        return Case(label, {"da": da, "caches": caches}, sizes, {"variant": variant})

    last_only = np.zeros_like(da)
    last_only[:, :, -1] = da[:, :, -1]
    return [
        case(f"{variant} GRU, da at every step", x, a0, p, da),
        case(
            f"{variant} GRU, da at the last step only: all of it flows back in time",
            x,
            a0,
            p,
            last_only,
        ),
        case(f"{variant} GRU, T_x = 1", x[:, :, :1], a0, p, da[:, :, :1]),
        case(f"{variant} GRU, float32", float32(x), float32(a0), float32(p), da.astype(np.float32)),
    ]


def _sequence_gradcheck(variant):
    def proof(call, rng):
        n_x, n_a, m, T = 3, 4, 2, 4
        p = random_parameters(rng, n_x, n_a, variant)
        x, a0 = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m))
        w = rng.standard_normal((n_a, m, T))
        _, caches = gru.gru_forward(x, a0, p, variant)
        sizes = {"n_x": n_x, "n_a": n_a, "m": m, "T_x": T}
        grads = call(
            Case("gradient check", {"da": w, "caches": caches}, sizes, {"variant": variant})
        )

        def f(v):
            a, _ = gru.gru_forward(v["x"], v["a0"], {k: v[k] for k in p}, variant)
            return float(np.sum(w * a))

        gradcheck(f"gru_backward ({variant} GRU)", f, {"x": x, "a0": a0, **p}, grads)

    return proof


def _backward_exercise(variant, number):
    exercise = Exercise(
        name="gru_backward",
        assignment=ASSIGNMENT,
        number=number,
        arguments=("da", "caches"),
        returns=gradient_outputs(("dx", "da0"), _names(variant), Output),
        packing="dict",
        reference=lambda case: gru.gru_backward(case.args["da"], case.args["caches"]),
        cases=lambda rng, seed: _sequence_backward_cases(rng, seed, variant),
        mistakes=(
            Mistake(
                "the gradients are not summed over time: the shared parameters get the sum of "
                "every step's gradient (only one step's is returned)",
                lambda c: _bptt(c, keep=0),
            ),
            Mistake(
                "the gradients are not summed over time: only the last step's is returned",
                lambda c: _bptt(c, keep=c.sizes["T_x"] - 1),
            ),
            Mistake(
                "the gradient from step t+1 is missing: pass da[:, :, t] + da_prev (from the "
                "step after) to gru_cell_backward",
                lambda c: _bptt(c, upstream="missing"),
            ),
            Mistake(
                "da_prev from step t+1 replaces da[:, :, t]: add the two",
                lambda c: _bptt(c, upstream="replaced"),
            ),
            Mistake(SCAN_LEFT_TO_RIGHT, lambda c: _bptt(c, order="left to right")),
            *(
                Mistake(m.hint, lambda c, e=m.derive.edges: _bptt(c, edges=e))
                for m in CELL_BACKWARD_MISTAKES
                if hasattr(m.derive, "edges")
            ),
        ),
        forbidden=FORBIDDEN,
        shapes=SHAPES,
        key_hint=KEY_HINT,
        index_hint=INDEX_HINT,
        proofs=(_sequence_gradcheck(variant),),
        doc="``gru_backward(da, caches)``: backpropagation through time for the GRU.",
    )
    return with_explanations(exercise, carried_like_x, NO_GAMMA_R_BACKWARD)


GRU_BACKWARD = _backward_exercise("full", 4)
GRU_BACKWARD_SIMPLIFIED = _backward_exercise("simplified", 14)
