"""Tests for utils.optim: optimiser updates, clipping, no mutation of gradients."""

import numpy as np
import pytest

from utils import optim


def _params():
    return {"W": np.array([[1.0, -2.0], [3.0, 0.5]]), "b": np.array([[0.1], [-0.1]])}


def _grads():
    return {
        "dW": np.array([[0.5, -1.0], [2.0, 0.0]]),
        "db": np.array([[1.0], [-3.0]]),
        "dx": np.full((2, 2, 2), np.nan),
    }  # not a parameter gradient: must be ignored


def test_sgd_step():
    p, g = _params(), _grads()
    optim.SGD(lr=0.1).step(p, g)
    np.testing.assert_allclose(p["W"], _params()["W"] - 0.1 * g["dW"])
    np.testing.assert_allclose(p["b"], _params()["b"] - 0.1 * g["db"])


def test_sgd_momentum_accumulates():
    p, g = _params(), _grads()
    opt = optim.SGD(lr=0.1, momentum=0.9)
    opt.step(p, g)
    opt.step(p, g)
    np.testing.assert_allclose(p["W"], _params()["W"] - 0.1 * g["dW"] * (1 + 1.9))


def test_adagrad_matches_formula():
    p, g = _params(), _grads()
    opt = optim.Adagrad(lr=0.1)
    opt.step(p, g)
    opt.step(p, g)
    W0, dW = _params()["W"], g["dW"]
    step1 = 0.1 * dW / (np.sqrt(dW**2) + 1e-8)
    step2 = 0.1 * dW / (np.sqrt(2 * dW**2) + 1e-8)
    np.testing.assert_allclose(p["W"], W0 - step1 - step2)


def test_adam_first_step_is_lr_times_sign():
    p, g = _params(), _grads()
    optim.Adam(lr=0.01).step(p, g)
    expected = _params()["W"] - 0.01 * np.sign(g["dW"])  # sign(0) = 0: no step
    np.testing.assert_allclose(p["W"], expected, atol=1e-7)


def test_adam_minimises_a_quadratic():
    p = {"w": np.array([[5.0], [-3.0]])}
    opt = optim.Adam(lr=0.1)
    for _ in range(500):
        opt.step(p, {"dw": 2 * p["w"]})
    np.testing.assert_allclose(p["w"], 0.0, atol=1e-2)


@pytest.mark.parametrize("opt", [optim.SGD(0.1), optim.Adagrad(0.1), optim.Adam(0.1)])
def test_optimisers_keep_float32_and_handle_nested_dicts(opt):
    p = {"layer1": {"W": np.ones((2, 2), np.float32)}, "by": np.ones((2, 1), np.float32)}
    g = {"layer1": {"dW": np.ones((2, 2))}, "dby": np.ones((2, 1))}
    opt.step(p, g)
    assert p["layer1"]["W"].dtype == np.float32
    assert np.all(p["layer1"]["W"] < 1)
    assert np.all(p["by"] < 1)


def test_missing_or_misshapen_gradient_raises():
    with pytest.raises(KeyError, match="db"):
        optim.SGD().step(_params(), {"dW": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"gradient of b has shape \(2,\), but b has shape"):
        optim.SGD().step(_params(), {"dW": np.zeros((2, 2)), "db": np.zeros(2)})


def test_clip_by_value_does_not_mutate():
    g = _grads()
    del g["dx"]
    before = {k: v.copy() for k, v in g.items()}
    clipped, norm = optim.clip_by_value(g, 1.0)
    assert norm == pytest.approx(optim.global_norm(before))  # the norm before clipping
    assert norm > optim.global_norm(clipped)
    np.testing.assert_array_equal(clipped["dW"], [[0.5, -1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(clipped["db"], [[1.0], [-1.0]])
    for k in g:
        np.testing.assert_array_equal(g[k], before[k])
    with pytest.raises(ValueError, match="max_value"):
        optim.clip_by_value(g, 0.0)


def test_clip_by_global_norm():
    g = {"da": np.array([3.0]), "db": np.array([[4.0]])}  # global norm 5
    clipped, norm = optim.clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(5.0)
    assert optim.global_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped["da"], [0.6])
    same, _ = optim.clip_by_global_norm(g, 10.0)
    np.testing.assert_array_equal(same["db"], g["db"])
    assert g["da"][0] == 3.0
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_by_global_norm(g, 0.0)


def test_parameter_gradients_selects_parameters_only():
    sel = optim.parameter_gradients(_grads(), _params())
    assert set(sel) == {"dW", "db"}
