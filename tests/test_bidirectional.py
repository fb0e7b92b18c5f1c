"""Tests for utils.bidirectional: both directions, any cell, gradients, shapes."""

import numpy as np
import pytest

from utils import bidirectional as bi
from utils.gradcheck import assert_gradients_close
from utils.kernels.rnn import rnn_layer_forward

N_X, N_A, M, T = 3, 3, 2, 4
CELLS = [("rnn", {}), ("gru", {"variant": "full"}), ("lstm", {"peephole": True})]


def test_backward_direction_reads_the_reversed_sequence(rng, cell_params):
    p = {
        "forward": cell_params(rng, "rnn", N_X, N_A),
        "backward": cell_params(rng, "rnn", N_X, N_A),
    }
    x = rng.normal(size=(N_X, M, T))
    a, _ = bi.bidirectional_forward(x, p)
    assert a.shape == (2 * N_A, M, T)
    a_fwd, _ = rnn_layer_forward(x, np.zeros((N_A, M)), p["forward"])
    a_rev, _ = rnn_layer_forward(x[:, :, ::-1].copy(), np.zeros((N_A, M)), p["backward"])
    np.testing.assert_allclose(a[:N_A], a_fwd, rtol=1e-14)
    np.testing.assert_allclose(a[N_A:], a_rev[:, :, ::-1], rtol=1e-14)
    # the backward state at t = 0 has seen the whole sequence, the forward one only x<1>
    x2 = x.copy()
    x2[:, :, -1] += 1.0
    a2, _ = bi.bidirectional_forward(x2, p)
    np.testing.assert_array_equal(a2[:N_A, :, 0], a[:N_A, :, 0])
    assert not np.allclose(a2[N_A:, :, 0], a[N_A:, :, 0])


@pytest.mark.parametrize(("cell", "options"), CELLS)
def test_gradcheck_all_cells(rng, cell_params, cell, options):
    p = {"forward": cell_params(rng, cell, N_X, N_A), "backward": cell_params(rng, cell, N_X, N_A)}
    x = rng.normal(size=(N_X, M, T))
    a0 = {"forward": rng.normal(size=(N_A, M)), "backward": rng.normal(size=(N_A, M))}
    c0 = {"forward": rng.normal(size=(N_A, M)), "backward": rng.normal(size=(N_A, M))}
    c0 = c0 if cell == "lstm" else None
    w = rng.normal(size=(2 * N_A, M, T))
    _, cache = bi.bidirectional_forward(x, p, cell, a0, c0, **options)
    g = bi.bidirectional_backward(w, cache)

    def f(q):
        states = {"forward": q["a0"], "backward": q["a0b"]}
        a, _ = bi.bidirectional_forward(q["x"], q["p"], cell, states, c0, **options)
        return np.sum(w * a)

    tree = {"p": p, "x": x, "a0": a0["forward"], "a0b": a0["backward"]}
    grads = {
        "p": {"forward": g["forward"], "backward": g["backward"]},
        "dx": g["dx"],
        "da0": g["forward"]["da0"],
        "da0b": g["backward"]["da0"],
    }
    order = 2 if cell == "rnn" else 4
    assert_gradients_close(f, tree, grads, order=order)


def test_nothing_mutated_and_bad_shapes(rng, cell_params):
    p = {
        "forward": cell_params(rng, "lstm", N_X, N_A),
        "backward": cell_params(rng, "lstm", N_X, N_A),
    }
    x = rng.normal(size=(N_X, M, T))
    saved = x.copy()
    a, cache = bi.bidirectional_forward(x, p, "lstm")
    da = rng.normal(size=a.shape)
    da_saved = da.copy()
    bi.bidirectional_backward(da, cache)
    np.testing.assert_array_equal(x, saved)
    np.testing.assert_array_equal(da, da_saved)
    with pytest.raises(ValueError, match=r"da must have shape \(2 n_a, m, T_x\)"):
        bi.bidirectional_backward(da[:N_A], cache)
    with pytest.raises(KeyError, match="backward"):
        bi.bidirectional_forward(x, {"forward": p["forward"]}, "lstm")
    with pytest.raises(ValueError, match="cell must be one of"):
        bi.bidirectional_forward(x, p, "transformer")
    with pytest.raises(ValueError, match=r"Wf must have shape \(n_a, n_a \+ n_x\)"):
        bi.bidirectional_forward(x[:2], p, "lstm")


def test_float32(rng, cell_params):
    p = {
        d: {k: v.astype(np.float32) for k, v in cell_params(rng, "gru", N_X, N_A).items()}
        for d in ("forward", "backward")
    }
    a, cache = bi.bidirectional_forward(rng.normal(size=(N_X, M, T)).astype(np.float32), p, "gru")
    assert a.dtype == np.float32
    assert bi.bidirectional_backward(a, cache)["dx"].dtype == np.float32
