"""Checks for assignment 07 — the LSTM (with and without peepholes), on the exercise harness.

Contracts (the notebook states them; they are those of the readable reference ``utils.lstm``):

- ``lstm_cell_forward(xt, a_prev, c_prev, parameters, peephole=False) -> (a_next, c_next,
  cache)`` with ``cache = (a_next, c_next, a_prev, c_prev, xt, gamma_f, gamma_u, c_tilde,
  gamma_o, parameters, peephole)``.
- ``lstm_forward(x, a0, c0, parameters, peephole=False) -> (a, c, caches)``, ``caches =
  (cell_caches, x)``.
- ``lstm_cell_backward(da_next, dc_next, cache) -> {"dxt", "da_prev", "dc_prev", "dWf", "dbf",
  "dWu", "dbu", "dWc", "dbc", "dWo", "dbo"}`` plus ``"dpf", "dpu", "dpo"`` with peepholes;
  ``dc_next`` may be None (nothing from a later step).
- ``lstm_backward(da, dc, caches) -> {"dx", "da0", "dc0", ...}``: the parameter gradients summed
  over time; ``dc`` (the gradient reaching c<t> from outside the recurrence) may be None.

Peepholes (``utils.lstm``): Γf and Γu see the old memory c<t-1> (``pf * c<t-1>``, ``pu *
c<t-1>``), Γo sees the new memory c<t> (``po * c<t>``).

Forward mistakes are the reference with one thing switched (the forget and update gates'
parameters exchanged, so Γf multiplies c~; the update gate tied to 1 − Γf, or the forget gate
to 1 − Γu; weight columns permuted; a bias zeroed; no peepholes, or peepholes although
peephole=False; a<t-1> and c<t-1> exchanged) or the reference's own gates recombined with one
change (a<t> without tanh, Γo peeking at c<t-1>, Γf and Γu peeking at c<t>); backward mistakes
change one edge of :func:`_cell_backward`, which equals the reference when nothing is changed
(tested), or exchange the two state gradients.

Errors raised inside the student's functions name the case and, where the shapes tell, what
was fed where (:mod:`utils.exercises._gated`): x[:, t, :] read as step t, a carried gradient
started with the shape of x, c0 / dc_next / dc = None not handled.
"""

from __future__ import annotations

import numpy as np

from utils import lstm
from utils.activations import sigmoid
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
    none_argument,
    time_axis,
    with_explanations,
)
from utils.exercises.harness import Case, Exercise, Mistake, Output
from utils.exercises.hints import SCAN_LEFT_TO_RIGHT

__all__ = [
    "random_parameters",
]

ASSIGNMENT = 7
FORBIDDEN = (
    "utils.lstm.lstm_cell_forward",
    "utils.lstm.lstm_forward",
    "utils.lstm.lstm_cell_backward",
    "utils.lstm.lstm_backward",
    "utils.kernels.lstm.lstm_forward",
    "utils.kernels.lstm.lstm_backward",
)
CACHE_FIELDS = lstm.LSTMCache._fields  # (a_next, c_next, a_prev, c_prev, xt, gamma_f, ...)
GATES = ("f", "u", "o", "c")
SHAPES = {
    "xt": "(n_x, m)",
    "a_prev": "(n_a, m)",
    "c_prev": "(n_a, m)",
    "a_next": "(n_a, m)",
    "c_next": "(n_a, m)",
    "gamma_f": "(n_a, m)",
    "gamma_u": "(n_a, m)",
    "gamma_o": "(n_a, m)",
    "c_tilde": "(n_a, m)",
    "concat": "(n_a + n_x, m)",
    **{"W" + g: "(n_a, n_a + n_x)" for g in GATES},
    **{"b" + g: "(n_a, 1)" for g in GATES},
    **{"p" + g: "(n_a, 1)" for g in "fuo"},
    "x": "(n_x, m, T_x)",
    "a": "(n_a, m, T_x)",
    "c": "(n_a, m, T_x)",
    "a0": "(n_a, m)",
    "c0": "(n_a, m)",
    "da": "(n_a, m, T_x)",
    "dc": "(n_a, m, T_x)",
    "da_next": "(n_a, m)",
    "dc_next": "(n_a, m)",
}
KEY_HINT = (
    "The parameter names are Wf, Wu, Wo, Wc, bf, bu, bo, bc, and pf, pu, po only with "
    "peephole=True (without peepholes the parameters have none)."
)


def _names(peephole):
    return tuple(f"{k}{g}" for g in GATES for k in "Wb") + (("pf", "pu", "po") if peephole else ())


def random_parameters(rng: np.random.Generator, n_x: int, n_a: int, peephole: bool = False):
    """LSTM parameters with every entry non-zero (|w| in 0.2..1, scaled so that the gates and
    the candidate are far from saturation)."""
    scale = 2 / np.sqrt(n_a + n_x)
    params = {}
    for name in _names(peephole):
        shape = (n_a, n_a + n_x) if name[0] == "W" else (n_a, 1)
        params[name] = nonzero(rng, shape) * (scale if name[0] == "W" else 0.6)
    return params


# --------------------------------------------------------------------------------------------
# Forward mistakes: one step, run by the cell and the sequence exercises alike
# --------------------------------------------------------------------------------------------


def _swap_forget_update(p):
    """Γf and Γu exchanged: Γf multiplies the candidate, Γu the old memory."""
    out = {**p, "Wf": p["Wu"], "bf": p["bu"], "Wu": p["Wf"], "bu": p["bf"]}
    if "pf" in p:
        out["pf"], out["pu"] = p["pu"], p["pf"]
    return out


def _coupled(p):
    """Γu = σ(-z_f) = 1 - Γf: the GRU's coupling."""
    out = {**p, "Wu": -p["Wf"], "bu": -p["bf"]}
    if "pf" in p:
        out["pu"] = -p["pf"]
    return out


def _forget_tied(p):
    """Γf = σ(-z_u) = 1 - Γu: the GRU's coupling, on the forget gate."""
    out = {**p, "Wf": -p["Wu"], "bf": -p["bu"]}
    if "pu" in p:
        out["pf"] = -p["pu"]
    return out


def _states_swapped(xt, a_prev, c_prev, p, peephole):
    """The step given c<t-1> as a_prev and a<t-1> as c_prev."""
    return lstm.lstm_cell_forward(xt, c_prev, a_prev, p, peephole)


def _outputs_swapped(xt, a_prev, c_prev, p, peephole):
    """The step returning (c<t>, a<t>): in a sequence, the next step then gets them swapped."""
    a_next, c_next, _ = lstm.lstm_cell_forward(xt, a_prev, c_prev, p, peephole)
    return c_next, a_next, None


def _logit(gate):
    return np.log(gate) - np.log1p(-gate)


def _gates_peek_new(xt, a_prev, c_prev, p, peephole):
    """Γf and Γu peeking at c<t> (computed once without their peepholes) instead of c<t-1>:
    the reference's gates without peepholes, recombined with pf, pu on that first c<t>."""
    if not peephole:
        return None
    _, c_first, cache = lstm.lstm_cell_forward(xt, a_prev, c_prev, p, False)
    gamma_f = sigmoid(_logit(cache.gamma_f) + p["pf"] * c_first)
    gamma_u = sigmoid(_logit(cache.gamma_u) + p["pu"] * c_first)
    c_next = gamma_f * c_prev + gamma_u * cache.c_tilde
    gamma_o = sigmoid(_logit(cache.gamma_o) + p["po"] * c_next)
    return gamma_o * np.tanh(c_next), c_next, None


def _switched(change):
    """A step of the reference with the parameters changed by ``change(p, n_x)``."""

    def step(xt, a_prev, c_prev, p, peephole):
        if change(p, xt.shape[0]) is None:
            return None
        return lstm.lstm_cell_forward(xt, a_prev, c_prev, change(p, xt.shape[0]), peephole)

    return step


def _no_tanh(xt, a_prev, c_prev, p, peephole):
    """a<t> = Γo * c<t>: the reference's gates, without the tanh."""
    _, c_next, cache = lstm.lstm_cell_forward(xt, a_prev, c_prev, p, peephole)
    return cache.gamma_o * c_next, c_next, None


def _old_memory_out(xt, a_prev, c_prev, p, peephole):
    """a<t> = Γo * tanh(c<t-1>)."""
    _, c_next, cache = lstm.lstm_cell_forward(xt, a_prev, c_prev, p, peephole)
    return cache.gamma_o * np.tanh(c_prev), c_next, None


def _output_peeks_old(xt, a_prev, c_prev, p, peephole):
    """Γo = σ(Wo [a, x] + bo + po * c<t-1>): the reference's Γo without its peephole, plus the
    peephole on the old memory."""
    if not peephole:
        return None
    _, c_next, cache = lstm.lstm_cell_forward(xt, a_prev, c_prev, {**p, "po": 0 * p["po"]}, True)
    z_o = np.log(cache.gamma_o) - np.log1p(-cache.gamma_o)  # σ^-1 of Γo without its peephole
    return sigmoid(z_o + p["po"] * c_prev) * np.tanh(c_next), c_next, None


def _no_peepholes(xt, a_prev, c_prev, p, peephole):
    """peephole=True ignored: the reference without peepholes."""
    return lstm.lstm_cell_forward(xt, a_prev, c_prev, p, False) if peephole else None


def _no_bias(b):
    return _switched(lambda p, n_x: {**p, b: 0 * p[b]})


STEP_MISTAKES = (
    (
        "the forget gate is applied to c~ instead of c<t-1>: c<t> = Γf * c<t-1> + Γu * c~<t>",
        _switched(lambda p, n_x: _swap_forget_update(p)),
    ),
    (
        "the update gate is tied to the forget gate (1 − Γf, as in a GRU): the LSTM has its "
        "own Γu = σ(Wu [a<t-1>, x<t>] + bu)",
        _switched(lambda p, n_x: _coupled(p)),
    ),
    (
        "the forget gate is tied to the update gate (Γf = 1 − Γu, as in a GRU): the LSTM has "
        "its own Γf = σ(Wf [a<t-1>, x<t>] + bf)",
        _switched(lambda p, n_x: _forget_tied(p)),
    ),
    (
        "the gates are computed from the wrong concatenation order: stack [a<t-1>, x<t>] (the "
        "first n_a columns of each W act on a<t-1>)",
        _switched(input_first),
    ),
    (
        "a_next and c_next are swapped: lstm_cell_forward returns (a_next, c_next, cache), the "
        "hidden state first",
        _outputs_swapped,
    ),
    (
        "a<t-1> and c<t-1> are swapped: the step is lstm_cell_forward(xt, a_prev, c_prev, "
        "parameters, peephole), the hidden state before the memory (the gates read a<t-1>, Γf "
        "multiplies c<t-1>)",
        _states_swapped,
    ),
    ("tanh of c is missing: a<t> = Γo * tanh(c<t>)", _no_tanh),
    ("a<t> uses the old memory: a<t> = Γo * tanh(c<t>), with the new c<t>", _old_memory_out),
    (
        "the peepholes are missing: with peephole=True, Γf and Γu add pf * c<t-1> and "
        "pu * c<t-1>, Γo adds po * c<t>",
        _no_peepholes,
    ),
    (
        "Γo peeks at c<t-1>: the output gate sees the new memory, po * c<t> (only Γf and Γu "
        "see c<t-1>)",
        _output_peeks_old,
    ),
    (
        "Γf and Γu peek at c<t>: they are computed before the new memory exists and see the "
        "old one, pf * c<t-1> and pu * c<t-1> (only Γo sees c<t>, po * c<t>)",
        _gates_peek_new,
    ),
    *(
        (
            f"{b} is missing: every gate and the candidate have a bias (z = W [..] + b, b of "
            "shape (n_a, 1))",
            _no_bias(b),
        )
        for b in ("bf", "bu", "bo", "bc")
    ),
)


def _peephole_of(case):
    return case.context["peephole"]


def _step_result(step, case):
    """A mistaken step on a cell case: (a_next, c_next, cache or None), or {} if it does not
    apply to this case (a peephole mistake without peepholes)."""
    a = case.args
    out = step(a["xt"], a["a_prev"], a["c_prev"], a["parameters"], _peephole_of(case))
    return {} if out is None else out


def _sequence_result(step, case):
    """A mistaken step at every time step of a sequence case: (a, c, caches or None)."""
    args, peephole = case.args, _peephole_of(case)
    x, a_t, c_t = args["x"], args["a0"], args["c0"]
    if c_t is None:
        c_t = np.zeros_like(a_t)
    a, c, caches = [], [], []
    for t in range(x.shape[2]):
        out = step(x[:, :, t], a_t, c_t, args["parameters"], peephole)
        if out is None:
            return {}
        a_t, c_t, cache = out
        a.append(a_t)
        c.append(c_t)
        caches.append(cache)
    if any(cache is None for cache in caches):
        return {"a": np.stack(a, axis=2), "c": np.stack(c, axis=2)}
    return np.stack(a, axis=2), np.stack(c, axis=2), (caches, x)


CELL_FORWARD_MISTAKES = tuple(
    Mistake(hint, lambda case, s=step: _step_result(s, case)) for hint, step in STEP_MISTAKES
)
SEQUENCE_FORWARD_MISTAKES = tuple(
    Mistake(hint, lambda case, s=step: _sequence_result(s, case)) for hint, step in STEP_MISTAKES
)


# --------------------------------------------------------------------------------------------
# Exercise 1 — lstm_cell_forward (and its peephole option)
# --------------------------------------------------------------------------------------------


def _cell_cases(rng, seed, peephole):
    n_x, n_a, m = draw_sizes(rng, seed)
    sizes = {"n_x": n_x, "n_a": n_a, "m": m}
    p = random_parameters(rng, n_x, n_a, peephole)
    xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    c_prev = rng.standard_normal((n_a, m))
    zx, za = np.zeros((n_x, m)), np.zeros((n_a, m))
    tag = "with peepholes" if peephole else "no peepholes"

    def case(label, xt, a_prev, c_prev, p, default=False, sizes=sizes):
        args = {"xt": xt, "a_prev": a_prev, "c_prev": c_prev, "parameters": p}
        if not default:
            args["peephole"] = peephole
        return Case(f"{label} ({tag})", args, sizes, {"peephole": peephole})

    cases = [
        case("xt = 0, a_prev = 0: the biases, and c<t-1> through Γf", zx, za, c_prev, p),
        case("c_prev = 0: nothing to forget", xt, a_prev, za, p),
        case("a_prev = 0: the input columns", xt, za, c_prev, p),
        case("xt = 0: the recurrent columns", zx, a_prev, c_prev, p),
        case("random", xt, a_prev, c_prev, p),
        case("float32", float32(xt), float32(a_prev), float32(c_prev), float32(p)),
    ]
    if not peephole:
        cases.append(case("peephole left out: the default is False", xt, a_prev, c_prev, p, True))
    if seed != 0:
        one = {**sizes, "m": 1}
        cases.append(case("m = 1", xt[:, :1], a_prev[:, :1], c_prev[:, :1], p, sizes=one))
    if not peephole:
        cases.append(_unused_peepholes(case, rng, n_a, (xt, a_prev, c_prev), p))
    return cases


UNUSED_PEEPHOLES = "parameters hold pf, pu, po, peephole=False: they must be ignored"


def _unused_peepholes(case, rng, n_a, inputs, p):
    """A case without peepholes whose parameters have them (drawn last, so that the other cases
    of a seed stay as they were)."""
    extra = {name: nonzero(rng, (n_a, 1)) * 0.6 for name in ("pf", "pu", "po")}
    made = case(UNUSED_PEEPHOLES, *inputs, {**p, **extra})
    return Case(made.label, made.args, made.sizes, {**made.context, "unused_peepholes": True})


def _peepholes_without_flag(case, reference):
    """The reference run with peephole=True on a case whose peepholes must be ignored."""
    if not case.context.get("unused_peepholes"):
        return {}
    flagged = Case(case.label, case.args, case.sizes, {**case.context, "peephole": True})
    return reference(flagged)


PEEPHOLES_WITHOUT_FLAG = (
    "the peepholes were used although peephole=False: these parameters hold pf, pu, po (say, "
    "from a model trained with peepholes), and only peephole=True adds them; test the flag "
    "(if peephole:), not whether the keys are in the dict"
)


def _cell_reference(case):
    a = case.args
    return lstm.lstm_cell_forward(
        a["xt"], a["a_prev"], a["c_prev"], a["parameters"], _peephole_of(case)
    )


def _check_cell_cache(name, got, want, case):
    check_cache(
        name,
        got,
        want,
        case,
        CACHE_FIELDS,
        lambda i, g: explained(case, CELL_FORWARD_MISTAKES, lambda r: r[2][i], g, CACHE_TOLERANCE),
    )


def _cell_forward_exercise(peephole, number):
    exercise = Exercise(
        name="lstm_cell_forward",
        assignment=ASSIGNMENT,
        number=number,
        check_name=f"check_lstm_cell_forward{'_peephole' if peephole else ''}",
        arguments=("xt", "a_prev", "c_prev", "parameters", "peephole"),
        returns=(
            Output("a_next", shape="(n_a, m)"),
            Output("c_next", shape="(n_a, m)"),
            Output("cache", kind="custom", check=_check_cell_cache),
        ),
        packing="tuple",
        reference=_cell_reference,
        cases=lambda rng, seed: _cell_cases(rng, seed, peephole),
        mistakes=(
            Mistake(PEEPHOLES_WITHOUT_FLAG, lambda c: _peepholes_without_flag(c, _cell_reference)),
            *CELL_FORWARD_MISTAKES,
        ),
        forbidden=FORBIDDEN,
        shapes=SHAPES,
        key_hint=KEY_HINT,
        doc="``lstm_cell_forward(xt, a_prev, c_prev, parameters, peephole)``: one LSTM step.",
    )
    return with_explanations(exercise)


def _swapped_outputs(result):
    """The first two outputs exchanged (a and c, or a_next and c_next)."""
    return {"a_next": result[1], "c_next": result[0], "a": result[1], "c": result[0]}


LSTM_CELL_FORWARD = _cell_forward_exercise(False, 1)
LSTM_CELL_FORWARD_PEEPHOLE = _cell_forward_exercise(True, 11)


# --------------------------------------------------------------------------------------------
# Exercise 2 — lstm_forward
# --------------------------------------------------------------------------------------------


def _sequence_cases(rng, seed, peephole):
    n_x, n_a, m = draw_sizes(rng, seed)
    T = 4 if seed == 0 else int(rng.integers(3, 7))
    p = random_parameters(rng, n_x, n_a, peephole)
    x, a0 = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m))
    c0 = rng.standard_normal((n_a, m))
    tag = "with peepholes" if peephole else "no peepholes"

    def case(label, x, a0, c0, p, default=False):
        args = {"x": x, "a0": a0, "c0": c0, "parameters": p}
        if not default:
            args["peephole"] = peephole
        sizes = {"n_x": n_x, "n_a": n_a, "m": m, "T_x": x.shape[2]}
        return Case(f"{label} ({tag})", args, sizes, {"peephole": peephole})

    cases = [
        case("a0 and c0 non-zero", x, a0, c0, p),
        case("c0 = None: the memory starts at zeros", x, a0, None, p),
        case("T_x = 1", x[:, :, :1], a0, c0, p),
        case("float32", float32(x), float32(a0), float32(c0), float32(p)),
    ]
    if not peephole:
        cases.append(case("peephole left out: the default is False", x, a0, c0, p, True))
        cases.append(_unused_peepholes(case, rng, n_a, (x, a0, c0), p))
    return cases


def _sequence_reference(case, a0=None, c0="given"):
    a = case.args
    return lstm.lstm_forward(
        a["x"],
        a["a0"] if a0 is None else a0,
        a["c0"] if isinstance(c0, str) else c0,
        a["parameters"],
        _peephole_of(case),
    )


def _not_carried(case, which):
    """Each step from a0 (``which`` "a"), from c0 ("c") or both: no recurrence there."""
    args = case.args
    x, a0 = args["x"], args["a0"]
    c0 = np.zeros_like(a0) if args["c0"] is None else args["c0"]
    a_t, c_t, a, c = a0, c0, [], []
    for t in range(x.shape[2]):
        a_t, c_t, _ = lstm.lstm_cell_forward(
            x[:, :, t],
            a0 if "a" in which else a_t,
            c0 if "c" in which else c_t,
            args["parameters"],
            _peephole_of(case),
        )
        a.append(a_t)
        c.append(c_t)
    return {"a": np.stack(a, axis=2), "c": np.stack(c, axis=2)}


def _shifted(case):
    a, c, _ = _sequence_reference(case)
    c0 = np.zeros_like(case.args["a0"]) if case.args["c0"] is None else case.args["c0"]
    return {
        "a": np.concatenate([case.args["a0"][:, :, None], a[:, :, :-1]], axis=2),
        "c": np.concatenate([c0[:, :, None], c[:, :, :-1]], axis=2),
    }


def _check_caches(name, got, want, case):
    check_sequence_caches(name, got, want, case, CACHE_FIELDS, SEQUENCE_FORWARD_MISTAKES, 2)


def _time_from_batch_axis(case):
    """Step t read as x[:, t, :]: the reference on x with its batch and time axes exchanged
    (only possible when m = T_x; otherwise the student's code fails, explained by
    :func:`utils.exercises._gated.time_axis`)."""
    x = case.args["x"]
    if x.shape[1] != x.shape[2]:
        return {}
    swapped = Case(case.label, {**case.args, "x": x.transpose(0, 2, 1)}, case.sizes, case.context)
    a, c, _ = _sequence_reference(swapped)
    return {"a": a, "c": c}


def _forward_exercise(peephole, number):
    exercise = Exercise(
        name="lstm_forward",
        assignment=ASSIGNMENT,
        number=number,
        check_name=f"check_lstm_forward{'_peephole' if peephole else ''}",
        arguments=("x", "a0", "c0", "parameters", "peephole"),
        returns=(
            Output("a", shape="(n_a, m, T_x)"),
            Output("c", shape="(n_a, m, T_x)"),
            Output("caches", kind="custom", check=_check_caches),
        ),
        packing="tuple",
        reference=_sequence_reference,
        cases=lambda rng, seed: _sequence_cases(rng, seed, peephole),
        mistakes=(
            Mistake(
                "the states are not carried: each step starts from the previous step's "
                "a<t-1> and c<t-1> (a0 and c0 only at the first step)",
                lambda c: _not_carried(c, "ac"),
            ),
            Mistake(
                "the memory is not carried: each step must start from the previous c<t-1>, "
                "not from c0",
                lambda c: _not_carried(c, "c"),
            ),
            Mistake(
                "the hidden state is not carried: each step must start from the previous "
                "a<t-1>, not from a0",
                lambda c: _not_carried(c, "a"),
            ),
            Mistake(
                "the sequence starts from zeros: the first step starts from a0",
                lambda c: {"a": _sequence_reference(c, a0=np.zeros_like(c.args["a0"]))[0]},
            ),
            Mistake(
                "c0 is ignored: the memory starts at c0 (zeros only when c0 is None)",
                lambda c: (
                    {}
                    if c.args["c0"] is None
                    else {
                        "a": _sequence_reference(c, c0=None)[0],
                        "c": _sequence_reference(c, c0=None)[1],
                    }
                ),
            ),
            Mistake(
                "off by one in time: a[:, :, t] and c[:, :, t] must be the states after step t",
                _shifted,
            ),
            Mistake(
                "a and c are swapped: return (a, c, caches), the hidden states first",
                lambda c: _swapped_outputs(_sequence_reference(c)),
            ),
            Mistake(
                PEEPHOLES_WITHOUT_FLAG, lambda c: _peepholes_without_flag(c, _sequence_reference)
            ),
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
        doc="``lstm_forward(x, a0, c0, parameters, peephole)``: the LSTM over all T_x steps.",
    )
    return with_explanations(exercise, time_axis, none_argument({"c0": C0_NONE}))


C0_NONE = (
    "c0=None means the memory starts at zeros, so begin with c_prev = np.zeros_like(a0) when "
    "c0 is None (and c0 itself otherwise)"
)


LSTM_FORWARD = _forward_exercise(False, 2)
LSTM_FORWARD_PEEPHOLE = _forward_exercise(True, 12)


# --------------------------------------------------------------------------------------------
# Exercise 3 — lstm_cell_backward
# --------------------------------------------------------------------------------------------


def _cell_backward(da_next, dc_next, cache, **change):
    """The backward of one step written edge by edge, so that a mistake can change one edge.

    ``change`` maps an edge to ``fn(values) -> array`` where ``values`` holds the step's
    arrays (``da``, ``dc_next``, the gates, ``tanh_c``, ``c_prev``, ``c_next`` and the edges
    computed so far). Edges: ``dz_o``, ``from_a`` (what a<t> sends to c<t>), ``peep_o`` (po *
    dz_o), ``dc`` (the total), ``dz_f``, ``dz_u``, ``dz_c``, ``forget`` (dc * Γf),
    ``peep_prev`` (pf dz_f + pu dz_u), ``c_fu`` / ``c_o`` (the memory the peephole gradients
    multiply), ``sum`` (how biases are summed), ``peep_sum`` (how the peepholes' gradients are
    summed; by default as the biases). Without changes it equals
    ``utils.lstm.lstm_cell_backward`` (tested).
    """
    _, c_next, a_prev, c_prev, xt, gf, gu, cc, go, p, peephole = cache
    n_a = a_prev.shape[0]
    v = {"da": da_next, "dc_next": 0 * c_next if dc_next is None else dc_next}
    v.update(gf=gf, gu=gu, cc=cc, go=go, c_prev=c_prev, c_next=c_next, tanh_c=np.tanh(c_next))

    def edge(name, default):
        v[name] = change[name](v) if name in change else default()
        return v[name]

    edge("dz_o", lambda: v["da"] * v["tanh_c"] * go * (1 - go))
    edge("from_a", lambda: v["da"] * go * (1 - v["tanh_c"] ** 2))
    edge("peep_o", lambda: p["po"] * v["dz_o"] if peephole else 0 * v["dz_o"])  # z_o sees c<t>
    edge("dc", lambda: v["dc_next"] + v["from_a"] + v["peep_o"])
    edge("dz_f", lambda: v["dc"] * c_prev * gf * (1 - gf))
    edge("dz_u", lambda: v["dc"] * cc * gu * (1 - gu))
    edge("dz_c", lambda: v["dc"] * gu * (1 - cc**2))
    dc_prev = edge("forget", lambda: v["dc"] * gf)
    if peephole:
        dc_prev = dc_prev + edge("peep_prev", lambda: p["pf"] * v["dz_f"] + p["pu"] * v["dz_u"])
    sum_batch = change["sum"](v) if "sum" in change else (lambda d: d.sum(axis=1, keepdims=True))

    concat = np.concatenate([a_prev, xt])
    grads, dconcat = {}, np.zeros_like(concat)
    for g in GATES:
        dz = v["dz_" + g]
        grads["dW" + g] = dz @ concat.T
        grads["db" + g] = sum_batch(dz)
        dconcat = dconcat + p["W" + g].T @ dz
    if peephole:
        c_fu, c_o = edge("c_fu", lambda: c_prev), edge("c_o", lambda: c_next)
        peep_sum = change["peep_sum"](v) if "peep_sum" in change else sum_batch
        grads["dpf"] = peep_sum(v["dz_f"] * c_fu)
        grads["dpu"] = peep_sum(v["dz_u"] * c_fu)
        grads["dpo"] = peep_sum(v["dz_o"] * c_o)
    grads["da_prev"], grads["dxt"] = dconcat[:n_a], dconcat[n_a:]
    grads["dc_prev"] = dc_prev
    return grads


def _sig(v, g):
    return v[g] * (1 - v[g])


def _backward_change(needs_peephole=False, **edges):
    """A mistake: the step's backward with the given edges; the edges are kept on the function
    so that the sequence exercise reuses the mistake at every step."""

    def derive(case):
        if needs_peephole and not case.context["peephole"]:
            return {}
        a = case.args
        return _cell_backward(a["da_next"], a["dc_next"], a["cache"], **edges)

    derive.edges, derive.needs_peephole = edges, needs_peephole
    return derive


def _weights_input_first(case):
    a = case.args
    ref = lstm.lstm_cell_backward(a["da_next"], a["dc_next"], a["cache"])
    return columns_input_first(ref, case.sizes["n_x"], tuple("dW" + g for g in GATES))


def _swapped_states(case):
    """da_prev and dc_prev exchanged in the returned dict."""
    ref = lstm.lstm_cell_backward(**case.args)
    return {**ref, "da_prev": ref["dc_prev"], "dc_prev": ref["da_prev"]}


def _swapped_arguments(case):
    """The reference given dc_next as da_next and da_next as dc_next (a signature
    ``(dc_next, da_next, cache)``); nothing to compare when dc_next is None."""
    a = case.args
    if a["dc_next"] is None:
        return {}
    return lstm.lstm_cell_backward(a["dc_next"], a["da_next"], a["cache"])


def _sigma_missing(gate, dz):
    """σ' dropped on one gate: ``dz(v)`` is that gate's dz without Γ * (1 − Γ)."""
    return Mistake(
        f"σ' is missing on dz_{gate}: dz_{gate} = dΓ{gate} * Γ{gate} * (1 − Γ{gate})",
        _backward_change(**{"dz_" + gate: dz}),
    )


def _unsummed(d):
    return d


def _summed_flat(d):
    return d.sum(axis=1)


CELL_BACKWARD_MISTAKES = (
    Mistake(
        "da_prev and dc_prev are swapped: da_prev is the stacked vector's first n_a rows (the "
        "gates saw a<t-1> there), dc_prev the memory's path dc * Γf",
        _swapped_states,
    ),
    Mistake(
        "da_next and dc_next are swapped: the signature is lstm_cell_backward(da_next, dc_next, "
        "cache), the hidden state's gradient first",
        _swapped_arguments,
    ),
    Mistake(
        "dc_prev misses the forget-gate path: c<t> = Γf * c<t-1> + ... sends dc * Γf to c<t-1>",
        _backward_change(forget=lambda v: 0 * v["dc"]),
    ),
    Mistake(
        "dc_prev misses the forget gate: c<t> = Γf * c<t-1> + ... sends dc * Γf to c<t-1>, not "
        "dc itself",
        _backward_change(forget=lambda v: v["dc"]),
    ),
    Mistake(
        "po * dz_o reaches dc too late: dc_prev has it, but dz_f, dz_u and dz_c were computed "
        "from dc before it was added. Add it to dc right after the path through a<t>, before "
        "the gate derivatives: dc = dc_next + da_next * Γo * (1 − tanh(c)**2) + po * dz_o",
        _backward_change(
            True,
            dc=lambda v: v["dc_next"] + v["from_a"],
            forget=lambda v: (v["dc"] + v["peep_o"]) * v["gf"],
        ),
    ),
    Mistake(
        "dc misses dc_next: the memory's gradient from step t+1 adds to dc<t>",
        _backward_change(dc=lambda v: v["from_a"] + v["peep_o"]),
    ),
    Mistake(
        "dc misses the path through a<t> = Γo * tanh(c<t>): add da_next * Γo * (1 − tanh(c)**2)",
        _backward_change(dc=lambda v: v["dc_next"] + v["peep_o"]),
    ),
    Mistake(
        "tanh' is missing on the way from a<t> to c<t>: da_next * Γo * (1 − tanh(c<t>)**2)",
        _backward_change(from_a=lambda v: v["da"] * v["go"]),
    ),
    Mistake(
        "dΓo is da_next * tanh(c<t>), not da_next * c<t>",
        _backward_change(dz_o=lambda v: v["da"] * v["c_next"] * _sig(v, "go")),
    ),
    Mistake(
        "dΓf and dΓu are swapped: dΓf = dc * c<t-1> (the forget gate multiplies the old "
        "memory), dΓu = dc * c~",
        _backward_change(
            dz_f=lambda v: v["dc"] * v["cc"] * _sig(v, "gf"),
            dz_u=lambda v: v["dc"] * v["c_prev"] * _sig(v, "gu"),
        ),
    ),
    # One gate's σ' missing, listed before all three where the output compared first (dc_prev,
    # then dWf, dWu, dWo) tells them apart: a student missing all three fails on dWf, where the
    # Γo-only and Γu-only mistakes are right.
    _sigma_missing("o", lambda v: v["da"] * v["tanh_c"]),
    _sigma_missing("u", lambda v: v["dc"] * v["cc"]),
    Mistake(
        "σ' is missing: each gate's dz = dΓ * Γ * (1 − Γ)",
        _backward_change(
            dz_f=lambda v: v["dc"] * v["c_prev"],
            dz_u=lambda v: v["dc"] * v["cc"],
            dz_o=lambda v: v["da"] * v["tanh_c"],
        ),
    ),
    _sigma_missing("f", lambda v: v["dc"] * v["c_prev"]),
    Mistake(
        "tanh' is missing on the candidate: dz_c = dc * Γu * (1 − c~**2)",
        _backward_change(dz_c=lambda v: v["dc"] * v["gu"]),
    ),
    Mistake(
        "the peepholes' gradients must be summed over the batch, keeping the shape (n_a, 1): "
        "dpf = (dz_f * c<t-1>).sum(axis=1, keepdims=True), and so dpu and dpo (a peephole, like "
        "a bias, is one number per unit shared by every example)",
        _backward_change(True, peep_sum=lambda v: _unsummed),
    ),
    Mistake(
        "keepdims is missing on the peepholes' gradients: dpf, dpu, dpo have shape (n_a, 1), "
        "(dz_f * c<t-1>).sum(axis=1, keepdims=True)",
        _backward_change(True, peep_sum=lambda v: _summed_flat),
    ),
    Mistake(
        "the bias gradients must be summed over the batch, keeping the shape (n_a, 1): "
        "dz.sum(axis=1, keepdims=True)",
        _backward_change(sum=lambda v: _unsummed),
    ),
    Mistake(
        "keepdims is missing: the bias gradients have shape (n_a, 1), "
        "dz.sum(axis=1, keepdims=True)",
        _backward_change(sum=lambda v: _summed_flat),
    ),
    Mistake(
        "the weight gradients are built on [x<t>, a<t-1>]: dW = dz [a<t-1>, x<t>]^T (the "
        "hidden-state rows first)",
        _weights_input_first,
    ),
    Mistake(
        "dc misses the output gate's peephole: z_o = ... + po * c<t> sends po * dz_o to c<t>; "
        "add it to dc before the gate derivatives and dc_prev use dc",
        _backward_change(True, peep_o=lambda v: 0 * v["dc_next"]),
    ),
    Mistake(
        "dc_prev misses the peepholes of Γf and Γu: add pf * dz_f + pu * dz_u",
        _backward_change(True, peep_prev=lambda v: 0 * v["dc"]),
    ),
    Mistake(
        "peepholes from c<t> where c<t-1> is meant: dpf and dpu multiply dz_f, dz_u by the old "
        "memory c<t-1>",
        _backward_change(True, c_fu=lambda v: v["c_next"]),
    ),
    Mistake(
        "dpo multiplies dz_o by c<t-1>: the output gate peeks at the new memory c<t>",
        _backward_change(True, c_o=lambda v: v["c_prev"]),
    ),
)


def _cell_backward_cases(rng, seed, peephole):
    n_x, n_a, m = draw_sizes(rng, seed)
    sizes = {"n_x": n_x, "n_a": n_a, "m": m}
    p = random_parameters(rng, n_x, n_a, peephole)
    xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    c_prev = rng.standard_normal((n_a, m))
    da, dc = rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    tag = "with peepholes" if peephole else "no peepholes"

    def case(label, p, da=da, dc=dc, inputs=(xt, a_prev, c_prev)):
        _, _, cache = lstm.lstm_cell_forward(*inputs, p, peephole)
        args = {"da_next": da, "dc_next": dc, "cache": cache}
        return Case(f"{label} ({tag})", args, sizes, {"peephole": peephole})

    remembering = {**p, "bf": p["bf"] + 12.0}  # Γf ≈ 1
    return [
        case("random", p),
        case("dc_next = None: nothing from a later step", p, dc=None),
        case("da_next = 0: only the memory's gradient", p, da=np.zeros_like(da)),
        case("Γf ≈ 1 (bf + 12): the memory passes straight through", remembering),
        case(
            "float32",
            float32(p),
            da=da.astype(np.float32),
            dc=dc.astype(np.float32),
            inputs=(float32(xt), float32(a_prev), float32(c_prev)),
        ),
    ]


def _cell_gradcheck(peephole):
    def proof(call, rng):
        n_x, n_a, m = 3, 4, 2
        p = random_parameters(rng, n_x, n_a, peephole)
        xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
        c_prev = rng.standard_normal((n_a, m))
        wa, wc = rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
        _, _, cache = lstm.lstm_cell_forward(xt, a_prev, c_prev, p, peephole)
        sizes = {"n_x": n_x, "n_a": n_a, "m": m}
        args = {"da_next": wa, "dc_next": wc, "cache": cache}
        grads = call(Case("gradient check", args, sizes, {"peephole": peephole}))

        def f(v):
            params = {k: v[k] for k in p}
            a_next, c_next, _ = lstm.lstm_cell_forward(
                v["xt"], v["a_prev"], v["c_prev"], params, peephole
            )
            return float(np.sum(wa * a_next) + np.sum(wc * c_next))

        at = {"xt": xt, "a_prev": a_prev, "c_prev": c_prev, **p}
        gradcheck(f"lstm_cell_backward (peephole={peephole})", f, at, grads)

    return proof


def _gradient_outputs(first, peephole):
    return gradient_outputs(first, _names(peephole), Output)


def _cell_backward_exercise(peephole, number):
    exercise = Exercise(
        name="lstm_cell_backward",
        assignment=ASSIGNMENT,
        number=number,
        check_name=f"check_lstm_cell_backward{'_peephole' if peephole else ''}",
        arguments=("da_next", "dc_next", "cache"),
        returns=_gradient_outputs(("dxt", "da_prev", "dc_prev"), peephole),
        packing="dict",
        reference=lambda case: lstm.lstm_cell_backward(**case.args),
        cases=lambda rng, seed: _cell_backward_cases(rng, seed, peephole),
        mistakes=CELL_BACKWARD_MISTAKES,
        forbidden=FORBIDDEN,
        shapes=SHAPES,
        key_hint=KEY_HINT,
        proofs=(_cell_gradcheck(peephole),),
        doc="``lstm_cell_backward(da_next, dc_next, cache)``: backward of one LSTM step.",
    )
    return with_explanations(exercise, none_argument({"dc_next": DC_NEXT_NONE}))


DC_NEXT_NONE = (
    "nothing comes from a later step, so treat it as zeros: if dc_next is None, "
    "dc_next = np.zeros_like(c_next)"
)


LSTM_CELL_BACKWARD = _cell_backward_exercise(False, 3)
LSTM_CELL_BACKWARD_PEEPHOLE = _cell_backward_exercise(True, 13)


# --------------------------------------------------------------------------------------------
# Exercise 4 — lstm_backward
# --------------------------------------------------------------------------------------------


def _bptt(
    case,
    order="right to left",
    da_rule="added",
    dc_rule="added",
    keep=None,
    step=None,
    swap=False,
    swap_carry=False,
):
    """BPTT with the reference cell backward, optionally with one mistake in the loop:
    ``da_rule`` / ``dc_rule`` "added" (right), "missing" (nothing from step t+1), "outside"
    (the ``dc`` argument ignored); ``keep`` = t returns only step t's parameter gradients;
    ``step``: a cell mistake (a :func:`_backward_change` derive) at every step; ``swap``: the
    cell given (dc<t>, da<t>) instead of (da<t>, dc<t>); ``swap_carry``: its da_prev carried
    on as the memory's gradient and its dc_prev as the hidden state's."""
    if step is not None and step.needs_peephole and not case.context["peephole"]:
        return {}
    da, dc, (cell_caches, x) = case.args["da"], case.args["dc"], case.args["caches"]
    if dc_rule == "outside" and dc is None:
        return {}
    T, shape = x.shape[2], da.shape[:2]
    steps = reversed(range(T)) if order == "right to left" else range(T)
    dx, sums, kept = np.zeros(x.shape), {}, None
    da_carry, dc_carry = np.zeros(shape), np.zeros(shape)
    for t in steps:
        da_t = da[:, :, t] + (da_carry if da_rule == "added" else 0)
        dc_t = np.zeros(shape) if dc_rule == "missing" else dc_carry
        if dc is not None and dc_rule != "outside":
            dc_t = dc_t + dc[:, :, t]
        if swap:
            da_t, dc_t = dc_t, da_t
        if step is None:
            grads = lstm.lstm_cell_backward(da_t, dc_t, cell_caches[t])
        else:
            grads = _cell_backward(da_t, dc_t, cell_caches[t], **step.edges)
        dx[:, :, t] = grads.pop("dxt")
        da_carry, dc_carry = grads.pop("da_prev"), grads.pop("dc_prev")
        if swap_carry:
            da_carry, dc_carry = dc_carry, da_carry
        for k, g in grads.items():
            sums[k] = sums.get(k, 0) + g
        if keep == t:
            kept = grads
    return {"dx": dx, "da0": da_carry, "dc0": dc_carry, **(kept if keep is not None else sums)}


def _backward_cases(rng, seed, peephole):
    n_x, n_a, m = draw_sizes(rng, seed)
    T = 4 if seed == 0 else int(rng.integers(3, 7))
    p = random_parameters(rng, n_x, n_a, peephole)
    x, a0 = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m))
    c0 = rng.standard_normal((n_a, m))
    da, dc = rng.standard_normal((n_a, m, T)), rng.standard_normal((n_a, m, T))
    tag = "with peepholes" if peephole else "no peepholes"

    def case(label, x, a0, c0, p, da, dc):
        _, _, caches = lstm.lstm_forward(x, a0, c0, p, peephole)
        sizes = {"n_x": n_x, "n_a": n_a, "m": m, "T_x": x.shape[2]}
        args = {"da": da, "dc": dc, "caches": caches}
        return Case(f"{label} ({tag})", args, sizes, {"peephole": peephole})

    last_only = np.zeros_like(da)
    last_only[:, :, -1] = da[:, :, -1]
    return [
        case("da at every step, dc = None", x, a0, c0, p, da, None),
        case(
            "da at the last step only: all of it flows back in time", x, a0, c0, p, last_only, None
        ),
        case("dc given: a gradient reaching c<t> from outside", x, a0, c0, p, da, dc),
        case("T_x = 1", x[:, :, :1], a0, c0, p, da[:, :, :1], None),
        case(
            "float32", float32(x), float32(a0), float32(c0), float32(p), da.astype(np.float32), None
        ),
    ]


def _sequence_gradcheck(peephole):
    def proof(call, rng):
        n_x, n_a, m, T = 3, 4, 2, 4
        p = random_parameters(rng, n_x, n_a, peephole)
        x, a0 = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m))
        c0 = rng.standard_normal((n_a, m))
        wa, wc = rng.standard_normal((n_a, m, T)), rng.standard_normal((n_a, m, T))
        _, _, caches = lstm.lstm_forward(x, a0, c0, p, peephole)
        sizes = {"n_x": n_x, "n_a": n_a, "m": m, "T_x": T}
        args = {"da": wa, "dc": wc, "caches": caches}
        grads = call(Case("gradient check", args, sizes, {"peephole": peephole}))

        def f(v):
            params = {k: v[k] for k in p}
            a, c, _ = lstm.lstm_forward(v["x"], v["a0"], v["c0"], params, peephole)
            return float(np.sum(wa * a) + np.sum(wc * c))

        at = {"x": x, "a0": a0, "c0": c0, **p}
        gradcheck(f"lstm_backward (peephole={peephole})", f, at, grads)

    return proof


def _backward_exercise(peephole, number):
    exercise = Exercise(
        name="lstm_backward",
        assignment=ASSIGNMENT,
        number=number,
        check_name=f"check_lstm_backward{'_peephole' if peephole else ''}",
        arguments=("da", "dc", "caches"),
        returns=_gradient_outputs(("dx", "da0", "dc0"), peephole),
        packing="dict",
        reference=lambda case: lstm.lstm_backward(**case.args),
        cases=lambda rng, seed: _backward_cases(rng, seed, peephole),
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
                "the memory's gradient from step t+1 never arrives: pass dc_prev of step t+1 "
                "to lstm_cell_backward as dc_next, and check that dc_prev has the forget-gate "
                "path dc * Γf (the path that keeps gradients alive)",
                lambda c: _bptt(c, dc_rule="missing"),
            ),
            Mistake(
                "the hidden state's gradient from step t+1 is missing: pass da[:, :, t] + "
                "da_prev (from the step after)",
                lambda c: _bptt(c, da_rule="missing"),
            ),
            Mistake(
                "the dc argument is ignored: add dc[:, :, t] to the memory's gradient at step t "
                "(when dc is not None)",
                lambda c: _bptt(c, dc_rule="outside"),
            ),
            Mistake(SCAN_LEFT_TO_RIGHT, lambda c: _bptt(c, order="left to right")),
            Mistake(
                "da0 and dc0 are swapped: da0 is what da_prev carries out of the first step, "
                "dc0 what dc_prev carries",
                lambda c: _swapped_initial(c),
            ),
            Mistake(
                "the two gradients are swapped in the call: lstm_cell_backward(da_next, "
                "dc_next, cache) takes the hidden state's gradient (da[:, :, t] + da_prev) "
                "first, the memory's second",
                lambda c: _bptt(c, swap=True),
            ),
            Mistake(
                "da_prev and dc_prev are swapped on the way to step t-1: da_prev joins "
                "da[:, :, t-1] as the hidden state's gradient, dc_prev is the memory's",
                lambda c: _bptt(c, swap_carry=True),
            ),
            *(
                Mistake(m.hint, lambda c, d=m.derive: _bptt(c, step=d))
                for m in CELL_BACKWARD_MISTAKES
                if hasattr(m.derive, "edges")
            ),
        ),
        forbidden=FORBIDDEN,
        shapes=SHAPES,
        key_hint=KEY_HINT,
        index_hint=INDEX_HINT,
        proofs=(_sequence_gradcheck(peephole),),
        doc="``lstm_backward(da, dc, caches)``: backpropagation through time for the LSTM.",
    )
    return with_explanations(exercise, carried_like_x, none_argument({"dc": DC_NONE}))


DC_NONE = (
    "no gradient reaches c<t> from outside the recurrence, so add dc[:, :, t] to the memory's "
    "gradient only when dc is not None"
)


def _swapped_initial(case):
    ref = lstm.lstm_backward(**case.args)
    return {**ref, "da0": ref["dc0"], "dc0": ref["da0"]}


LSTM_BACKWARD = _backward_exercise(False, 4)
LSTM_BACKWARD_PEEPHOLE = _backward_exercise(True, 14)
