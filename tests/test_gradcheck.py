"""Unit tests for utils.gradcheck: numeric gradients, the report, and the assert helper."""

import numpy as np
import pytest

from utils import gradcheck as gc


def _quadratic_problem(dtype=np.float64):
    """f(p) = sum((A W + b)^2), parameters of ``dtype``, exact gradients (float64) at them."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 4))
    params = {"W": rng.normal(size=(4, 2)), "b": rng.normal(size=(3, 1))}
    params = {k: v.astype(dtype) for k, v in params.items()}

    def f(p):
        return float(np.sum((A @ p["W"] + p["b"]) ** 2))

    out = A @ params["W"] + params["b"]
    grads = {"dW": A.T @ (2 * out), "db": (2 * out).sum(axis=1, keepdims=True)}
    return f, params, grads


def test_relative_error_is_robust():
    np.testing.assert_allclose(gc.relative_error([1.0, 0.0, -2.0], [1.0, 0.0, 2.0]), [0, 0, 1])
    assert gc.relative_error(1e-12, 0.0)[()] == pytest.approx(1e-4)  # floor 1e-8 applies


def test_numerical_gradients_of_quadratic_are_accurate():
    f, params, grads = _quadratic_problem()
    numeric = gc.numerical_gradients(f, params)
    np.testing.assert_allclose(numeric["W"], grads["dW"], rtol=1e-8)
    np.testing.assert_allclose(numeric["b"], grads["db"], rtol=1e-8)


def test_correct_gradients_pass_and_inputs_are_untouched():
    f, params, grads = _quadratic_problem()
    before = {k: v.copy() for k, v in params.items()}
    report = gc.assert_gradients_close(f, params, grads)
    assert report.passed
    assert report.worst < 1e-8
    assert set(report.per_parameter) == {"W", "b"}
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


def test_wrong_gradient_fails_with_a_report_naming_the_entry():
    f, params, grads = _quadratic_problem()
    bad = {"dW": grads["dW"].copy(), "db": grads["db"]}
    bad["dW"][2, 1] += 0.5
    report = gc.gradient_check(f, params, bad)
    assert not report.passed
    worst = report.worst_entries[0]
    assert (worst.name, worst.index) == ("W", (2, 1))
    assert worst.analytic == pytest.approx(grads["dW"][2, 1] + 0.5)
    assert worst.numeric == pytest.approx(grads["dW"][2, 1], rel=1e-6)
    with pytest.raises(AssertionError, match=r"FAILED[\s\S]*W\s+\(2, 1\)"):
        gc.assert_gradients_close(f, params, bad)


def test_nested_parameters_and_names_filter():
    f0, params, grads = _quadratic_problem()
    nested = {"layer1": params, "c": np.array([[0.5]])}

    def f(p):
        return f0(p["layer1"]) + float(np.sum(p["c"] ** 3))

    nested_grads = {"layer1": grads, "dc": 3 * nested["c"] ** 2}
    report = gc.assert_gradients_close(f, nested, nested_grads)
    assert set(report.per_parameter) == {"layer1.W", "layer1.b", "c"}
    only = gc.gradient_check(f, nested, nested_grads, names=["c"])
    assert set(only.per_parameter) == {"c"}
    with pytest.raises(ValueError, match=r"names \['W'\] are not in parameters"):
        gc.gradient_check(f, nested, nested_grads, names=["W"])  # it is "layer1.W"


def test_missing_or_misshapen_gradient_is_reported():
    f, params, grads = _quadratic_problem()
    with pytest.raises(KeyError, match="db"):
        gc.gradient_check(f, params, {"dW": grads["dW"]})
    with pytest.raises(ValueError, match=r"gradient of W has shape \(2, 4\)"):
        gc.gradient_check(f, params, {"dW": grads["dW"].T, "db": grads["db"]})


def test_float32_parameters_are_checked_in_float64():
    # Perturbed in float32, W_i + 1e-5 would be rounded to a multiple of ~1e-7 and the
    # numeric gradient would be ~1e-3 off; in float64 copies the default threshold holds.
    f, p32, grads = _quadratic_problem(np.float32)
    before = {k: v.copy() for k, v in p32.items()}
    report = gc.gradient_check(f, p32, grads)
    assert report.passed
    for k in p32:
        assert p32[k].dtype == np.float32
        np.testing.assert_array_equal(p32[k], before[k])


def test_fourth_order_stencil_is_more_accurate_on_a_smooth_function():
    params = {"w": np.array([0.3, -1.2, 2.0])}

    def f(p):
        return float(np.sum(np.sin(3 * p["w"]) * np.exp(p["w"])))

    exact = 3 * np.cos(3 * params["w"]) * np.exp(params["w"]) + np.sin(3 * params["w"]) * np.exp(
        params["w"]
    )
    err2 = np.abs(gc.numerical_gradients(f, params)["w"] - exact).max()
    err4 = np.abs(gc.numerical_gradients(f, params, order=4)["w"] - exact).max()
    assert err4 < 1e-10
    assert err4 < err2
    assert gc.gradient_check(f, params, {"dw": exact}, order=4).worst < 1e-10
    with pytest.raises(ValueError, match="order"):
        gc.numerical_gradients(f, params, order=3)


def test_assert_helper_passes_order_through():
    params = {"w": np.array([0.3])}

    def f(p):
        return float(np.exp(p["w"][0]))

    exact = {"dw": np.exp(params["w"])}
    assert gc.assert_gradients_close(f, params, exact, order=4, threshold=1e-11).passed


def test_sampled_check_differentiates_only_a_fixed_sample():
    f, params, grads = _quadratic_problem()
    calls = []

    def counted(p):
        calls.append(1)
        return f(p)

    numeric = gc.numerical_gradients(counted, params, max_entries=3)
    assert len(calls) == 2 * (3 + 3)  # W: 3 of 8 entries, b: all 3
    assert np.isnan(numeric["W"]).sum() == 5
    assert not np.isnan(numeric["b"]).any()
    again = gc.numerical_gradients(f, params, max_entries=3)
    np.testing.assert_array_equal(np.isnan(again["W"]), np.isnan(numeric["W"]))
    report = gc.assert_gradients_close(f, params, grads, max_entries=3)
    assert report.worst < 1e-8
    assert {e.index for e in report.worst_entries if e.name == "W"} >= {"direction"}


def test_sampled_check_catches_a_wrong_entry_outside_the_sample():
    f, params, grads = _quadratic_problem()
    numeric = gc.numerical_gradients(f, params, max_entries=2)
    unsampled = tuple(int(i) for i in np.argwhere(np.isnan(numeric["W"]))[0])
    bad = {"dW": grads["dW"].copy(), "db": grads["db"]}
    bad["dW"][unsampled] += 0.5
    report = gc.gradient_check(f, params, bad, max_entries=2)
    assert not report.passed
    assert (report.worst_entries[0].name, report.worst_entries[0].index) == ("W", "direction")
    assert report.per_parameter["b"] < 1e-8
