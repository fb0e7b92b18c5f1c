"""Synthetic long-range tasks: the adding problem, and a model that reads it.

**The adding problem** (Hochreiter & Schmidhuber, 1997). Each example is a sequence of ``T``
steps with two input channels::

    x[0, i, t]  a random value, uniform in [0, 1)
    x[1, i, t]  a marker: 1 at exactly two steps, 0 elsewhere

One marker falls in the first half of the sequence (steps 0 .. T//2 - 1), the other in the
second half (T//2 .. T-1). The target, read only after the last step, is the sum of the two
marked values, in [0, 2). To solve it a network must *store* the first marked value for up
to ``T - 1`` steps while ignoring every unmarked value it reads in between.

The trivial baseline always predicts the mean of the target, 1; its mean squared error is the
variance of the sum of two independent U(0, 1) values, 2 / 12 = 1/6 ≈ 0.167
(:data:`ADDING_BASELINE_MSE`). A model that stays there has learned nothing about the markers.
Hochreiter & Schmidhuber count a sequence as solved when the absolute error is below 0.04.

**The model** is one recurrent layer (``"rnn"``, ``"gru"`` or ``"lstm"``, through
:mod:`utils.layer`, which runs the fast kernels) and a linear read-out of its *last* state,
``y_hat = Wya a<T> + by`` of shape (1, m) (many-to-one), trained on the mean squared error
``J = mean_i (y_hat_i - y_i)**2``. Only the last state receives a gradient from the loss,
``dJ/da<T> = Wya^T (2/m) (y_hat - y)``: everything the network learns about the first
marker must flow back through ``T - 1`` recurrent steps.
"""

from __future__ import annotations

import numpy as np

from utils import init
from utils.layer import CELLS, layer_backward, layer_forward
from utils.optim import Adam
from utils.train import train

__all__ = [
    "ADDING_BASELINE_MSE",
    "adding_problem",
    "init_last_step_model",
    "last_step_gradients",
    "last_step_predict",
    "mse",
    "train_on_adding",
]

ADDING_BASELINE_MSE = 1 / 6  # always predicting 1: Var(U1 + U2) = 2 / 12


def adding_problem(rng: np.random.Generator, m: int, T: int, dtype=np.float64):
    """A batch of the adding problem.

    Arguments:
    - rng: the source of randomness (the same generator state gives the same batch).
    - m: number of sequences; T: number of steps (at least 2).
    - dtype: float64 (default) or float32.

    Returns:
    - x (2, m, T): values (channel 0) and markers (channel 1).
    - y (1, m): the sum of the two marked values.
    """
    if not isinstance(m, int | np.integer) or m < 1:
        raise ValueError(f"m must be a positive integer, got {m!r}")
    if not isinstance(T, int | np.integer) or T < 2:
        raise ValueError(f"T must be an integer >= 2 (one marker per half), got {T!r}")
    values = rng.uniform(0.0, 1.0, size=(m, T))
    first = rng.integers(0, T // 2, size=m)  # in the first half
    second = rng.integers(T // 2, T, size=m)  # in the second half
    markers = np.zeros((m, T))
    rows = np.arange(m)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers]).astype(dtype)
    y = (values[rows, first] + values[rows, second])[None].astype(dtype)
    return x, y


def mse(y_hat, y) -> float:
    """Mean squared error over all entries."""
    return float(np.mean((np.asarray(y_hat) - np.asarray(y)) ** 2))


def init_last_step_model(cell: str, n_x: int, n_a: int, rng: np.random.Generator, **options):
    """Parameters of a ``cell`` layer plus the read-out Wya (1, n_a), by (1, 1) (by = 1, the
    baseline's prediction). Options: ``variant`` (GRU), ``peephole`` and ``forget_bias``
    (LSTM), as in :mod:`utils.init`."""
    if cell == "rnn":
        parameters = init.init_rnn_parameters(n_x, n_a, rng, n_y=1)
    elif cell == "gru":
        parameters = init.init_gru_parameters(n_x, n_a, rng, n_y=1, **options)
    elif cell == "lstm":
        parameters = init.init_lstm_parameters(n_x, n_a, rng, n_y=1, **options)
    else:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    parameters["by"] += 1.0
    return parameters


def _layer_options(cell, options):
    """The layer's own options (``variant``, ``peephole``) without the read-out's."""
    allowed = {"rnn": ("activation",), "gru": ("variant",), "lstm": ("peephole",)}[cell]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"{cell} layer options are {allowed}, got {unknown}")
    return options


def last_step_predict(cell: str, x, parameters: dict, **options):
    """y_hat = Wya a<T> + by, (1, m), for the layer ``cell`` run over x from a zero state."""
    a, _ = layer_forward(cell, x, parameters, **_layer_options(cell, options))
    return parameters["Wya"] @ a[:, :, -1] + parameters["by"]


def last_step_gradients(cell: str, x, y, parameters: dict, **options):
    """Mean squared error of the last-step prediction and its gradients.

    Returns ``(loss, grads)``; ``grads`` has ``dWya``, ``dby`` and every gradient of the layer
    (``dx``, ``da0`` included).
    """
    a, cache = layer_forward(cell, x, parameters, **_layer_options(cell, options))
    a_last = a[:, :, -1]
    y_hat = parameters["Wya"] @ a_last + parameters["by"]
    m = y_hat.shape[1]
    dy_hat = 2.0 * (y_hat - y) / m  # J = mean (y_hat - y)^2
    da = np.zeros_like(a)
    da[:, :, -1] = parameters["Wya"].T @ dy_hat  # only the last state feeds the loss
    grads = layer_backward(da, cache)
    grads["dWya"] = dy_hat @ a_last.T
    grads["dby"] = dy_hat.sum(axis=1, keepdims=True)
    return mse(y_hat, y), grads


def train_on_adding(
    cell: str,
    parameters: dict,
    T: int,
    n_steps: int,
    rng: np.random.Generator,
    batch: int = 64,
    learning_rate: float = 0.02,
    clip_norm: float = 1.0,
    print_every: int = 0,
    **options,
) -> dict:
    """Train ``parameters`` (in place) on fresh adding-problem batches, with Adam and
    gradient clipping by global norm. Returns the history of :func:`utils.train.train`
    (``loss`` per step, ``smoothed_loss``, ``grad_norm``)."""

    def step_fn(params, step):
        x, y = adding_problem(rng, batch, T)
        return last_step_gradients(cell, x, y, params, **options)

    return train(
        step_fn,
        parameters,
        Adam(lr=learning_rate),
        n_steps,
        clip_norm=clip_norm,
        print_every=print_every,
    )
