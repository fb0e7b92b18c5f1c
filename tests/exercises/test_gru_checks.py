"""The checks of assignment 06 (utils/exercises/gru.py): every correct variant passes (loops or
vectorised, stacked or separate gate matrices, float32), and every known mistake is rejected
with a message that names it."""

import functools

import numpy as np
import pytest
from rejects import rejecting

from utils import gru
from utils.activations import sigmoid
from utils.checks import IntegrityError
from utils.exercises import gru as ex
from utils.exercises.harness import Case, compare_result

SEEDS = [0, 61, 6106]


# --------------------------------------------------------------------------------------------
# One configurable implementation per exercise: the defaults are right, each flag is a mistake
# --------------------------------------------------------------------------------------------


def cell_forward(
    xt,
    a_prev,
    parameters,
    variant="full",
    *,
    swap=False,
    input_first=False,
    reset="before",
    r_weights="r",
    drop_bias=None,
    stacked=False,
    dtype=None,
    product=np.dot,
):
    p = dict(parameters)
    if drop_bias:
        p[drop_bias] = 0 * p[drop_bias]
    if dtype:
        xt, a_prev = xt.astype(dtype), a_prev.astype(dtype)
        p = {k: v.astype(dtype) for k, v in p.items()}
    n_a = a_prev.shape[0]
    stack = (lambda c, x: np.vstack([x, c])) if input_first else (lambda c, x: np.vstack([c, x]))

    def cols(W):  # the memory and input columns of W, as the stacking order says
        return (W[:, -n_a:], W[:, :-n_a]) if input_first else (W[:, :n_a], W[:, n_a:])

    concat = stack(a_prev, xt)
    if stacked and variant == "full":
        both = sigmoid(
            np.vstack([p["Wu"], p["W" + r_weights]]) @ concat
            + np.vstack([p["bu"], p["b" + r_weights]])
        )
        gamma_u, gamma_r = both[:n_a], both[n_a:]
    else:
        gamma_u = sigmoid(product(p["Wu"], concat) + p["bu"])
        gamma_r = None
        if variant == "full":
            gamma_r = sigmoid(product(p["W" + r_weights], concat) + p["b" + r_weights])
    if variant == "simplified" or reset == "none":
        c_tilde = np.tanh(p["Wc"] @ concat + p["bc"])
    elif reset == "after":
        Wc_c, Wc_x = cols(p["Wc"])
        c_tilde = np.tanh(Wc_x @ xt + gamma_r * (Wc_c @ a_prev) + p["bc"])
    elif reset == "whole product":  # Γr * (Wc [c, x]) + bc
        c_tilde = np.tanh(gamma_r * (p["Wc"] @ concat) + p["bc"])
    elif reset == "product and bias":  # Γr * (Wc [c, x] + bc)
        c_tilde = np.tanh(gamma_r * (p["Wc"] @ concat + p["bc"]))
    else:
        c_tilde = np.tanh(p["Wc"] @ stack(gamma_r * a_prev, xt) + p["bc"])
    if swap:
        a_next = (1 - gamma_u) * c_tilde + gamma_u * a_prev
    else:
        a_next = gamma_u * c_tilde + (1 - gamma_u) * a_prev
    return a_next, (a_next, a_prev, xt, gamma_u, gamma_r, c_tilde, parameters, variant)


def cell_forward_looped(xt, a_prev, parameters, variant="full"):
    """One example at a time, separate halves of each weight matrix."""
    m = a_prev.shape[1]
    outs = [cell_forward(xt[:, [j]], a_prev[:, [j]], parameters, variant) for j in range(m)]
    a_next = np.hstack([o[0] for o in outs])

    def column_stack(i):
        return None if outs[0][1][i] is None else np.hstack([o[1][i] for o in outs])

    cache = (
        a_next,
        a_prev,
        xt,
        column_stack(3),
        column_stack(4),
        column_stack(5),
        parameters,
        variant,
    )
    return a_next, cache


def sequence_forward(
    x,
    a0,
    parameters,
    variant="full",
    *,
    cell=cell_forward,
    start=None,
    carry=True,
    shift=False,
    skip_last=False,
    batch_axis_as_time=False,
):
    states, caches = [], []
    a_prev = a0 if start is None else start(a0)
    for t in range(x.shape[2]):
        xt = x[:, t, :] if batch_axis_as_time else x[:, :, t]
        a_next, cache = cell(xt, a_prev if carry else a0, parameters, variant)
        states.append(a_next)
        caches.append(cache)
        a_prev = a_next
    a = np.stack(states, axis=2)
    if shift:  # a[:, :, t] = the state before step t
        a = np.concatenate([a0[:, :, None], a[:, :, :-1]], axis=2)
    if skip_last:
        a[:, :, -1] = 0
    return a, (caches, x)


# Backward: the solution, with one flag per mistake


def cell_backward(
    da_next,
    cache,
    *,
    direct=True,
    swap=False,
    flip=False,
    dsigma=True,
    dtanh=True,
    wc_input="relevant",
    via_r=True,
    gate_r=True,
    bias_sum="keepdims",
    input_first=False,
    stacked=False,
    r_to_x=True,
    r_to_c=True,
    c_to_x=True,
    product=np.dot,
    reads_gamma_r=False,
):
    _, a_prev, xt, gamma_u, gamma_r, c_tilde, parameters, variant = cache
    if reads_gamma_r:  # written for the full GRU only: gamma_r is None in the simplified one
        gamma_r_c = gamma_r * a_prev  # noqa: F841
    p = parameters
    n_a = a_prev.shape[0]
    c_prev, dc = a_prev, da_next
    concat = np.concatenate([c_prev, xt])
    rows = np.concatenate([xt, c_prev]) if input_first else concat

    def bias(dz):
        if bias_sum == "keepdims":
            return dz.sum(axis=1, keepdims=True)
        return dz.sum(axis=1) if bias_sum == "flat" else dz

    keep, write = (gamma_u, 1 - gamma_u) if swap else (1 - gamma_u, gamma_u)
    sign = -1 if flip else 1
    dz_u = sign * dc * (c_tilde - c_prev) * (gamma_u * (1 - gamma_u) if dsigma else 1)
    dz_c = dc * write * ((1 - c_tilde**2) if dtanh else 1)
    dc_prev = dc * keep if direct else 0 * dc
    grads = {"dWu": dz_u @ rows.T, "dbu": bias(dz_u), "dbc": bias(dz_c)}
    dconcat = product(p["Wu"].T, dz_u)
    if variant == "simplified":
        grads["dWc"] = dz_c @ rows.T
        dconcat = dconcat + p["Wc"].T @ dz_c
    else:
        relevant = np.concatenate([gamma_r * c_prev, xt]) if wc_input == "relevant" else concat
        if input_first:
            relevant = np.concatenate([relevant[n_a:], relevant[:n_a]])
        grads["dWc"] = dz_c @ relevant.T
        d_relevant = p["Wc"].T @ dz_c
        d_rc = d_relevant[:n_a]
        dz_r = d_rc * c_prev * gamma_r * (1 - gamma_r) if gate_r else 0 * d_rc
        if via_r:
            dc_prev = dc_prev + d_rc * gamma_r
        grads["dWr"] = dz_r @ rows.T
        grads["dbr"] = bias(dz_r)
        via_wr = p["Wr"].T @ dz_r
        keep_r = np.vstack([via_wr[:n_a] * r_to_c, via_wr[n_a:] * r_to_x])
        if stacked:
            W = np.vstack([p["Wu"], p["Wr"]])
            dconcat = W.T @ np.vstack([dz_u, dz_r]) - via_wr + keep_r
        else:
            dconcat = dconcat + keep_r
        dconcat = dconcat + np.vstack([np.zeros_like(c_prev), d_relevant[n_a:] * c_to_x])
    grads["da_prev"] = dc_prev + dconcat[:n_a]
    grads["dxt"] = dconcat[n_a:]
    return grads


def sequence_backward(
    da,
    caches,
    *,
    cell=cell_backward,
    order="right to left",
    upstream="added",
    keep=None,
    carried_like=None,
):
    cell_caches, x = caches
    T = x.shape[2]
    grads, dx = None, np.zeros(x.shape, dtype=da.dtype)  # float32 stays float32
    carried = np.zeros(da.shape[:2], dtype=da.dtype)
    if carried_like == "x":
        carried = np.zeros_like(x)
    elif carried_like == "xt":
        carried = np.zeros_like(x[:, :, 0])
    steps = list(reversed(range(T))) if order == "right to left" else list(range(T))
    for i, t in enumerate(steps):
        if upstream == "added":
            dc = da[:, :, t] + carried
        elif upstream == "missing":
            dc = da[:, :, t]
        else:
            dc = da[:, :, t] if i == 0 else carried
        step = cell(dc, cell_caches[t])
        dx[:, :, t] = step["dxt"]
        carried = step["da_prev"]
        names = [k for k in step if k not in ("dxt", "da_prev")]
        if grads is None:
            grads = {k: np.zeros_like(step[k]) for k in names}
        for k in names:
            if keep is None:
                grads[k] = grads[k] + step[k]
            elif keep == "overwrite":
                grads[k] = step[k]  # the last one computed wins
    return {"dx": dx, "da0": carried, **grads}


def sequence_backward_listed(da, caches):
    """Collects every step's gradients in a list, sums them at the end."""
    cell_caches, x = caches
    carried, per_step, dxs = np.zeros(da.shape[:2]), [], []
    for t in range(x.shape[2] - 1, -1, -1):
        step = cell_backward(da[:, :, t] + carried, cell_caches[t])
        carried = step["da_prev"]
        per_step.append(step)
        dxs.insert(0, step["dxt"])
    names = [k for k in per_step[0] if k.startswith("dW") or k.startswith("db")]
    out = {k: sum(s[k] for s in per_step) for k in names}
    return {**out, "dx": np.stack(dxs, axis=2), "da0": carried}


def EINSUM(W, v):
    return np.einsum("ij,jk->ik", W, v)


def TENSORDOT(W, v):
    return np.tensordot(W, v, axes=1)


_fails = rejecting(SEEDS)

# --------------------------------------------------------------------------------------------
# Correct variants pass
# --------------------------------------------------------------------------------------------


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
    ids=["vectorised", "stacked gates", "float32", "loop over the batch", "einsum", "tensordot"],
)
def test_cell_forward_correct_variants_pass(func):
    for seed in SEEDS:
        ex.check_gru_cell_forward(func, seed=seed)


@pytest.mark.parametrize(
    "func",
    [
        sequence_forward,
        functools.partial(sequence_forward, cell=cell_forward_looped),
        functools.partial(sequence_forward, cell=functools.partial(cell_forward, dtype=np.float32)),
    ],
    ids=["loop", "looped cell", "float32"],
)
def test_forward_correct_variants_pass(func):
    for seed in SEEDS:
        ex.check_gru_forward(func, seed=seed)


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
def test_cell_backward_correct_variants_pass(func):
    for seed in SEEDS:
        ex.check_gru_cell_backward(func, seed=seed)


@pytest.mark.parametrize(
    "func",
    [
        sequence_backward,
        sequence_backward_listed,
    ],
    ids=["accumulate in the input dtype", "sum a list"],
)
def test_backward_correct_variants_pass(func):
    for seed in SEEDS:
        ex.check_gru_backward(func, seed=seed)


def test_edge_by_edge_backward_equals_the_reference():
    """The mistakes' backward (one edge changeable) is the reference when nothing changes."""
    rng = np.random.default_rng(0)
    for variant in ("full", "simplified"):
        p = ex.random_parameters(rng, 3, 4, variant)
        _, cache = gru.gru_cell_forward(
            rng.standard_normal((3, 2)), rng.standard_normal((4, 2)), p, variant
        )
        da = rng.standard_normal((4, 2))
        ours, ref = ex._cell_backward(da, cache), gru.gru_cell_backward(da, cache)
        assert ours.keys() == ref.keys()
        for k in ref:
            np.testing.assert_allclose(ours[k], ref[k], rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------------------------
# Every mistake is named
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"swap": True}, r"Γu and \(1 − Γu\) are swapped"),
        ({"input_first": True}, "wrong concatenation order"),
        ({"reset": "after"}, "Γr is applied after the product"),
        ({"reset": "none"}, "Γr is missing"),
        ({"r_weights": "u"}, "Γr is computed with Wu, bu"),
        ({"drop_bias": "bu"}, "bu is missing"),
        ({"drop_bias": "bc"}, "bc is missing"),
        ({"drop_bias": "br"}, "br is missing"),
    ],
)
def test_cell_forward_mistakes_are_named(flags, match):
    _fails(ex.check_gru_cell_forward, functools.partial(cell_forward, **flags), match)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"carry": False}, "the state is not carried"),
        ({"start": np.zeros_like}, "the sequence starts from zeros"),
        ({"shift": True}, "off by one in time"),
        ({"skip_last": True}, "the last step is missing"),
        ({"cell": functools.partial(cell_forward, swap=True)}, r"Γu and \(1 − Γu\) are swapped"),
        ({"cell": functools.partial(cell_forward, input_first=True)}, "wrong concatenation order"),
    ],
)
def test_forward_mistakes_are_named(flags, match):
    _fails(ex.check_gru_forward, functools.partial(sequence_forward, **flags), match)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"direct": False}, "da_prev misses the direct path"),
        ({"swap": True}, r"Γu and \(1 − Γu\) are swapped in the backward"),
        ({"flip": True}, "the sign of dΓu is flipped"),
        ({"dsigma": False}, "σ' is missing"),
        ({"dtanh": False}, "tanh' is missing"),
        ({"wc_input": "concat"}, r"dWc is computed from \[c<t-1>, x<t>\]"),
        ({"via_r": False}, r"the path through Γr \* c<t-1> to c<t-1> is missing"),
        ({"gate_r": False}, "Γr gets no gradient"),
        ({"bias_sum": "none"}, "must be summed over the batch"),
        ({"bias_sum": "flat"}, "keepdims is missing"),
        ({"input_first": True}, r"weight gradients are built on \[x<t>, c<t-1>\]"),
    ],
)
def test_cell_backward_mistakes_are_named(flags, match):
    _fails(ex.check_gru_cell_backward, functools.partial(cell_backward, **flags), match)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"keep": "overwrite"}, "the gradients are not summed over time"),
        ({"upstream": "missing"}, "the gradient from step t\\+1 is missing"),
        ({"upstream": "replaced"}, r"da_prev from step t\+1 replaces da\[:, :, t\]"),
        ({"order": "left to right"}, "the scan goes left to right"),
        (
            {"cell": functools.partial(cell_backward, direct=False)},
            "da_prev misses the direct path",
        ),
        ({"cell": functools.partial(cell_backward, r_to_x=False)}, "dxt misses Γr's share"),
        ({"carried_like": "x"}, r"carried has shape \(\d+, \d+, \d+\) = \(n_x, m, T_x\)"),
    ],
)
def test_backward_mistakes_are_named(flags, match):
    _fails(ex.check_gru_backward, functools.partial(sequence_backward, **flags), match)


def test_a_backward_that_fails_only_the_gradient_check_is_caught():
    """A wrong backward that no named case explains still fails, by the gradient check."""

    def scaled(da_next, cache):
        grads = cell_backward(da_next, cache)
        return {k: (1 + 1e-4) * v for k, v in grads.items()}

    with pytest.raises(AssertionError, match=r"is wrong|gradient check"):
        ex.check_gru_cell_backward(scaled)


# --------------------------------------------------------------------------------------------
# Contract details: the cache, the simplified variant, mutation, the reference
# --------------------------------------------------------------------------------------------


def test_a_cache_in_the_wrong_order_is_named():
    """gamma_u and c_tilde exchanged in the cache: the message names whose value it holds (it
    used to say "not the expected (5, 2) array (got (5, 2))", a contradiction)."""

    def wrong_cache(xt, a_prev, parameters, variant="full"):
        a_next, cache = cell_forward(xt, a_prev, parameters, variant)
        return a_next, (cache[0], cache[1], cache[2], cache[5], cache[4], cache[3], *cache[6:])

    for seed in SEEDS:
        with pytest.raises(AssertionError) as failure:
            ex.check_gru_cell_forward(wrong_cache, seed=seed)
        message = str(failure.value)
        assert "entry gamma_u holds the value of c_tilde" in message
        assert "(a_next, a_prev, xt, gamma_u, gamma_r, c_tilde, parameters, variant)" in message
        assert "is not the expected" not in message


def test_a_cache_entry_with_other_values_of_the_right_shape_says_so():
    def noisy_gate(xt, a_prev, parameters, variant="full"):
        a_next, cache = cell_forward(xt, a_prev, parameters, variant)
        return a_next, (*cache[:3], cache[3] + 0.1, *cache[4:])

    with pytest.raises(AssertionError, match=r"entry gamma_u has the right shape \(5, 2\) but not"):
        ex.check_gru_cell_forward(noisy_gate)


def test_a_simplified_gru_that_reads_wr_gets_the_variant_hint():
    def always_full(xt, a_prev, parameters, variant="full"):
        return cell_forward(xt, a_prev, parameters, "full")

    with pytest.raises(AssertionError, match=r"simplified GRU .* has no Wr"):
        ex.check_gru_cell_forward(always_full)


def test_changing_da_in_place_is_named():
    def in_place(da, caches):
        grads = sequence_backward(da, caches)
        da *= 2
        return grads

    with pytest.raises(AssertionError, match="changed its argument da in place"):
        ex.check_gru_backward(in_place)


@pytest.mark.parametrize(
    ("check", "func"),
    [
        (ex.check_gru_cell_forward, lambda xt, a, p, v="full": gru.gru_cell_forward(xt, a, p, v)),
        (ex.check_gru_forward, lambda x, a0, p, v="full": gru.gru_forward(x, a0, p, v)),
        (ex.check_gru_cell_backward, gru.gru_cell_backward),
        (ex.check_gru_backward, gru.gru_backward),
    ],
)
def test_calling_the_reference_is_an_integrity_error(check, func):
    with pytest.raises(IntegrityError, match=r"utils\.gru"):
        check(func)


# --------------------------------------------------------------------------------------------
# Issue 22: what a student met in notebook 06, each as a named case
# --------------------------------------------------------------------------------------------


def _message(check, func, seed=0):
    with pytest.raises(AssertionError) as failure:
        check(func, seed=seed)
    return str(failure.value)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (
            {"reset": "whole product"},
            r"Γr is applied after the product, to all of Wc \[c<t-1>, x<t>\]",
        ),
        ({"reset": "product and bias"}, r"to all of Wc \[c<t-1>, x<t>\] \+ bc"),
    ],
    ids=["Γr * (Wc [c, x]) + bc", "Γr * (Wc [c, x] + bc)"],
)
def test_reset_gate_after_the_product_is_named(flags, match):
    """Γr on the whole product (the test's docstring promises this check) got only "wrong at
    index" before."""
    _fails(ex.check_gru_cell_forward, functools.partial(cell_forward, **flags), match)
    sequence = functools.partial(sequence_forward, cell=functools.partial(cell_forward, **flags))
    _fails(ex.check_gru_forward, sequence, match)


def test_dxt_missing_the_reset_gates_share_is_named_as_such():
    """dxt without the x rows of Wr^T dz_r: dWr, dbr and da_prev are right, so the hint must not
    say that Γr gets no gradient."""
    func = functools.partial(cell_backward, r_to_x=False)
    for seed in SEEDS:
        message = _message(ex.check_gru_cell_backward, func, seed)
        assert message.startswith("dxt from gru_cell_backward")
        assert "dxt misses Γr's share" in message
        assert "Γr gets no gradient" not in message


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"r_to_c": False}, "da_prev misses Γr's share"),
        ({"c_to_x": False}, "dxt misses the candidate's share"),
        ({"gate_r": False}, "Γr gets no gradient"),  # still named, by dWr
    ],
)
def test_each_share_of_the_stacked_gradients_is_named(flags, match):
    _fails(ex.check_gru_cell_backward, functools.partial(cell_backward, **flags), match)


def test_a_reset_gate_with_no_gradient_is_named_at_dwr():
    message = _message(ex.check_gru_cell_backward, functools.partial(cell_backward, gate_r=False))
    assert message.startswith("dWr from gru_cell_backward")
    assert "dxt misses" not in message


def test_a_simplified_backward_that_reads_gamma_r_is_told_it_is_none():
    """The simplified GRU's cache holds gamma_r = None; code written for the full GRU used to
    crash with a bare TypeError (no case, no hint)."""
    func = functools.partial(cell_backward, reads_gamma_r=True)
    message = _message(ex.check_gru_cell_backward, func)
    assert "[simplified GRU, random]" in message
    assert "TypeError in cell_backward" in message
    assert "gamma_r = None" in message
    assert "only when variant == 'full'" in message


def test_reading_step_t_from_the_batch_axis_is_named():
    """x[:, t, :] as step t: a concatenate error inside the cell used to surface raw; now the
    case, the shape that was fed and the right slice are named."""
    func = functools.partial(sequence_forward, batch_axis_as_time=True)
    for seed in SEEDS:
        message = _message(ex.check_gru_forward, func, seed)
        assert "gru_forward(x, a0, parameters, variant='full') [full GRU, a0 non-zero] raised" in (
            message
        )
        assert "= (n_x, T_x): step t was given x[:, t, :]" in message
        assert "step t reads x[:, :, t]" in message


def test_reading_step_t_from_the_batch_axis_when_m_equals_t_x_is_named():
    """With m = T_x nothing fails; the mistake derived from the reference (x with its batch and
    time axes exchanged) names it."""
    rng = np.random.default_rng(0)
    p = ex.random_parameters(rng, 3, 4)
    x, a0 = rng.standard_normal((3, 5, 5)), rng.standard_normal((4, 5))
    sizes = {"n_x": 3, "n_a": 4, "m": 5, "T_x": 5}
    args = {"x": x, "a0": a0, "parameters": p, "variant": "full"}
    case = Case("m = T_x", args, sizes, {"parameters": p, "variant": "full"})
    result = sequence_forward(x, a0, p, batch_axis_as_time=True)
    with pytest.raises(AssertionError, match=r"step t read x\[:, t, :\], example t of the batch"):
        compare_result(ex.GRU_FORWARD, case, result)


@pytest.mark.parametrize("like", ["x", "xt"])
def test_a_carried_gradient_shaped_like_x_is_named(like):
    """np.zeros_like(x) (or of one step of x) for the gradient from step t+1: the broadcast
    error used to get a generic guess about sums and masks."""
    func = functools.partial(sequence_backward, carried_like=like)
    message = _message(ex.check_gru_backward, func)
    assert "[full GRU, da at every step] raised ValueError in sequence_backward" in message
    assert "carried has shape" in message
    assert "belongs to a state, shape (n_a, m) = (5, 2)" in (message)
    assert "keepdims" not in message
