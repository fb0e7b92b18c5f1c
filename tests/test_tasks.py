"""Unit tests for utils.tasks: the adding problem and the last-step regression model."""

import numpy as np
import pytest

from utils import tasks
from utils.gradcheck import assert_gradients_close


def test_adding_problem_shapes_markers_and_target():
    x, y = tasks.adding_problem(np.random.default_rng(0), m=50, T=12)
    assert x.shape == (2, 50, 12)
    assert y.shape == (1, 50)
    values, markers = x
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers[:, :6].sum(axis=1) == 1)  # one marker in the first half
    assert np.all(markers[:, 6:].sum(axis=1) == 1)  # one in the second half
    np.testing.assert_allclose(y[0], (values * markers).sum(axis=1))


def test_adding_problem_odd_length_and_minimum_length():
    x, _ = tasks.adding_problem(np.random.default_rng(1), m=200, T=7)
    assert np.all(x[1, :, :3].sum(axis=1) == 1)
    assert np.all(x[1, :, 3:].sum(axis=1) == 1)
    x, _ = tasks.adding_problem(np.random.default_rng(2), m=5, T=2)
    assert np.all(x[1] == 1)  # T = 2: both steps are marked


def test_adding_problem_is_seeded_and_varies():
    a = tasks.adding_problem(np.random.default_rng(3), m=4, T=10)
    b = tasks.adding_problem(np.random.default_rng(3), m=4, T=10)
    c = tasks.adding_problem(np.random.default_rng(4), m=4, T=10)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_adding_problem_marker_positions_cover_each_half():
    x, _ = tasks.adding_problem(np.random.default_rng(5), m=4000, T=10)
    positions = np.argwhere(x[1] == 1)[:, 1]
    assert set(positions) == set(range(10))


def test_adding_problem_float32():
    x, y = tasks.adding_problem(np.random.default_rng(6), m=3, T=4, dtype=np.float32)
    assert x.dtype == np.float32
    assert y.dtype == np.float32


def test_baseline_mse_is_the_variance_of_the_target():
    _, y = tasks.adding_problem(np.random.default_rng(7), m=200_000, T=4)
    assert pytest.approx(1 / 6) == tasks.ADDING_BASELINE_MSE
    assert tasks.mse(np.ones_like(y), y) == pytest.approx(tasks.ADDING_BASELINE_MSE, rel=0.02)


@pytest.mark.parametrize(("m", "T"), [(0, 5), (3, 1), (2.5, 5), (3, "10")])
def test_adding_problem_rejects_bad_sizes(m, T):
    with pytest.raises(ValueError, match="must be"):
        tasks.adding_problem(np.random.default_rng(0), m=m, T=T)


CELL_OPTIONS = [
    ("rnn", {}),
    ("gru", {"variant": "full"}),
    ("gru", {"variant": "simplified"}),
    ("lstm", {"peephole": False}),
    ("lstm", {"peephole": True}),
]


@pytest.mark.parametrize(("cell", "options"), CELL_OPTIONS)
def test_init_last_step_model_reads_out_one_number_starting_at_the_baseline(cell, options):
    rng = np.random.default_rng(8)
    init_options = {"variant": options["variant"]} if cell == "gru" else dict(options)
    parameters = tasks.init_last_step_model(cell, 2, 5, rng, **init_options)
    assert parameters["Wya"].shape == (1, 5)
    assert np.all(parameters["by"] == 1.0)
    x, _ = tasks.adding_problem(rng, m=3, T=6)
    y_hat = tasks.last_step_predict(cell, x, parameters, **options)
    assert y_hat.shape == (1, 3)


@pytest.mark.parametrize(("cell", "options"), CELL_OPTIONS)
def test_last_step_gradients_pass_a_gradient_check(cell, options):
    rng = np.random.default_rng(9)
    parameters = tasks.init_last_step_model(cell, 2, 4, rng, **options)
    for name in parameters:  # non-zero everywhere, peepholes and biases included
        parameters[name] = parameters[name] + 0.3 * rng.standard_normal(parameters[name].shape)
    x, y = tasks.adding_problem(rng, m=3, T=5)
    loss, grads = tasks.last_step_gradients(cell, x, y, parameters, **options)

    def f(p):
        return tasks.mse(tasks.last_step_predict(cell, x, p, **options), y)

    assert loss == pytest.approx(f(parameters))
    assert_gradients_close(f, parameters, grads, threshold=1e-6)


def test_only_the_last_step_feeds_the_loss():
    """The target is read after the last step: inputs after the second marker change y_hat
    only through the recurrence, and the gradient reaches the first step."""
    rng = np.random.default_rng(10)
    parameters = tasks.init_last_step_model("gru", 2, 4, rng)
    x, y = tasks.adding_problem(rng, m=2, T=8)
    _, grads = tasks.last_step_gradients("gru", x, y, parameters)
    assert np.all(np.abs(grads["dx"]).sum(axis=(0, 1)) > 0)


def test_unknown_cell_and_options_are_named():
    rng = np.random.default_rng(11)
    with pytest.raises(ValueError, match="cell must be one of"):
        tasks.init_last_step_model("transformer", 2, 4, rng)
    parameters = tasks.init_last_step_model("gru", 2, 4, rng)
    x, y = tasks.adding_problem(rng, m=2, T=4)
    with pytest.raises(TypeError, match="gru layer options"):
        tasks.last_step_gradients("gru", x, y, parameters, peephole=True)


def test_train_on_adding_learns_at_a_short_lag():
    """At T = 10 a GRU gets well below the baseline within 150 steps (seeded)."""
    rng = np.random.default_rng(12)
    parameters = tasks.init_last_step_model("gru", 2, 8, rng)
    history = tasks.train_on_adding("gru", parameters, T=10, n_steps=150, rng=rng)
    assert len(history["loss"]) == 150
    x, y = tasks.adding_problem(np.random.default_rng(13), m=500, T=10)
    assert tasks.mse(tasks.last_step_predict("gru", x, parameters), y) < 0.1 * (
        tasks.ADDING_BASELINE_MSE
    )
