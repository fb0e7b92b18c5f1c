"""Vanilla RNN: cell and sequence, forward and backward, plus the time-distributed output layer.

Lecture equations (one time step, batch of m columns)::

    a<t>      = g(Waa a<t-1> + Wax x<t> + ba)          g = tanh (default) or relu
    y_hat<t>  = softmax(Wya a<t> + by)

Shapes (column vectors, batch in axis 1, time last):

    x (n_x, m, T_x)    a0 (n_a, m)    a (n_a, m, T_x)    y_hat (n_y, m, T_x)
    Waa (n_a, n_a)     Wax (n_a, n_x) ba (n_a, 1)        Wya (n_y, n_a)    by (n_y, 1)

Public functions:

- ``rnn_cell_forward`` / ``rnn_cell_backward``: one time step, as in the lecture.
- ``rnn_layer_forward``: the recurrence over all time steps, hidden states only.
- ``rnn_forward``: the lecture's sequence function (hidden states and ``y_hat``).
- ``rnn_backward``: backprop through time from ``da = dL/da`` (the gradient reaching every hidden
  state from above), for the caches of both ``rnn_forward`` and ``rnn_layer_forward``.
- ``dense_forward`` / ``dense_backward``: the same affine map applied at every time step.
- ``rnn_model_forward`` / ``rnn_model_backward``: RNN + dense + softmax cross-entropy, for
  training. ``da0`` is returned, so a truncated-BPTT loop can carry ``a[:, :, -1]`` forward.

How the sequence functions are made fast (the maths is unchanged):

1. Only time is looped over; every step handles the whole batch with one matmul.
2. ``Wax @ x<t>`` does not depend on the recurrence, so it is computed for all time steps in
   one big matmul before the loop; the weight gradients are likewise one matmul after the loop.
3. Internally sequences are stored as ``(n, T, m)`` ("step layout", see ``utils._validate``)
   so each step's ``(n, m)`` slice feeds BLAS directly and all steps flatten to ``(n, T*m)``.

PyTorch correspondence (``torch.nn.RNN(n_x, n_a, nonlinearity="tanh")``; tested in
``tests/test_torch_parity.py``)::

    weight_ih_l0 = Wax      weight_hh_l0 = Waa      bias_ih_l0 + bias_hh_l0 = ba[:, 0]

(torch stores two biases that are always added; we set ``bias_hh_l0 = 0``, ``bias_ih_l0 = ba``.)
"""

from __future__ import annotations

import numpy as np

from utils._validate import (
    as_float_array,
    check_sequence,
    check_shape,
    common_dtype,
    get_param,
    to_lecture_layout,
    to_steps_layout,
)
from utils.activations import relu_backward, softmax, tanh_backward
from utils.losses import softmax_cross_entropy

__all__ = [
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

ACTIVATIONS = ("tanh", "relu")


def _activate(z, activation):
    """g(z) for the hidden state: tanh or relu (in place, ``z`` is a fresh temporary)."""
    if activation == "tanh":
        return np.tanh(z, out=z)
    return np.maximum(z, 0.0, out=z)


def _activation_backward(da, a, activation):
    """dz from da = dL/da and the output a = g(z): tanh'(z) = 1 - a^2, relu'(z) = [a > 0]."""
    backward = tanh_backward if activation == "tanh" else relu_backward
    return backward(da, a)


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def _recurrent_params(parameters, n_x, where):
    """Fetch and shape-check Waa, Wax, ba; return them with n_a."""
    Waa = get_param(parameters, "Waa", where)
    n_a = Waa.shape[0] if Waa.ndim == 2 else -1
    sizes = {"n_a": n_a, "n_x": n_x}
    check_shape("Waa", Waa, ("n_a", "n_a"), sizes)
    Wax = get_param(parameters, "Wax", where)
    check_shape("Wax", Wax, ("n_a", "n_x"), sizes)
    ba = get_param(parameters, "ba", where)
    check_shape("ba", ba, ("n_a", 1), sizes)
    return Waa, Wax, ba, n_a


def _output_params(parameters, n_a, where):
    """Fetch and shape-check Wya, by."""
    Wya = get_param(parameters, "Wya", where)
    n_y = Wya.shape[0] if Wya.ndim == 2 else -1
    check_shape("Wya", Wya, ("n_y", "n_a"), {"n_y": n_y, "n_a": n_a})
    by = get_param(parameters, "by", where)
    check_shape("by", by, ("n_y", 1), {"n_y": n_y})
    return Wya, by


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
    - cache: (a_next, a_prev, xt, parameters, activation) for ``rnn_cell_backward``.
    """
    _check_activation(activation)
    xt = as_float_array("xt", xt)
    a_prev = as_float_array("a_prev", a_prev)
    if xt.ndim != 2:
        raise ValueError(f"xt must be 2-D with shape (n_x, m), got {xt.shape}")
    n_x, m = xt.shape
    Waa, Wax, ba, n_a = _recurrent_params(parameters, n_x, "rnn_cell_forward")
    Wya, by = _output_params(parameters, n_a, "rnn_cell_forward")
    check_shape("a_prev", a_prev, ("n_a", "m"), {"n_a": n_a, "m": m})

    a_next = _activate(Waa @ a_prev + Wax @ xt + ba, activation)
    yt_pred = softmax(Wya @ a_next + by)
    cache = (a_next, a_prev, xt, parameters, activation)
    return a_next, yt_pred, cache


def rnn_cell_backward(da_next, cache):
    """Backward pass of one RNN step, given da_next = dL/da<t> (n_a, m).

    The output layer is not included: its gradient reaches the cell through ``da_next``.

    Returns a dict: dxt (n_x, m), da_prev (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a),
    dba (n_a, 1).
    """
    a_next, a_prev, xt, parameters, activation = cache
    Waa, Wax = parameters["Waa"], parameters["Wax"]
    n_a, m = a_next.shape
    da_next = as_float_array("da_next", da_next)
    check_shape("da_next", da_next, ("n_a", "m"), {"n_a": n_a, "m": m})

    dz = _activation_backward(da_next, a_next, activation)  # back through g
    return {
        "dxt": Wax.T @ dz,  # z = ... + Wax xt
        "da_prev": Waa.T @ dz,  # z = Waa a_prev + ...
        "dWax": dz @ xt.T,  # summed over the batch by the matmul
        "dWaa": dz @ a_prev.T,
        "dba": dz.sum(axis=1, keepdims=True),  # ba is broadcast over the batch
    }


# --------------------------------------------------------------------------------------------
# Whole sequence
# --------------------------------------------------------------------------------------------


def rnn_layer_forward(x, a0, parameters, activation="tanh"):
    """Run the recurrence over all T_x steps; return the hidden states only.

    Arguments:
    - x: inputs, (n_x, m, T_x).
    - a0: initial hidden state, (n_a, m).
    - parameters: dict with Waa (n_a, n_a), Wax (n_a, n_x), ba (n_a, 1); other keys ignored.
    - activation: "tanh" or "relu".

    Returns:
    - a: hidden states a<1..T_x>, (n_a, m, T_x); ``a[:, :, -1]`` is the state to carry on.
    - cache: dict for ``rnn_backward`` with
      x_steps (n_x, T_x, m) inputs in step layout,
      h (n_a, T_x + 1, m) states a<0..T_x> in step layout (h[:, 0] = a0),
      Waa, Wax, activation.
    """
    _check_activation(activation)
    x = check_sequence("x", x)
    n_x, m, T = x.shape
    Waa, Wax, ba, n_a = _recurrent_params(parameters, n_x, "rnn_layer_forward")
    a0 = as_float_array("a0", a0)
    check_shape("a0", a0, ("n_a", "m"), {"n_a": n_a, "m": m})
    dtype = common_dtype(x, a0, Waa, Wax, ba)
    Waa, Wax, ba = (p.astype(dtype, copy=False) for p in (Waa, Wax, ba))

    x_steps = to_steps_layout(x.astype(dtype, copy=False))  # (n_x, T, m)
    # Input part of every pre-activation at once: Wax x<t> + ba for all t, one matmul.
    zx = (Wax @ x_steps.reshape(n_x, T * m) + ba).reshape(n_a, T, m)

    h = np.empty((n_a, T + 1, m), dtype=dtype)  # h[:, t] = a<t>, t = 0..T
    h[:, 0] = a0
    for t in range(T):
        z = Waa @ h[:, t] + zx[:, t]  # recurrent part + precomputed input part
        h[:, t + 1] = _activate(z, activation)

    a = to_lecture_layout(h[:, 1:])
    cache = {"x_steps": x_steps, "h": h, "Waa": Waa, "Wax": Wax, "activation": activation}
    return a, cache


def rnn_forward(x, a0, parameters, activation="tanh"):
    """The lecture's RNN forward pass: hidden states and predictions for all time steps.

    Arguments:
    - x: (n_x, m, T_x); a0: (n_a, m).
    - parameters: dict with Waa, Wax, ba, Wya (n_y, n_a), by (n_y, 1).
    - activation: "tanh" or "relu".

    Returns:
    - a: (n_a, m, T_x) hidden states.
    - y_hat: (n_y, m, T_x), y_hat[:, :, t] = softmax(Wya a<t> + by).
    - cache: the ``rnn_layer_forward`` cache, for ``rnn_backward(da, cache)``.
    """
    a, cache = rnn_layer_forward(x, a0, parameters, activation)
    Wya, by = _output_params(parameters, a.shape[0], "rnn_forward")
    logits, _ = dense_forward(a, Wya, by)
    return a, softmax(logits), cache


def rnn_backward(da, cache):
    """Backprop through time.

    Arguments:
    - da: dL/da<t> for every step from everything above the recurrence (e.g. the output
      layer), (n_a, m, T_x). The gradient flowing from a<t+1> back into a<t> is added here.
    - cache: from ``rnn_forward`` or ``rnn_layer_forward``.

    Returns a dict:
      dx (n_x, m, T_x), da0 (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1).
    """
    x_steps, h, Waa, Wax = cache["x_steps"], cache["h"], cache["Waa"], cache["Wax"]
    activation = cache["activation"]
    n_a, T1, m = h.shape
    T, n_x = T1 - 1, x_steps.shape[0]
    da = as_float_array("da", da)
    check_shape("da", da, ("n_a", "m", "T_x"), {"n_a": n_a, "m": m, "T_x": T})
    da_steps = to_steps_layout(da.astype(h.dtype, copy=False))

    dz = np.empty((n_a, T, m), dtype=h.dtype)  # dL/dz<t> for every step, step layout
    da_next = np.zeros((n_a, m), dtype=h.dtype)  # dL/da<t> arriving from step t+1
    for t in reversed(range(T)):
        da_t = da_steps[:, t] + da_next  # from above and from the future
        dz[:, t] = _activation_backward(da_t, h[:, t + 1], activation)  # back through g
        da_next = Waa.T @ dz[:, t]  # z<t> = Waa a<t-1> + ...

    # Weight gradients summed over all time steps and the batch: one matmul each.
    dz_flat = dz.reshape(n_a, T * m)
    return {
        "dx": to_lecture_layout((Wax.T @ dz_flat).reshape(n_x, T, m)),
        "da0": da_next,
        "dWax": dz_flat @ x_steps.reshape(n_x, T * m).T,
        "dWaa": dz_flat @ h[:, :T].reshape(n_a, T * m).T,  # a<t-1> for t = 1..T
        "dba": dz_flat.sum(axis=1, keepdims=True),
    }


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
    check_shape("W", W, ("n_out", "n_in"), {"n_out": n_out, "n_in": n_in})
    check_shape("b", b, ("n_out", 1), {"n_out": n_out})
    z = (W @ a.reshape(n_in, m * T)).reshape(n_out, m, T) + b[:, :, None]
    return z, (a, W)


def dense_backward(dz, cache):
    """Backward of ``dense_forward``: returns (da (n_in, m, T), dW (n_out, n_in), db (n_out, 1))."""
    a, W = cache
    n_in, m, T = a.shape
    n_out = W.shape[0]
    dz = as_float_array("dz", dz)
    check_shape("dz", dz, ("n_out", "m", "T"), {"n_out": n_out, "m": m, "T": T})
    dz_flat = np.ascontiguousarray(dz).reshape(n_out, m * T)
    da = (W.T @ dz_flat).reshape(n_in, m, T)  # every step uses the same W
    dW = dz_flat @ a.reshape(n_in, m * T).T  # summed over batch and time
    db = dz_flat.sum(axis=1, keepdims=True)
    return da, dW, db


def rnn_model_forward(x, y, a0, parameters, mask=None, activation="tanh"):
    """RNN + time-distributed softmax output + cross-entropy: the training forward pass.

    Arguments:
    - x: (n_x, m, T_x) inputs; y: targets, integer labels (m, T_x) or one-hot (n_y, m, T_x).
    - a0: (n_a, m) initial state (zeros, or the last state of the previous chunk).
    - parameters: Waa, Wax, ba, Wya, by.
    - mask: optional (m, T_x) of 0/1; padded steps (0) add nothing to loss or gradients.

    Returns:
    - loss: nats summed over time, averaged over the batch (see ``utils.losses``).
    - a: (n_a, m, T_x) hidden states (carry ``a[:, :, -1]`` for truncated BPTT).
    - cache: for ``rnn_model_backward``.
    """
    a, rnn_cache = rnn_layer_forward(x, a0, parameters, activation)
    Wya, by = _output_params(parameters, a.shape[0], "rnn_model_forward")
    logits, dense_cache = dense_forward(a, Wya, by)
    loss, dlogits = softmax_cross_entropy(logits, y, mask)
    return loss, a, (rnn_cache, dense_cache, dlogits)


def rnn_model_backward(cache):
    """Gradients of the ``rnn_model_forward`` loss.

    Returns a dict: dWaa, dWax, dba, dWya, dby, dx (n_x, m, T_x), da0 (n_a, m).
    """
    rnn_cache, dense_cache, dlogits = cache
    da, dWya, dby = dense_backward(dlogits, dense_cache)  # back through Wya a<t> + by
    grads = rnn_backward(da, rnn_cache)  # back through time
    grads["dWya"], grads["dby"] = dWya, dby
    return grads
