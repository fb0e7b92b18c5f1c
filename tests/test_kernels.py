"""The fused kernels in utils.kernels equal the readable reference layers.

Every output and every gradient, for every variant, in float64 and float32, and with a T long
enough that the kernels' blocked backward runs more than one block.
"""

import numpy as np
import pytest

from utils import gru, lstm, rnn
from utils.activations import sigmoid
from utils.gru import VARIANTS as GRU_VARIANTS
from utils.kernels import gru as gru_kernel
from utils.kernels import lstm as lstm_kernel
from utils.kernels import rnn as rnn_kernel
from utils.kernels._fast import const, sigmoid_, sigmoid_of_negated_

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


# Long sequences: the GRU and LSTM backward kernels handle BLOCK_SIZE // (n_a m) steps per
# block; these sizes make T span three blocks, so the block boundaries are crossed.
N_A_LONG, M_LONG = 8, 4
T_LONG = 3 * (gru_kernel.BLOCK_SIZE // (N_A_LONG * M_LONG)) - 5
LENGTHS = pytest.mark.parametrize("T", [1, 9, T_LONG], ids=["T=1", "T=9", "multi-block"])


def test_long_sequences_span_several_blocks():
    for kernel in (gru_kernel, lstm_kernel):
        steps_per_block = kernel.BLOCK_SIZE // (N_A_LONG * M_LONG)
        assert 2 * steps_per_block < T_LONG


def sizes_for(T):
    return (N_A_LONG, M_LONG) if T == T_LONG else (N_A, M)


def scaled(p, factor):
    """Long runs use smaller weights: a contracting recurrence keeps float32 comparable."""
    return {k: (v * factor).astype(v.dtype) for k, v in p.items()}


@DTYPES
@pytest.mark.parametrize("variant", GRU_VARIANTS)
@LENGTHS
def test_gru_kernel_equals_reference(rng, gru_params, dtype, variant, T):
    n_a, m = sizes_for(T)
    p = scaled(gru_params(rng, N_X, n_a, variant, dtype), 0.5 if T == T_LONG else 1.0)
    x, a0 = data(rng, N_X, n_a, m, T, dtype)
    da = rng.normal(size=(n_a, m, T)).astype(dtype)
    a, caches = gru.gru_forward(x, a0, p, variant)
    a_k, cache_k = gru_kernel.gru_forward(x, a0, p, variant)
    assert_same(a_k, a, dtype, "a")
    assert_same(gru_kernel.gru_backward(da, cache_k), gru.gru_backward(da, caches), dtype, "grads")


@DTYPES
@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
@LENGTHS
def test_lstm_kernel_equals_reference(rng, lstm_params, dtype, peephole, T):
    n_a, m = sizes_for(T)
    p = scaled(lstm_params(rng, N_X, n_a, peephole, dtype), 0.5 if T == T_LONG else 1.0)
    x, a0 = data(rng, N_X, n_a, m, T, dtype)
    c0 = rng.normal(size=(n_a, m)).astype(dtype)
    da = rng.normal(size=(n_a, m, T)).astype(dtype)
    dc = rng.normal(size=(n_a, m, T)).astype(dtype)
    a, c, caches = lstm.lstm_forward(x, a0, c0, p, peephole)
    a_k, c_k, cache_k = lstm_kernel.lstm_forward(x, a0, c0, p, peephole)
    assert_same(a_k, a, dtype, "a")
    assert_same(c_k, c, dtype, "c")
    for d_c in (None, dc):
        want = lstm.lstm_backward(da, d_c, caches)
        assert_same(lstm_kernel.lstm_backward(da, d_c, cache_k), want, dtype, "grads")


def test_lstm_backward_takes_its_gradients_in_every_layout_and_dtype(rng, lstm_params):
    """The kernel backward reads da and dc as a lecture-layout array (copied into its step
    layout, and to the cache's dtype) or as Steps (read in place, even a reversed view): the
    same gradients either way."""
    from utils._validate import Steps

    n_a, m, T = N_A_LONG, M_LONG, 9
    p = lstm_params(rng, N_X, n_a, False, np.float32)
    x, a0 = data(rng, N_X, n_a, m, T, np.float32)
    da, dc = rng.normal(size=(2, n_a, m, T)).astype(np.float32)
    _, _, cache = lstm_kernel.lstm_forward(x, a0, None, p)
    want = lstm_kernel.lstm_backward(da, dc, cache)
    as64 = lstm_kernel.lstm_backward(da.astype(np.float64), dc.astype(np.float64), cache)
    assert_same(as64, want, np.float32, "float64 da, dc into a float32 cache")

    def steps(d):  # step layout (n_a, T_x, m), contiguous
        return Steps(np.ascontiguousarray(d.transpose(0, 2, 1)))

    def reversed_steps(d):  # the same values through a time-reversed view
        return Steps(np.ascontiguousarray(d[:, :, ::-1].transpose(0, 2, 1))[:, ::-1])

    for wrap in (steps, reversed_steps):
        got = lstm_kernel.lstm_backward(wrap(da), wrap(dc), cache)
        assert isinstance(got["dx"], Steps)
        got["dx"] = np.ascontiguousarray(got["dx"].array.transpose(0, 2, 1))
        assert_same(got, want, np.float32, wrap.__name__)


@DTYPES
def test_rnn_kernel_equals_reference_on_long_sequences(rng, rnn_params, dtype):
    p = scaled(rnn_params(rng, N_X, N_A_LONG, N_Y, dtype), 0.5)
    x, a0 = data(rng, N_X, N_A_LONG, M_LONG, T_LONG, dtype)
    dz = rng.normal(size=(N_Y, M_LONG, T_LONG)).astype(dtype)
    _, _, caches = rnn.rnn_forward(x, a0, p)
    _, _, cache_k = rnn_kernel.rnn_forward(x, a0, p)
    assert_same(rnn_kernel.bptt(dz, cache_k), rnn.bptt(dz, caches), dtype, "bptt")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_sigmoid_is_as_accurate_as_the_reference(dtype):
    """The kernels' in-place σ keeps full relative precision in the far negative tail (where
    (1 + tanh(z/2))/2 rounds to 0 or to a few wrong digits), stays finite and warns of nothing
    at ±1000, and keeps the dtype."""
    z = np.array([-1000.0, -80.0, -38.0, -30.0, -5.0, 0.0, 5.0, 30.0, 1000.0], dtype=dtype)
    want = sigmoid(z.astype(np.float64))
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    with np.errstate(over="ignore"):  # as the kernels call them
        got = sigmoid_(z.copy(), const(1.0, dtype))
        of_negated = sigmoid_of_negated_(-z, const(1.0, dtype))  # the LSTM kernel holds -z
    for result in (got, of_negated):
        assert result.dtype == dtype
        np.testing.assert_allclose(result, want, rtol=4 * rtol, atol=0)
        assert np.all(np.isfinite(result))


def test_gates_saturate_without_warnings(rng, gru_params, lstm_params):
    """Pre-activations of ±1e4 drive σ to exactly 0 or 1: no overflow warning (warnings are
    errors in this test suite), finite states and gradients."""
    x = 1e4 * rng.normal(size=(N_X, M, 5))
    a0 = rng.normal(size=(N_A, M))
    for variant in GRU_VARIANTS:
        a, cache = gru_kernel.gru_forward(x, a0, gru_params(rng, N_X, N_A, variant), variant)
        grads = gru_kernel.gru_backward(np.ones_like(a), cache)
        assert all(np.all(np.isfinite(g)) for g in (a, *grads.values()))
    a, c, cache = lstm_kernel.lstm_forward(x, a0, a0, lstm_params(rng, N_X, N_A), True)
    grads = lstm_kernel.lstm_backward(np.ones_like(a), None, cache)
    assert all(np.all(np.isfinite(g)) for g in (a, c, *grads.values()))


def test_pool_never_hands_out_a_buffer_in_use(monkeypatch):
    from utils.kernels import _fast

    monkeypatch.setattr(_fast, "_pool", _fast._BufferPool())
    shape = (64, 32, 16)  # 128 KiB of float32: pooled

    def address(a):
        return a.__array_interface__["data"][0]

    first = _fast.empty(shape, np.float32)
    view = first[:, 1:]  # a view keeps the buffer in use
    at = address(first)
    del first
    second = _fast.empty(shape, np.float32)
    assert address(second) != at
    del view  # now free: the next request of that size gets it back
    assert address(_fast.empty(shape, np.float32)) == at
    assert _fast.empty(shape, np.float64).dtype == np.float64  # other sizes: other buffers
    monkeypatch.setattr(_fast, "POOL_BYTES", _fast.pooled_bytes())  # full: free ones dropped
    kept = [_fast.empty(shape, np.float32) for _ in range(3)]
    assert len({address(a) for a in kept + [second]}) == 4
    assert _fast.pooled_bytes() <= _fast.POOL_BYTES


def test_pool_reuse_follows_the_arrays_not_reference_counts(monkeypatch):
    """A pooled buffer stays in use while any array over its memory lives, however that array
    was made from the one ``empty`` returned (views of views, transposes, reshapes) and however
    many references to it exist; it comes back once the last one is gone."""
    from utils.kernels import _fast

    monkeypatch.setattr(_fast, "_pool", _fast._BufferPool())
    shape = (32, 64, 16)

    def address(a):
        return a.__array_interface__["data"][0]

    first = _fast.empty(shape, np.float64)
    at = address(first)
    holders = [first, first, {"cache": first}]  # more references than the pool's own
    deep_view = first.transpose(2, 0, 1)[::2].reshape(8, 32, 64)[1:]  # a view of views
    assert np.shares_memory(deep_view, first)
    del first, holders
    other = _fast.empty(shape, np.float64)
    assert address(other) != at
    assert not np.shares_memory(other, deep_view)
    del deep_view
    assert address(_fast.empty(shape, np.float64)) == at
    assert _fast.pooled_bytes() == 2 * 32 * 64 * 16 * 8  # two buffers, both the pool's


def _run_kernel(module, x, a0, params, da):
    """Forward of one kernel module; returns (a, a function running its backward on da)."""
    if module is lstm_kernel:
        a, _, cache = module.lstm_forward(x, a0, None, params)
        return a, lambda: module.lstm_backward(da, None, cache)
    if module is gru_kernel:
        a, cache = module.gru_forward(x, a0, params, variant="reset_after")
        return a, lambda: module.gru_backward(da, cache)
    a, cache = module.rnn_layer_forward(x, a0, params)
    return a, lambda: module.rnn_backward(da, cache)


def test_caches_stay_valid_when_the_kernels_run_again(rng, lstm_params, gru_params, rnn_params):
    """Pooled buffers are reused only when free: a cache kept while the kernel runs again
    (on other inputs of the same shapes) still gives its own gradients."""
    n_x, n_a, m, T = 5, 16, 32, 40  # large enough for every cache array to be pooled
    for module, params in [
        (lstm_kernel, lstm_params(rng, n_x, n_a, peephole=False)),
        (gru_kernel, gru_params(rng, n_x, n_a, "reset_after")),
        (rnn_kernel, rnn_params(rng, n_x, n_a, 2)),
    ]:
        x1, x2 = rng.normal(size=(2, n_x, m, T))
        a0 = rng.normal(size=(n_a, m))
        da = rng.normal(size=(n_a, m, T))
        a1, backward1 = _run_kernel(module, x1, a0, params, da)
        want_a, want = a1.copy(), {k: v.copy() for k, v in backward1().items()}
        for _ in range(2):  # other inputs, the same shapes: the pool is asked for the same sizes
            _run_kernel(module, x2, a0, params, da)[1]()
        np.testing.assert_array_equal(a1, want_a)
        for k, v in backward1().items():
            np.testing.assert_array_equal(v, want[k], err_msg=f"{module.__name__} {k}")
