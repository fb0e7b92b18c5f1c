"""Vanilla RNN, written as the lecture: the cell, a loop over it, and BPTT as a loop back.

Lecture equations (one time step, batch of m columns)::

    a<t>      = g(Waa a<t-1> + Wax x<t> + ba)          g = tanh (default) or relu
    y_hat<t>  = softmax(Wya a<t> + by)

Shapes (column vectors, batch in axis 1, time last)::

    x (n_x, m, T_x)    a0 (n_a, m)    a (n_a, m, T_x)    y_hat (n_y, m, T_x)
    Waa (n_a, n_a)     Wax (n_a, n_x) ba (n_a, 1)        Wya (n_y, n_a)    by (n_y, 1)

Functions (the contracts notebooks 02 and 03 ask students to meet):

- ``rnn_cell_forward(xt, a_prev, parameters, activation)`` -> ``(a_next, yt_pred, cache)``,
  ``cache = RNNCache(a_next, a_prev, xt, parameters, activation)``; ``rnn_cell_backward(da_next,
  cache)`` -> ``{"dxt", "da_prev", "dWax", "dWaa", "dba"}``.
- ``rnn_forward(x, a0, parameters, activation)`` -> ``(a, y_hat, caches)``: a loop over the
  cell, ``caches = (cell_caches, x)`` with ``cell_caches[t]`` the cache of step t.
- ``rnn_layer_forward(x, a0, parameters, activation)`` -> ``(a, caches)``: the recurrence
  alone (no output layer, no Wya needed), same caches; for layers stacked under others.
- ``rnn_backward(da, caches)`` -> ``{"dx", "da0", "dWax", "dWaa", "dba"}``: backprop through
  time from ``da`` = dL/da<t> reaching every state from above; a right-to-left loop over
  ``rnn_cell_backward``.
- ``bptt(dz, caches)``: the same, starting one layer higher, from ``dz`` = dL/dz<t> with
  z<t> = Wya a<t> + by; adds ``"dWya", "dby"``.
- ``dense_forward`` / ``dense_backward``: the affine output layer at every time step.
- ``rnn_model_forward(x, a0, parameters, y, mask)`` / ``rnn_model_backward(cache)``: RNN +
  dense + softmax cross-entropy, for training.

Caches hold the caller's arrays and ``parameters`` dict by reference (nothing is copied), so a
cache is only valid while those are left unchanged.

These functions are the lesson, not the fast path: ``utils.kernels.rnn`` has the same names,
signatures and results (tests hold them equal), fused for speed; training loops, the
bidirectional and deep layers and the benchmarks use it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from utils._validate import (
    ACTIVATIONS,
    as_float_array,
    check_argument_shape,
    check_option,
    check_sequence,
    check_step_input,
    common_dtype,
    output_parameters,
    rnn_parameters,
)
from utils.activations import relu_backward, softmax, tanh_backward
from utils.losses import softmax_cross_entropy

__all__ = [
    "ACTIVATIONS",
    "RNNCache",
    "bptt",
    "dense_backward",
    "dense_forward",
    "rnn_backward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "rnn_layer_forward",
    "rnn_model_backward",
    "rnn_model_forward",
]


class RNNCache(NamedTuple):
    """The cache of one RNN step (``rnn_cell_forward``), what ``rnn_cell_backward`` needs.

    A tuple: a cache a student builds as the plain tuple ``(a_next, a_prev, xt, parameters,
    activation)`` is the same thing (``RNNCache._make(cache)`` names its fields)."""

    a_next: np.ndarray  # a<t> (n_a, m)
    a_prev: np.ndarray  # a<t-1> (n_a, m)
    xt: np.ndarray  # x<t> (n_x, m)
    parameters: dict  # the caller's dict, by reference
    activation: str  # "tanh" or "relu"

    # copy.deepcopy (the checks copy their arguments) would add this on first use, and
    # utils.checks takes a utils class changed after import for tampering: set it now.
    __slotnames__ = []  # noqa: RUF012


def _g(z, activation):
    """The hidden state's activation g(z): tanh or relu."""
    return np.tanh(z) if activation == "tanh" else np.maximum(z, 0)


# --------------------------------------------------------------------------------------------
# One time step
# --------------------------------------------------------------------------------------------


def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    """One RNN step: a_next = g(Waa a_prev + Wax xt + ba), yt_pred = softmax(Wya a_next + by).

    Arguments:
    - xt: input at step t, (n_x, m).
    - a_prev: hidden state a<t-1>, (n_a, m).
    - parameters: dict with Waa (n_a, n_a), Wax (n_a, n_x), ba (n_a, 1), Wya (n_y, n_a),
      by (n_y, 1).
    - activation: "tanh" or "relu".

    Returns:
    - a_next: a<t>, (n_a, m).
    - yt_pred: y_hat<t>, (n_y, m), each column sums to 1.
    - cache: ``RNNCache(a_next, a_prev, xt, parameters, activation)`` for
      ``rnn_cell_backward``.
    """
    check_option("activation", activation, ACTIVATIONS)
    xt = check_step_input("xt", xt)
    a_prev = as_float_array("a_prev", a_prev)
    n_x, m = xt.shape
    Waa, Wax, ba, n_a = rnn_parameters(parameters, n_x, "rnn_cell_forward")
    Wya, by = output_parameters(parameters, n_a, "rnn_cell_forward")
    check_argument_shape("a_prev", a_prev, ("n_a", "m"), {"n_a": n_a, "m": m})

    a_next = _g(Waa @ a_prev + Wax @ xt + ba, activation)  # the new hidden state
    yt_pred = softmax(Wya @ a_next + by)  # the prediction read from it
    cache = RNNCache(a_next, a_prev, xt, parameters, activation)
    return a_next, yt_pred, cache


def rnn_cell_backward(da_next, cache):
    """Backward pass of one RNN step, given da_next = dL/da<t> (n_a, m).

    The output layer is not included: its gradient reaches the cell through ``da_next``.

    Returns a dict: dxt (n_x, m), da_prev (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a),
    dba (n_a, 1).
    """
    a_next, a_prev, xt, parameters, activation = cache
    Waa, Wax = np.asarray(parameters["Waa"]), np.asarray(parameters["Wax"])
    da_next = as_float_array("da_next", da_next)
    n_a, m = a_next.shape
    check_argument_shape("da_next", da_next, ("n_a", "m"), {"n_a": n_a, "m": m})

    # Back through g: tanh' = 1 - a_next**2, relu' = 1 where a_next > 0 (else 0).
    backward = tanh_backward if activation == "tanh" else relu_backward
    dz = backward(da_next, a_next)
    return {
        "dxt": Wax.T @ dz,  # z = ... + Wax xt
        "da_prev": Waa.T @ dz,  # z = Waa a_prev + ...
        "dWax": dz @ xt.T,  # summed over the batch by the matmul
        "dWaa": dz @ a_prev.T,
        "dba": dz.sum(axis=1, keepdims=True),  # ba is added to every column
    }


# --------------------------------------------------------------------------------------------
# Whole sequence: a loop over the cell, and back
# --------------------------------------------------------------------------------------------


def _check_sequence_inputs(x, a0, parameters, activation, where):
    """Validate x, a0 and the recurrent parameters once; return x, a0, n_a and the dtype."""
    check_option("activation", activation, ACTIVATIONS)
    x = check_sequence("x", x)
    n_x, m, _ = x.shape
    Waa, Wax, ba, n_a = rnn_parameters(parameters, n_x, where)
    a0 = as_float_array("a0", a0)
    check_argument_shape("a0", a0, ("n_a", "m"), {"n_a": n_a, "m": m})
    if x.shape[2] == 0:
        raise ValueError("x has no time steps (T_x = 0)")
    return x, a0, n_a, common_dtype(x, a0, Waa, Wax, ba)


def rnn_forward(x, a0, parameters, activation="tanh"):
    """The lecture's RNN forward pass: ``rnn_cell_forward`` at every time step, left to right.

    Arguments:
    - x: (n_x, m, T_x); a0: (n_a, m).
    - parameters: dict with Waa, Wax, ba, Wya (n_y, n_a), by (n_y, 1).
    - activation: "tanh" or "relu".

    Returns:
    - a: (n_a, m, T_x) hidden states a<1..T_x>; ``a[:, :, -1]`` is the state to carry on.
    - y_hat: (n_y, m, T_x), y_hat[:, :, t] = softmax(Wya a<t> + by).
    - caches: (cell_caches, x), cell_caches[t] the cache of step t, for ``rnn_backward`` and
      ``bptt``.
    """
    x, a0, n_a, dtype = _check_sequence_inputs(x, a0, parameters, activation, "rnn_forward")
    _, m, T_x = x.shape
    n_y = output_parameters(parameters, n_a, "rnn_forward")[0].shape[0]
    a = np.zeros((n_a, m, T_x), dtype=dtype)
    y_hat = np.zeros((n_y, m, T_x), dtype=dtype)
    cell_caches = []
    a_next = a0
    for t in range(T_x):
        a_next, y_hat[:, :, t], cache = rnn_cell_forward(x[:, :, t], a_next, parameters, activation)
        a[:, :, t] = a_next
        cell_caches.append(cache)
    return a, y_hat, (cell_caches, x)


def rnn_layer_forward(x, a0, parameters, activation="tanh"):
    """The recurrence alone: hidden states for all T_x steps, no output layer.

    Arguments as ``rnn_forward``, but ``parameters`` needs only Waa, Wax, ba.

    Returns:
    - a: (n_a, m, T_x) hidden states.
    - caches: (cell_caches, x), exactly as ``rnn_forward``'s, for ``rnn_backward``.
    """
    x, a0, n_a, dtype = _check_sequence_inputs(x, a0, parameters, activation, "rnn_layer_forward")
    Waa, Wax, ba = (np.asarray(parameters[k]) for k in ("Waa", "Wax", "ba"))
    _, m, T_x = x.shape
    a = np.zeros((n_a, m, T_x), dtype=dtype)
    cell_caches = []
    a_prev = a0
    for t in range(T_x):
        xt = x[:, :, t]
        a_next = _g(Waa @ a_prev + Wax @ xt + ba, activation)  # as rnn_cell_forward
        cell_caches.append(RNNCache(a_next, a_prev, xt, parameters, activation))
        a[:, :, t] = a_prev = a_next
    return a, (cell_caches, x)


def rnn_backward(da, caches):
    """Backprop through time: ``rnn_cell_backward`` at every step, right to left.

    Arguments:
    - da: dL/da<t> for every step from everything above the recurrence (e.g. the output
      layer), (n_a, m, T_x). The gradient flowing from a<t+1> back into a<t> is added here.
    - caches: (cell_caches, x) from ``rnn_forward`` or ``rnn_layer_forward``.

    Returns a dict:
      dx (n_x, m, T_x), da0 (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1).
    """
    cell_caches, x = caches
    n_x, m, T_x = x.shape
    a_last, *_ = cell_caches[-1]  # a_next of the last step, a<T_x>: every state's shape, dtype
    n_a, dtype = a_last.shape[0], a_last.dtype
    da = as_float_array("da", da)
    check_argument_shape("da", da, ("n_a", "m", "T_x"), {"n_a": n_a, "m": m, "T_x": T_x})

    dx = np.zeros((n_x, m, T_x), dtype=dtype)
    dWax = np.zeros((n_a, n_x), dtype=dtype)
    dWaa = np.zeros((n_a, n_a), dtype=dtype)
    dba = np.zeros((n_a, 1), dtype=dtype)
    da_prev = np.zeros((n_a, m), dtype=dtype)  # dL/da<t> arriving from step t+1
    for t in reversed(range(T_x)):
        step = rnn_cell_backward(da[:, :, t] + da_prev, cell_caches[t])  # above + future
        dx[:, :, t] = step["dxt"]
        dWax += step["dWax"]  # the same weights serve every step: their gradients add up
        dWaa += step["dWaa"]
        dba += step["dba"]
        da_prev = step["da_prev"]  # goes on to step t-1
    return {"dx": dx, "da0": da_prev, "dWax": dWax, "dWaa": dWaa, "dba": dba}


def bptt(dz, caches):
    """Backprop through time including the output layer, from dz = dL/dz<t>, z = Wya a + by.

    Arguments:
    - dz: (n_y, m, T_x), e.g. y_hat - y for softmax cross-entropy.
    - caches: (cell_caches, x) from ``rnn_forward``; the parameters are read from them.

    Returns a dict: dx, da0, dWax, dWaa, dba (as ``rnn_backward``), dWya (n_y, n_a), dby (n_y, 1).
    """
    cell_caches, _ = caches
    first = RNNCache._make(cell_caches[0])
    Wya = as_float_array("Wya", first.parameters["Wya"])  # parameters, from the caches
    a = np.stack([RNNCache._make(c).a_next for c in cell_caches], axis=2)  # a<t>, every step
    dz = as_float_array("dz", dz)
    sizes = {"n_y": Wya.shape[0], "m": a.shape[1], "T_x": a.shape[2]}
    check_argument_shape("dz", dz, ("n_y", "m", "T_x"), sizes)
    da, dWya, dby = dense_backward(dz, (a, Wya))
    grads = rnn_backward(da, caches)  # dL/da<t> from the output layer, then back in time
    grads["dWya"], grads["dby"] = dWya, dby
    return grads


# --------------------------------------------------------------------------------------------
# Output layer and full model
# --------------------------------------------------------------------------------------------


def dense_forward(a, W, b):
    """Time-distributed affine layer: z[:, :, t] = W @ a[:, :, t] + b for every t.

    Arguments: a (n_in, m, T), W (n_out, n_in), b (n_out, 1).
    Returns: z (n_out, m, T) and cache (a, W).
    """
    a = check_sequence("a", a)
    W = as_float_array("W", W)
    b = as_float_array("b", b)
    n_in, m, T = a.shape
    n_out = W.shape[0] if W.ndim == 2 else -1
    check_argument_shape("W", W, ("n_out", "n_in"), {"n_out": n_out, "n_in": n_in})
    check_argument_shape("b", b, ("n_out", 1), {"n_out": n_out})
    # All steps at once: (n_out, n_in) @ (n_in, m T) is W @ a<t> for every t.
    z = (W @ a.reshape(n_in, m * T)).reshape(n_out, m, T) + b[:, :, None]
    return z, (a, W)


def dense_backward(dz, cache):
    """Backward of ``dense_forward``: returns (da (n_in, m, T), dW (n_out, n_in), db (n_out, 1))."""
    a, W = cache
    n_in, m, T = a.shape
    n_out = W.shape[0]
    dz = as_float_array("dz", dz)
    check_argument_shape("dz", dz, ("n_out", "m", "T"), {"n_out": n_out, "m": m, "T": T})
    dz_flat = np.ascontiguousarray(dz).reshape(n_out, m * T)
    da = (W.T @ dz_flat).reshape(n_in, m, T)  # every step uses the same W
    dW = dz_flat @ a.reshape(n_in, m * T).T  # summed over batch and time
    db = dz_flat.sum(axis=1, keepdims=True)
    return da, dW, db


def rnn_model_forward(x, a0, parameters, y, mask=None, activation="tanh"):
    """RNN + time-distributed softmax output + cross-entropy: the training forward pass.

    Arguments (the layer's, then the loss's):
    - x: (n_x, m, T_x) inputs; a0: (n_a, m) initial state (zeros, or the last state of the
      previous chunk); parameters: Waa, Wax, ba, Wya, by.
    - y: targets, integer labels (m, T_x) or one-hot (n_y, m, T_x).
    - mask: optional (m, T_x) of 0/1; padded steps (0) add nothing to loss or gradients.

    Returns:
    - loss: nats summed over time, averaged over the batch (see ``utils.losses``).
    - a: (n_a, m, T_x) hidden states (carry ``a[:, :, -1]`` for truncated BPTT).
    - cache: for ``rnn_model_backward``.
    """
    a, caches = rnn_layer_forward(x, a0, parameters, activation)
    Wya, by = output_parameters(parameters, a.shape[0], "rnn_model_forward")
    z, dense_cache = dense_forward(a, Wya, by)
    loss, dz = softmax_cross_entropy(z, y, mask)  # dz = dL/dz<t>
    return loss, a, (caches, dense_cache, dz)


def rnn_model_backward(cache):
    """Gradients of the ``rnn_model_forward`` loss.

    Returns a dict: dWaa, dWax, dba, dWya, dby, dx (n_x, m, T_x), da0 (n_a, m).
    """
    caches, dense_cache, dz = cache
    da, dWya, dby = dense_backward(dz, dense_cache)  # back through z<t> = Wya a<t> + by
    grads = rnn_backward(da, caches)  # back through time
    grads["dWya"], grads["dby"] = dWya, dby
    return grads
