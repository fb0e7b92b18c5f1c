"""Vanilla RNN kernels: the fused, fast versions of ``utils.rnn``'s sequence functions.

Same names, signatures and results as the reference ``utils.rnn`` (tests hold them equal);
only the caches differ: a kernel cache is a dict in the kernel's own layout and goes to the
kernel backward only. Read ``utils.rnn`` for the lesson; call these in training loops.

How they are made fast (the maths is unchanged):

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
    ACTIVATIONS,
    as_float_array,
    check_argument_shape,
    check_option,
    common_dtype,
    gradient_in,
    output_parameters,
    rnn_parameters,
    sequence_in,
    to_lecture_layout,
    to_steps_layout,
)
from utils.activations import relu_backward, softmax, tanh_backward
from utils.kernels._fast import contiguous, empty, sequence_out
from utils.losses import softmax_cross_entropy
from utils.rnn import dense_backward, dense_forward  # the output layer: the same function

__all__ = [
    "bptt",
    "rnn_backward",
    "rnn_forward",
    "rnn_layer_forward",
    "rnn_model_backward",
    "rnn_model_forward",
]


def _activate(z, activation):
    """g(z) for the hidden state: tanh or relu (in place, ``z`` is a fresh temporary)."""
    if activation == "tanh":
        return np.tanh(z, out=z)
    return np.maximum(z, 0.0, out=z)


def _activation_backward(da, a, activation):
    """dz from da = dL/da and the output a = g(z): tanh'(z) = 1 - a^2, relu'(z) = [a > 0]."""
    backward = tanh_backward if activation == "tanh" else relu_backward
    return backward(da, a)


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

    ``x`` may also be a ``utils._validate.Steps`` (a checked sequence in step layout, from
    ``utils.layer``); ``a`` is then returned as ``Steps`` too.
    """
    check_option("activation", activation, ACTIVATIONS)
    x_steps, as_steps = sequence_in("x", x)
    n_x, T, m = x_steps.shape
    Waa, Wax, ba, n_a = rnn_parameters(parameters, n_x, "rnn_layer_forward")
    a0 = as_float_array("a0", a0)
    check_argument_shape("a0", a0, ("n_a", "m"), {"n_a": n_a, "m": m})
    dtype = common_dtype(x_steps, a0, Waa, Wax, ba)
    Waa, Wax, ba = (p.astype(dtype, copy=False) for p in (Waa, Wax, ba))

    x_steps = contiguous(x_steps, dtype)  # (n_x, T, m)
    # Input part of every pre-activation at once: Wax x<t> + ba for all t, one matmul.
    zx = np.matmul(Wax, x_steps.reshape(n_x, T * m), out=empty((n_a, T * m), dtype))
    zx += ba
    zx = zx.reshape(n_a, T, m)

    h = empty((n_a, T + 1, m), dtype)  # h[:, t] = a<t>, t = 0..T
    h[:, 0] = a0
    for t in range(T):
        z = Waa @ h[:, t] + zx[:, t]  # recurrent part + precomputed input part
        h[:, t + 1] = _activate(z, activation)

    cache = {"x_steps": x_steps, "h": h, "Waa": Waa, "Wax": Wax, "activation": activation}
    return sequence_out(h[:, 1:], as_steps), cache


def rnn_forward(x, a0, parameters, activation="tanh"):
    """The lecture's RNN forward pass: hidden states and predictions for all time steps.

    Arguments:
    - x: (n_x, m, T_x); a0: (n_a, m).
    - parameters: dict with Waa, Wax, ba, Wya (n_y, n_a), by (n_y, 1).
    - activation: "tanh" or "relu".

    Returns:
    - a: (n_a, m, T_x) hidden states.
    - y_hat: (n_y, m, T_x), y_hat[:, :, t] = softmax(Wya a<t> + by).
    - cache: the ``rnn_layer_forward`` cache plus Wya, for ``rnn_backward`` and ``bptt``.
    """
    a, cache = rnn_layer_forward(x, a0, parameters, activation)
    Wya, by = output_parameters(parameters, a.shape[0], "rnn_forward")
    logits, _ = dense_forward(a, Wya, by)
    cache["Wya"] = Wya.astype(cache["h"].dtype, copy=False)  # for bptt
    return a, softmax(logits), cache


def rnn_backward(da, cache):
    """Backprop through time.

    Arguments:
    - da: dL/da<t> for every step from everything above the recurrence (e.g. the output
      layer), (n_a, m, T_x). The gradient flowing from a<t+1> back into a<t> is added here.
    - cache: from ``rnn_forward`` or ``rnn_layer_forward``.

    Returns a dict:
      dx (n_x, m, T_x), da0 (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1).

    ``da`` may also be a ``utils._validate.Steps`` (checked, step layout); dx is then
    returned as ``Steps`` too.
    """
    h = cache["h"]
    n_a, T1, m = h.shape
    sizes = {"n_a": n_a, "m": m, "T_x": T1 - 1}
    da_steps, as_steps = gradient_in("da", da, ("n_a", "m", "T_x"), sizes)
    grads = _backward(contiguous(da_steps, h.dtype), cache)
    grads["dx"] = sequence_out(grads["dx"], as_steps)
    return grads


def _backward(da_steps, cache):
    """``rnn_backward`` with da already checked and in step layout (n_a, T_x, m); returns dx
    in step layout (n_x, T_x, m)."""
    x_steps, h, Waa, Wax = cache["x_steps"], cache["h"], cache["Waa"], cache["Wax"]
    activation = cache["activation"]
    n_a, T1, m = h.shape
    T, n_x = T1 - 1, x_steps.shape[0]
    dz = empty((n_a, T, m), h.dtype)  # dL/dz<t> for every step, step layout
    da_next = np.zeros((n_a, m), dtype=h.dtype)  # dL/da<t> arriving from step t+1
    for t in reversed(range(T)):
        da_t = da_steps[:, t] + da_next  # from above and from the future
        dz[:, t] = _activation_backward(da_t, h[:, t + 1], activation)  # back through g
        da_next = Waa.T @ dz[:, t]  # z<t> = Waa a<t-1> + ...

    # Weight gradients summed over all time steps and the batch: one matmul each.
    dz_flat = dz.reshape(n_a, T * m)
    return {
        "dx": np.matmul(Wax.T, dz_flat, out=empty((n_x, T * m), h.dtype)).reshape(n_x, T, m),
        "da0": da_next,
        "dWax": dz_flat @ x_steps.reshape(n_x, T * m).T,
        "dWaa": dz_flat @ h[:, :T].reshape(n_a, T * m).T,  # a<t-1> for t = 1..T
        "dba": dz_flat.sum(axis=1, keepdims=True),
    }


def bptt(dz, cache):
    """Backprop through time including the output layer, from dz = dL/dz<t>, z = Wya a + by.

    Arguments: dz (n_y, m, T_x); cache from ``rnn_forward`` (it holds Wya).

    Returns a dict: dx, da0, dWax, dWaa, dba, dWya (n_y, n_a), dby (n_y, 1).
    """
    if "Wya" not in cache:
        raise ValueError("bptt needs the cache of rnn_forward (rnn_layer_forward's has no Wya)")
    h, Wya = cache["h"], cache["Wya"]
    n_a, T1, m = h.shape
    T, n_y = T1 - 1, Wya.shape[0]
    dz = as_float_array("dz", dz)
    check_argument_shape("dz", dz, ("n_y", "m", "T_x"), {"n_y": n_y, "m": m, "T_x": T})
    dz_flat = to_steps_layout(dz.astype(h.dtype, copy=False)).reshape(n_y, T * m)
    grads = _backward((Wya.T @ dz_flat).reshape(n_a, T, m), cache)  # z<t> = Wya a<t> + by
    grads["dx"] = to_lecture_layout(grads["dx"])
    grads["dWya"] = dz_flat @ h[:, 1:].reshape(n_a, T * m).T  # a<t> for t = 1..T, a view
    grads["dby"] = dz_flat.sum(axis=1, keepdims=True)
    return grads


# --------------------------------------------------------------------------------------------
# Output layer and full model
# --------------------------------------------------------------------------------------------


def rnn_model_forward(x, a0, parameters, y, mask=None, activation="tanh"):
    """RNN + time-distributed softmax output + cross-entropy: the training forward pass.

    Arguments (the layer's, then the loss's):
    - x: (n_x, m, T_x) inputs; a0: (n_a, m) initial state; parameters: Waa, Wax, ba, Wya, by.
    - y: targets, integer labels (m, T_x) or one-hot (n_y, m, T_x).
    - mask: optional (m, T_x) of 0/1; padded steps (0) add nothing to loss or gradients.

    Returns:
    - loss: nats summed over time, averaged over the batch (see ``utils.losses``).
    - a: (n_a, m, T_x) hidden states (carry ``a[:, :, -1]`` for truncated BPTT).
    - cache: for ``rnn_model_backward``.
    """
    a, rnn_cache = rnn_layer_forward(x, a0, parameters, activation)
    Wya, by = output_parameters(parameters, a.shape[0], "rnn_model_forward")
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
