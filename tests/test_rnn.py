"""Tests for utils.rnn: vanilla RNN cell/sequence/model forward and backward."""

import numpy as np
import pytest

from utils import rnn
from utils.gradcheck import assert_gradients_close

N_X, N_A, N_Y, M, T = 3, 5, 4, 2, 6


def make_params(rng, n_x=N_X, n_a=N_A, n_y=N_Y, dtype=np.float64):
    """Non-trivial random parameters: no zero weights, so every path is exercised."""
    p = {
        "Waa": rng.normal(size=(n_a, n_a)) * 0.6,
        "Wax": rng.normal(size=(n_a, n_x)),
        "ba": rng.normal(size=(n_a, 1)) * 0.5,
        "Wya": rng.normal(size=(n_y, n_a)),
        "by": rng.normal(size=(n_y, 1)) * 0.5,
    }
    return {k: v.astype(dtype) for k, v in p.items()}


def make_data(rng, n_x=N_X, n_a=N_A, m=M, T=T):
    return rng.normal(size=(n_x, m, T)), rng.normal(size=(n_a, m)) * 0.5


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def snapshot(*trees):
    return [{k: np.array(v, copy=True) for k, v in t.items()} for t in trees]


def assert_unchanged(trees, saved):
    for t, s in zip(trees, saved, strict=True):
        for k in s:
            np.testing.assert_array_equal(t[k], s[k], err_msg=f"{k} was mutated")


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_cell_forward_matches_equations(rng, activation):
    p = make_params(rng)
    xt, a_prev = rng.normal(size=(N_X, M)), rng.normal(size=(N_A, M))
    a_next, yt, _ = rnn.rnn_cell_forward(xt, a_prev, p, activation)
    z = p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"]
    expected = np.tanh(z) if activation == "tanh" else np.maximum(z, 0)
    np.testing.assert_allclose(a_next, expected, rtol=1e-14)
    logits = p["Wya"] @ a_next + p["by"]
    np.testing.assert_allclose(yt, np.exp(logits) / np.exp(logits).sum(0), rtol=1e-13)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_sequence_forward_equals_cell_loop(rng, activation):
    p = make_params(rng)
    x, a0 = make_data(rng)
    a, y_hat, _ = rnn.rnn_forward(x, a0, p, activation)
    a_prev = a0
    for t in range(T):
        a_prev, yt, _ = rnn.rnn_cell_forward(x[:, :, t], a_prev, p, activation)
        np.testing.assert_allclose(a[:, :, t], a_prev, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(y_hat[:, :, t], yt, rtol=1e-12)
    a_layer, _ = rnn.rnn_layer_forward(x, a0, p, activation)
    np.testing.assert_array_equal(a_layer, a)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_cell_backward_gradcheck(rng, activation):
    p = make_params(rng)
    xt, a_prev = rng.normal(size=(N_X, M)), rng.normal(size=(N_A, M))
    w = rng.normal(size=(N_A, M))  # random projection of a_next to a scalar loss
    _, _, cache = rnn.rnn_cell_forward(xt, a_prev, p, activation)
    g = rnn.rnn_cell_backward(w, cache)
    inputs = {"Waa": p["Waa"], "Wax": p["Wax"], "ba": p["ba"], "xt": xt, "a_prev": a_prev}

    def f(q):
        return np.sum(w * rnn.rnn_cell_forward(q["xt"], q["a_prev"], dict(p, **q), activation)[0])

    assert_gradients_close(f, inputs, g)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_sequence_backward_gradcheck(rng, activation):
    p = make_params(rng)
    x, a0 = make_data(rng)
    w = rng.normal(size=(N_A, M, T))
    _, cache = rnn.rnn_layer_forward(x, a0, p, activation)
    g = rnn.rnn_backward(w, cache)
    inputs = {"Waa": p["Waa"], "Wax": p["Wax"], "ba": p["ba"], "x": x, "a0": a0}

    def f(q):
        return np.sum(w * rnn.rnn_layer_forward(q["x"], q["a0"], q, activation)[0])

    assert_gradients_close(f, inputs, g)


def test_model_backward_gradcheck_with_mask(rng):
    p = make_params(rng)
    x, a0 = make_data(rng)
    y = rng.integers(0, N_Y, size=(M, T))
    mask = np.ones((M, T))
    mask[1, 3:] = 0  # second sequence is padded after 3 steps
    loss, _, cache = rnn.rnn_model_forward(x, y, a0, p, mask)
    g = rnn.rnn_model_backward(cache)
    assert loss > 0

    def f(q):
        return rnn.rnn_model_forward(q["x"], y, q["a0"], q, mask)[0]

    assert_gradients_close(f, dict(p, x=x, a0=a0), g)
    # padded inputs influence nothing
    np.testing.assert_array_equal(g["dx"][:, 1, 3:], 0.0)


def test_backward_accepts_rnn_forward_cache(rng):
    p = make_params(rng)
    x, a0 = make_data(rng)
    da = rng.normal(size=(N_A, M, T))
    _, _, cache = rnn.rnn_forward(x, a0, p)
    _, layer_cache = rnn.rnn_layer_forward(x, a0, p)
    g1, g2 = rnn.rnn_backward(da, cache), rnn.rnn_backward(da, layer_cache)
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])


def test_truncated_bptt_state_carry(rng):
    """Two chunks with the state carried equal one long run; da0 links their gradients."""
    p = make_params(rng)
    x, a0 = make_data(rng)
    da = rng.normal(size=(N_A, M, T))
    a_full, c_full = rnn.rnn_layer_forward(x, a0, p)
    g_full = rnn.rnn_backward(da, c_full)
    a1, c1 = rnn.rnn_layer_forward(x[:, :, :3], a0, p)
    a2, c2 = rnn.rnn_layer_forward(x[:, :, 3:], a1[:, :, -1], p)
    np.testing.assert_allclose(np.concatenate([a1, a2], axis=2), a_full, rtol=1e-14)
    g2 = rnn.rnn_backward(da[:, :, 3:], c2)
    da1 = da[:, :, :3].copy()
    da1[:, :, -1] += g2["da0"]  # full BPTT across the chunk boundary
    g1 = rnn.rnn_backward(da1, c1)
    for k in ("dWaa", "dWax", "dba"):
        np.testing.assert_allclose(g1[k] + g2[k], g_full[k], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g1["da0"], g_full["da0"], rtol=1e-12)


def test_nothing_is_mutated(rng):
    p = make_params(rng)
    x, a0 = make_data(rng)
    y = rng.integers(0, N_Y, size=(M, T))
    da = rng.normal(size=(N_A, M, T))
    saved = snapshot(p, {"x": x, "a0": a0, "da": da, "y": y})
    _, cache = rnn.rnn_layer_forward(x, a0, p)
    rnn.rnn_backward(da, cache)
    rnn.rnn_backward(da, cache)  # the cache is not consumed either
    _, _, mc = rnn.rnn_model_forward(x, y, a0, p)
    rnn.rnn_model_backward(mc)
    _, _, cc = rnn.rnn_cell_forward(x[:, :, 0], a0, p)
    rnn.rnn_cell_backward(da[:, :, 0], cc)
    assert_unchanged([p, {"x": x, "a0": a0, "da": da, "y": y}], saved)


@pytest.mark.parametrize(
    ("name", "bad", "pattern"),
    [
        ("Wax", np.zeros((N_X, N_A)), r"Wax must have shape \(n_a, n_x\) = \(5, 3\), got \(3, 5\)"),
        ("Waa", np.zeros((N_A, N_A + 1)), r"Waa must have shape \(n_a, n_a\)"),
        ("ba", np.zeros((N_A,)), r"ba must have shape \(n_a, 1\) = \(5, 1\)"),
        ("Wya", np.zeros((N_Y, N_A + 1)), r"Wya must have shape \(n_y, n_a\)"),
        ("by", np.zeros((N_Y + 1, 2)), r"by must have shape \(n_y, 1\)"),
    ],
)
def test_bad_parameter_shapes_raise(rng, name, bad, pattern):
    p = make_params(rng)
    p[name] = bad
    x, a0 = make_data(rng)
    with pytest.raises(ValueError, match=pattern):
        rnn.rnn_forward(x, a0, p)
    with pytest.raises(ValueError, match=pattern):
        rnn.rnn_cell_forward(x[:, :, 0], a0, p)


def test_bad_input_shapes_raise(rng):
    p = make_params(rng)
    x, a0 = make_data(rng)
    with pytest.raises(ValueError, match=r"a0 must have shape \(n_a, m\) = \(5, 2\)"):
        rnn.rnn_forward(x, a0.T, p)
    with pytest.raises(ValueError, match=r"x must be 3-D"):
        rnn.rnn_forward(x[:, :, 0], a0, p)
    with pytest.raises(ValueError, match=r"Wax must have shape \(n_a, n_x\) = \(5, 4\)"):
        rnn.rnn_forward(np.zeros((4, M, T)), a0, p)
    _, cache = rnn.rnn_layer_forward(x, a0, p)
    with pytest.raises(ValueError, match=r"da must have shape \(n_a, m, T_x\) = \(5, 2, 6\)"):
        rnn.rnn_backward(np.zeros((N_A, M, T + 1)), cache)
    with pytest.raises(ValueError, match="activation"):
        rnn.rnn_forward(x, a0, p, activation="sigmoid")


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_extreme_inputs_stay_finite(rng, activation):
    p = make_params(rng)
    x, a0 = make_data(rng)
    y = rng.integers(0, N_Y, size=(M, T))
    loss, a, cache = rnn.rnn_model_forward(
        1000 * x, y, a0, {k: 10 * v for k, v in p.items()}, activation=activation
    )
    g = rnn.rnn_model_backward(cache)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(a))
    assert all(np.all(np.isfinite(v)) for v in g.values())


def test_float32_runs_in_float32(rng):
    p = make_params(rng, dtype=np.float32)
    x, a0 = (v.astype(np.float32) for v in make_data(rng))
    a, y_hat, cache = rnn.rnn_forward(x, a0, p)
    assert a.dtype == np.float32
    assert y_hat.dtype == np.float32
    g = rnn.rnn_backward(np.ones_like(a), cache)
    assert all(v.dtype == np.float32 for v in g.values())
    a64, _, _ = rnn.rnn_forward(x.astype(np.float64), a0.astype(np.float64), p)
    np.testing.assert_allclose(a, a64, rtol=1e-4, atol=1e-5)


def test_dense_layer_gradcheck(rng):
    a = rng.normal(size=(N_A, M, T))
    W, b = rng.normal(size=(N_Y, N_A)), rng.normal(size=(N_Y, 1))
    w = rng.normal(size=(N_Y, M, T))
    z, cache = rnn.dense_forward(a, W, b)
    np.testing.assert_allclose(z[:, :, 2], W @ a[:, :, 2] + b, rtol=1e-14)
    da, dW, db = rnn.dense_backward(w, cache)

    def f(q):
        return np.sum(w * rnn.dense_forward(q["a"], q["W"], q["b"])[0])

    assert_gradients_close(f, {"a": a, "W": W, "b": b}, {"da": da, "dW": dW, "db": db})
