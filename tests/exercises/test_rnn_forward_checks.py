"""The checks behind assignment 02 pass correct implementations written in different styles
(loops, the concatenated Wa[a; x] form, np.dot, float32) and reject a bank of known-wrong
ones, each with a message that names the problem."""

import numpy as np
import pytest
from rejects import rejecting

from utils import rnn
from utils.activations import softmax
from utils.exercises import rnn_forward as ex

SEEDS = [0, 1, 2024]  # the visible seed and others with other shapes, as the hidden tests use


_fails = rejecting(SEEDS)


def _g(z, activation):
    return np.tanh(z) if activation == "tanh" else np.maximum(z, 0)


# --- rnn_cell_forward ------------------------------------------------------------------------


def cell(xt, a_prev, p, activation="tanh"):
    a_next = _g(p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"], activation)
    yt_pred = softmax(p["Wya"] @ a_next + p["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, p, activation)


def cell_concatenated(xt, a_prev, p, activation="tanh"):
    Wa = np.hstack([p["Waa"], p["Wax"]])
    z = Wa @ np.vstack([a_prev, xt]) + p["ba"]
    a_next = np.tanh(z) if activation == "tanh" else z * (z > 0)
    logits = np.dot(p["Wya"], a_next) + p["by"]
    e = np.exp(logits - logits.max(axis=0))
    return a_next, e / e.sum(axis=0), (a_next, a_prev, xt, p, activation)


def cell_looped_float32(xt, a_prev, p, activation="tanh"):
    """Column by column, computed in float32 throughout."""
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    n_a, m = a_prev.shape
    a_next = np.zeros((n_a, m), dtype=np.float32)
    y = np.zeros((p["Wya"].shape[0], m), dtype=np.float32)
    for i in range(m):
        z = p32["Waa"].dot(a_prev[:, i]) + p32["Wax"].dot(xt[:, i]) + p32["ba"][:, 0]
        a_next[:, i] = _g(z, activation)
        logits = p32["Wya"].dot(a_next[:, i]) + p32["by"][:, 0]
        y[:, i] = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    return a_next, y, (a_next, a_prev, xt, p, activation)


@pytest.mark.parametrize("variant", [cell, cell_concatenated, cell_looped_float32])
def test_cell_accepts_correct_variants(variant):
    for seed in SEEDS:
        ex.check_rnn_cell_forward(variant, seed=seed)


def _cell_wrong(a_fn=None, y_fn=None, cache_fn=None):
    def wrong(xt, a_prev, p, activation="tanh"):
        z = p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"]
        a_next = a_fn(xt, a_prev, p, activation, z) if a_fn else _g(z, activation)
        y = y_fn(a_next, a_prev, p) if y_fn else softmax(p["Wya"] @ a_next + p["by"])
        cache = (a_next, a_prev, xt, p, activation)
        return a_next, y, cache_fn(cache) if cache_fn else cache

    return wrong


def _softmax_axis1(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cell_mutates_a_prev(xt, a_prev, p, activation="tanh"):
    a_prev *= 1.0  # harmless value, but an in-place operation...
    a_prev += p["Wax"] @ xt  # ...and this one changes the caller's array
    return cell(xt, a_prev - p["Wax"] @ xt, p, activation)


def cell_transposed_wax(xt, a_prev, p, activation="tanh"):
    z = p["Waa"] @ a_prev + (xt.T @ p["Wax"]).T + p["ba"]  # needs Wax.T: shapes do not align
    return _g(z, activation), None, None


def cell_calls_reference(xt, a_prev, p, activation="tanh"):
    return rnn.rnn_cell_forward(xt, a_prev, p, activation)


CELL_WRONG = {
    "missing-ba": (_cell_wrong(a_fn=lambda x, a, p, g, z: _g(z - p["ba"], g)), "ignores ba"),
    "missing-Waa": (
        _cell_wrong(a_fn=lambda x, a, p, g, z: _g(p["Wax"] @ x + p["ba"], g)),
        "ignores the Waa a_prev term",
    ),
    "missing-Wax": (
        _cell_wrong(a_fn=lambda x, a, p, g, z: _g(p["Waa"] @ a + p["ba"], g)),
        "ignores the Wax xt term",
    ),
    "Waa-transposed": (
        _cell_wrong(a_fn=lambda x, a, p, g, z: _g(p["Waa"].T @ a + p["Wax"] @ x + p["ba"], g)),
        "Waa transposed",
    ),
    "Wax-transposed": (cell_transposed_wax, "(?i)is a weight transposed"),
    "Wya-transposed": (
        _cell_wrong(y_fn=lambda an, ap, p: softmax(p["Wya"].T @ an + p["by"])),
        "(?i)is a weight transposed",
    ),
    "always-tanh": (_cell_wrong(a_fn=lambda x, a, p, g, z: np.tanh(z)), "uses tanh but"),
    "no-activation": (_cell_wrong(a_fn=lambda x, a, p, g, z: z), "missing the activation"),
    "y-from-a_prev": (
        _cell_wrong(y_fn=lambda an, ap, p: softmax(p["Wya"] @ ap + p["by"])),
        "computed from a_prev",
    ),
    "missing-by": (_cell_wrong(y_fn=lambda an, ap, p: softmax(p["Wya"] @ an)), "ignores by"),
    "softmax-axis-1": (
        _cell_wrong(y_fn=lambda an, ap, p: _softmax_axis1(p["Wya"] @ an + p["by"])),
        "softmax over the wrong axis",
    ),
    "no-softmax": (
        _cell_wrong(y_fn=lambda an, ap, p: p["Wya"] @ an + p["by"]),
        "missing the softmax",
    ),
    "cache-without-activation": (
        _cell_wrong(cache_fn=lambda c: c[:4]),
        r"cache .*should be the tuple \(a_next, a_prev, xt, parameters, activation\)",
    ),
    "cache-a_prev-a_next-swapped": (
        _cell_wrong(cache_fn=lambda c: (c[1], c[0], *c[2:])),
        r"cache\[0\] \(a_next\) from rnn_cell_forward",
    ),
    "cache-list": (
        _cell_wrong(cache_fn=list),
        "should be the tuple",
    ),
    "mutates-a_prev": (cell_mutates_a_prev, "changed its argument a_prev in place"),
    "calls-reference": (cell_calls_reference, "calls the reference implementation"),
}


@pytest.mark.parametrize("name", list(CELL_WRONG))
def test_cell_rejects(name):
    wrong, match = CELL_WRONG[name]
    _fails(ex.check_rnn_cell_forward, wrong, match)


def test_shape_errors_list_the_real_shapes():
    """A failed product names the arguments' shapes, e.g. xt (n_x, m) = (3, 2) for seed 0."""
    shapes = r'On that line: xt \(3, 2\), a_prev \(5, 2\), p\["Waa"\] \(5, 5\), p\["Wax"\] \(5, 3\)'
    _fails(ex.check_rnn_cell_forward, cell_transposed_wax, shapes, seeds=[0])
    sizes = r"A has 3 \(= n_x\) columns and B has 5 \(= n_a\) rows"
    _fails(ex.check_rnn_cell_forward, cell_transposed_wax, sizes, seeds=[0])


# --- rnn_forward -----------------------------------------------------------------------------


def forward_with(cell_fn, a0_fn=None, loop=None, shift_x=0, store_prev=False, keep_a0=False):
    """A sequence forward built on ``cell_fn``, with optional known mistakes."""

    def forward(x, a0, p, activation="tanh"):
        _, m, T_x = x.shape
        n_a, n_y = p["Waa"].shape[0], p["Wya"].shape[0]
        a, y_hat, caches = np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x)), []
        a_prev = a0_fn(a0) if a0_fn else a0
        for t in loop(T_x) if loop else range(T_x):
            a_next, yt, cache = cell_fn(x[:, :, t - shift_x], a_prev, p, activation)
            a[:, :, t] = a_prev if store_prev else a_next
            y_hat[:, :, t] = yt
            caches.append(cache)
            if not keep_a0:
                a_prev = a_next
        return a, y_hat, (caches, x)

    return forward


def forward_vectorised_input(x, a0, p, activation="tanh"):
    """Precomputes Wax x for all steps with einsum, stores states in a list."""
    zx = np.einsum("an,nmt->amt", p["Wax"], x) + p["ba"][:, :, None]
    states, ys, caches, a_prev = [], [], [], a0
    for t in range(x.shape[2]):
        a_next = _g(p["Waa"] @ a_prev + zx[:, :, t], activation)
        ys.append(softmax(p["Wya"] @ a_next + p["by"]))
        caches.append((a_next, a_prev, x[:, :, t], p, activation))
        states.append(a_next)
        a_prev = a_next
    return np.stack(states, axis=2), np.stack(ys, axis=2), (caches, x)


@pytest.mark.parametrize(
    "variant",
    [forward_with(cell), forward_with(cell_concatenated), forward_vectorised_input],
    ids=["loop", "concatenated", "vectorised-input"],
)
def test_forward_accepts_correct_variants(variant):
    for seed in SEEDS:
        ex.check_rnn_forward(variant, seed=seed)


def forward_y_from_prev(x, a0, p, activation="tanh"):
    a, _, caches = forward_with(cell)(x, a0, p, activation)
    prev = np.concatenate([a0[:, :, None], a[:, :, :-1]], axis=2)
    return a, softmax(np.einsum("ya,amt->ymt", p["Wya"], prev) + p["by"][:, :, None]), caches


def forward_softmax_over_time(x, a0, p, activation="tanh"):
    a, _, caches = forward_with(cell)(x, a0, p, activation)
    z = np.einsum("ya,amt->ymt", p["Wya"], a) + p["by"][:, :, None]
    e = np.exp(z - z.max(axis=2, keepdims=True))
    return a, e / e.sum(axis=2, keepdims=True), caches


def forward_caches_dict(x, a0, p, activation="tanh"):
    a, y, (caches, x) = forward_with(cell)(x, a0, p, activation)
    return a, y, {"caches": caches, "x": x}


def forward_caches_without_x(x, a0, p, activation="tanh"):
    a, y, (caches, x) = forward_with(cell)(x, a0, p, activation)
    return a, y, (caches, None)


def forward_calls_reference(x, a0, p, activation="tanh"):
    a, y, _ = rnn.rnn_forward(x, a0, p, activation)
    return a, y, None


FORWARD_WRONG = {
    "a0-ignored": (forward_with(cell, a0_fn=np.zeros_like), "ignores a0"),
    "loop-one-short": (forward_with(cell, loop=lambda T: range(T - 1)), "off-by-one"),
    "loop-starts-at-1": (forward_with(cell, loop=lambda T: range(1, T)), "off-by-one"),
    "x-index-shifted": (forward_with(cell, shift_x=1), "wrong time index"),
    "stores-a_prev": (forward_with(cell, store_prev=True), r"holds a<t-1>"),
    "state-not-carried": (forward_with(cell, keep_a0=True), "a_prev is never updated"),
    "cell-missing-ba": (forward_with(CELL_WRONG["missing-ba"][0]), "ignores ba"),
    "y-from-a_prev": (forward_y_from_prev, r"computed from a<t-1>"),
    "cell-missing-by": (forward_with(CELL_WRONG["missing-by"][0]), "ignores by"),
    "softmax-over-time": (forward_softmax_over_time, "softmax over axis 0"),
    "caches-dict": (forward_caches_dict, r"should be the tuple \(cell_caches, x\)"),
    "caches-without-x": (forward_caches_without_x, r"caches\[1\] \(x\)"),
    "cell-cache-swapped": (
        forward_with(CELL_WRONG["cache-a_prev-a_next-swapped"][0]),
        r"caches\[0\]\[0\]\[0\] \(a_next\)",
    ),
    "calls-reference": (forward_calls_reference, "calls the reference implementation"),
}


@pytest.mark.parametrize("name", list(FORWARD_WRONG))
def test_forward_rejects(name):
    wrong, match = FORWARD_WRONG[name]
    _fails(ex.check_rnn_forward, wrong, match)


def test_forward_rejects_calling_the_reference_cell():
    _fails(ex.check_rnn_forward, forward_with(cell_calls_reference), "reference implementation")


def test_forward_labels_the_single_step_case_for_every_seed():
    """The case called "T_x = 1" has T_x = 1 whatever the seed (hidden seeds draw the others)."""
    skips_single_step = forward_with(cell, loop=lambda T: [] if T == 1 else range(T))
    _fails(ex.check_rnn_forward, skips_single_step, r"\[T_x = 1, T_x=1\]")


# --- types of RNNs ---------------------------------------------------------------------------


def many_to_one(x, a0, p):
    a, _, _ = forward_with(cell)(x, a0, p)
    return softmax(p["Wya"] @ a[:, :, -1] + p["by"])


def many_to_one_from_y(x, a0, p):
    return forward_vectorised_input(x, a0, p)[1][:, :, -1]


def test_many_to_one_accepts_correct_variants():
    for variant in (many_to_one, many_to_one_from_y):
        for seed in SEEDS:
            ex.check_many_to_one_forward(variant, seed=seed)


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (lambda x, a0, p: forward_with(cell)(x, a0, p)[1][:, :, 0], "not the first"),
        (lambda x, a0, p: softmax(p["Wya"] @ a0 + p["by"]), "not a0"),
        (lambda x, a0, p: many_to_one(x, 0 * a0, p), "ignores a0"),
        (
            lambda x, a0, p: softmax(p["Wya"] @ forward_with(cell)(x, a0, p)[0].mean(2) + p["by"]),
            "not the mean",
        ),
        (lambda x, a0, p: forward_with(cell)(x, a0, p)[1], "prediction of the last step only"),
    ],
    ids=["first-state", "from-a0", "a0-ignored", "mean", "all-steps"],
)
def test_many_to_one_rejects(wrong, match):
    _fails(ex.check_many_to_one_forward, wrong, match)


def one_to_many_with(feed="one_hot", carry=True, steps=lambda T: T):
    def generate(x1, a0, p, T_y):
        n_y, m = x1.shape
        y_hat, xt, a_prev = np.zeros((n_y, m, T_y)), x1, a0
        for t in range(steps(T_y)):
            a_next, yt, _ = cell(xt, a_prev, p)
            y_hat[:, :, t] = yt
            a_prev = a_next if carry else a0
            if feed == "one_hot":
                xt = (yt == yt.max(axis=0)).astype(float)
            elif feed == "probabilities":
                xt = yt
        return y_hat

    return generate


def one_to_many_eye(x1, a0, p, T_y):
    """argmax + np.eye, outputs stacked from a list."""
    outputs, xt, a = [], x1, a0
    for _ in range(T_y):
        a, yt, _ = cell_concatenated(xt, a, p)
        outputs.append(yt)
        xt = np.eye(x1.shape[0])[:, np.argmax(yt, axis=0)]
    return np.stack(outputs, axis=-1)


def test_one_to_many_accepts_correct_variants():
    for variant in (one_to_many_with(), one_to_many_eye):
        for seed in SEEDS:
            ex.check_one_to_many_forward(variant, seed=seed)


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (one_to_many_with(feed="probabilities"), "not the probabilities"),
        (one_to_many_with(feed="x1"), "not x1 again"),
        (one_to_many_with(carry=False), "carry the hidden state"),
        (one_to_many_with(steps=lambda T: T - 1), "y_hat from one_to_many_forward"),
    ],
    ids=["feeds-probabilities", "feeds-x1", "state-not-carried", "one-step-short"],
)
def test_one_to_many_rejects(wrong, match):
    _fails(ex.check_one_to_many_forward, wrong, match)


def encoder_decoder_with(start=lambda a, a0: a[:, :, -1], generate=one_to_many_eye):
    def encoder_decoder(x, a0, encoder, decoder, T_y):
        a, _, _ = forward_with(cell)(x, a0, encoder)
        n_y, m = decoder["Wya"].shape[0], x.shape[1]
        return generate(np.zeros((n_y, m)), start(a, a0), decoder, T_y)

    return encoder_decoder


def test_encoder_decoder_accepts_correct_variant():
    for seed in SEEDS:
        ex.check_encoder_decoder_forward(encoder_decoder_with(), seed=seed)


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (encoder_decoder_with(start=lambda a, a0: a0), "last state a<T_x>, not a0"),
        (encoder_decoder_with(start=lambda a, a0: a[:, :, 0]), r"not a<1>"),
        (
            encoder_decoder_with(generate=one_to_many_with(feed="probabilities")),
            "the decoder: feed back the one-hot",
        ),
    ],
    ids=["starts-from-a0", "starts-from-first-state", "feeds-probabilities"],
)
def test_encoder_decoder_rejects(wrong, match):
    _fails(ex.check_encoder_decoder_forward, wrong, match)


# --- messages that used to mislead -----------------------------------------------------------


def cell_max_as_relu(xt, a_prev, p, activation="tanh"):
    z = p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"]
    a_next = np.max(z, 0)  # meant np.maximum(z, 0): a 1-D result
    yt_pred = softmax(p["Wya"] @ a_next + p["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, p, activation)


def cell_in_place_on_bias(xt, a_prev, p, activation="tanh"):
    z = p["ba"]
    z += p["Waa"] @ a_prev + p["Wax"] @ xt
    return cell(xt, a_prev, p, activation)


def test_a_reduced_result_names_the_line_result_not_a_weight():
    with pytest.raises(AssertionError) as info:
        ex.check_rnn_cell_forward(cell_max_as_relu)
    text = str(info.value)
    assert "a_next has shape (2,), expected (n_a, m) = (5, 2)" in text
    assert "weight transposed" not in text


def test_in_place_on_the_bias_is_explained_as_such():
    with pytest.raises(AssertionError) as info:
        ex.check_rnn_cell_forward(cell_in_place_on_bias)
    text = str(info.value)
    assert "in-place operation" in text
    assert "smaller than the result (5, 2)" in text
    assert "weight transposed" not in text


def decoder_with_encoder_parameters(x, a0, encoder, decoder, T_y):
    a = a0
    for t in range(x.shape[2]):
        a = cell(x[:, :, t], a, encoder)[0]
    y_prev = np.zeros((decoder["Wya"].shape[0], x.shape[1]))
    out = []
    for _ in range(T_y):
        a, y_prev, _ = cell(y_prev, a, encoder)  # should be decoder
        out.append(y_prev)
    return np.stack(out, axis=2)


def test_decoder_run_with_the_encoder_parameters_names_the_clash():
    with pytest.raises(AssertionError) as info:
        ex.check_encoder_decoder_forward(decoder_with_encoder_parameters)
    text = str(info.value)
    assert "B has 4 (= n_y) rows" in text
    assert '(p["Wax"] (5, 3) @ xt (4, 2))' in text
    assert "wrong parameter dict" in text
    assert "called from decoder_with_encoder_parameters" in text


def forward_drops_activation(x, a0, p, activation="tanh"):
    return forward_with(cell)(x, a0, p)


def test_activation_not_passed_on_is_named():
    _fails(ex.check_rnn_forward, forward_drops_activation, "does not pass activation on")


def many_to_one_without_softmax(x, a0, p):
    a = forward_with(cell)(x, a0, p)[0]
    return p["Wya"] @ a[:, :, -1] + p["by"]


def test_missing_softmax_in_many_to_one_is_named():
    _fails(ex.check_many_to_one_forward, many_to_one_without_softmax, "the softmax is missing")
