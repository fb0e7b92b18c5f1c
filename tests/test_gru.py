"""Tests for utils.gru: simplified, full (lecture) and reset-after (PyTorch) GRU."""

import numpy as np
import pytest

from utils import gru
from utils.gradcheck import assert_gradients_close

N_X, N_A, M, T = 3, 4, 2, 5
VARIANTS = ["full", "simplified", "reset_after"]


def make_params(rng, variant, n_x=N_X, n_a=N_A, dtype=np.float64):
    gates = "uc" if variant == "simplified" else "urc"
    p = {}
    for g in gates:
        p["W" + g] = rng.normal(size=(n_a, n_a + n_x)) * 0.7
        p["b" + g] = rng.normal(size=(n_a, 1)) * 0.5
    if variant == "reset_after":
        p["bcr"] = rng.normal(size=(n_a, 1)) * 0.5
    return {k: v.astype(dtype) for k, v in p.items()}


@pytest.fixture
def rng():
    return np.random.default_rng(99)


@pytest.fixture
def data(rng):
    return rng.normal(size=(N_X, M, T)), rng.normal(size=(N_A, M))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("variant", VARIANTS)
def test_cell_matches_equations(rng, variant):
    p = make_params(rng, variant)
    xt, c_prev = rng.normal(size=(N_X, M)), rng.normal(size=(N_A, M))
    c_next, _ = gru.gru_cell_forward(xt, c_prev, p, variant)
    v = np.vstack([c_prev, xt])
    gu = sigmoid(p["Wu"] @ v + p["bu"])
    if variant == "simplified":
        cc = np.tanh(p["Wc"] @ v + p["bc"])
    elif variant == "full":
        gr = sigmoid(p["Wr"] @ v + p["br"])
        cc = np.tanh(p["Wc"] @ np.vstack([gr * c_prev, xt]) + p["bc"])
    else:
        gr = sigmoid(p["Wr"] @ v + p["br"])
        hc = p["Wc"][:, :N_A] @ c_prev + p["bcr"]
        cc = np.tanh(p["Wc"][:, N_A:] @ xt + p["bc"] + gr * hc)
    np.testing.assert_allclose(c_next, gu * cc + (1 - gu) * c_prev, rtol=1e-13)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_equals_cell_loop(rng, data, variant):
    p = make_params(rng, variant)
    x, a0 = data
    a, _ = gru.gru_forward(x, a0, p, variant)
    c = a0
    for t in range(T):
        c, _ = gru.gru_cell_forward(x[:, :, t], c, p, variant)
        np.testing.assert_allclose(a[:, :, t], c, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cell_backward_gradcheck(rng, variant):
    p = make_params(rng, variant)
    xt, c_prev = rng.normal(size=(N_X, M)), rng.normal(size=(N_A, M))
    w = rng.normal(size=(N_A, M))
    _, cache = gru.gru_cell_forward(xt, c_prev, p, variant)
    g = gru.gru_cell_backward(w, cache)
    assert set(g) == {"d" + k for k in p} | {"dxt", "dc_prev"}

    def f(q):
        return np.sum(w * gru.gru_cell_forward(q["xt"], q["c_prev"], q, variant)[0])

    assert_gradients_close(f, dict(p, xt=xt, c_prev=c_prev), g, order=4)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_backward_gradcheck(rng, data, variant):
    p = make_params(rng, variant)
    x, a0 = data
    w = rng.normal(size=(N_A, M, T))
    _, cache = gru.gru_forward(x, a0, p, variant)
    g = gru.gru_backward(w, cache)
    assert set(g) == {"d" + k for k in p} | {"dx", "da0"}

    def f(q):
        return np.sum(w * gru.gru_forward(q["x"], q["a0"], q, variant)[0])

    assert_gradients_close(f, dict(p, x=x, a0=a0), g, order=4)


def test_truncated_bptt_state_carry(rng, data):
    p = make_params(rng, "full")
    x, a0 = data
    da = rng.normal(size=(N_A, M, T))
    a_full, cf = gru.gru_forward(x, a0, p)
    g_full = gru.gru_backward(da, cf)
    a1, k1 = gru.gru_forward(x[:, :, :2], a0, p)
    a2, k2 = gru.gru_forward(x[:, :, 2:], a1[:, :, -1], p)
    np.testing.assert_allclose(np.concatenate([a1, a2], axis=2), a_full, rtol=1e-13)
    g2 = gru.gru_backward(da[:, :, 2:], k2)
    da1 = da[:, :, :2].copy()
    da1[:, :, -1] += g2["da0"]
    g1 = gru.gru_backward(da1, k1)
    for k in ("dWu", "dWr", "dWc", "dbu", "dbr", "dbc"):
        np.testing.assert_allclose(g1[k] + g2[k], g_full[k], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(g1["da0"], g_full["da0"], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("variant", VARIANTS)
def test_nothing_is_mutated(rng, data, variant):
    p = make_params(rng, variant)
    x, a0 = data
    da = rng.normal(size=(N_A, M, T))
    arrays = dict(p, x=x, a0=a0, da=da)
    saved = {k: v.copy() for k, v in arrays.items()}
    _, cache = gru.gru_forward(x, a0, p, variant)
    g1 = gru.gru_backward(da, cache)
    g2 = gru.gru_backward(da, cache)
    np.testing.assert_array_equal(g1["dWc"], g2["dWc"])
    _, cc = gru.gru_cell_forward(x[:, :, 0], a0, p, variant)
    gru.gru_cell_backward(da[:, :, 0], cc)
    for k, v in saved.items():
        np.testing.assert_array_equal(arrays[k], v, err_msg=f"{k} was mutated")


def test_bad_shapes_and_variant_raise(rng, data):
    x, a0 = data
    p = make_params(rng, "full")
    p["Wr"] = np.zeros((N_A + N_X, N_A))
    with pytest.raises(ValueError, match=r"Wr must have shape \(n_a, n_a \+ n_x\) = \(4, 7\)"):
        gru.gru_forward(x, a0, p)
    gru.gru_forward(x, a0, p, "simplified")  # Wr unused there
    with pytest.raises(ValueError, match="variant"):
        gru.gru_forward(x, a0, p, "pytorch")
    with pytest.raises(KeyError, match="bcr"):
        gru.gru_forward(x, a0, make_params(rng, "full"), "reset_after")
    with pytest.raises(ValueError, match=r"a0 must have shape \(n_a, m\) = \(4, 2\)"):
        gru.gru_forward(x, a0[:, :1], make_params(rng, "full"))
    _, cache = gru.gru_forward(x, a0, make_params(rng, "full"))
    with pytest.raises(ValueError, match=r"da must have shape"):
        gru.gru_backward(np.zeros((N_A, M, T - 1)), cache)


@pytest.mark.parametrize("variant", VARIANTS)
def test_extreme_inputs_finite_and_float32(rng, data, variant):
    x, a0 = data
    p = {k: 50 * v for k, v in make_params(rng, variant).items()}
    a, cache = gru.gru_forward(1000 * x, a0, p, variant)
    g = gru.gru_backward(np.ones_like(a), cache)
    assert np.all(np.isfinite(a))
    assert all(np.all(np.isfinite(v)) for v in g.values())
    p32 = make_params(rng, variant, dtype=np.float32)
    a32, c32 = gru.gru_forward(x.astype(np.float32), a0.astype(np.float32), p32, variant)
    assert a32.dtype == np.float32
    assert all(v.dtype == np.float32 for v in gru.gru_backward(a32, c32).values())
    np.testing.assert_allclose(a32, gru.gru_forward(x, a0, p32, variant)[0], rtol=1e-4, atol=1e-5)
