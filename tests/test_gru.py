"""Tests for utils.gru (reference) and utils.kernels.gru: simplified, full (lecture) and
reset-after (PyTorch) GRU."""

import numpy as np
import pytest

from utils import gru
from utils.activations import sigmoid
from utils.gradcheck import assert_gradients_close
from utils.kernels import gru as kernels

N_X, N_A, M, T = 3, 4, 2, 5
VARIANTS = ["full", "simplified", "reset_after"]
IMPLEMENTATIONS = pytest.mark.parametrize("impl", [gru, kernels], ids=["reference", "kernel"])


@pytest.fixture
def data(rng):
    return rng.normal(size=(N_X, M, T)), rng.normal(size=(N_A, M))


@pytest.mark.parametrize("variant", VARIANTS)
def test_cell_matches_equations(rng, gru_params, variant):
    p = gru_params(rng, N_X, N_A, variant)
    xt, a_prev = rng.normal(size=(N_X, M)), rng.normal(size=(N_A, M))
    a_next, _ = gru.gru_cell_forward(xt, a_prev, p, variant)
    c_prev = a_prev  # a GRU's memory is its state
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
    np.testing.assert_allclose(a_next, gu * cc + (1 - gu) * c_prev, rtol=1e-13)


@IMPLEMENTATIONS
@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_equals_cell_loop(impl, rng, gru_params, data, variant):
    p = gru_params(rng, N_X, N_A, variant)
    x, a0 = data
    a, _ = impl.gru_forward(x, a0, p, variant)
    c = a0
    for t in range(T):
        c, _ = gru.gru_cell_forward(x[:, :, t], c, p, variant)
        np.testing.assert_allclose(a[:, :, t], c, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cell_backward_gradcheck(rng, gru_params, variant):
    p = gru_params(rng, N_X, N_A, variant)
    xt, a_prev = rng.normal(size=(N_X, M)), rng.normal(size=(N_A, M))
    w = rng.normal(size=(N_A, M))
    _, cache = gru.gru_cell_forward(xt, a_prev, p, variant)
    g = gru.gru_cell_backward(w, cache)
    assert set(g) == {"d" + k for k in p} | {"dxt", "da_prev"}

    def f(q):
        return np.sum(w * gru.gru_cell_forward(q["xt"], q["a_prev"], q, variant)[0])

    assert_gradients_close(f, dict(p, xt=xt, a_prev=a_prev), g, order=4)


@IMPLEMENTATIONS
@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_backward_gradcheck(impl, rng, gru_params, data, variant):
    p = gru_params(rng, N_X, N_A, variant)
    x, a0 = data
    w = rng.normal(size=(N_A, M, T))
    _, cache = impl.gru_forward(x, a0, p, variant)
    g = impl.gru_backward(w, cache)
    assert set(g) == {"d" + k for k in p} | {"dx", "da0"}

    def f(q):
        return np.sum(w * impl.gru_forward(q["x"], q["a0"], q, variant)[0])

    assert_gradients_close(f, dict(p, x=x, a0=a0), g, order=4)


@IMPLEMENTATIONS
def test_truncated_bptt_state_carry(impl, rng, gru_params, data):
    p = gru_params(rng, N_X, N_A, "full")
    x, a0 = data
    da = rng.normal(size=(N_A, M, T))
    a_full, cf = impl.gru_forward(x, a0, p)
    g_full = impl.gru_backward(da, cf)
    a1, k1 = impl.gru_forward(x[:, :, :2], a0, p)
    a2, k2 = impl.gru_forward(x[:, :, 2:], a1[:, :, -1], p)
    np.testing.assert_allclose(np.concatenate([a1, a2], axis=2), a_full, rtol=1e-13)
    g2 = impl.gru_backward(da[:, :, 2:], k2)
    da1 = da[:, :, :2].copy()
    da1[:, :, -1] += g2["da0"]
    g1 = impl.gru_backward(da1, k1)
    for k in ("dWu", "dWr", "dWc", "dbu", "dbr", "dbc"):
        np.testing.assert_allclose(g1[k] + g2[k], g_full[k], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(g1["da0"], g_full["da0"], rtol=1e-11, atol=1e-13)


@IMPLEMENTATIONS
@pytest.mark.parametrize("variant", VARIANTS)
def test_nothing_is_mutated(impl, rng, gru_params, data, variant):
    p = gru_params(rng, N_X, N_A, variant)
    x, a0 = data
    da = rng.normal(size=(N_A, M, T))
    arrays = dict(p, x=x, a0=a0, da=da)
    saved = {k: v.copy() for k, v in arrays.items()}
    _, cache = impl.gru_forward(x, a0, p, variant)
    g1 = impl.gru_backward(da, cache)
    g2 = impl.gru_backward(da, cache)
    np.testing.assert_array_equal(g1["dWc"], g2["dWc"])
    _, cc = gru.gru_cell_forward(x[:, :, 0], a0, p, variant)
    gru.gru_cell_backward(da[:, :, 0], cc)
    for k, v in saved.items():
        np.testing.assert_array_equal(arrays[k], v, err_msg=f"{k} was mutated")


@IMPLEMENTATIONS
def test_bad_shapes_and_variant_raise(impl, rng, gru_params, data):
    x, a0 = data
    p = gru_params(rng, N_X, N_A, "full")
    p["Wr"] = np.zeros((N_A + N_X, N_A))
    with pytest.raises(ValueError, match=r"Wr must have shape \(n_a, n_a \+ n_x\) = \(4, 7\)"):
        impl.gru_forward(x, a0, p)
    impl.gru_forward(x, a0, p, "simplified")  # Wr unused there
    with pytest.raises(ValueError, match="variant"):
        impl.gru_forward(x, a0, p, "pytorch")
    with pytest.raises(KeyError, match="bcr"):
        impl.gru_forward(x, a0, gru_params(rng, N_X, N_A, "full"), "reset_after")
    with pytest.raises(ValueError, match=r"a0 must have shape \(n_a, m\) = \(4, 2\)"):
        impl.gru_forward(x, a0[:, :1], gru_params(rng, N_X, N_A, "full"))
    _, cache = impl.gru_forward(x, a0, gru_params(rng, N_X, N_A, "full"))
    with pytest.raises(ValueError, match=r"da must have shape"):
        impl.gru_backward(np.zeros((N_A, M, T - 1)), cache)


@IMPLEMENTATIONS
@pytest.mark.parametrize("variant", VARIANTS)
def test_extreme_inputs_finite_and_float32(impl, rng, gru_params, data, variant):
    x, a0 = data
    p = {k: 50 * v for k, v in gru_params(rng, N_X, N_A, variant).items()}
    a, cache = impl.gru_forward(1000 * x, a0, p, variant)
    g = impl.gru_backward(np.ones_like(a), cache)
    assert np.all(np.isfinite(a))
    assert all(np.all(np.isfinite(v)) for v in g.values())
    p32 = gru_params(rng, N_X, N_A, variant, dtype=np.float32)
    a32, c32 = impl.gru_forward(x.astype(np.float32), a0.astype(np.float32), p32, variant)
    assert a32.dtype == np.float32
    assert all(v.dtype == np.float32 for v in impl.gru_backward(a32, c32).values())
    np.testing.assert_allclose(a32, impl.gru_forward(x, a0, p32, variant)[0], rtol=1e-4, atol=1e-5)
