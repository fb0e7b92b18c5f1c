"""The checks of assignment 07 (utils/exercises/lstm.py): every correct variant passes (loops or
vectorised, stacked or separate gate matrices, float32), and every known mistake is rejected
with a message that names it, with and without peepholes."""

import functools

import numpy as np
import pytest

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
):
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
        z_f, z_u, z_o, z_c = (np.dot(W[g], concat) + p["b" + g] for g in "fuoc")
    use_peep = peephole and not ignore_peepholes
    if use_peep:
        z_f = z_f + p["pf"] * c_prev
        z_u = z_u + p["pu"] * c_prev
    gamma_f = sigmoid(z_f)
    gamma_u = 1 - gamma_f if coupled else sigmoid(z_u)
    c_tilde = np.tanh(z_c)
    if forget_on_candidate:
        c_next = gamma_f * c_tilde + gamma_u * c_prev
    else:
        c_next = gamma_f * c_prev + gamma_u * c_tilde
    if use_peep:
        z_o = z_o + p["po"] * (c_prev if output_peeks_old else c_next)
    gamma_o = sigmoid(z_o)
    memory = c_prev if old_memory_out else c_next
    a_next = gamma_o * (memory if no_tanh else np.tanh(memory))
    cache = (a_next, c_next, a_prev, c_prev, xt, gamma_f, gamma_u, c_tilde, gamma_o)
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
):
    a_t = np.zeros_like(a0) if zero_start else a0
    c_start = np.zeros_like(a0) if c0 is None or ignore_c0 else c0
    c_t, a, c, caches = c_start, [], [], []
    for t in range(x.shape[2]):
        a_t, c_t, cache = cell(
            x[:, :, t],
            a_t if "a" in carry else a0,
            c_t if "c" in carry else c_start,
            parameters,
            peephole,
        )
        a.append(a_t)
        c.append(c_t)
        caches.append(cache)
    a, c = np.stack(a, axis=2), np.stack(c, axis=2)
    if shift:
        a = np.concatenate([a0[:, :, None], a[:, :, :-1]], axis=2)
        c = np.concatenate([c_start[:, :, None], c[:, :, :-1]], axis=2)
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
):
    _, c_next, a_prev, c_prev, xt, gf, gu, cc, go, p, peephole = cache
    n_a = a_prev.shape[0]
    dc_next = np.zeros_like(c_next) if dc_next is None or not with_dc_next else dc_next
    tanh_c = np.tanh(c_next)

    def sig(g):
        return g * (1 - g) if dsigma else 1

    dz_o = da_next * (c_next if dgo_from_c else tanh_c) * sig(go)
    dc = dc_next + (da_next * go * ((1 - tanh_c**2) if dtanh_c else 1) if through_a else 0)
    if peephole and peep_o:
        dc = dc + p["po"] * dz_o
    dz_f = dc * (cc if swap_fu else c_prev) * sig(gf)
    dz_u = dc * (c_prev if swap_fu else cc) * sig(gu)
    dz_c = dc * gu * ((1 - cc**2) if dtanh_candidate else 1)
    dc_prev = dc * gf if forget_path else 0 * dc
    if peephole and peep_prev:
        dc_prev = dc_prev + p["pf"] * dz_f + p["pu"] * dz_u
    concat = np.vstack([a_prev, xt])
    rows = np.vstack([xt, a_prev]) if input_first else concat

    def bias(dz):
        if bias_sum == "keepdims":
            return dz.sum(axis=1, keepdims=True)
        return dz.sum(axis=1) if bias_sum == "flat" else dz

    dz = {"f": dz_f, "u": dz_u, "o": dz_o, "c": dz_c}
    grads = {}
    for g in "fuoc":
        grads["dW" + g] = dz[g] @ rows.T
        grads["db" + g] = bias(dz[g])
    if stacked:
        dconcat = np.vstack([p["W" + g] for g in "fuoc"]).T @ np.vstack([dz[g] for g in "fuoc"])
    else:
        dconcat = sum(np.dot(p["W" + g].T, dz[g]) for g in "fuoc")
    if peephole:
        memory = c_next if peep_from_new else c_prev
        grads["dpf"] = bias(dz_f * memory)
        grads["dpu"] = bias(dz_u * memory)
        grads["dpo"] = bias(dz_o * (c_prev if po_from_old else c_next))
    grads["da_prev"], grads["dxt"], grads["dc_prev"] = dconcat[:n_a], dconcat[n_a:], dc_prev
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
):
    cell_caches, x = caches
    shape = da.shape[:2]
    da_next, dc_next = np.zeros(shape, dtype=da.dtype), np.zeros(shape, dtype=da.dtype)
    dx, grads = np.zeros(x.shape, dtype=da.dtype), {}
    steps = reversed(range(x.shape[2])) if order == "right to left" else range(x.shape[2])
    for t in steps:
        dc_t = dc_next if pass_dc else np.zeros(shape)
        if dc is not None and use_dc:
            dc_t = dc_t + dc[:, :, t]
        step = cell(da[:, :, t] + (da_next if pass_da else 0), dc_t, cell_caches[t])
        dx[:, :, t] = step["dxt"]
        da_next, dc_next = step["da_prev"], step["dc_prev"]
        for k, g in step.items():
            if k in ("dxt", "da_prev", "dc_prev"):
                continue
            grads[k] = g if keep == "overwrite" else grads.get(k, 0) + g
    return {"dx": dx, "da0": da_next, "dc0": dc_next, **grads}


def _fails(check, func, match, seeds=SEEDS, error=AssertionError):
    for seed in seeds:
        with pytest.raises(error, match=match):
            check(func, seed=seed)


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
    ],
    ids=["separate gates", "stacked gates", "float32", "loop over the batch"],
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
    [cell_backward, functools.partial(cell_backward, stacked=True)],
    ids=["separate gates", "stacked gates"],
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

    with pytest.raises(AssertionError, match="entry c_tilde is not the expected"):
        ex.check_lstm_cell_forward(wrong_cache)


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
