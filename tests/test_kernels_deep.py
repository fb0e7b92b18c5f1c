"""Tests for utils.kernels.deep: stacked layers, uni- and bidirectional, gradients."""

import numpy as np
import pytest

from utils.gradcheck import assert_gradients_close
from utils.kernels import deep
from utils.layer import layer_forward

N_X, N_A, M, T = 3, 3, 2, 4


def deep_params(cell_params, rng, cell, n_layers, bidirectional, n_x=N_X, n_a=N_A):
    """``{"layer1": ..., ...}`` for a stack of ``cell`` layers (each bidirectional or not)."""
    params, n_in = {}, n_x
    for layer in range(1, n_layers + 1):
        if bidirectional:
            params[f"layer{layer}"] = {
                d: cell_params(rng, cell, n_in, n_a) for d in ("forward", "backward")
            }
        else:
            params[f"layer{layer}"] = cell_params(rng, cell, n_in, n_a)
        n_in = 2 * n_a if bidirectional else n_a
    return params


def test_two_layers_equal_manual_stack(rng, cell_params):
    p = deep_params(cell_params, rng, "rnn", 2, False)
    x = rng.normal(size=(N_X, M, T))
    a, _ = deep.deep_forward(x, p)
    a1, _ = layer_forward("rnn", x, p["layer1"])
    a2, _ = layer_forward("rnn", a1, p["layer2"])
    np.testing.assert_allclose(a, a2, rtol=1e-14)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(
    ("cell", "options"), [("rnn", {"activation": "tanh"}), ("lstm", {"peephole": True})]
)
def test_gradcheck_two_layers(rng, cell_params, cell, options, bidirectional):
    p = deep_params(cell_params, rng, cell, 2, bidirectional)
    x = rng.normal(size=(N_X, M, T))
    a, cache = deep.deep_forward(x, p, cell, bidirectional, **options)
    w = rng.normal(size=a.shape)
    g = deep.deep_backward(w, cache)

    def f(q):
        return np.sum(w * deep.deep_forward(q["x"], q["p"], cell, bidirectional, **options)[0])

    grads = {"p": {k: v for k, v in g.items() if k != "dx"}, "dx": g["dx"]}
    assert_gradients_close(f, {"p": p, "x": x}, grads, order=4)


def test_initial_states_per_layer_and_their_gradients(rng, cell_params):
    p = deep_params(cell_params, rng, "gru", 2, False)
    x = rng.normal(size=(N_X, M, T))
    a0 = {"layer1": rng.normal(size=(N_A, M)), "layer2": rng.normal(size=(N_A, M))}
    a, cache = deep.deep_forward(x, p, "gru", a0=a0)
    w = rng.normal(size=a.shape)
    g = deep.deep_backward(w, cache)

    def f(q):
        return np.sum(w * deep.deep_forward(x, p, "gru", a0=q)[0])

    assert_gradients_close(
        f, a0, {"dlayer1": g["layer1"]["da0"], "dlayer2": g["layer2"]["da0"]}, order=4
    )


def test_bad_layer_names(rng, cell_params):
    p = deep_params(cell_params, rng, "rnn", 2, False)
    x = rng.normal(size=(N_X, M, T))
    with pytest.raises(KeyError, match="layer1, layer2"):
        deep.deep_forward(x, {"layer2": p["layer2"]})
    with pytest.raises(ValueError, match=r"Wax must have shape \(n_a, n_x\) = \(3, 3\)"):
        deep.deep_forward(
            x, {"layer1": p["layer1"], "layer2": p["layer1"] | {"Wax": np.ones((3, 5))}}
        )
