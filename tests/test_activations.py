"""Unit tests for utils.activations: values, derivatives, stability, dtype, no mutation."""

import numpy as np
import pytest

from utils import activations as act

EXTREME = np.array([[-1000.0, -50.0, 0.0], [50.0, 1000.0, 3.0]])


def test_sigmoid_matches_definition_and_is_finite_at_extremes():
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(act.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-12, atol=1e-300)
    s = act.sigmoid(EXTREME)
    assert np.all(np.isfinite(s))
    assert s[0, 0] == 0.0
    assert s[1, 1] == 1.0


def test_tanh_and_relu_values():
    z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(act.tanh(z), np.tanh(z))
    np.testing.assert_array_equal(act.relu(z), [0, 0, 0, 0.5, 2])
    assert np.all(np.isfinite(act.tanh(EXTREME)))
    assert np.all(np.isfinite(act.relu(EXTREME)))


@pytest.mark.parametrize("shape", [(5,), (5, 3), (5, 3, 4)])
def test_softmax_columns_sum_to_one(shape):
    z = np.random.default_rng(0).normal(size=shape) * 10
    y = act.softmax(z)
    np.testing.assert_allclose(y.sum(axis=0), 1.0, rtol=1e-12)
    assert np.all(y >= 0)


def test_softmax_is_over_axis_0_and_shift_invariant():
    z = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, -1.0]])
    expected = np.exp(z) / np.exp(z).sum(axis=0)
    np.testing.assert_allclose(act.softmax(z), expected, rtol=1e-12)
    np.testing.assert_allclose(act.softmax(z + 500.0), expected, rtol=1e-12)


def test_softmax_and_log_softmax_finite_at_extremes():
    y = act.softmax(EXTREME)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(axis=0), 1.0)
    logy = act.log_softmax(EXTREME)
    assert np.all(np.isfinite(logy))
    # columns 0 and 1: the smaller exp underflows, so log_softmax = z - max exactly
    expected = EXTREME - EXTREME.max(axis=0)
    expected[:, 2] = np.log(y[:, 2])
    np.testing.assert_allclose(logy, expected, atol=1e-12, rtol=1e-12)


def _numeric_derivative(f, z, eps=1e-6):
    return (f(z + eps) - f(z - eps)) / (2 * eps)


@pytest.mark.parametrize(
    ("f", "df"),
    [
        (act.sigmoid, act.sigmoid_derivative),
        (act.tanh, act.tanh_derivative),
        (act.relu, act.relu_derivative),
    ],
)
def test_derivatives_match_finite_differences(f, df):
    z = np.array([-3.0, -1.0, -0.2, 0.3, 1.0, 2.5])  # avoid the relu kink at 0
    np.testing.assert_allclose(df(z), _numeric_derivative(f, z), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize(
    ("f", "backward"),
    [
        (act.sigmoid, act.sigmoid_backward),
        (act.tanh, act.tanh_backward),
        (act.relu, act.relu_backward),
        (act.softmax, act.softmax_backward),
    ],
)
def test_backward_rules_match_finite_differences(f, backward):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 3)) + 0.1
    dout = rng.normal(size=(4, 3))
    dz = backward(dout, f(z))
    numeric = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[i] += 1e-6
        zm[i] -= 1e-6
        numeric[i] = (np.sum(dout * f(zp)) - np.sum(dout * f(zm))) / 2e-6
    np.testing.assert_allclose(dz, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "f",
    [
        act.sigmoid,
        act.tanh,
        act.relu,
        act.softmax,
        act.log_softmax,
        act.sigmoid_derivative,
        act.tanh_derivative,
        act.relu_derivative,
    ],
)
def test_float32_stays_float32_and_inputs_are_not_mutated(f):
    z = np.random.default_rng(2).normal(size=(3, 2)).astype(np.float32)
    before = z.copy()
    out = f(z)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(z, before)
    assert np.all(np.isfinite(f(EXTREME.astype(np.float32))))


def test_integer_input_becomes_float():
    assert act.sigmoid(np.array([0, 1])).dtype == np.float64
    assert act.softmax(np.array([[0], [1]])).dtype == np.float64
