"""The checks behind assignment 03 pass correct implementations written in different styles and
reject a bank of known-wrong ones, each with a message that names the problem."""

import numpy as np
import pytest
from rejects import rejecting

from utils import losses, rnn
from utils.exercises import bptt as ex

SEEDS = [0, 2024]


_fails = rejecting(SEEDS)

# --- sequence_loss ---------------------------------------------------------------------------


def loss_vectorised(y_hat, y, mask=None):
    p = np.take_along_axis(y_hat, y[None], axis=0)[0]
    w = 1.0 if mask is None else mask
    return float((-np.log(p) * w).sum() / y.shape[0])


def loss_loops(y_hat, y, mask=None):
    total = 0.0
    for i in range(y.shape[0]):
        for t in range(y.shape[1]):
            if mask is None or mask[i, t]:
                total -= np.log(y_hat[y[i, t], i, t])
    return total / y.shape[0]


def test_sequence_loss_accepts_correct_variants():
    for variant in (loss_vectorised, loss_loops):
        for seed in SEEDS:
            ex.check_sequence_loss(variant, seed=seed)


def _picked(y_hat, y):
    return -np.log(np.take_along_axis(y_hat, y[None], axis=0)[0])


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (
            lambda y_hat, y, mask=None: _picked(y_hat, y).sum() / y.shape[0],
            "multiply each L<t> by the mask",
        ),
        (
            lambda y_hat, y, mask=None: loss_vectorised(y_hat, y, mask) / y.shape[1],
            "do not average over the time steps",
        ),
        (lambda y_hat, y, mask=None: loss_vectorised(y_hat, y, mask) * y.shape[0], "divide by m"),
        (lambda y_hat, y, mask=None: -loss_vectorised(y_hat, y, mask), "the sign is wrong"),
        (
            lambda y_hat, y, mask=None: float(
                -(np.log(y_hat).sum(0) * (1.0 if mask is None else mask)).sum() / y.shape[0]
            ),
            "true class only",
        ),
        (
            lambda y_hat, y, mask=None: float(
                (_picked(y_hat, y) * (1.0 if mask is None else mask)).sum()
                / (y.size if mask is None else np.sum(mask))
            ),
            "or the real tokens",
        ),
        (lambda y_hat, y, mask=None: None, "should be a float, got NoneType"),
        (lambda y_hat, y, mask=None: losses.cross_entropy(y_hat, y, mask), "calls the reference"),
    ],
    ids=[
        "mask-ignored",
        "mean-over-time",
        "no-batch-average",
        "sign",
        "all-classes",
        "per-token",
        "returns-None",
        "reference",
    ],
)
def test_sequence_loss_rejects(wrong, match):
    _fails(ex.check_sequence_loss, wrong, match)


# --- rnn_cell_backward -----------------------------------------------------------------------


def cell_backward(da_next, cache, derivative="output", mutate=False):
    a_next, a_prev, xt, p, activation = cache
    if mutate:
        da_next *= 1 - a_next**2  # modifies the caller's array
        dz = da_next
    elif activation == "relu":
        dz = da_next * (a_next > 0)
    elif derivative == "output":
        dz = da_next * (1 - a_next**2)
    else:
        dz = da_next * (1 - np.tanh(a_next) ** 2)  # as if a_next were the pre-activation
    return {
        "dxt": np.dot(p["Wax"].T, dz),
        "da_prev": np.dot(p["Waa"].T, dz),
        "dWax": np.dot(dz, xt.T),
        "dWaa": np.dot(dz, a_prev.T),
        "dba": np.sum(dz, axis=1, keepdims=True),
    }


def cell_backward_loops(da_next, cache):
    """Example by example, outer products accumulated."""
    a_next, a_prev, xt, p, activation = cache
    g = {"dWax": 0.0, "dWaa": 0.0, "dba": 0.0}
    dxt, da_prev = np.zeros(xt.shape), np.zeros(a_prev.shape)
    for i in range(xt.shape[1]):
        d = da_next[:, i] * (
            (1 - a_next[:, i] ** 2) if activation == "tanh" else (a_next[:, i] > 0)
        )
        g["dWax"] = g["dWax"] + np.outer(d, xt[:, i])
        g["dWaa"] = g["dWaa"] + np.outer(d, a_prev[:, i])
        g["dba"] = g["dba"] + d[:, None]
        dxt[:, i], da_prev[:, i] = p["Wax"].T @ d, p["Waa"].T @ d
    return {"dxt": dxt, "da_prev": da_prev, **g}


def test_cell_backward_accepts_correct_variants():
    for variant in (cell_backward, cell_backward_loops):
        for seed in SEEDS:
            ex.check_rnn_cell_backward(variant, seed=seed)


def _cell_with(**changes):
    def wrong(da_next, cache):
        g = cell_backward(da_next, cache)
        a_next, _, xt, p, activation = cache
        dz = da_next * ((1 - a_next**2) if activation == "tanh" else (a_next > 0))
        options = {
            "no-derivative": {"dWax": da_next @ xt.T},
            "dWaa-a_next": {"dWaa": dz @ a_next.T},
            "da_prev-no-transpose": {"da_prev": p["Waa"] @ dz},
            "dba-mean": {"dba": dz.mean(axis=1, keepdims=True)},
            "dba-no-keepdims": {"dba": dz.sum(axis=1)},
            "dba-not-summed": {"dba": dz},
            "always-tanh": {"dWax": (da_next * (1 - a_next**2)) @ xt.T},
        }
        g.update(options[changes["kind"]])
        return g

    return wrong


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (
            lambda da, c: cell_backward(da, c, derivative="pre-activation"),
            "derivative at the pre-activation",
        ),
        (lambda da, c: cell_backward(da, c, mutate=True), "changed its argument da_next in place"),
        (_cell_with(kind="no-derivative"), "backpropagate through the activation"),
        (_cell_with(kind="dWaa-a_next"), "multiplies a_prev, not a_next"),
        (_cell_with(kind="da_prev-no-transpose"), r"transpose Waa"),
        (_cell_with(kind="dba-mean"), "does not average"),
        (_cell_with(kind="dba-no-keepdims"), r"keepdims=True"),
        (_cell_with(kind="dba-not-summed"), "sums dz over the batch: dz.sum"),
        (_cell_with(kind="always-tanh"), "activation='relu'"),
        (lambda da, c: rnn.rnn_cell_backward(da, c), "calls the reference"),
    ],
    ids=[
        "tanh-of-output",
        "mutates-da_next",
        "no-derivative",
        "dWaa-from-a_next",
        "da_prev-no-transpose",
        "dba-mean",
        "dba-no-keepdims",
        "dba-not-summed",
        "relu-ignored",
        "reference",
    ],
)
def test_cell_backward_rejects(wrong, match):
    _fails(ex.check_rnn_cell_backward, wrong, match)


def test_cell_backward_rejects_an_error_no_hint_names():
    """A wrong dxt that no hint describes still fails, naming dxt."""

    def wrong(da, cache):
        g = cell_backward(da, cache)
        g["dxt"] = g["dxt"] * 1.01
        return g

    _fails(ex.check_rnn_cell_backward, wrong, "dxt from rnn_cell_backward")


# --- bptt ------------------------------------------------------------------------------------


def sequence_backward(dz, caches, accumulate=True, carry=True, reverse=True, mutate=False):
    cell_caches, x = caches
    p = cell_caches[0][3]
    T_x = x.shape[2]
    g = {k: np.zeros(p[k[1:]].shape) for k in ("dWaa", "dWax", "dba", "dWya", "dby")}
    dx, da_next = np.zeros(x.shape), np.zeros(cell_caches[0][1].shape)
    for t in reversed(range(T_x)) if reverse else range(T_x):
        a_t = cell_caches[t][0]
        if mutate:
            dz[:, :, t] *= 1.0
            dz[:, :, t] += 0.0 * dz[:, :, t] + 1e-3
        step = {"dWya": dz[:, :, t] @ a_t.T, "dby": dz[:, :, t].sum(1, keepdims=True)}
        cell = cell_backward(p["Wya"].T @ dz[:, :, t] + (da_next if carry else 0), cell_caches[t])
        step.update({k: cell[k] for k in ("dWaa", "dWax", "dba")})
        for k, v in step.items():
            g[k] = g[k] + v if accumulate else v
        dx[:, :, t], da_next = cell["dxt"], cell["da_prev"]
    return {**g, "dx": dx, "da0": da_next}


def sequence_backward_vectorised(dz, caches):
    """Only the recurrence is looped; the output layer's gradients use einsum over all steps."""
    cell_caches, x = caches
    p = cell_caches[0][3]
    a = np.stack([c[0] for c in cell_caches], axis=2)
    da_out = np.einsum("ya,ymt->amt", p["Wya"], dz)
    grads = {"dWya": np.einsum("ymt,amt->ya", dz, a), "dby": dz.sum(axis=(1, 2))[:, None]}
    total = {"dWaa": 0, "dWax": 0, "dba": 0}
    dx, da_next = np.zeros(x.shape), 0
    for t in range(x.shape[2] - 1, -1, -1):
        step = cell_backward_loops(da_out[:, :, t] + da_next, cell_caches[t])
        total = {k: total[k] + step[k] for k in total}
        dx[:, :, t], da_next = step["dxt"], step["da_prev"]
    return {**grads, **total, "dx": dx, "da0": da_next}


def test_bptt_accepts_correct_variants():
    for variant in (sequence_backward, sequence_backward_vectorised):
        for seed in SEEDS:
            ex.check_bptt(variant, seed=seed)


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (
            lambda dz, c: sequence_backward(dz, c, accumulate=False),
            r"accumulate the gradients over time \(\+=\)",
        ),
        (lambda dz, c: sequence_backward(dz, c, carry=False), "missing the term from step t\\+1"),
        (lambda dz, c: sequence_backward(dz, c, reverse=False), "right to left"),
        (lambda dz, c: sequence_backward(dz, c, mutate=True), "changed its argument dz in place"),
        (
            lambda dz, c: {k: v for k, v in sequence_backward(dz, c).items() if k != "dWya"},
            "missing \\['dWya'\\]",
        ),
        (lambda dz, c: {**sequence_backward(dz, c), "da0": np.zeros_like(c[0][0][1])}, "not zeros"),
        (
            lambda dz, c: {
                **sequence_backward(dz, c),
                "dWya": sum(dz[:, :, t] @ c[0][t][1].T for t in range(dz.shape[2])),
            },
            r"not a<t-1>",
        ),
    ],
    ids=[
        "overwritten",
        "no-next-step-term",
        "left-to-right",
        "mutates-dz",
        "no-output-layer",
        "da0-zero",
        "dWya-from-a_prev",
    ],
)
def test_bptt_rejects(wrong, match):
    _fails(ex.check_bptt, wrong, match)


def test_bptt_rejects_calling_the_reference():
    def wrong(dz, caches):
        g = sequence_backward(dz, caches)
        rnn.rnn_cell_backward(np.zeros_like(caches[0][0][0]), caches[0][0])
        return g

    _fails(ex.check_bptt, wrong, "calls the reference implementation")


# --- loss_and_gradients, train_step, truncated_bptt ------------------------------------------


def loss_and_gradients(x, y, mask, a0, p, scale=True, use_mask=True, sign=1.0, loss_none=False):
    _, y_hat, caches = rnn.rnn_forward(x, a0, p)
    m = x.shape[1]
    Y = np.eye(y_hat.shape[0])[y].transpose(2, 0, 1)
    dz = sign * (y_hat - Y) * (mask[None] if use_mask else 1.0) / (m if scale else 1)
    J = loss_vectorised(y_hat, y, mask)
    return (None if loss_none else J), sequence_backward(dz, caches)


def test_loss_and_gradients_accepts_the_correct_version():
    for seed in SEEDS:
        ex.check_loss_and_gradients(loss_and_gradients, seed=seed)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"use_mask": False}, "padded steps must not contribute"),
        ({"scale": False}, "divided by m"),
        ({"sign": -1.0}, "the sign"),
        ({"loss_none": True}, "should be a float, got NoneType"),
    ],
    ids=["mask-ignored", "no-batch-average", "sign", "loss-None"],
)
def test_loss_and_gradients_rejects(kwargs, match):
    _fails(ex.check_loss_and_gradients, lambda *a: loss_and_gradients(*a, **kwargs), match)


def train_step(x, y, mask, a0, p, lr, sign=-1.0, skip=(), in_place=False):
    loss, g = loss_and_gradients(x, y, mask, a0, p)
    if in_place:
        for k in ("Waa", "Wax", "ba", "Wya", "by"):
            p[k] -= lr * g["d" + k]
        return loss, p
    return loss, {
        k: p[k] + (0 if k in skip else sign * lr * g["d" + k])
        for k in ("Waa", "Wax", "ba", "Wya", "by")
    }


def test_train_step_accepts_the_correct_version():
    for seed in SEEDS:
        ex.check_train_step(train_step, seed=seed)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sign": 1.0}, "moves against the gradient"),
        ({"skip": ("Wya", "by")}, r"new_parameters\['Wya'\] .*this parameter was not updated"),
        ({"in_place": True}, "changed its argument parameters in place"),
    ],
    ids=["ascent", "output-layer-frozen", "in-place"],
)
def test_train_step_rejects(kwargs, match):
    _fails(ex.check_train_step, lambda *a: train_step(*a, **kwargs), match)


def truncated(x, y, mask, a0, p, k, carry=True, stop=True, accumulate=True, transpose_a=False):
    names = ("dWaa", "dWax", "dba", "dWya", "dby")
    total, grads, a_carry = 0.0, {n: 0.0 for n in names}, a0
    for start in range(0, x.shape[2], k):
        part = slice(start, start + k)
        loss, g = loss_and_gradients(
            x[:, :, part], y[:, part], mask[:, part], a_carry if carry else a0, p
        )
        total += loss
        grads = {n: (grads[n] if accumulate else 0.0) + g[n] for n in names}
        a_carry = rnn.rnn_forward(x[:, :, part], a_carry if carry else a0, p)[0][:, :, -1]
    if not stop:
        grads = {n: v for n, v in loss_and_gradients(x, y, mask, a0, p)[1].items() if n in names}
    return total, grads, a_carry.T if transpose_a else a_carry


def test_truncated_bptt_accepts_the_correct_version():
    for seed in SEEDS:
        ex.check_truncated_bptt(truncated, seed=seed)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"carry": False}, "carry the hidden state across chunks"),
        ({"stop": False}, "flowed past the truncation boundary"),
        ({"accumulate": False}, "add up the losses and the gradients of every chunk"),
        ({"transpose_a": True}, r"a_last .* has shape \(\d+, \d+\), expected \(n_a, m\)"),
    ],
    ids=["state-reset", "gradient-not-stopped", "last-chunk-only", "a_last-transposed"],
)
def test_truncated_bptt_rejects(kwargs, match):
    _fails(ex.check_truncated_bptt, lambda *a: truncated(*a, **kwargs), match)


def test_truncation_carries_the_state_and_stops_the_gradient():
    """The property the notebook demonstrates, on the library: chunked states equal the full
    forward's, and a loss on the last chunk sends no gradient into earlier chunks' inputs."""
    rng = np.random.default_rng(3)
    p = ex.random_parameters(rng, 3, 5, 4)
    x, a0, k = rng.standard_normal((3, 2, 9)), np.zeros((5, 2)), 3
    a_full, cache = rnn.rnn_layer_forward(x, a0, p)
    da = np.zeros_like(a_full)
    da[:, :, -1] = 1.0
    assert np.all(np.abs(rnn.rnn_backward(da, cache)["dx"][:, :, :6]).sum(axis=(0, 1)) > 0)
    a_carry, states = a0, []
    for start in range(0, 9, k):
        a_chunk, chunk_cache = rnn.rnn_layer_forward(x[:, :, start : start + k], a_carry, p)
        states.append(a_chunk)
        a_carry = a_chunk[:, :, -1]
    np.testing.assert_allclose(np.concatenate(states, axis=2), a_full, rtol=1e-12)
    # Only the last chunk's inputs take part in its backward pass; dx has no earlier steps.
    assert rnn.rnn_backward(da[:, :, -k:], chunk_cache)["dx"].shape[2] == k


# --- the gradient checks are asserted --------------------------------------------------------


def _wrong_in_last_call(check, correct, spoil, seed):
    """``correct``, except that its last call during ``check(..., seed)`` returns a spoiled
    result: the last call is the gradient check's, after every value case has passed."""
    calls = []

    def counting(*args):
        calls.append(None)
        return correct(*args)

    check(counting, seed=seed)
    n_calls, calls[:] = len(calls), []

    def wrong(*args):
        calls.append(None)
        result = correct(*args)
        return spoil(result) if len(calls) == n_calls else result

    return wrong


def _scale_dWaa(grads):
    return {**grads, "dWaa": grads["dWaa"] * 1.01}


@pytest.mark.parametrize(
    ("check", "correct", "spoil", "name"),
    [
        (ex.check_rnn_cell_backward, cell_backward, _scale_dWaa, "rnn_cell_backward"),
        (ex.check_bptt, sequence_backward, _scale_dWaa, "bptt"),
        (
            ex.check_loss_and_gradients,
            loss_and_gradients,
            lambda result: (result[0], _scale_dWaa(result[1])),
            "loss_and_gradients",
        ),
    ],
    ids=["rnn_cell_backward", "bptt", "loss_and_gradients"],
)
def test_gradient_check_is_asserted(check, correct, spoil, name):
    for seed in SEEDS:
        wrong = _wrong_in_last_call(check, correct, spoil, seed)
        with pytest.raises(AssertionError, match=f"gradient check of {name}.*failed"):
            check(wrong, seed=seed)


# --- hints for silent mistakes and for errors, fitted to each exercise -----------------------


def test_loss_and_gradients_names_a_one_hot_built_by_reshape():
    def wrong(x, y, mask, a0, p):
        _, y_hat, caches = rnn.rnn_forward(x, a0, p)
        n_y, m, T = y_hat.shape
        Y = np.eye(n_y)[y].reshape(n_y, m, T)  # the right entries in the wrong places
        return loss_vectorised(y_hat, y, mask), sequence_backward((y_hat - Y) * mask / m, caches)

    _fails(ex.check_loss_and_gradients, wrong, r"reshape\(n_y, m, T\).*\.transpose\(2, 0, 1\)")


@pytest.mark.parametrize(
    "dby",
    [
        lambda dz: dz.sum(axis=1, keepdims=True),  # (n_y, 1, T_x)
        lambda dz: dz.sum(axis=1),  # (n_y, T_x)
    ],
    ids=["keepdims", "no-keepdims"],
)
def test_bptt_names_dby_not_summed_over_time(dby):
    def wrong(dz, caches):
        return {**sequence_backward(dz, caches), "dby": dby(dz)}

    _fails(ex.check_bptt, wrong, r"dby.* has shape .*summed over the batch but not over time")


def _da0_from(kind):
    def wrong(dz, caches):
        cell_caches, x = caches
        grads = sequence_backward(dz, caches)
        Wya = cell_caches[0][3]["Wya"]
        T_x = dz.shape[2]
        later = sequence_backward(dz[:, :, 1:], (cell_caches[1:], x[:, :, 1:])) if T_x > 1 else None
        if kind == "gradient-at-a1":  # da_t of step 0, before its cell backward
            grads["da0"] = Wya.T @ dz[:, :, 0] + (later["da0"] if later else 0)
        elif kind == "first-processed":  # da_prev of step T_x - 1
            last_step = ([cell_caches[-1]], x[:, :, -1:])
            grads["da0"] = sequence_backward(dz[:, :, -1:], last_step)["da0"]
        return grads

    return wrong


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("gradient-at-a1", r"da0.*wrong step: this is dJ/da<1>, what enters the first step"),
        ("first-processed", r"da0.*wrong step: this is the da_prev of the last step"),
    ],
    ids=["gradient-at-a1", "first-processed"],
)
def test_bptt_names_da0_taken_at_the_wrong_step(kind, match):
    _fails(ex.check_bptt, _da0_from(kind), match)


def test_bptt_names_a_loop_that_stops_before_the_first_step():
    def wrong(dz, caches):
        cell_caches, x = caches
        grads = sequence_backward(dz[:, :, 1:], (cell_caches[1:], x[:, :, 1:]))
        grads["dx"] = np.concatenate([np.zeros_like(x[:, :, :1]), grads["dx"]], axis=2)
        return grads

    _fails(ex.check_bptt, wrong, r"first step \(t = 0\) is never backpropagated")


def test_bptt_index_error_gets_the_backward_time_hint():
    def wrong(dz, caches):
        for t in range(dz.shape[2], 0, -1):  # off by one: starts at T_x
            dz[:, :, t].sum()
        return sequence_backward(dz, caches)

    _fails(ex.check_bptt, wrong, r"IndexError in wrong.*reversed\(range\(T_x\)\)")


def test_sequence_loss_float_mask_as_index_is_not_a_time_loop_problem():
    """The 0/1 float mask used as an index: sequence_loss has no time loop and no x."""

    def wrong(y_hat, y, mask=None):
        step_losses = -np.log(np.take_along_axis(y_hat, y[None], axis=0)[0])
        if mask is not None:
            step_losses = step_losses[mask]  # fine for bool, IndexError for 0/1 floats
        return float(step_losses.sum() / y.shape[0])

    for seed in SEEDS:
        with pytest.raises(AssertionError) as failure:
            ex.check_sequence_loss(wrong, seed=seed)
        message = str(failure.value)
        assert "0/1 float mask" in message
        assert "IndexError" in message
        assert "a 0/1 float array cannot index" in message
        assert "time loop" not in message
        assert "x[:, :, 0]" not in message


def test_sequence_loss_mask_on_the_wrong_axis_lists_the_operands_shapes():
    def wrong(y_hat, y, mask=None):
        mask = np.ones(y.shape) if mask is None else mask
        logp = np.log(y_hat) * mask.T  # the mask is (m, T): it aligns with y_hat's last two axes
        return float(-(logp * np.eye(y_hat.shape[0])[y].transpose(2, 0, 1)).sum() / y.shape[0])

    with pytest.raises(AssertionError) as failure:
        ex.check_sequence_loss(wrong)  # seed 0: n_y, m, T = 5, 3, 4
    message = str(failure.value)
    assert "cannot be combined elementwise" in message
    assert "y_hat (5, 3, 4)" in message
    assert "mask (3, 4)" in message
    assert "x[:, :, 0]" not in message
