"""Tests for utils.lstm (reference) and utils.kernels.lstm: LSTM with and without peepholes."""

import numpy as np
import pytest

from utils import lstm
from utils.activations import sigmoid
from utils.gradcheck import assert_gradients_close
from utils.kernels import lstm as kernels

N_X, N_A, M, T = 3, 4, 2, 5
IMPLEMENTATIONS = pytest.mark.parametrize("impl", [lstm, kernels], ids=["reference", "kernel"])


@pytest.fixture
def make_params(lstm_params):
    """Peepholes included (ignored unless peephole=True)."""

    def make(rng, dtype=np.float64):
        return lstm_params(rng, N_X, N_A, peephole=True, dtype=dtype)

    return make


def trainable(p, peephole):
    return {k: v for k, v in p.items() if peephole or not k.startswith("p")}


@pytest.fixture
def data(rng):
    x = rng.normal(size=(N_X, M, T))
    return x, rng.normal(size=(N_A, M)), rng.normal(size=(N_A, M))


@pytest.mark.parametrize("peephole", [False, True])
def test_cell_forward_matches_equations(rng, make_params, peephole):
    p = make_params(rng)
    xt, a_prev, c_prev = (rng.normal(size=s) for s in [(N_X, M), (N_A, M), (N_A, M)])
    a_next, c_next, _ = lstm.lstm_cell_forward(xt, a_prev, c_prev, p, peephole)
    v = np.vstack([a_prev, xt])
    k = 1.0 if peephole else 0.0
    gf = sigmoid(p["Wf"] @ v + p["bf"] + k * p["pf"] * c_prev)
    gu = sigmoid(p["Wu"] @ v + p["bu"] + k * p["pu"] * c_prev)
    c = gf * c_prev + gu * np.tanh(p["Wc"] @ v + p["bc"])
    go = sigmoid(p["Wo"] @ v + p["bo"] + k * p["po"] * c)
    np.testing.assert_allclose(c_next, c, rtol=1e-13)
    np.testing.assert_allclose(a_next, go * np.tanh(c), rtol=1e-13)


@IMPLEMENTATIONS
@pytest.mark.parametrize("peephole", [False, True])
def test_sequence_equals_cell_loop(impl, rng, make_params, data, peephole):
    p = make_params(rng)
    x, a0, c0 = data
    a, c, _ = impl.lstm_forward(x, a0, c0, p, peephole)
    a_prev, c_prev = a0, c0
    for t in range(T):
        a_prev, c_prev, _ = lstm.lstm_cell_forward(x[:, :, t], a_prev, c_prev, p, peephole)
        np.testing.assert_allclose(a[:, :, t], a_prev, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c[:, :, t], c_prev, rtol=1e-12, atol=1e-14)


@IMPLEMENTATIONS
def test_c0_defaults_to_zeros(impl, rng, make_params, data):
    p = make_params(rng)
    x, a0, _ = data
    a1, c1, _ = impl.lstm_forward(x, a0, None, p)
    a2, c2, _ = impl.lstm_forward(x, a0, np.zeros((N_A, M)), p)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(c1, c2)


@pytest.mark.parametrize("peephole", [False, True])
def test_cell_backward_gradcheck(rng, make_params, peephole):
    p = trainable(make_params(rng), peephole)
    xt, a_prev, c_prev = (rng.normal(size=s) for s in [(N_X, M), (N_A, M), (N_A, M)])
    wa, wc = rng.normal(size=(N_A, M)), rng.normal(size=(N_A, M))
    _, _, cache = lstm.lstm_cell_forward(xt, a_prev, c_prev, p, peephole)
    g = lstm.lstm_cell_backward(wa, wc, cache)
    assert set(g) == {"d" + k for k in p} | {"dxt", "da_prev", "dc_prev"}

    def f(q):
        a, c, _ = lstm.lstm_cell_forward(q["xt"], q["a_prev"], q["c_prev"], q, peephole)
        return np.sum(wa * a) + np.sum(wc * c)

    assert_gradients_close(f, dict(p, xt=xt, a_prev=a_prev, c_prev=c_prev), g, order=4)


@IMPLEMENTATIONS
@pytest.mark.parametrize("peephole", [False, True])
def test_sequence_backward_gradcheck(impl, rng, make_params, data, peephole):
    p = trainable(make_params(rng), peephole)
    x, a0, c0 = data
    wa, wc = rng.normal(size=(N_A, M, T)), rng.normal(size=(N_A, M, T))
    _, _, cache = impl.lstm_forward(x, a0, c0, p, peephole)
    g = impl.lstm_backward(wa, wc, cache)
    assert set(g) == {"d" + k for k in p} | {"dx", "da0", "dc0"}

    def f(q):
        a, c, _ = impl.lstm_forward(q["x"], q["a0"], q["c0"], q, peephole)
        return np.sum(wa * a) + np.sum(wc * c)

    assert_gradients_close(f, dict(p, x=x, a0=a0, c0=c0), g, order=4)


@IMPLEMENTATIONS
def test_truncated_bptt_state_carry(impl, rng, make_params, data):
    p = make_params(rng)
    x, a0, c0 = data
    da = rng.normal(size=(N_A, M, T))
    a_full, _, cf = impl.lstm_forward(x, a0, c0, p, True)
    g_full = impl.lstm_backward(da, None, cf)
    a1, c1, k1 = impl.lstm_forward(x[:, :, :2], a0, c0, p, True)
    a2, _, k2 = impl.lstm_forward(x[:, :, 2:], a1[:, :, -1], c1[:, :, -1], p, True)
    np.testing.assert_allclose(np.concatenate([a1, a2], axis=2), a_full, rtol=1e-13)
    g2 = impl.lstm_backward(da[:, :, 2:], None, k2)
    da1 = da[:, :, :2].copy()
    da1[:, :, -1] += g2["da0"]
    dc1 = np.zeros_like(da1)
    dc1[:, :, -1] = g2["dc0"]
    g1 = impl.lstm_backward(da1, dc1, k1)
    for k in ("dWf", "dWu", "dWo", "dWc", "dbf", "dbu", "dbo", "dbc", "dpf", "dpu", "dpo"):
        np.testing.assert_allclose(g1[k] + g2[k], g_full[k], rtol=1e-11, atol=1e-13)
    for k in ("da0", "dc0"):
        np.testing.assert_allclose(g1[k], g_full[k], rtol=1e-11, atol=1e-13)


@IMPLEMENTATIONS
def test_nothing_is_mutated(impl, rng, make_params, data):
    p = make_params(rng)
    x, a0, c0 = data
    da = rng.normal(size=(N_A, M, T))
    arrays = dict(p, x=x, a0=a0, c0=c0, da=da)
    saved = {k: v.copy() for k, v in arrays.items()}
    _, _, cache = impl.lstm_forward(x, a0, c0, p, True)
    g1 = impl.lstm_backward(da, da, cache)
    g2 = impl.lstm_backward(da, da, cache)  # the cache is not consumed
    np.testing.assert_array_equal(g1["dWf"], g2["dWf"])
    _, _, cc = lstm.lstm_cell_forward(x[:, :, 0], a0, c0, p, True)
    lstm.lstm_cell_backward(da[:, :, 0], da[:, :, 1], cc)
    for k, v in saved.items():
        np.testing.assert_array_equal(arrays[k], v, err_msg=f"{k} was mutated")


@IMPLEMENTATIONS
def test_bad_shapes_raise(impl, rng, make_params, data):
    x, a0, c0 = data
    p = make_params(rng)
    p["Wo"] = np.zeros((N_A, N_X))
    with pytest.raises(ValueError, match=r"Wo must have shape \(n_a, n_a \+ n_x\) = \(4, 7\)"):
        impl.lstm_forward(x, a0, c0, p)
    p = make_params(rng)
    p["pu"] = np.zeros((N_A, 2))
    impl.lstm_forward(x, a0, c0, p)  # peepholes unused: not checked
    with pytest.raises(ValueError, match=r"pu must have shape \(n_a, 1\) = \(4, 1\)"):
        impl.lstm_forward(x, a0, c0, p, peephole=True)
    p = make_params(rng)
    with pytest.raises(ValueError, match=r"c0 must have shape \(n_a, m\) = \(4, 2\)"):
        impl.lstm_forward(x, a0, c0.T, p)
    with pytest.raises(ValueError, match=r"c_prev must have shape"):
        lstm.lstm_cell_forward(x[:, :, 0], a0, c0[:3], p)
    _, _, cache = impl.lstm_forward(x, a0, c0, p)
    with pytest.raises(ValueError, match=r"dc must have shape \(n_a, m, T_x\)"):
        impl.lstm_backward(np.zeros((N_A, M, T)), np.zeros((N_A, M)), cache)
    del p["bc"]
    with pytest.raises(KeyError, match="bc"):
        impl.lstm_forward(x, a0, c0, p)


@IMPLEMENTATIONS
def test_extreme_inputs_stay_finite(impl, rng, make_params, data):
    p = {k: 50 * v for k, v in make_params(rng).items()}
    x, a0, c0 = data
    a, c, cache = impl.lstm_forward(1000 * x, a0, c0, p, True)
    g = impl.lstm_backward(np.ones_like(a), None, cache)
    assert np.all(np.isfinite(a))
    assert np.all(np.isfinite(c))
    assert all(np.all(np.isfinite(v)) for v in g.values())


@IMPLEMENTATIONS
def test_float32_runs_in_float32(impl, rng, make_params, data):
    p = make_params(rng, dtype=np.float32)
    x, a0, c0 = (v.astype(np.float32) for v in data)
    a, c, cache = impl.lstm_forward(x, a0, c0, p, True)
    assert a.dtype == c.dtype == np.float32
    g = impl.lstm_backward(np.ones_like(a), None, cache)
    assert all(v.dtype == np.float32 for v in g.values())
    a64, _, _ = impl.lstm_forward(x.astype(np.float64), a0, c0, p, True)
    np.testing.assert_allclose(a, a64, rtol=1e-4, atol=1e-5)


def test_cell_caches_name_their_fields_in_the_lecture_notation(rng, make_params):
    """The cell cache is an ``LSTMCache``: still the 11-tuple students build, with named
    fields; ``lstm_cell_backward`` takes a plain tuple of the same entries alike."""
    p = make_params(rng)
    xt = rng.normal(size=(N_X, 2))
    a_prev, c_prev = rng.normal(size=(N_A, 2)), rng.normal(size=(N_A, 2))
    a_next, c_next, cache = lstm.lstm_cell_forward(xt, a_prev, c_prev, p, True)
    assert isinstance(cache, tuple)
    assert len(cache) == 11
    assert cache.a_next is a_next
    assert cache.c_next is c_next
    assert cache.parameters is p
    assert cache.peephole is True
    np.testing.assert_allclose(cache.c_next, cache.gamma_f * c_prev + cache.gamma_u * cache.c_tilde)
    da = rng.normal(size=(N_A, 2))
    named, plain = (lstm.lstm_cell_backward(da, None, c) for c in (cache, tuple(cache)))
    for key, value in named.items():
        np.testing.assert_array_equal(plain[key], value)
