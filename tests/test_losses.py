"""Tests for utils.losses: masked cross-entropy in nats summed over time."""

import numpy as np
import pytest

from utils import losses
from utils.activations import softmax
from utils.gradcheck import assert_gradients_close


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(4, 3, 5)) * 2
    labels = rng.integers(0, 4, size=(3, 5))
    one_hot = np.eye(4)[labels].transpose(2, 0, 1)
    mask = np.ones((3, 5))
    mask[2, 2:] = 0
    return logits, labels, one_hot, mask


def test_value_matches_definition(problem):
    logits, labels, one_hot, mask = problem
    p = softmax(logits)
    m, T = labels.shape
    expected = -sum(mask[i, t] * np.log(p[labels[i, t], i, t]) for i in range(m) for t in range(T))
    loss, _ = losses.softmax_cross_entropy(logits, labels, mask)
    assert loss == pytest.approx(expected / m, rel=1e-12)
    loss_sum, _ = losses.softmax_cross_entropy(logits, one_hot, mask, reduction="sum")
    assert loss_sum == pytest.approx(expected, rel=1e-12)
    assert losses.cross_entropy(p, labels, mask) == pytest.approx(expected / m, rel=1e-12)
    assert losses.cross_entropy(p, one_hot, mask, "sum") == pytest.approx(expected, rel=1e-12)


def test_uniform_prediction_costs_log_n_per_step(problem):
    _, labels, _, _ = problem
    loss, _ = losses.softmax_cross_entropy(np.zeros((4, 3, 5)), labels, reduction="sum")
    assert loss == pytest.approx(15 * np.log(4))


@pytest.mark.parametrize("reduction", ["per_sequence", "sum"])
def test_gradient_matches_finite_differences(problem, reduction):
    logits, labels, _, mask = problem
    _, dlogits = losses.softmax_cross_entropy(logits, labels, mask, reduction)

    def f(q):
        return losses.softmax_cross_entropy(q["z"], labels, mask, reduction)[0]

    assert_gradients_close(f, {"z": logits}, {"dz": dlogits})
    np.testing.assert_array_equal(dlogits[:, 2, 2:], 0.0)  # padding gets no gradient


def test_soft_targets_gradient(problem):
    logits, _, _, mask = problem
    target = softmax(np.random.default_rng(3).normal(size=logits.shape)) * 0.7  # sums to 0.7
    _, dz = losses.softmax_cross_entropy(logits, target, mask)

    def f(q):
        return losses.softmax_cross_entropy(q["z"], target, mask)[0]

    assert_gradients_close(f, {"z": logits}, {"dz": dz})


def test_extremes_are_finite(problem):
    logits, labels, _, _ = problem
    loss, dz = losses.softmax_cross_entropy(1000 * logits, labels)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(dz))
    assert np.isfinite(losses.cross_entropy(softmax(1000 * logits), labels))


def test_bad_shapes_and_labels_raise(problem):
    logits, labels, one_hot, mask = problem
    with pytest.raises(ValueError, match=r"labels y must have shape \(m, T\) = \(3, 5\)"):
        losses.softmax_cross_entropy(logits, labels.T)
    with pytest.raises(ValueError, match=r"y must have shape \(n_y, m, T\)"):
        losses.softmax_cross_entropy(logits, one_hot[:3])
    with pytest.raises(ValueError, match=r"mask must have shape \(m, T\)"):
        losses.softmax_cross_entropy(logits, labels, mask.T)
    with pytest.raises(ValueError, match=r"\[0, n_y\)"):
        losses.softmax_cross_entropy(logits, labels + 4)
    with pytest.raises(ValueError, match="reduction"):
        losses.softmax_cross_entropy(logits, labels, reduction="mean")


def test_float32_and_no_mutation(problem):
    logits, labels, _, mask = problem
    z32 = logits.astype(np.float32)
    before = z32.copy()
    loss, dz = losses.softmax_cross_entropy(z32, labels, mask[None])
    assert dz.dtype == np.float32
    np.testing.assert_array_equal(z32, before)
    assert loss == pytest.approx(losses.softmax_cross_entropy(logits, labels, mask)[0], rel=1e-5)
