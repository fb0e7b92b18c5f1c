"""Tests for utils.rnn (reference) and utils.kernels.rnn: vanilla RNN cell, sequence, model."""

import numpy as np
import pytest

from utils import rnn
from utils.gradcheck import assert_gradients_close
from utils.kernels import rnn as kernels

N_X, N_A, N_Y, M, T = 3, 5, 4, 2, 6


@pytest.fixture
def make_params(rnn_params):
    def make(rng, dtype=np.float64):
        return rnn_params(rng, N_X, N_A, N_Y, dtype)

    return make


def make_data(rng, n_x=N_X, n_a=N_A, m=M, T=T):
    return rng.normal(size=(n_x, m, T)), rng.normal(size=(n_a, m)) * 0.5


# Sequence-level behaviour holds for the reference and for the kernel alike.
IMPLEMENTATIONS = pytest.mark.parametrize("impl", [rnn, kernels], ids=["reference", "kernel"])


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_cell_forward_matches_equations(rng, make_params, activation):
    p = make_params(rng)
    xt, a_prev = rng.normal(size=(N_X, M)), rng.normal(size=(N_A, M))
    a_next, yt, _ = rnn.rnn_cell_forward(xt, a_prev, p, activation)
    z = p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"]
    expected = np.tanh(z) if activation == "tanh" else np.maximum(z, 0)
    np.testing.assert_allclose(a_next, expected, rtol=1e-14)
    logits = p["Wya"] @ a_next + p["by"]
    np.testing.assert_allclose(yt, np.exp(logits) / np.exp(logits).sum(0), rtol=1e-13)


@IMPLEMENTATIONS
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_sequence_forward_equals_cell_loop(rng, make_params, impl, activation):
    p = make_params(rng)
    x, a0 = make_data(rng)
    a, y_hat, _ = impl.rnn_forward(x, a0, p, activation)
    a_prev = a0
    for t in range(T):
        a_prev, yt, _ = rnn.rnn_cell_forward(x[:, :, t], a_prev, p, activation)
        np.testing.assert_allclose(a[:, :, t], a_prev, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(y_hat[:, :, t], yt, rtol=1e-12)
    a_layer, _ = impl.rnn_layer_forward(x, a0, p, activation)
    np.testing.assert_array_equal(a_layer, a)


def test_reference_caches_are_the_cells(rng, make_params):
    """caches = (cell_caches, x): step t's cache is what rnn_cell_forward returns at step t."""
    p = make_params(rng)
    x, a0 = make_data(rng)
    _, _, (cell_caches, x_cached) = rnn.rnn_forward(x, a0, p, "relu")
    assert x_cached is x
    assert len(cell_caches) == T
    a_prev = a0
    for t, cache in enumerate(cell_caches):
        a_next, _, want = rnn.rnn_cell_forward(x[:, :, t], a_prev, p, "relu")
        assert isinstance(cache, rnn.RNNCache)
        assert cache.parameters is p  # by reference, not copied
        assert cache.activation == "relu"
        for got_field, want_field in zip(cache[:3], want[:3], strict=True):
            np.testing.assert_array_equal(got_field, want_field)
        a_prev = a_next


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_cell_backward_gradcheck(rng, make_params, activation):
    p = make_params(rng)
    xt, a_prev = rng.normal(size=(N_X, M)), rng.normal(size=(N_A, M))
    w = rng.normal(size=(N_A, M))  # random projection of a_next to a scalar loss
    _, _, cache = rnn.rnn_cell_forward(xt, a_prev, p, activation)
    g = rnn.rnn_cell_backward(w, cache)
    inputs = {"Waa": p["Waa"], "Wax": p["Wax"], "ba": p["ba"], "xt": xt, "a_prev": a_prev}

    def f(q):
        return np.sum(w * rnn.rnn_cell_forward(q["xt"], q["a_prev"], dict(p, **q), activation)[0])

    assert_gradients_close(f, inputs, g)


@IMPLEMENTATIONS
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_sequence_backward_gradcheck(rng, make_params, impl, activation):
    p = make_params(rng)
    x, a0 = make_data(rng)
    w = rng.normal(size=(N_A, M, T))
    _, cache = impl.rnn_layer_forward(x, a0, p, activation)
    g = impl.rnn_backward(w, cache)
    inputs = {"Waa": p["Waa"], "Wax": p["Wax"], "ba": p["ba"], "x": x, "a0": a0}

    def f(q):
        return np.sum(w * impl.rnn_layer_forward(q["x"], q["a0"], q, activation)[0])

    assert_gradients_close(f, inputs, g)


@IMPLEMENTATIONS
def test_model_backward_gradcheck_with_mask(rng, make_params, impl):
    p = make_params(rng)
    x, a0 = make_data(rng)
    y = rng.integers(0, N_Y, size=(M, T))
    mask = np.ones((M, T))
    mask[1, 3:] = 0  # second sequence is padded after 3 steps
    loss, _, cache = impl.rnn_model_forward(x, a0, p, y, mask)
    g = impl.rnn_model_backward(cache)
    assert loss > 0

    def f(q):
        return impl.rnn_model_forward(q["x"], q["a0"], q, y, mask)[0]

    assert_gradients_close(f, dict(p, x=x, a0=a0), g)
    # padded inputs influence nothing
    np.testing.assert_array_equal(g["dx"][:, 1, 3:], 0.0)


@IMPLEMENTATIONS
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_bptt_from_rnn_forward_caches_gradcheck(rng, make_params, impl, activation):
    """bptt(dz, caches of rnn_forward) is the gradient of a loss on rnn_forward's y_hat:
    L = sum(w * log y_hat) has dL/dz = w - y_hat * sum_k w_k (softmax's backward)."""
    p = make_params(rng)
    x, a0 = make_data(rng)
    w = rng.normal(size=(N_Y, M, T))
    _, y_hat, caches = impl.rnn_forward(x, a0, p, activation)
    g = impl.bptt(w - y_hat * w.sum(axis=0, keepdims=True), caches)
    assert set(g) == {"dx", "da0", "dWax", "dWaa", "dba", "dWya", "dby"}

    def f(q):
        return np.sum(w * np.log(impl.rnn_forward(q["x"], q["a0"], q, activation)[1]))

    assert_gradients_close(f, dict(p, x=x, a0=a0), g)


@IMPLEMENTATIONS
def test_truncated_bptt_state_carry(rng, make_params, impl):
    """Two chunks with the state carried equal one long run; da0 links their gradients."""
    p = make_params(rng)
    x, a0 = make_data(rng)
    da = rng.normal(size=(N_A, M, T))
    a_full, c_full = impl.rnn_layer_forward(x, a0, p)
    g_full = impl.rnn_backward(da, c_full)
    a1, c1 = impl.rnn_layer_forward(x[:, :, :3], a0, p)
    a2, c2 = impl.rnn_layer_forward(x[:, :, 3:], a1[:, :, -1], p)
    np.testing.assert_allclose(np.concatenate([a1, a2], axis=2), a_full, rtol=1e-14)
    g2 = impl.rnn_backward(da[:, :, 3:], c2)
    da1 = da[:, :, :3].copy()
    da1[:, :, -1] += g2["da0"]  # full BPTT across the chunk boundary
    g1 = impl.rnn_backward(da1, c1)
    for k in ("dWaa", "dWax", "dba"):
        np.testing.assert_allclose(g1[k] + g2[k], g_full[k], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g1["da0"], g_full["da0"], rtol=1e-12)


@IMPLEMENTATIONS
def test_nothing_is_mutated(rng, make_params, unchanged, impl):
    snapshot, assert_unchanged = unchanged
    p = make_params(rng)
    x, a0 = make_data(rng)
    y = rng.integers(0, N_Y, size=(M, T))
    da = rng.normal(size=(N_A, M, T))
    dz = rng.normal(size=(N_Y, M, T))
    saved = snapshot(p, {"x": x, "a0": a0, "da": da, "y": y, "dz": dz})
    _, _, cache = impl.rnn_forward(x, a0, p)
    impl.rnn_backward(da, cache)
    impl.rnn_backward(da, cache)  # the cache is not consumed either
    impl.bptt(dz, cache)
    _, _, mc = impl.rnn_model_forward(x, a0, p, y)
    impl.rnn_model_backward(mc)
    _, _, cc = rnn.rnn_cell_forward(x[:, :, 0], a0, p)
    rnn.rnn_cell_backward(da[:, :, 0], cc)
    assert_unchanged([p, {"x": x, "a0": a0, "da": da, "y": y, "dz": dz}], saved)


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
@IMPLEMENTATIONS
def test_bad_parameter_shapes_raise(rng, make_params, impl, name, bad, pattern):
    p = make_params(rng)
    p[name] = bad
    x, a0 = make_data(rng)
    with pytest.raises(ValueError, match=pattern):
        impl.rnn_forward(x, a0, p)
    with pytest.raises(ValueError, match=pattern):
        rnn.rnn_cell_forward(x[:, :, 0], a0, p)


@IMPLEMENTATIONS
def test_bad_input_shapes_raise(rng, make_params, impl):
    p = make_params(rng)
    x, a0 = make_data(rng)
    with pytest.raises(ValueError, match=r"a0 must have shape \(n_a, m\) = \(5, 2\)"):
        impl.rnn_forward(x, a0.T, p)
    with pytest.raises(ValueError, match=r"x must be 3-D"):
        impl.rnn_forward(x[:, :, 0], a0, p)
    with pytest.raises(ValueError, match=r"Wax must have shape \(n_a, n_x\) = \(5, 4\)"):
        impl.rnn_forward(np.zeros((4, M, T)), a0, p)
    _, cache = impl.rnn_layer_forward(x, a0, p)
    with pytest.raises(ValueError, match=r"da must have shape \(n_a, m, T_x\) = \(5, 2, 6\)"):
        impl.rnn_backward(np.zeros((N_A, M, T + 1)), cache)
    with pytest.raises(ValueError, match="activation"):
        impl.rnn_forward(x, a0, p, activation="sigmoid")
    _, _, cache = impl.rnn_forward(x, a0, p)
    with pytest.raises(ValueError, match=r"dz must have shape \(n_y, m, T_x\) = \(4, 2, 6\)"):
        impl.bptt(np.zeros((N_Y + 1, M, T)), cache)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@IMPLEMENTATIONS
def test_extreme_inputs_stay_finite(rng, make_params, impl, activation):
    p = make_params(rng)
    x, a0 = make_data(rng)
    y = rng.integers(0, N_Y, size=(M, T))
    loss, a, cache = impl.rnn_model_forward(
        1000 * x, a0, {k: 10 * v for k, v in p.items()}, y, activation=activation
    )
    g = impl.rnn_model_backward(cache)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(a))
    assert all(np.all(np.isfinite(v)) for v in g.values())


@IMPLEMENTATIONS
def test_float32_runs_in_float32(rng, make_params, impl):
    p = make_params(rng, dtype=np.float32)
    x, a0 = (v.astype(np.float32) for v in make_data(rng))
    a, y_hat, cache = impl.rnn_forward(x, a0, p)
    assert a.dtype == np.float32
    assert y_hat.dtype == np.float32
    g = impl.rnn_backward(np.ones_like(a), cache)
    assert all(v.dtype == np.float32 for v in g.values())
    a64, _, _ = impl.rnn_forward(x.astype(np.float64), a0.astype(np.float64), p)
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
