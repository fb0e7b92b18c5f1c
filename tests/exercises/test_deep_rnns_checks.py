"""Checks of assignment 09 (utils/exercises/deep_rnns.py): correct variants pass, each
known-wrong deep_rnn_forward / deep_rnn_backward / deep_head_forward / head_backward is
rejected with a message that names its problem."""

import re

import numpy as np
import pytest
from rejects import rejecting

from utils import deep
from utils.checks import IntegrityError
from utils.deep import step_backward, step_forward
from utils.exercises import deep_rnns as ex
from utils.exercises.hints import (
    SCAN_LEFT_TO_RIGHT,
    SOFTMAX_AXIS,
    columns_sum_to_one,
    scan_left_to_right,
)

SEEDS = [0, 1, 7]


_fails = rejecting(SEEDS)

# --------------------------------------------------------------------------------------------
# deep_rnn_forward
# --------------------------------------------------------------------------------------------


def _names(parameters):
    return [f"layer{l}" for l in range(1, len(parameters) + 1)]


def deep_rnn_forward(x, a0, parameters, cell):
    names = _names(parameters)
    _, m, T_x = x.shape
    a_prev = [a0[name] for name in names]
    a = [np.zeros((s.shape[0], m, T_x)) for s in a_prev]
    caches = [[] for _ in names]
    for t in range(T_x):
        below = x[:, :, t]
        for l, name in enumerate(names):
            a_prev[l], cache = step_forward(cell, below, a_prev[l], parameters[name])
            a[l][:, :, t] = a_prev[l]
            caches[l].append(cache)
            below = a_prev[l]
    return a, (caches, x)


def layer_by_layer(x, a0, parameters, cell):
    """Correct too: all steps of layer 1, then all of layer 2, ..."""
    inputs, states, caches = x, [], []
    for name in _names(parameters):
        a_prev, a_l, c_l = a0[name], [], []
        for t in range(x.shape[2]):
            a_prev, cache = step_forward(cell, inputs[:, :, t], a_prev, parameters[name])
            a_l.append(a_prev)
            c_l.append(cache)
        inputs = np.stack(a_l, axis=2)
        states.append(inputs)
        caches.append(c_l)
    return states, (caches, x)


@pytest.mark.parametrize("variant", [deep_rnn_forward, layer_by_layer])
def test_forward_correct_variants_pass(variant):
    for seed in SEEDS:
        ex.check_deep_rnn_forward(variant, seed=seed)


def shared_state(x, a0, parameters, cell):
    names = _names(parameters)
    a = [np.zeros((a0[n].shape[0],) + x.shape[1:]) for n in names]
    caches = [[] for _ in names]
    a_prev = a0["layer1"]
    for t in range(x.shape[2]):
        below = x[:, :, t]
        for l, name in enumerate(names):
            a_prev, cache = step_forward(cell, below, a_prev, parameters[name])
            a[l][:, :, t] = a_prev
            caches[l].append(cache)
            below = a_prev
    return a, (caches, x)


def wrong_layer_previous(x, a0, parameters, cell):
    names = _names(parameters)
    a_prev = [a0[n] for n in names]
    a = [np.zeros((s.shape[0],) + x.shape[1:]) for s in a_prev]
    caches = [[] for _ in names]
    for t in range(x.shape[2]):
        below, new = x[:, :, t], []
        for l, name in enumerate(names):
            state, cache = step_forward(
                cell, below, a_prev[l - 1] if l else a_prev[0], parameters[name]
            )
            new.append(state)
            a[l][:, :, t] = state
            caches[l].append(cache)
            below = state
        a_prev = new
    return a, (caches, x)


def first_a0_everywhere(x, a0, parameters, cell):
    return deep_rnn_forward(x, {k: a0["layer1"] for k in a0}, parameters, cell)


def top_layer_only(x, a0, parameters, cell):
    a, caches = deep_rnn_forward(x, a0, parameters, cell)
    return a[-1], caches


def caches_by_time(x, a0, parameters, cell):
    a, (caches, x_) = deep_rnn_forward(x, a0, parameters, cell)
    return a, ([list(step) for step in zip(*caches, strict=True)], x_)


def calls_reference(x, a0, parameters, cell):
    return deep.stacked_forward(x, a0, parameters, cell)


FORWARD_BANK = [
    (shared_state, r"every layer keeps its own state"),
    (wrong_layer_previous, r"its own previous state a\[l\]<t-1>, not that of the layer below"),
    (first_a0_everywhere, r"its own initial state a0\['layer<l>'\]"),
    (top_layer_only, r"must be a list of the L = \d layers' states"),
    (caches_by_time, r"caches must be \(cell_caches, x\) with cell_caches\[l\]\[t\]"),
]


@pytest.mark.parametrize(("func", "match"), FORWARD_BANK, ids=[f.__name__ for f, _ in FORWARD_BANK])
def test_forward_mistakes_named(func, match):
    _fails(ex.check_deep_rnn_forward, func, match)


def test_forward_calling_the_reference_is_caught():
    with pytest.raises(IntegrityError, match="stacked_forward"):
        ex.check_deep_rnn_forward(calls_reference)


# --------------------------------------------------------------------------------------------
# deep_rnn_backward
# --------------------------------------------------------------------------------------------


def _backward(above_rule, future=True, accumulate=True):
    def backward(da, caches):
        cell_caches, x = caches
        L, T_x = len(cell_caches), x.shape[2]
        grads = [{} for _ in range(L)]
        da_next = [0.0] * L
        dx = np.zeros(x.shape)
        for t in reversed(range(T_x)):
            dxt = None
            for l in reversed(range(L)):
                above = above_rule(l, L, da[:, :, t], dxt)
                g = step_backward(above + (da_next[l] if future else 0), cell_caches[l][t])
                da_next[l], dxt = g.pop("da_prev"), g.pop("dxt")
                for k, v in g.items():
                    grads[l][k] = grads[l][k] + v if (accumulate and k in grads[l]) else v
            dx[:, :, t] = dxt
        out = {f"layer{l + 1}": {**grads[l], "da0": da_next[l]} for l in range(L)}
        out["dx"] = dx
        return out

    return backward


deep_rnn_backward = _backward(lambda l, L, da_t, dxt: da_t if l == L - 1 else dxt)


def layer_by_layer_backward(da, caches):
    """Correct too: the whole top layer first, then the one below it, ..."""
    cell_caches, _x = caches
    out, upstream = {}, da
    for l in reversed(range(len(cell_caches))):
        T_x = len(cell_caches[l])
        grads, da_next, dinput = {}, 0.0, []
        for t in reversed(range(T_x)):
            g = step_backward(upstream[:, :, t] + da_next, cell_caches[l][t])
            da_next = g.pop("da_prev")
            dinput.append(g.pop("dxt"))
            for k, v in g.items():
                grads[k] = grads.get(k, 0) + v
        out[f"layer{l + 1}"] = {**grads, "da0": da_next}
        upstream = np.stack(dinput[::-1], axis=2)
    out["dx"] = upstream
    return out


@pytest.mark.parametrize("variant", [deep_rnn_backward, layer_by_layer_backward])
def test_backward_correct_variants_pass(variant):
    for seed in SEEDS:
        ex.check_deep_rnn_backward(variant, seed=seed)


BACKWARD_BANK = [
    (
        _backward(lambda l, L, da_t, dxt: da_t if l == L - 1 else np.zeros_like(da_t)),
        r"the layers below the top get their gradient from above",
    ),
    (_backward(lambda l, L, da_t, dxt: da_t), r"da reaches only the top layer's states"),
    (
        _backward(lambda l, L, da_t, dxt: da_t if l == L - 1 else dxt, future=False),
        r"the gradient from step t \+ 1",
    ),
    (
        _backward(lambda l, L, da_t, dxt: da_t if l == L - 1 else dxt, accumulate=False),
        r"shared over time: add each step's gradient",
    ),
]


@pytest.mark.parametrize(
    ("func", "match"),
    BACKWARD_BANK,
    ids=["no_path_from_above", "da_everywhere", "no_future", "overwritten"],
)
def test_backward_mistakes_named(func, match):
    _fails(ex.check_deep_rnn_backward, func, match)


def test_stack_gradient_check_is_asserted():
    def wrong(case):
        grads = deep_rnn_backward(**case.args)
        grads["dx"] = 0 * grads["dx"]
        return grads

    with pytest.raises(AssertionError, match="gradient check of deep_rnn_backward"):
        ex.DEEP_RNN_BACKWARD.proofs[0](wrong, np.random.default_rng(0))


# --------------------------------------------------------------------------------------------
# deep_head_forward, head_backward
# --------------------------------------------------------------------------------------------


def _softmax(z):
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def _dense(W, a, b):
    return np.einsum("ij,jmt->imt", W, a) + b[:, :, None]


def deep_head_forward(a, head):
    a_top = a[-1]
    h = np.maximum(_dense(head["W1"], a_top, head["b1"]), 0)
    return _softmax(_dense(head["W2"], h, head["b2"])), (a_top, h, head)


def head_forward_looped(a, head):
    a_top = a[len(a) - 1]
    n_h, (_, m, T) = head["W1"].shape[0], a_top.shape
    h = np.zeros((n_h, m, T), dtype=a_top.dtype)
    y = np.zeros((head["W2"].shape[0], m, T), dtype=a_top.dtype)
    for t in range(T):
        h[:, :, t] = np.maximum(np.dot(head["W1"], a_top[:, :, t]) + head["b1"], 0)
        y[:, :, t] = _softmax(np.dot(head["W2"], h[:, :, t]) + head["b2"])
    return y, (a_top, h, head)


@pytest.mark.parametrize("variant", [deep_head_forward, head_forward_looped])
def test_head_forward_correct_variants_pass(variant):
    for seed in SEEDS:
        ex.check_deep_head_forward(variant, seed=seed)


def head_on_first_layer(a, head):
    return deep_head_forward(a[:1], head)


def no_relu(a, head):
    h = _dense(head["W1"], a[-1], head["b1"])
    return _softmax(_dense(head["W2"], h, head["b2"])), (a[-1], h, head)


def no_b1(a, head):
    return deep_head_forward(a, {**head, "b1": 0 * head["b1"]})


HEAD_BANK = [
    (head_on_first_layer, r"the head sits on the top layer: use a\[-1\]"),
    (no_relu, r"the relu between the two layers is missing"),
    (no_b1, r"b1 is missing"),
]


@pytest.mark.parametrize(("func", "match"), HEAD_BANK, ids=[f.__name__ for f, _ in HEAD_BANK])
def test_head_forward_mistakes_named(func, match):
    _fails(ex.check_deep_head_forward, func, match)


def head_backward(dz, cache):
    a, h, head = cache
    dW2 = np.einsum("ymt,hmt->yh", dz, h)
    db2 = dz.sum(axis=(1, 2))[:, None]
    dh = np.einsum("yh,ymt->hmt", head["W2"], dz)
    dz1 = dh * (h > 0)
    return {
        "da": np.einsum("ha,hmt->amt", head["W1"], dz1),
        "dW1": np.einsum("hmt,amt->ha", dz1, a),
        "db1": dz1.sum(axis=(1, 2))[:, None],
        "dW2": dW2,
        "db2": db2,
    }


@pytest.mark.parametrize("variant", [head_backward])
def test_head_backward_correct_variants_pass(variant):
    for seed in SEEDS:
        ex.check_head_backward(variant, seed=seed)


def no_relu_derivative(dz, cache):
    a, h, head = cache
    grads = head_backward(dz, (a, np.ones_like(h) * (h + 1), head))
    grads["dW2"] = head_backward(dz, cache)["dW2"]
    return grads


def dW2_from_a(dz, cache):
    grads = head_backward(dz, cache)
    grads["dW2"] = np.einsum("ymt,amt->ya", dz, cache[0])
    return grads


def db2_not_summed_over_time(dz, cache):
    grads = head_backward(dz, cache)
    grads["db2"] = dz.sum(axis=1)[:, :1]
    return grads


HEAD_BACKWARD_BANK = [
    (no_relu_derivative, r"back through relu"),
    (dW2_from_a, r"use h, the relu output, not a|has shape"),
    (db2_not_summed_over_time, r"db2"),
]


@pytest.mark.parametrize(
    ("func", "match"), HEAD_BACKWARD_BANK, ids=[f.__name__ for f, _ in HEAD_BACKWARD_BANK]
)
def test_head_backward_mistakes_named(func, match):
    _fails(ex.check_head_backward, func, match)


# --------------------------------------------------------------------------------------------
# Issue 22: the common deep-RNN bugs, named by the layer sizes of the case
# --------------------------------------------------------------------------------------------


def _forward_with(feed_x=False, first_parameters=False, into_a0=False, one_array=False, only=None):
    """deep_rnn_forward with one bug switched on (for the cells in ``only``, default all)."""

    def forward(x, a0, parameters, cell):
        on = only is None or cell in only
        names = _names(parameters)
        _, m, T_x = x.shape
        states = a0 if (into_a0 and on) else dict(a0)
        shape = (a0["layer1"].shape[0], m, T_x)
        a = [np.zeros(shape)] * len(names) if one_array else [np.zeros(shape) for _ in names]
        caches = [[] for _ in names]
        for t in range(T_x):
            below = x[:, :, t]
            for l, name in enumerate(names):
                xt = x[:, :, t] if (feed_x and on) else below
                p = parameters["layer1"] if (first_parameters and on) else parameters[name]
                states[name], cache = step_forward(cell, xt, states[name], p)
                a[l][:, :, t] = states[name]
                caches[l].append(cache)
                below = states[name]
        return a, (caches, x)

    return forward


RAW_WEIGHT_ERROR = r"^Wax must have shape|^Wu must have shape"

ISSUE_FORWARD_BANK = {
    "every_layer_fed_x": (
        _forward_with(feed_x=True),
        r"\[2 rnn layers\] raised ValueError .*Layer 2 read an input with \d rows — x<t>; it "
        r"must read layer 1's state a\[1\]<t>, \d rows",
    ),
    "every_layer_fed_x_gru": (
        _forward_with(feed_x=True, only=("gru",)),
        r"\[3 gru layers\] raised ValueError .*Wu must have shape.*Layer 2 read an input with "
        r"\d rows — x<t>",
    ),
    "layer1_parameters_everywhere": (
        _forward_with(first_parameters=True),
        r"\[2 rnn layers\] raised .*Layer 2 was given layer 1's parameters \(their Wax "
        r"\(\d, \d\) reads x<t>, \d rows\), but its input is layer 1's state a\[1\]<t>",
    ),
    "layer1_parameters_everywhere_gru": (
        _forward_with(first_parameters=True, only=("gru",)),
        r"\[3 gru layers\] raised .*Layer 2 was given layer 1's parameters \(their Wu",
    ),
    "states_written_into_a0": (
        _forward_with(into_a0=True),
        r"changed its argument a0 in place; a0 holds the caller's initial states",
    ),
    "one_array_for_all_layers": (
        _forward_with(one_array=True),
        r"\[np.zeros\(\.\.\.\)\] \* L is a list of L names for ONE array",
    ),
}


@pytest.mark.parametrize("item", ISSUE_FORWARD_BANK)
def test_issue22_forward_bugs_named(item):
    func, match = ISSUE_FORWARD_BANK[item]
    for seed in SEEDS:
        with pytest.raises(AssertionError, match=match) as failure:
            ex.check_deep_rnn_forward(func, seed=seed)
        text = str(failure.value)
        # the old texts: the bare library error blaming the weights, and optimiser advice
        assert not re.search(RAW_WEIGHT_ERROR, text)
        assert "W - lr * dW" not in text
        assert text.startswith("deep_rnn_forward(") or text.startswith("a from deep_rnn_forward(")


def test_forward_switches_are_off_by_default():
    """The helper's switches are the only difference: with none on, it passes."""
    for seed in SEEDS:
        ex.check_deep_rnn_forward(_forward_with(), seed=seed)
        ex.check_deep_rnn_forward(_forward_with(feed_x=True, only=()), seed=seed)


def test_forward_swapped_step_arguments_and_wrong_a_prev():
    """Shapes that cannot tell the bug apart say so; a wrong a_prev is named as such (not as
    the Wya of step_forward's hidden output layer)."""

    def swapped(x, a0, parameters, cell):
        a_prev = [a0[name] for name in _names(parameters)]
        for t in range(x.shape[2]):
            below = x[:, :, t]
            for l, name in enumerate(_names(parameters)):
                a_prev[l], _ = step_forward(cell, a_prev[l], below, parameters[name])
                below = a_prev[l]
        return a_prev, None

    with pytest.raises(AssertionError, match=r"\[2 rnn layers\] raised ValueError") as failure:
        ex.check_deep_rnn_forward(swapped)
    assert "are xt and a_prev swapped in step_forward(cell, xt, a_prev, parameters)?" in str(
        failure.value
    )

    def x_as_a_prev(x, a0, parameters, cell):
        return step_forward(cell, x[:, :, 0], x[:, :, 0], parameters["layer1"])

    with pytest.raises(
        AssertionError,
        match=r"This layer's state has 4 rows, but the a_prev it was given has 3: a_prev must "
        r"be the layer's own previous state",
    ):
        ex.check_deep_rnn_forward(x_as_a_prev)


def test_any_other_error_names_its_case_and_a_stub_still_raises():
    def crashes(x, a0, parameters, cell):
        return {}["layer0"] if cell == "gru" else deep_rnn_forward(x, a0, parameters, cell)

    def broken(x, a0, parameters, cell):
        if cell == "gru":
            raise RuntimeError("my own bug")
        return deep_rnn_forward(x, a0, parameters, cell)

    with pytest.raises(AssertionError, match=r"\[3 gru layers\] raised KeyError"):
        ex.check_deep_rnn_forward(crashes)
    with pytest.raises(
        AssertionError, match=r"\[3 gru layers\] raised RuntimeError in broken, at .*my own bug"
    ):
        ex.check_deep_rnn_forward(broken)

    def stub(x, a0, parameters, cell):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        ex.check_deep_rnn_forward(stub)


def _backward_loop(order="top_down", from_above="dxt", future="own", grads_list="one_each"):
    """deep_rnn_backward written as students do, with one bug switched."""

    def backward(da, caches):
        cell_caches, x = caches
        L, T_x = len(cell_caches), x.shape[2]
        grads = [{}] * L if grads_list == "shared" else [{} for _ in range(L)]
        from_future, last, dxt = [0.0] * L, 0.0, [0.0] * L
        dx = np.zeros(x.shape)
        times = range(T_x) if order == "left_to_right" else reversed(range(T_x))
        for t in times:
            layers = range(L) if order == "bottom_up" else reversed(range(L))
            for l in layers:
                above = da[:, :, t] if l == L - 1 else (dxt[l + 1] if from_above == "dxt" else 0)
                later = last if future == "shared" else from_future[l]
                g = step_backward(above + later, cell_caches[l][t])
                from_future[l] = last = g.pop("da_prev")
                dxt[l] = g.pop("dxt")
                for key, value in g.items():
                    grads[l][key] = grads[l].get(key, 0) + value
            dx[:, :, t] = dxt[0]
        out = {f"layer{l + 1}": {**grads[l], "da0": from_future[l]} for l in range(L)}
        out["dx"] = dx
        return out

    return backward


ISSUE_BACKWARD_BANK = {
    "nothing_from_above": (
        _backward_loop(from_above="nothing"),
        r"\[2 rnn layers\] raised ValueError .*got \(\)\. A plain number, not an \(n_a, m\) "
        r"array, reached step_backward as da_next: the gradient from above is missing",
    ),
    "layers_bottom_to_top": (
        _backward_loop(order="bottom_up"),
        r"\[2 rnn layers\] raised ValueError .*Scan the layers top to bottom at every step",
    ),
    "scan_left_to_right": (
        _backward_loop(order="left_to_right"),
        re.escape(scan_left_to_right(loop="for t in reversed(range(T_x))")),
    ),
    "one_future_gradient_for_all_layers": (
        _backward_loop(future="shared"),
        r"each layer has its own gradient from the future: keep one da_prev per layer",
    ),
    "one_grads_dict_for_all_layers": (
        _backward_loop(grads_list="shared"),
        r"\[2 rnn layers\] raised ValueError .*gradients of different layers, added together: "
        r"is the list of gradient dicts \(or arrays\) built as \[\{\}\] \* L\?",
    ),
}


def test_backward_loop_without_bugs_passes():
    for seed in SEEDS:
        ex.check_deep_rnn_backward(_backward_loop(), seed=seed)


@pytest.mark.parametrize("item", ISSUE_BACKWARD_BANK)
def test_issue22_backward_bugs_named(item):
    func, match = ISSUE_BACKWARD_BANK[item]
    for seed in SEEDS:
        with pytest.raises(AssertionError, match=match) as failure:
            ex.check_deep_rnn_backward(func, seed=seed)
        text = str(failure.value)
        assert not text.startswith("da_next must have shape")
        assert "Is a sum, max or mask on the wrong axis" not in text


def _head_softmax_over(axis):
    def head(a, h):
        z1 = np.einsum("ha,amt->hmt", h["W1"], a[-1]) + h["b1"][:, :, None]
        hidden = np.maximum(z1, 0)
        z2 = np.einsum("yh,hmt->ymt", h["W2"], hidden) + h["b2"][:, :, None]
        e = np.exp(z2 - z2.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True), (a[-1], hidden, h)

    return head


def test_head_softmax_axis_gets_the_shared_hint():
    ex.check_deep_head_forward(_head_softmax_over(0))
    for axis in (1, 2, -1):
        _fails(ex.check_deep_head_forward, _head_softmax_over(axis), re.escape(SOFTMAX_AXIS))

    def no_softmax(a, h):
        y, cache = deep_head_forward(a, h)
        return np.log(y), cache

    _fails(ex.check_deep_head_forward, no_softmax, re.escape(columns_sum_to_one("y_hat[:, i, t]")))


def test_shared_hints_are_the_same_words_in_every_notebook():
    """02, 07 and 09 give the same bug the same words (from utils.exercises.hints)."""
    from utils.exercises import rnn_forward

    hints_02 = [m.hint for m in rnn_forward.RNN_CELL_FORWARD.mistakes]
    assert SOFTMAX_AXIS in hints_02
    hints_09 = [m.hint for m in ex.DEEP_HEAD_FORWARD.mistakes]
    assert SOFTMAX_AXIS in hints_09
    scan = [m.hint for m in ex._BACKWARD_MISTAKES if "left to right" in str(m.hint)]
    assert scan
    assert scan[0].startswith(SCAN_LEFT_TO_RIGHT.split(",")[0])


def test_layer_message_needs_only_plain_data():
    """In the grader the student's error comes back rebuilt from plain data (type, text and
    student_trace): the layer message is the same."""
    bug = _forward_with(feed_x=True)

    class Remote:
        def __call__(self, *args, **kwargs):
            raise AssertionError("the runner calls a remote function through __remote_call__")

        def __remote_call__(self, args, kwargs, forbidden=()):
            try:
                return bug(*args, **kwargs)
            except ValueError as error:
                rebuilt = ValueError(str(error))
                rebuilt.student_trace = [("deep_rnn_forward", "a, c = step_forward(...)")]
                rebuilt.student_locals = {}
                raise rebuilt from None

    with pytest.raises(
        AssertionError,
        match=r"\[2 rnn layers\] raised ValueError in deep_rnn_forward, at `a, c = "
        r"step_forward\(\.\.\.\)`: Wax must .*Layer 2 read an input with 3 rows — x<t>; it must "
        r"read layer 1's state a\[1\]<t>, 4 rows",
    ):
        ex.check_deep_rnn_forward(Remote())
