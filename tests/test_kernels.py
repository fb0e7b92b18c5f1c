"""The fused kernels in utils.kernels equal the readable reference layers.

Every output and every gradient, for every variant, in float64 and float32, and with a T long
enough that the kernels' blocked backward runs more than one block.
"""

import numpy as np
import pytest

from utils import rnn
from utils.kernels import rnn as rnn_kernel

N_X, N_A, N_Y, M = 3, 5, 4, 2
TOL = {np.float64: {"rtol": 1e-10, "atol": 1e-12}, np.float32: {"rtol": 2e-4, "atol": 2e-5}}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def assert_same(got, want, dtype, what):
    """Same keys, same dtype, same values (to the dtype's tolerance)."""
    if isinstance(want, dict):
        assert set(got) == set(want), what
        for k in want:
            assert_same(got[k], want[k], dtype, f"{what}[{k!r}]")
        return
    assert got.dtype == want.dtype == dtype, f"{what}: {got.dtype} vs {want.dtype}"
    np.testing.assert_allclose(got, want, err_msg=what, **TOL[dtype])


def data(rng, n_x, n_a, m, T, dtype):
    x = rng.normal(size=(n_x, m, T)).astype(dtype)
    return x, (0.5 * rng.normal(size=(n_a, m))).astype(dtype)


@DTYPES
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("T", [1, 7])
def test_rnn_kernel_equals_reference(rng, rnn_params, dtype, activation, T):
    p = rnn_params(rng, N_X, N_A, N_Y, dtype)
    x, a0 = data(rng, N_X, N_A, M, T, dtype)
    da = rng.normal(size=(N_A, M, T)).astype(dtype)
    dz = rng.normal(size=(N_Y, M, T)).astype(dtype)
    y = rng.integers(0, N_Y, size=(M, T))

    a, y_hat, caches = rnn.rnn_forward(x, a0, p, activation)
    a_k, y_hat_k, cache_k = rnn_kernel.rnn_forward(x, a0, p, activation)
    assert_same(a_k, a, dtype, "a")
    assert_same(y_hat_k, y_hat, dtype, "y_hat")
    assert_same(rnn_kernel.rnn_backward(da, cache_k), rnn.rnn_backward(da, caches), dtype, "grads")
    assert_same(rnn_kernel.bptt(dz, cache_k), rnn.bptt(dz, caches), dtype, "bptt")

    loss, a, cache = rnn.rnn_model_forward(x, a0, p, y, activation=activation)
    loss_k, a_k, cache_k = rnn_kernel.rnn_model_forward(x, a0, p, y, activation=activation)
    np.testing.assert_allclose(loss_k, loss, **TOL[dtype])
    assert_same(a_k, a, dtype, "model a")
    grads, grads_k = rnn.rnn_model_backward(cache), rnn_kernel.rnn_model_backward(cache_k)
    assert_same(grads_k, grads, dtype, "model grads")
