"""Tests for utils.lstm: LSTM with and without peepholes, cell and sequence."""

import numpy as np
import pytest

from utils import lstm
from utils.gradcheck import assert_gradients_close

N_X, N_A, M, T = 3, 4, 2, 5


def make_params(rng, n_x=N_X, n_a=N_A, dtype=np.float64):
    """Non-trivial random parameters (peepholes included; ignored unless peephole=True)."""
    p = {}
    for g in "fuoc":
        p["W" + g] = rng.normal(size=(n_a, n_a + n_x)) * 0.7
        p["b" + g] = rng.normal(size=(n_a, 1)) * 0.5
    for g in "fuo":
        p["p" + g] = rng.normal(size=(n_a, 1))
    return {k: v.astype(dtype) for k, v in p.items()}


def trainable(p, peephole):
    return {k: v for k, v in p.items() if peephole or not k.startswith("p")}


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.fixture
def data(rng):
    x = rng.normal(size=(N_X, M, T))
    return x, rng.normal(size=(N_A, M)), rng.normal(size=(N_A, M))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("peephole", [False, True])
def test_cell_forward_matches_equations(rng, peephole):
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


@pytest.mark.parametrize("peephole", [False, True])
def test_sequence_equals_cell_loop(rng, data, peephole):
    p = make_params(rng)
    x, a0, c0 = data
    a, c, _ = lstm.lstm_forward(x, a0, p, c0, peephole)
    a_prev, c_prev = a0, c0
    for t in range(T):
        a_prev, c_prev, _ = lstm.lstm_cell_forward(x[:, :, t], a_prev, c_prev, p, peephole)
        np.testing.assert_allclose(a[:, :, t], a_prev, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c[:, :, t], c_prev, rtol=1e-12, atol=1e-14)


def test_c0_defaults_to_zeros(rng, data):
    p = make_params(rng)
    x, a0, _ = data
    a1, c1, _ = lstm.lstm_forward(x, a0, p)
    a2, c2, _ = lstm.lstm_forward(x, a0, p, np.zeros((N_A, M)))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(c1, c2)


@pytest.mark.parametrize("peephole", [False, True])
def test_cell_backward_gradcheck(rng, peephole):
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


@pytest.mark.parametrize("peephole", [False, True])
def test_sequence_backward_gradcheck(rng, data, peephole):
    p = trainable(make_params(rng), peephole)
    x, a0, c0 = data
    wa, wc = rng.normal(size=(N_A, M, T)), rng.normal(size=(N_A, M, T))
    _, _, cache = lstm.lstm_forward(x, a0, p, c0, peephole)
    g = lstm.lstm_backward(wa, cache, dc=wc)
    assert set(g) == {"d" + k for k in p} | {"dx", "da0", "dc0"}

    def f(q):
        a, c, _ = lstm.lstm_forward(q["x"], q["a0"], q, q["c0"], peephole)
        return np.sum(wa * a) + np.sum(wc * c)

    assert_gradients_close(f, dict(p, x=x, a0=a0, c0=c0), g, order=4)


def test_truncated_bptt_state_carry(rng, data):
    p = make_params(rng)
    x, a0, c0 = data
    da = rng.normal(size=(N_A, M, T))
    a_full, _, cf = lstm.lstm_forward(x, a0, p, c0, True)
    g_full = lstm.lstm_backward(da, cf)
    a1, c1, k1 = lstm.lstm_forward(x[:, :, :2], a0, p, c0, True)
    a2, _, k2 = lstm.lstm_forward(x[:, :, 2:], a1[:, :, -1], p, c1[:, :, -1], True)
    np.testing.assert_allclose(np.concatenate([a1, a2], axis=2), a_full, rtol=1e-13)
    g2 = lstm.lstm_backward(da[:, :, 2:], k2)
    da1 = da[:, :, :2].copy()
    da1[:, :, -1] += g2["da0"]
    dc1 = np.zeros_like(da1)
    dc1[:, :, -1] = g2["dc0"]
    g1 = lstm.lstm_backward(da1, k1, dc=dc1)
    for k in ("dWf", "dWu", "dWo", "dWc", "dbf", "dbu", "dbo", "dbc", "dpf", "dpu", "dpo"):
        np.testing.assert_allclose(g1[k] + g2[k], g_full[k], rtol=1e-11, atol=1e-13)
    for k in ("da0", "dc0"):
        np.testing.assert_allclose(g1[k], g_full[k], rtol=1e-11, atol=1e-13)


def test_nothing_is_mutated(rng, data):
    p = make_params(rng)
    x, a0, c0 = data
    da = rng.normal(size=(N_A, M, T))
    arrays = dict(p, x=x, a0=a0, c0=c0, da=da)
    saved = {k: v.copy() for k, v in arrays.items()}
    _, _, cache = lstm.lstm_forward(x, a0, p, c0, True)
    g1 = lstm.lstm_backward(da, cache, dc=da)
    g2 = lstm.lstm_backward(da, cache, dc=da)  # the cache is not consumed
    np.testing.assert_array_equal(g1["dWf"], g2["dWf"])
    _, _, cc = lstm.lstm_cell_forward(x[:, :, 0], a0, c0, p, True)
    lstm.lstm_cell_backward(da[:, :, 0], da[:, :, 1], cc)
    for k, v in saved.items():
        np.testing.assert_array_equal(arrays[k], v, err_msg=f"{k} was mutated")


def test_bad_shapes_raise(rng, data):
    x, a0, c0 = data
    p = make_params(rng)
    p["Wo"] = np.zeros((N_A, N_X))
    with pytest.raises(ValueError, match=r"Wo must have shape \(n_a, n_a \+ n_x\) = \(4, 7\)"):
        lstm.lstm_forward(x, a0, p, c0)
    p = make_params(rng)
    p["pu"] = np.zeros((N_A, 2))
    lstm.lstm_forward(x, a0, p, c0)  # peepholes unused: not checked
    with pytest.raises(ValueError, match=r"pu must have shape \(n_a, 1\) = \(4, 1\)"):
        lstm.lstm_forward(x, a0, p, c0, peephole=True)
    p = make_params(rng)
    with pytest.raises(ValueError, match=r"c0 must have shape \(n_a, m\) = \(4, 2\)"):
        lstm.lstm_forward(x, a0, p, c0.T)
    with pytest.raises(ValueError, match=r"c_prev must have shape"):
        lstm.lstm_cell_forward(x[:, :, 0], a0, c0[:3], p)
    _, _, cache = lstm.lstm_forward(x, a0, p, c0)
    with pytest.raises(ValueError, match=r"dc must have shape \(n_a, m, T_x\)"):
        lstm.lstm_backward(np.zeros((N_A, M, T)), cache, dc=np.zeros((N_A, M)))
    del p["bc"]
    with pytest.raises(KeyError, match="bc"):
        lstm.lstm_forward(x, a0, p, c0)


def test_extreme_inputs_stay_finite(rng, data):
    p = {k: 50 * v for k, v in make_params(rng).items()}
    x, a0, c0 = data
    a, c, cache = lstm.lstm_forward(1000 * x, a0, p, c0, True)
    g = lstm.lstm_backward(np.ones_like(a), cache)
    assert np.all(np.isfinite(a))
    assert np.all(np.isfinite(c))
    assert all(np.all(np.isfinite(v)) for v in g.values())


def test_float32_runs_in_float32(rng, data):
    p = make_params(rng, dtype=np.float32)
    x, a0, c0 = (v.astype(np.float32) for v in data)
    a, c, cache = lstm.lstm_forward(x, a0, p, c0, True)
    assert a.dtype == c.dtype == np.float32
    g = lstm.lstm_backward(np.ones_like(a), cache)
    assert all(v.dtype == np.float32 for v in g.values())
    a64, _, _ = lstm.lstm_forward(x.astype(np.float64), a0, p, c0, True)
    np.testing.assert_allclose(a, a64, rtol=1e-4, atol=1e-5)
