"""utils.deep: the step-by-step deep RNN equals utils.kernels.deep's layer-by-layer one, and its
backward passes (stack and head) pass gradient checks."""

import numpy as np
import pytest

from utils import deep, init
from utils.gradcheck import assert_gradients_close
from utils.kernels import deep as deep_kernel

INIT = {"rnn": init.init_rnn_parameters, "gru": init.init_gru_parameters}


def _parameters(rng, cell, n_x, sizes):
    p, n_in = {}, n_x
    for l, n_a in enumerate(sizes, start=1):
        p[f"layer{l}"] = INIT[cell](n_in, n_a, rng)
        p[f"layer{l}"] = {
            k: v + 0.3 * rng.standard_normal(v.shape) for k, v in p[f"layer{l}"].items()
        }
        n_in = n_a
    return p


@pytest.mark.parametrize("cell", deep.CELLS)
def test_stacked_equals_deep(cell):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 6))
    p = _parameters(rng, cell, 3, (4, 5, 4))
    a0 = {
        name: rng.standard_normal((p[name]["ba" if cell == "rnn" else "bu"].shape[0], 2))
        for name in p
    }
    a, caches = deep.stacked_forward(x, a0, p, cell)
    assert len(a) == 3
    top, deep_cache = deep_kernel.deep_forward(x, p, cell, a0=a0)
    np.testing.assert_allclose(a[-1], top, rtol=1e-10, atol=1e-12)
    da = rng.standard_normal(top.shape)
    want = deep_kernel.deep_backward(da, deep_cache)
    got = deep.stacked_backward(da, caches)
    np.testing.assert_allclose(got["dx"], want["dx"], rtol=1e-9, atol=1e-12)
    for name in p:
        for key, value in want[name].items():
            np.testing.assert_allclose(got[name][key], value, rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("cell", deep.CELLS)
def test_stacked_gradient_check_and_no_mutation(cell):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 4))
    p = _parameters(rng, cell, 3, (3, 4))
    a0 = {"layer1": rng.standard_normal((3, 2)), "layer2": rng.standard_normal((4, 2))}
    w = rng.standard_normal((4, 2, 4))
    before = {k: {n: v.copy() for n, v in q.items()} for k, q in p.items()}
    _a, caches = deep.stacked_forward(x, a0, p, cell)
    grads = deep.stacked_backward(w, caches)
    for k, q in p.items():
        for n, v in q.items():
            np.testing.assert_array_equal(v, before[k][n])

    def f(v):
        a, _ = deep.stacked_forward(v["x"], v["a0"], {k: v[k] for k in p}, cell)
        return float(np.sum(w * a[-1]))

    at = {"x": x, "a0": a0, **p}
    full = {**grads, "a0": {f"d{k}": grads[k]["da0"] for k in p}}
    assert_gradients_close(f, at, full, threshold=1e-6)


def test_head_gradient_check():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 3, 5))
    head = {
        "W1": rng.standard_normal((6, 4)),
        "b1": rng.standard_normal((6, 1)),
        "W2": rng.standard_normal((2, 6)),
        "b2": rng.standard_normal((2, 1)),
    }
    w = rng.standard_normal((2, 3, 5))
    y_hat, cache = deep.head_forward(a, head)
    np.testing.assert_allclose(y_hat.sum(axis=0), 1.0)
    grads = deep.head_backward(w, cache)

    def f(v):
        _, (_, h, _) = deep.head_forward(v["a"], {k: v[k] for k in head})
        z = np.einsum("yh,hmt->ymt", v["W2"], h) + v["b2"][:, :, None]
        return float(np.sum(w * z))

    assert_gradients_close(f, {"a": a, **head}, grads, threshold=1e-6)


def test_bad_cell_and_layer_names():
    x = np.zeros((2, 1, 3))
    with pytest.raises(ValueError, match="cell must be one of"):
        deep.step_forward("lstm", x[:, :, 0], np.zeros((2, 1)), {})
    with pytest.raises(KeyError, match="layer1, layer2"):
        deep.stacked_forward(x, {}, {"layer2": {}}, "rnn")


@pytest.mark.parametrize("cell", deep.CELLS)
def test_float32_stays_float32(cell):
    """float32 inputs give float32 gradients everywhere, dx included (as utils.kernels.deep's),
    equal to the float64 ones within float32 precision."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 5))
    p = _parameters(rng, cell, 3, (4, 4))
    a0 = {name: rng.standard_normal((4, 2)) for name in p}
    da = rng.standard_normal((4, 2, 5))
    p32 = {k: {n: v.astype(np.float32) for n, v in q.items()} for k, q in p.items()}
    a0_32 = {k: v.astype(np.float32) for k, v in a0.items()}
    a, caches = deep.stacked_forward(x.astype(np.float32), a0_32, p32, cell)
    assert all(layer.dtype == np.float32 for layer in a)
    grads = deep.stacked_backward(da.astype(np.float32), caches)
    assert grads["dx"].dtype == np.float32
    for name in p:
        for key, value in grads[name].items():
            assert value.dtype == np.float32, (name, key, value.dtype)
    _top, deep_cache = deep_kernel.deep_forward(x.astype(np.float32), p32, cell, a0=a0_32)
    assert deep_kernel.deep_backward(da.astype(np.float32), deep_cache)["dx"].dtype == np.float32
    want = deep.stacked_backward(da, deep.stacked_forward(x, a0, p, cell)[1])
    np.testing.assert_allclose(grads["dx"], want["dx"], rtol=1e-4, atol=1e-5)
