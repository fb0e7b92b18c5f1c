"""Tests for utils.train: the loop learns, reports progress and stops on NaN/Inf."""

import io

import numpy as np
import pytest

from utils import init
from utils.kernels import rnn
from utils.optim import SGD, Adam
from utils.train import NonFiniteError, train


def _copy_task(rng, n=4, m=8, T=6):
    labels = rng.integers(0, n, size=(m, T))
    x = np.eye(n)[labels].transpose(2, 0, 1)  # (n, m, T) one-hot
    return x, labels


def test_rnn_learns_to_echo_its_input():
    rng = np.random.default_rng(0)
    x, y = _copy_task(rng)
    params = init.init_rnn_parameters(4, 16, rng, n_y=4)
    a0 = np.zeros((16, 8))

    def step_fn(p, step):
        loss, _, cache = rnn.rnn_model_forward(x, a0, p, y)
        return loss, rnn.rnn_model_backward(cache)

    out = io.StringIO()
    history = train(step_fn, params, Adam(lr=0.05), 150, clip_norm=5.0, print_every=50, file=out)
    assert len(history["loss"]) == 150
    assert history["loss"][-1] < 0.1 * history["loss"][0]
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 3
    assert lines[-1].startswith("step 150/150  loss")


def test_single_line_progress_uses_carriage_return():
    p = {"w": np.array([[1.0]])}
    out = io.StringIO()
    train(
        lambda p, s: (float(p["w"][0, 0] ** 2), {"dw": 2 * p["w"]}),
        p,
        SGD(0.1),
        4,
        print_every=1,
        single_line=True,
        file=out,
    )
    text = out.getvalue()
    assert text.count("\r") == 4
    assert text.endswith("\n")
    assert text.count("\n") == 1


def test_nan_loss_stops_with_step_number():
    p = {"w": np.array([[1.0]])}

    def step_fn(p, step):
        return (np.nan if step == 3 else 1.0), {"dw": np.zeros((1, 1))}

    with pytest.raises(NonFiniteError, match=r"step 3: the loss is nan"):
        train(step_fn, p, SGD(0.1), 10, print_every=0)


def test_inf_gradient_is_named():
    p = {"W": np.ones((2, 2)), "b": np.ones((2, 1))}

    def step_fn(p, step):
        return 1.0, {"dW": np.zeros((2, 2)), "db": np.array([[np.inf], [0.0]]), "dx": 0}

    with pytest.raises(FloatingPointError, match=r"step 1: gradient db is not finite \(0 NaN"):
        train(step_fn, p, SGD(0.1), 5, print_every=0)


def test_exploding_parameters_are_caught():
    p = {"w": np.array([[1e308]])}
    with pytest.raises(NonFiniteError, match="parameter w became non-finite"):
        train(lambda p, s: (1.0, {"dw": np.array([[-1e308]])}), p, SGD(10.0), 3, print_every=0)


def test_clip_value_applies_and_the_norm_is_recorded_before_clipping():
    p = {"w": np.array([[0.0]])}
    history = train(
        lambda p, s: (1.0, {"dw": np.array([[100.0]])}),
        p,
        SGD(1.0),
        1,
        clip_value=2.0,
        print_every=0,
    )
    assert p["w"][0, 0] == -2.0
    assert history["grad_norm"] == [100.0]
