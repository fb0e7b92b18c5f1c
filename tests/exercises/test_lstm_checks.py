"""The checks of assignment 07 (utils/exercises/lstm.py): every correct variant passes (loops or
vectorised, stacked or separate gate matrices, float32), and every known mistake is rejected
with a message that names it, with and without peepholes."""

import functools

import numpy as np
import pytest
from rejects import rejecting

from utils import lstm
from utils.activations import sigmoid
from utils.checks import IntegrityError
from utils.exercises import lstm as ex

SEEDS = [0, 71, 7107]


# --------------------------------------------------------------------------------------------
# One configurable implementation per exercise: the defaults are right, each flag is a mistake
# --------------------------------------------------------------------------------------------


def cell_forward(
    xt,
    a_prev,
    c_prev,
    parameters,
    peephole=False,
    *,
    forget_on_candidate=False,
    coupled=False,
    input_first=False,
    no_tanh=False,
    old_memory_out=False,
    ignore_peepholes=False,
    output_peeks_old=False,
    drop_bias=None,
    stacked=False,
    dtype=None,
    peep_if_keys=False,
    tied_forget=False,
    peek_new=False,
    swap_out=False,
    product=np.dot,
):
    if peep_if_keys:  # the peepholes whenever the dict has them, whatever peephole says
        peephole = "pf" in parameters
    p = dict(parameters)
    if drop_bias:
        p[drop_bias] = 0 * p[drop_bias]
    if dtype:
        xt, a_prev, c_prev = (v.astype(dtype) for v in (xt, a_prev, c_prev))
        p = {k: v.astype(dtype) for k, v in p.items()}
    n_a = a_prev.shape[0]
    concat = np.vstack([xt, a_prev]) if input_first else np.vstack([a_prev, xt])
    W = {g: p["W" + g] for g in "fuoc"}
    if stacked:
        z = np.vstack([W[g] for g in "fuoc"]) @ concat + np.vstack([p["b" + g] for g in "fuoc"])
        z_f, z_u, z_o, z_c = (z[i * n_a : (i + 1) * n_a] for i in range(4))
    else:
        z_f, z_u, z_o, z_c = (product(W[g], concat) + p["b" + g] for g in "fuoc")
    use_peep = peephole and not ignore_peepholes
    if use_peep and not peek_new:
        z_f = z_f + p["pf"] * c_prev
        z_u = z_u + p["pu"] * c_prev
    gamma_u = sigmoid(z_u)
    gamma_f = 1 - gamma_u if tied_forget else sigmoid(z_f)
    gamma_u = 1 - gamma_f if coupled else gamma_u
    c_tilde = np.tanh(z_c)
    if forget_on_candidate:
        c_next = gamma_f * c_tilde + gamma_u * c_prev
    else:
        c_next = gamma_f * c_prev + gamma_u * c_tilde
    if use_peep and peek_new:  # Γf, Γu again, from the memory just computed
        gamma_f = sigmoid(z_f + p["pf"] * c_next)
        gamma_u = sigmoid(z_u + p["pu"] * c_next)
        c_next = gamma_f * c_prev + gamma_u * c_tilde
    if use_peep:
        z_o = z_o + p["po"] * (c_prev if output_peeks_old else c_next)
    gamma_o = sigmoid(z_o)
    memory = c_prev if old_memory_out else c_next
    a_next = gamma_o * (memory if no_tanh else np.tanh(memory))
    cache = (a_next, c_next, a_prev, c_prev, xt, gamma_f, gamma_u, c_tilde, gamma_o)
    if swap_out:
        return c_next, a_next, (*cache, parameters, peephole)
    return a_next, c_next, (*cache, parameters, peephole)


def cell_forward_looped(xt, a_prev, c_prev, parameters, peephole=False):
    """One example at a time."""
    m = xt.shape[1]
    outs = [
        cell_forward(xt[:, [j]], a_prev[:, [j]], c_prev[:, [j]], parameters, peephole)
        for j in range(m)
    ]
    a_next, c_next = np.hstack([o[0] for o in outs]), np.hstack([o[1] for o in outs])
    gates = [np.hstack([o[2][i] for o in outs]) for i in (5, 6, 7, 8)]
    return a_next, c_next, (a_next, c_next, a_prev, c_prev, xt, *gates, parameters, peephole)


def sequence_forward(
    x,
    a0,
    c0,
    parameters,
    peephole=False,
    *,
    cell=cell_forward,
    carry="ac",
    shift=False,
    zero_start=False,
    ignore_c0=False,
    c0_none=True,
    batch_axis_as_time=False,
    swap_call=False,
    swap_return=False,
):
    a_t = np.zeros_like(a0) if zero_start else a0
    c_start = np.zeros_like(a0) if (c0 is None and c0_none) or ignore_c0 else c0
    c_t, a, c, caches = c_start, [], [], []
    for t in range(x.shape[2]):
        states = (a_t if "a" in carry else a0, c_t if "c" in carry else c_start)
        if swap_call:
            states = states[::-1]
        xt = x[:, t, :] if batch_axis_as_time else x[:, :, t]
        a_t, c_t, cache = cell(xt, *states, parameters, peephole)
        a.append(a_t)
        c.append(c_t)
        caches.append(cache)
    a, c = np.stack(a, axis=2), np.stack(c, axis=2)
    if shift:
        a = np.concatenate([a0[:, :, None], a[:, :, :-1]], axis=2)
        c = np.concatenate([c_start[:, :, None], c[:, :, :-1]], axis=2)
    if swap_return:
        return c, a, (caches, x)
    return a, c, (caches, x)


def cell_backward(
    da_next,
    dc_next,
    cache,
    *,
    forget_path=True,
    with_dc_next=True,
    through_a=True,
    dtanh_c=True,
    dgo_from_c=False,
    swap_fu=False,
    dsigma=True,
    dtanh_candidate=True,
    bias_sum="keepdims",
    input_first=False,
    peep_o=True,
    peep_prev=True,
    peep_from_new=False,
    po_from_old=False,
    stacked=False,
    dc_next_none=True,
    peep_sum="keepdims",
    dsigma_o=True,
    swap_out=False,
    product=np.dot,
):
    _, c_next, a_prev, c_prev, xt, gf, gu, cc, go, p, peephole = cache
    n_a = a_prev.shape[0]
    if dc_next_none:
        dc_next = np.zeros_like(c_next) if dc_next is None or not with_dc_next else dc_next
    tanh_c = np.tanh(c_next)

    def sig(g):
        return g * (1 - g) if dsigma else 1

    dz_o = da_next * (c_next if dgo_from_c else tanh_c) * (sig(go) if dsigma_o else 1)
    dc = dc_next + (da_next * go * ((1 - tanh_c**2) if dtanh_c else 1) if through_a else 0)
    if peephole and peep_o is True:
        dc = dc + p["po"] * dz_o
    dz_f = dc * (cc if swap_fu else c_prev) * sig(gf)
    dz_u = dc * (c_prev if swap_fu else cc) * sig(gu)
    dz_c = dc * gu * ((1 - cc**2) if dtanh_candidate else 1)
    if peephole and peep_o == "late":  # after the gate derivatives, before dc_prev
        dc = dc + p["po"] * dz_o
    dc_prev = dc if forget_path == "dc" else dc * gf if forget_path else 0 * dc
    if peephole and peep_prev:
        dc_prev = dc_prev + p["pf"] * dz_f + p["pu"] * dz_u
    concat = np.vstack([a_prev, xt])
    rows = np.vstack([xt, a_prev]) if input_first else concat

    def summed(how, dz):
        if how == "keepdims":
            return dz.sum(axis=1, keepdims=True)
        return dz.sum(axis=1) if how == "flat" else dz

    def bias(dz):
        return summed(bias_sum, dz)

    def peep(dz):
        return summed(peep_sum if bias_sum == "keepdims" else bias_sum, dz)

    dz = {"f": dz_f, "u": dz_u, "o": dz_o, "c": dz_c}
    grads = {}
    for g in "fuoc":
        grads["dW" + g] = dz[g] @ rows.T
        grads["db" + g] = bias(dz[g])
    if stacked:
        dconcat = np.vstack([p["W" + g] for g in "fuoc"]).T @ np.vstack([dz[g] for g in "fuoc"])
    else:
        dconcat = sum(product(p["W" + g].T, dz[g]) for g in "fuoc")
    if peephole:
        memory = c_next if peep_from_new else c_prev
        grads["dpf"] = peep(dz_f * memory)
        grads["dpu"] = peep(dz_u * memory)
        grads["dpo"] = peep(dz_o * (c_prev if po_from_old else c_next))
    grads["da_prev"], grads["dxt"], grads["dc_prev"] = dconcat[:n_a], dconcat[n_a:], dc_prev
    if swap_out:
        grads["da_prev"], grads["dc_prev"] = grads["dc_prev"], grads["da_prev"]
    return grads


def sequence_backward(
    da,
    dc,
    caches,
    *,
    cell=cell_backward,
    order="right to left",
    pass_dc=True,
    pass_da=True,
    use_dc=True,
    keep=None,
    dc_none=True,
    carried_like=None,
    swap_call=False,
    swap_carry=False,
    swap_initial=False,
):
    cell_caches, x = caches
    shape = da.shape[:2]
    da_next, dc_next = np.zeros(shape, dtype=da.dtype), np.zeros(shape, dtype=da.dtype)
    if carried_like == "x":
        da_next = np.zeros_like(x)
    dx, grads = np.zeros(x.shape, dtype=da.dtype), {}
    steps = reversed(range(x.shape[2])) if order == "right to left" else range(x.shape[2])
    for t in steps:
        dc_t = dc_next if pass_dc else np.zeros(shape)
        if (dc is not None or not dc_none) and use_dc:
            dc_t = dc_t + dc[:, :, t]
        da_t = da[:, :, t] + (da_next if pass_da else 0)
        step = cell(dc_t, da_t, cell_caches[t]) if swap_call else cell(da_t, dc_t, cell_caches[t])
        dx[:, :, t] = step["dxt"]
        da_next, dc_next = step["da_prev"], step["dc_prev"]
        if swap_carry:
            da_next, dc_next = dc_next, da_next
        for k, g in step.items():
            if k in ("dxt", "da_prev", "dc_prev"):
                continue
            grads[k] = g if keep == "overwrite" else grads.get(k, 0) + g
    if swap_initial:
        da_next, dc_next = dc_next, da_next
    return {"dx": dx, "da0": da_next, "dc0": dc_next, **grads}


def EINSUM(W, v):
    return np.einsum("ij,jk->ik", W, v)


def TENSORDOT(W, v):
    return np.tensordot(W, v, axes=1)


_fails = rejecting(SEEDS)


def _check(name, peephole):
    return getattr(ex, f"check_lstm_{name}" + ("_peephole" if peephole else ""))


# --------------------------------------------------------------------------------------------
# Correct variants pass, with and without peepholes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize(
    "func",
    [
        cell_forward,
        functools.partial(cell_forward, stacked=True),
        functools.partial(cell_forward, dtype=np.float32),
        cell_forward_looped,
        functools.partial(cell_forward, product=EINSUM),
        functools.partial(cell_forward, product=TENSORDOT),
    ],
    ids=[
        "separate gates",
        "stacked gates",
        "float32",
        "loop over the batch",
        "einsum",
        "tensordot",
    ],
)
def test_cell_forward_correct_variants_pass(func, peephole):
    for seed in SEEDS:
        _check("cell_forward", peephole)(func, seed=seed)


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize(
    "func",
    [sequence_forward, functools.partial(sequence_forward, cell=cell_forward_looped)],
    ids=["loop", "looped cell"],
)
def test_forward_correct_variants_pass(func, peephole):
    for seed in SEEDS:
        _check("forward", peephole)(func, seed=seed)


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize(
    "func",
    [
        cell_backward,
        functools.partial(cell_backward, stacked=True),
        functools.partial(cell_backward, product=EINSUM),
        functools.partial(cell_backward, product=TENSORDOT),
    ],
    ids=["separate gates", "stacked gates", "einsum", "tensordot"],
)
def test_cell_backward_correct_variants_pass(func, peephole):
    for seed in SEEDS:
        _check("cell_backward", peephole)(func, seed=seed)


@pytest.mark.parametrize("peephole", [False, True])
def test_backward_correct_variant_passes(peephole):
    for seed in SEEDS:
        _check("backward", peephole)(sequence_backward, seed=seed)


@pytest.mark.parametrize("peephole", [False, True])
def test_edge_by_edge_backward_equals_the_reference(peephole):
    rng = np.random.default_rng(0)
    p = ex.random_parameters(rng, 3, 4, peephole)
    inputs = (rng.standard_normal((3, 2)), rng.standard_normal((4, 2)), rng.standard_normal((4, 2)))
    _, _, cache = lstm.lstm_cell_forward(*inputs, p, peephole)
    da, dc = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    for dc_next in (dc, None):
        ours, ref = (
            ex._cell_backward(da, dc_next, cache),
            lstm.lstm_cell_backward(da, dc_next, cache),
        )
        assert ours.keys() == ref.keys()
        for k in ref:
            np.testing.assert_allclose(ours[k], ref[k], rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------------------------
# Every mistake is named
# --------------------------------------------------------------------------------------------

FORWARD_MISTAKES = [
    ({"forget_on_candidate": True}, "the forget gate is applied to c~ instead of c<t-1>"),
    ({"coupled": True}, "the update gate is tied to the forget gate"),
    ({"input_first": True}, "wrong concatenation order"),
    ({"no_tanh": True}, "tanh of c is missing"),
    ({"old_memory_out": True}, "a<t> uses the old memory"),
    ({"drop_bias": "bf"}, "bf is missing"),
    ({"drop_bias": "bu"}, "bu is missing"),
    ({"drop_bias": "bo"}, "bo is missing"),
    ({"drop_bias": "bc"}, "bc is missing"),
]
PEEPHOLE_FORWARD_MISTAKES = [
    ({"ignore_peepholes": True}, "the peepholes are missing"),
    ({"output_peeks_old": True}, r"Γo peeks at c<t-1>"),
]


@pytest.mark.parametrize(
    ("peephole", "flags", "match"),
    [(False, f, m) for f, m in FORWARD_MISTAKES]
    + [(True, f, m) for f, m in FORWARD_MISTAKES + PEEPHOLE_FORWARD_MISTAKES],
)
def test_cell_forward_mistakes_are_named(peephole, flags, match):
    _fails(_check("cell_forward", peephole), functools.partial(cell_forward, **flags), match)


@pytest.mark.parametrize(
    ("peephole", "flags", "match"),
    [
        (False, {"carry": ""}, "the states are not carried"),
        (False, {"carry": "a"}, "the memory is not carried"),
        (False, {"carry": "c"}, "the hidden state is not carried"),
        (False, {"zero_start": True}, "the sequence starts from zeros"),
        (False, {"ignore_c0": True}, "c0 is ignored"),
        (False, {"shift": True}, "off by one in time"),
        (False, {"cell": functools.partial(cell_forward, no_tanh=True)}, "tanh of c is missing"),
        (
            False,
            {"cell": functools.partial(cell_forward, forget_on_candidate=True)},
            "the forget gate is applied to c~",
        ),
        (True, {"cell": functools.partial(cell_forward, output_peeks_old=True)}, "Γo peeks at"),
        (True, {"cell": functools.partial(cell_forward, ignore_peepholes=True)}, "peepholes are"),
    ],
)
def test_forward_mistakes_are_named(peephole, flags, match):
    _fails(_check("forward", peephole), functools.partial(sequence_forward, **flags), match)


BACKWARD_MISTAKES = [
    ({"forget_path": False}, "dc_prev misses the forget-gate path"),
    ({"with_dc_next": False}, "dc misses dc_next"),
    ({"through_a": False}, r"dc misses the path through a<t> = Γo \* tanh\(c<t>\)"),
    ({"dtanh_c": False}, "tanh' is missing on the way from a<t> to c<t>"),
    ({"dgo_from_c": True}, "dΓo is da_next"),
    ({"swap_fu": True}, "dΓf and dΓu are swapped"),
    ({"dsigma": False}, "σ' is missing"),
    ({"dtanh_candidate": False}, "tanh' is missing on the candidate"),
    ({"bias_sum": "none"}, "must be summed over the batch"),
    ({"bias_sum": "flat"}, "keepdims is missing"),
    ({"input_first": True}, r"weight gradients are built on \[x<t>, a<t-1>\]"),
]
PEEPHOLE_BACKWARD_MISTAKES = [
    ({"peep_o": False}, "dc misses the output gate's peephole"),
    ({"peep_prev": False}, "dc_prev misses the peepholes of Γf and Γu"),
    ({"peep_from_new": True}, "peepholes from c<t> where c<t-1> is meant"),
    ({"po_from_old": True}, r"dpo multiplies dz_o by c<t-1>"),
]


@pytest.mark.parametrize(
    ("peephole", "flags", "match"),
    [(False, f, m) for f, m in BACKWARD_MISTAKES]
    + [(True, f, m) for f, m in BACKWARD_MISTAKES + PEEPHOLE_BACKWARD_MISTAKES],
)
def test_cell_backward_mistakes_are_named(peephole, flags, match):
    _fails(_check("cell_backward", peephole), functools.partial(cell_backward, **flags), match)


@pytest.mark.parametrize(
    ("peephole", "flags", "match"),
    [
        (False, {"keep": "overwrite"}, "the gradients are not summed over time"),
        (False, {"pass_dc": False}, "the memory's gradient from step t\\+1 never arrives"),
        (False, {"pass_da": False}, "the hidden state's gradient from step t\\+1 is missing"),
        (False, {"use_dc": False}, "the dc argument is ignored"),
        (False, {"order": "left to right"}, "the scan goes left to right"),
        (
            False,
            {"cell": functools.partial(cell_backward, forget_path=False)},
            "forget-gate path",
        ),
        (True, {"keep": "overwrite"}, "the gradients are not summed over time"),
        (
            True,
            {"cell": functools.partial(cell_backward, peep_from_new=True)},
            "peepholes from c<t> where c<t-1> is meant",
        ),
        (True, {"cell": functools.partial(cell_backward, peep_o="late")}, "reaches dc too late"),
        (
            True,
            {"cell": functools.partial(cell_backward, peep_sum="none")},
            "the peepholes' gradients must be summed",
        ),
        (
            False,
            {"cell": functools.partial(cell_backward, dsigma_o=False)},
            "σ' is missing on dz_o",
        ),
    ],
)
def test_backward_mistakes_are_named(peephole, flags, match):
    _fails(_check("backward", peephole), functools.partial(sequence_backward, **flags), match)


# --------------------------------------------------------------------------------------------
# Contract details
# --------------------------------------------------------------------------------------------


def test_a_cache_with_the_gates_in_the_wrong_order_is_named():
    def wrong_cache(xt, a_prev, c_prev, parameters, peephole=False):
        a_next, c_next, cache = cell_forward(xt, a_prev, c_prev, parameters, peephole)
        return a_next, c_next, (*cache[:7], cache[8], cache[7], *cache[9:])

    with pytest.raises(AssertionError) as failure:
        ex.check_lstm_cell_forward(wrong_cache)
    assert "entry c_tilde holds the value of gamma_o" in str(failure.value)
    assert "is not the expected" not in str(failure.value)


def test_peepholes_that_are_always_read_get_the_parameter_hint():
    def always_peeks(xt, a_prev, c_prev, parameters, peephole=False):
        return cell_forward(xt, a_prev, c_prev, parameters, True)

    with pytest.raises(AssertionError, match="pf, pu, po only with peephole=True"):
        ex.check_lstm_cell_forward(always_peeks)


def test_changing_dc_in_place_is_named():
    def in_place(da, dc, caches):
        grads = sequence_backward(da, dc, caches)
        if dc is not None:
            dc[...] = 0
        return grads

    with pytest.raises(AssertionError, match="changed its argument dc in place"):
        ex.check_lstm_backward(in_place)


def test_a_backward_that_fails_only_the_gradient_check_is_caught():
    def scaled(da_next, dc_next, cache):
        return {k: (1 + 1e-4) * v for k, v in cell_backward(da_next, dc_next, cache).items()}

    with pytest.raises(AssertionError, match=r"is wrong|gradient check"):
        ex.check_lstm_cell_backward(scaled)


@pytest.mark.parametrize(
    ("check", "func"),
    [
        (
            ex.check_lstm_cell_forward,
            lambda xt, a, c, p, peep=False: lstm.lstm_cell_forward(xt, a, c, p, peep),
        ),
        (
            ex.check_lstm_forward,
            lambda x, a0, c0, p, peep=False: lstm.lstm_forward(x, a0, c0, p, peep),
        ),
        (ex.check_lstm_cell_backward, lstm.lstm_cell_backward),
        (ex.check_lstm_backward, lstm.lstm_backward),
    ],
)
def test_calling_the_reference_is_an_integrity_error(check, func):
    with pytest.raises(IntegrityError, match=r"utils\.lstm"):
        check(func)


# --------------------------------------------------------------------------------------------
# Issue 22: what a student met in notebook 07, each as a named case
# --------------------------------------------------------------------------------------------


def _message(check, func, seed=0):
    with pytest.raises(AssertionError) as failure:
        check(func, seed=seed)
    return str(failure.value)


def test_peepholes_read_whenever_the_dict_has_them_are_rejected():
    """peephole=False with pf, pu, po in the parameters: used to pass (no case had both)."""
    cell = functools.partial(cell_forward, peep_if_keys=True)
    checks = [
        (ex.check_lstm_cell_forward, cell),
        (ex.check_lstm_forward, functools.partial(sequence_forward, cell=cell)),
    ]
    for check, func in checks:
        for seed in SEEDS:
            message = _message(check, func, seed)
            assert "[parameters hold pf, pu, po, peephole=False: they must be ignored" in message
            assert "the peepholes were used although peephole=False" in message
    # ... and with peephole=True the same code is right
    for seed in SEEDS:
        ex.check_lstm_cell_forward_peephole(cell, seed=seed)


def test_the_peephole_case_keeps_the_other_cases_of_a_seed_as_they_were():
    """The extra case draws its peepholes last: the earlier cases of every seed are unchanged
    (so that nothing else about the hidden tests moved)."""
    rng = np.random.default_rng(0)
    cases = ex.LSTM_CELL_FORWARD.cases(rng, 0)
    assert cases[-1].label.startswith(ex.UNUSED_PEEPHOLES)
    assert all("pf" not in case.args["parameters"] for case in cases[:-1])
    assert {"pf", "pu", "po"} <= set(cases[-1].args["parameters"])


@pytest.mark.parametrize(
    ("peephole", "flags", "match"),
    [
        (False, {"tied_forget": True}, r"the forget gate is tied to the update gate \(Γf = 1 − Γu"),
        (True, {"tied_forget": True}, r"the forget gate is tied to the update gate \(Γf = 1 − Γu"),
        (True, {"peek_new": True}, "Γf and Γu peek at c<t>"),
        (False, {"swap_out": True}, "a_next and c_next are swapped"),
    ],
)
def test_more_forward_mistakes_are_named(peephole, flags, match):
    _fails(_check("cell_forward", peephole), functools.partial(cell_forward, **flags), match)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"swap_return": True}, r"a and c are swapped: return \(a, c, caches\)"),
        ({"swap_call": True}, "a<t-1> and c<t-1> are swapped"),
        ({"cell": functools.partial(cell_forward, swap_out=True)}, "a_next and c_next are swapped"),
    ],
)
def test_states_swapped_in_the_sequence_are_named(flags, match):
    _fails(ex.check_lstm_forward, functools.partial(sequence_forward, **flags), match)


def test_c0_none_not_handled_names_the_case_and_the_fix():
    """A bare TypeError before (no case, no hint)."""
    message = _message(ex.check_lstm_forward, functools.partial(sequence_forward, c0_none=False))
    assert "[c0 = None: the memory starts at zeros (no peepholes)] raised TypeError" in message
    assert "c0 is None in this case" in message
    assert "np.zeros_like(a0)" in message


def test_dc_next_none_and_dc_none_not_handled_name_the_case_and_the_fix():
    func = functools.partial(cell_backward, dc_next_none=False)
    message = _message(ex.check_lstm_cell_backward, func)
    assert "[dc_next = None: nothing from a later step (no peepholes)] raised TypeError" in message
    assert "dc_next is None in this case" in message
    message = _message(ex.check_lstm_backward, functools.partial(sequence_backward, dc_none=False))
    assert "[da at every step, dc = None (no peepholes)] raised TypeError" in message
    assert "only when dc is not None" in message


def test_a_carried_gradient_shaped_like_x_is_named():
    """np.zeros_like(x) for da_prev: the broadcast error got a guess about sums and masks."""
    func = functools.partial(sequence_backward, carried_like="x")
    for seed in SEEDS:
        message = _message(ex.check_lstm_backward, func, seed)
        assert "(no peepholes)] raised ValueError in sequence_backward" in message
        assert "da_next has shape" in message
        assert "= (n_x, m, T_x), the shape of x" in message
        assert "keepdims" not in message


def test_reading_step_t_from_the_batch_axis_is_named():
    func = functools.partial(sequence_forward, batch_axis_as_time=True)
    message = _message(ex.check_lstm_forward, func)
    assert "[a0 and c0 non-zero (no peepholes)] raised ValueError" in message
    assert "step t was given x[:, t, :]" in message


def test_po_dz_o_added_to_dc_too_late_is_named_as_such():
    """po * dz_o added after dz_f, dz_u, dz_c (dc_prev has it): the old hint said it was
    missing; the notebook's table now says where it goes."""
    func = functools.partial(cell_backward, peep_o="late")
    for seed in SEEDS:
        message = _message(ex.check_lstm_cell_backward_peephole, func, seed)
        assert message.startswith("dc_prev from lstm_cell_backward")
        assert "po * dz_o reaches dc too late" in message
        assert "dc misses the output gate's peephole" not in message
    message = _message(
        ex.check_lstm_cell_backward_peephole, functools.partial(cell_backward, peep_o=False)
    )
    assert "dc misses the output gate's peephole" in message


@pytest.mark.parametrize(
    ("flags", "match", "shape"),
    [
        ({"peep_sum": "none"}, "the peepholes' gradients must be summed over the batch", "(5, 2)"),
        ({"peep_sum": "flat"}, "keepdims is missing on the peepholes' gradients", "(5,)"),
    ],
)
def test_peephole_gradients_not_summed_get_a_peephole_hint(flags, match, shape):
    """dpf not summed over the batch used to get the biases' message."""
    for seed in SEEDS:
        message = _message(
            ex.check_lstm_cell_backward_peephole, functools.partial(cell_backward, **flags), seed
        )
        assert message.startswith("dpf from lstm_cell_backward")
        assert match in message
        assert "the bias gradients" not in message
    message = _message(
        ex.check_lstm_cell_backward_peephole, functools.partial(cell_backward, **flags)
    )
    assert f"has shape {shape}, expected (n_a, 1) = (5, 1)" in message


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"forget_path": "dc"}, "dc_prev misses the forget gate: .* not dc itself"),
        ({"dsigma_o": False}, "σ' is missing on dz_o"),
        ({"swap_out": True}, "da_prev and dc_prev are swapped"),
    ],
)
def test_more_backward_mistakes_are_named(peephole, flags, match):
    _fails(_check("cell_backward", peephole), functools.partial(cell_backward, **flags), match)


def test_all_three_sigma_primes_missing_keep_the_general_hint():
    message = _message(ex.check_lstm_cell_backward, functools.partial(cell_backward, dsigma=False))
    assert "σ' is missing: each gate's dz" in message


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"swap_call": True}, "the two gradients are swapped in the call"),
        ({"swap_carry": True}, "da_prev and dc_prev are swapped on the way to step t-1"),
        ({"swap_initial": True}, "da0 and dc0 are swapped"),
        ({"cell": functools.partial(cell_backward, forget_path="dc")}, "not dc itself"),
    ],
)
def test_states_swapped_in_backpropagation_through_time_are_named(flags, match):
    _fails(ex.check_lstm_backward, functools.partial(sequence_backward, **flags), match)


def test_a_stub_still_raises_not_implemented():
    """The released notebook's stubs: the explanations leave NotImplementedError alone."""

    def stub(*args):
        raise NotImplementedError

    for check in (ex.check_lstm_cell_forward, ex.check_lstm_forward, ex.check_lstm_backward):
        with pytest.raises(NotImplementedError):
            check(stub)
