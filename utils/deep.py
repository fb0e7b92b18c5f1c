"""Deep RNNs step by step, as the lecture writes them, and a deep head on every time step.

Stacked recurrent layers (layer l reads layer l - 1 at the same step, and its own previous
state)::

    a[l]<t> = g(Wa[l] [a[l]<t-1>; a[l-1]<t>] + ba[l])        a[0]<t> = x<t>,  l = 1 .. L

Every layer has its own parameters and its own state; ``g`` and ``Wa`` are those of the cell
("rnn": the vanilla cell of ``utils.rnn``; "gru": the lecture's full GRU of ``utils.gru``).
This module is the readable reference: a loop over time, and inside it a loop over the layers,
each step one call of the cell. ``utils.kernels.deep`` computes the same states layer by layer
with the fast layers (use it to train).

On top of the last layer, a deep non-recurrent network is applied at every step (the same
weights at every step)::

    h<t>     = relu(W1 a[L]<t> + b1)
    y_hat<t> = softmax(W2 h<t> + b2)

Functions:

- ``step_forward(cell, xt, a_prev, parameters) -> (a_next, cache)`` and
  ``step_backward(da_next, cache) -> {"dxt", "da_prev", "d" + parameter}``: one step of one
  hidden layer of either cell (no output layer), one interface for both.
- ``stacked_forward(x, a0, parameters, cell) -> (a, caches)``: ``parameters`` and ``a0`` are
  ``{"layer1": ..., "layer2": ..., ...}``; ``a`` is the list of every layer's states
  ``[a[1], ..., a[L]]``, each (n_a, m, T_x); ``caches = (cell_caches, x)`` with
  ``cell_caches[l][t]`` the step cache of layer l + 1 at step t.
- ``stacked_backward(da, caches) -> {"layer1": grads, ..., "dx"}``: ``da`` (n_a, m, T_x) is the
  gradient reaching the top layer's states from above; each layer's grads hold its ``da0`` and
  ``d`` + every parameter.
- ``head_forward(a, head) -> (y_hat, cache)``, ``cache = (a, h, head)``, and
  ``head_backward(dz, cache) -> {"da", "dW1", "db1", "dW2", "db2"}`` from ``dz = dJ/dz``, the
  gradient at the scores ``z<t> = W2 h<t> + b2``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from utils import gru, rnn
from utils.activations import relu, relu_backward, softmax

__all__ = [
    "CELLS",
    "StepCache",
    "head_backward",
    "head_forward",
    "layer_names",
    "stacked_backward",
    "stacked_forward",
    "step_backward",
    "step_forward",
]

CELLS = ("rnn", "gru")


def layer_names(parameters) -> list[str]:
    """``["layer1", ..., "layerL"]`` for the recurrent layers of ``parameters``."""
    names = [k for k in parameters if k.startswith("layer")]
    names.sort(key=lambda k: int(k[5:]) if k[5:].isdigit() else -1)
    if not names or names != [f"layer{i}" for i in range(1, len(names) + 1)]:
        raise KeyError(f"deep parameters need keys layer1, layer2, ...; got {sorted(parameters)}")
    return names


# --------------------------------------------------------------------------------------------
# One step of one hidden layer, any cell
# --------------------------------------------------------------------------------------------


class StepCache(NamedTuple):
    """The cache of one step of one hidden layer (``step_forward``), for ``step_backward``: a
    tuple ``(cell, cache)``."""

    cell: str  # "rnn" or "gru"
    cache: tuple  # the cell's own step cache: utils.rnn.RNNCache or utils.gru.GRUCache

    # copy.deepcopy (the checks copy their arguments) would add this on first use, and
    # utils.checks takes a utils class changed after import for tampering: set it now.
    __slotnames__ = []  # noqa: RUF012


def step_forward(cell, xt, a_prev, parameters):
    """One step of a hidden layer: a_next = cell(xt, a_prev); returns (a_next, cache).

    - xt (n_in, m): the input of the layer at this step (x<t>, or the layer below's state).
    - a_prev (n_a, m): this layer's previous state.
    - parameters: the cell's parameters (rnn: Waa, Wax, ba; gru: Wu, Wr, Wc, bu, br, bc).
    """
    if cell == "rnn":
        # utils.rnn's cell also computes y_hat<t>; a hidden layer has no output layer, so it
        # gets a zero one of one row (rnn_cell_backward does not use it).
        n_a = np.shape(a_prev)[0]
        hidden = {**parameters, "Wya": np.zeros((1, n_a)), "by": np.zeros((1, 1))}
        a_next, _, cache = rnn.rnn_cell_forward(xt, a_prev, hidden)
    elif cell == "gru":
        a_next, cache = gru.gru_cell_forward(xt, a_prev, parameters)
    else:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    return a_next, StepCache(cell, cache)


def step_backward(da_next, cache):
    """Backward of ``step_forward`` from da_next = dJ/da<t> (all of it: from above and from
    step t+1). Returns {"dxt", "da_prev", "d" + every parameter}."""
    cell, inner = cache
    if cell == "rnn":
        return rnn.rnn_cell_backward(da_next, inner)
    return gru.gru_cell_backward(da_next, inner)


# --------------------------------------------------------------------------------------------
# Stacked layers over a whole sequence
# --------------------------------------------------------------------------------------------


def stacked_forward(x, a0, parameters, cell="rnn"):
    """Deep RNN forward, step by step: at every t, layer 1, then 2, ..., then L.

    Arguments:
    - x: (n_x, m, T_x).
    - a0: {"layer1": (n_a1, m), ...}, every layer's initial state.
    - parameters: {"layer1": cell parameters, ...}; layer 1 reads x, layer l reads a[l-1].
    - cell: "rnn" or "gru".

    Returns:
    - a: list of the L layers' states, a[l-1] of shape (n_al, m, T_x).
    - caches: (cell_caches, x), cell_caches[l][t] = the step cache of layer l + 1 at step t.
    """
    x = np.asarray(x)
    names = layer_names(parameters)
    _, m, T_x = x.shape
    state = [np.asarray(a0[name]) for name in names]  # a[l]<t-1>, one per layer
    dtype = np.result_type(x, *state)
    a = [np.zeros((s.shape[0], m, T_x), dtype=dtype) for s in state]
    cell_caches = [[] for _ in names]
    for t in range(T_x):
        below = x[:, :, t]  # a[0]<t> = x<t>
        for l, name in enumerate(names):
            state[l], cache = step_forward(cell, below, state[l], parameters[name])
            a[l][:, :, t] = state[l]
            cell_caches[l].append(cache)
            below = state[l]  # the input of layer l + 1 at the same step
    return a, (cell_caches, x)


def stacked_backward(da, caches):
    """Deep RNN backward from da = dJ/da[L] (n_a, m, T_x): right to left in time, and at
    every step from the top layer down.

    The gradient reaching a[l]<t> is what comes from above (the input gradient of layer l + 1
    at step t, or ``da`` for the top layer) plus what comes from the future (``da_prev`` of
    the same layer at step t + 1).

    Returns {"layer1": grads, ..., "dx": (n_x, m, T_x)}; each layer's grads hold its da0 and
    d + every parameter, summed over time.
    """
    cell_caches, x = caches
    L, T_x = len(cell_caches), np.shape(x)[2]
    grads = [{} for _ in range(L)]
    from_future = [0.0] * L  # dJ/da[l]<t> arriving from step t + 1 (none after T_x)
    dx = None  # made at the first step, in the dtype the cells' dxt come in (float32 stays)
    for t in reversed(range(T_x)):
        from_above = da[:, :, t]  # the top layer's gradient from the head
        for l in reversed(range(L)):
            g = step_backward(from_above + from_future[l], cell_caches[l][t])
            from_future[l] = g.pop("da_prev")
            from_above = g.pop("dxt")  # goes down to layer l - 1 at this step
            for key, value in g.items():  # shared over time: accumulate
                grads[l][key] = grads[l].get(key, 0.0) + value
        if dx is None:
            dx = np.zeros(np.shape(x), dtype=from_above.dtype)
        dx[:, :, t] = from_above
    out = {}
    for l in range(L):
        out[f"layer{l + 1}"] = {**grads[l], "da0": from_future[l]}
    out["dx"] = dx
    return out


# --------------------------------------------------------------------------------------------
# The deep head on every time step
# --------------------------------------------------------------------------------------------


def head_forward(a, head):
    """y_hat<t> = softmax(W2 relu(W1 a<t> + b1) + b2) at every step.

    Arguments: a (n_a, m, T_x); head: W1 (n_h, n_a), b1 (n_h, 1), W2 (n_y, n_h), b2 (n_y, 1).
    Returns: y_hat (n_y, m, T_x) and cache = (a, h, head), h = relu(W1 a + b1) (n_h, m, T_x).
    """
    z1, _ = rnn.dense_forward(a, head["W1"], head["b1"])
    h = relu(z1)
    z2, _ = rnn.dense_forward(h, head["W2"], head["b2"])
    return softmax(z2), (a, h, head)


def head_backward(dz, cache):
    """Backward of ``head_forward`` from dz = dJ/dz (n_y, m, T_x) at the scores z = W2 h + b2.

    Returns {"da" (n_a, m, T_x), "dW1", "db1", "dW2", "db2"} (weights summed over batch and time).
    """
    a, h, head = cache
    dh, dW2, db2 = rnn.dense_backward(dz, (h, head["W2"]))  # z = W2 h + b2
    dz1 = relu_backward(dh, h)  # h = relu(z1)
    da, dW1, db1 = rnn.dense_backward(dz1, (a, head["W1"]))  # z1 = W1 a + b1
    return {"da": da, "dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
