"""LSTM with forget, update and output gates (optionally peepholes), written as the lecture.

Lecture equations (one step; [a; x] stacks a<t-1> on x<t>; * is element-wise)::

    Γf<t> = σ(Wf [a<t-1>; x<t>] + bf  + pf * c<t-1>)      forget gate
    Γu<t> = σ(Wu [a<t-1>; x<t>] + bu  + pu * c<t-1>)      update gate
    c~<t> = tanh(Wc [a<t-1>; x<t>] + bc)                  candidate memory
    c<t>  = Γf<t> * c<t-1> + Γu<t> * c~<t>
    Γo<t> = σ(Wo [a<t-1>; x<t>] + bo  + po * c<t>)        output gate
    a<t>  = Γo<t> * tanh(c<t>)

The peephole terms (``pf, pu, po``, diagonal, shape (n_a, 1)) are used only with
``peephole=True``; without them the equations are the lecture's plain LSTM. In code the gates
are ``gamma_f`` (Γf), ``gamma_u`` (Γu), ``gamma_o`` (Γo) and ``c_tilde`` (c~).

Shapes: x (n_x, m, T_x); a0, c0 (n_a, m); a, c (n_a, m, T_x);
Wf, Wu, Wo, Wc (n_a, n_a + n_x) acting on [a<t-1>; x<t>]; bf, bu, bo, bc, pf, pu, po (n_a, 1).

Functions:

- ``lstm_cell_forward(xt, a_prev, c_prev, parameters, peephole)`` ->
  ``(a_next, c_next, cache)``, ``cache = LSTMCache(a_next, c_next, a_prev, c_prev, xt,
  gamma_f, gamma_u, c_tilde, gamma_o, parameters, peephole)``;
  ``lstm_cell_backward(da_next, dc_next, cache)`` -> ``{"dxt", "da_prev", "dc_prev"}`` + d
  every parameter.
- ``lstm_forward(x, a0, c0, parameters, peephole)`` -> ``(a, c, caches)``, ``caches =
  (cell_caches, x)``; ``lstm_backward(da, dc, caches)`` -> ``{"dx", "da0", "dc0"}`` + d every
  parameter (``dc`` = dL/dc<t> from outside the recurrence, or None): a loop over the cell,
  then a right-to-left loop over its backward.

The output layer is separate (``utils.rnn.dense_forward`` + ``utils.losses``). Caches hold the
caller's arrays and ``parameters`` by reference. ``utils.kernels.lstm`` has the same sequence
functions, fused for speed (tests hold them equal); the PyTorch weight map is in its docstring.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from utils._validate import (
    as_float_array,
    check_argument_shape,
    check_sequence,
    check_step_input,
    common_dtype,
    lstm_parameters,
)
from utils.activations import sigmoid

__all__ = ["LSTMCache", "lstm_backward", "lstm_cell_backward", "lstm_cell_forward", "lstm_forward"]


class LSTMCache(NamedTuple):
    """The cache of one LSTM step (``lstm_cell_forward``), what ``lstm_cell_backward`` needs.

    A tuple: a cache a student builds as the plain tuple ``(a_next, c_next, a_prev, c_prev,
    xt, gamma_f, gamma_u, c_tilde, gamma_o, parameters, peephole)`` is the same thing
    (``LSTMCache._make(cache)`` names its fields)."""

    a_next: np.ndarray  # a<t> (n_a, m)
    c_next: np.ndarray  # c<t> (n_a, m)
    a_prev: np.ndarray  # a<t-1> (n_a, m)
    c_prev: np.ndarray  # c<t-1> (n_a, m)
    xt: np.ndarray  # x<t> (n_x, m)
    gamma_f: np.ndarray  # Γf<t> (n_a, m)
    gamma_u: np.ndarray  # Γu<t> (n_a, m)
    c_tilde: np.ndarray  # c~<t> (n_a, m)
    gamma_o: np.ndarray  # Γo<t> (n_a, m)
    parameters: dict  # the caller's dict, by reference
    peephole: bool

    # copy.deepcopy (the checks copy their arguments) would add this on first use, and
    # utils.checks takes a utils class changed after import for tampering: set it now.
    __slotnames__ = []  # noqa: RUF012


# --------------------------------------------------------------------------------------------
# One time step
# --------------------------------------------------------------------------------------------


def lstm_cell_forward(xt, a_prev, c_prev, parameters, peephole=False):
    """One LSTM step: update the memory cell c and the hidden state a.

    Arguments:
    - xt (n_x, m); a_prev (n_a, m); c_prev (n_a, m).
    - parameters: Wf, Wu, Wo, Wc (n_a, n_a + n_x); bf, bu, bo, bc (n_a, 1);
      with ``peephole=True`` also pf, pu, po (n_a, 1).

    Returns:
    - a_next (n_a, m), c_next (n_a, m).
    - cache: ``LSTMCache(a_next, c_next, a_prev, c_prev, xt, gamma_f, gamma_u, c_tilde,
      gamma_o, parameters, peephole)``.
    """
    xt = check_step_input("xt", xt)
    n_x, m = xt.shape
    p, n_a = lstm_parameters(parameters, n_x, peephole, "lstm_cell_forward")
    a_prev, c_prev = as_float_array("a_prev", a_prev), as_float_array("c_prev", c_prev)
    check_argument_shape("a_prev", a_prev, ("n_a", "m"), {"n_a": n_a, "m": m})
    check_argument_shape("c_prev", c_prev, ("n_a", "m"), {"n_a": n_a, "m": m})

    concat = np.concatenate([a_prev, xt])  # [a<t-1>; x<t>]
    z_f = p["Wf"] @ concat + p["bf"]
    z_u = p["Wu"] @ concat + p["bu"]
    if peephole:  # the forget and update gates peek at the old memory
        z_f = z_f + p["pf"] * c_prev
        z_u = z_u + p["pu"] * c_prev
    gamma_f = sigmoid(z_f)  # Γf: how much old memory to keep
    gamma_u = sigmoid(z_u)  # Γu: how much of the candidate to write
    c_tilde = np.tanh(p["Wc"] @ concat + p["bc"])  # c~: the candidate memory
    c_next = gamma_f * c_prev + gamma_u * c_tilde
    z_o = p["Wo"] @ concat + p["bo"]
    if peephole:  # the output gate peeks at the new memory
        z_o = z_o + p["po"] * c_next
    gamma_o = sigmoid(z_o)  # Γo: how much of the memory to show
    a_next = gamma_o * np.tanh(c_next)

    cache = LSTMCache(
        a_next, c_next, a_prev, c_prev, xt, gamma_f, gamma_u, c_tilde, gamma_o, parameters, peephole
    )
    return a_next, c_next, cache


def lstm_cell_backward(da_next, dc_next, cache):
    """Backward pass of one LSTM step.

    Arguments:
    - da_next: dL/da<t> (n_a, m), from the output at step t and from step t+1.
    - dc_next: dL/dc<t> (n_a, m) from step t+1 (through c<t+1> = Γf c<t> + ...), or None.
    - cache: from ``lstm_cell_forward``.

    Returns a dict: dxt (n_x, m), da_prev (n_a, m), dc_prev (n_a, m), dWf, dWu, dWo, dWc
    (n_a, n_a + n_x), dbf, dbu, dbo, dbc (n_a, 1), and dpf, dpu, dpo with peepholes.
    """
    a_next, c_next, a_prev, c_prev, xt, gamma_f, gamma_u, c_tilde, gamma_o, parameters, peephole = (
        cache
    )
    n_a, m = a_next.shape
    p, _ = lstm_parameters(parameters, xt.shape[0], peephole, "lstm_cell_backward")
    da_next = as_float_array("da_next", da_next)
    check_argument_shape("da_next", da_next, ("n_a", "m"), {"n_a": n_a, "m": m})
    if dc_next is None:
        dc_next = np.zeros_like(c_next)
    dc_next = as_float_array("dc_next", dc_next)
    check_argument_shape("dc_next", dc_next, ("n_a", "m"), {"n_a": n_a, "m": m})
    concat = np.concatenate([a_prev, xt])
    tanh_c = np.tanh(c_next)

    # a<t> = Γo * tanh(c<t>)
    dz_o = da_next * tanh_c * gamma_o * (1 - gamma_o)  # to Γo, back through σ
    dc = dc_next + da_next * gamma_o * (1 - tanh_c**2)  # to c<t>, back through tanh
    if peephole:
        dc = dc + p["po"] * dz_o  # z_o = ... + po * c<t>
    # c<t> = Γf * c<t-1> + Γu * c~
    dz_f = dc * c_prev * gamma_f * (1 - gamma_f)  # to Γf, back through σ
    dz_u = dc * c_tilde * gamma_u * (1 - gamma_u)  # to Γu, back through σ
    dz_c = dc * gamma_u * (1 - c_tilde**2)  # to c~, back through tanh
    dc_prev = dc * gamma_f  # the memory's direct path
    if peephole:
        dc_prev = dc_prev + p["pf"] * dz_f + p["pu"] * dz_u  # z_f, z_u peek at c<t-1>

    grads = {}
    dconcat = np.zeros_like(concat)
    for g, dz in (("f", dz_f), ("u", dz_u), ("o", dz_o), ("c", dz_c)):
        grads["dW" + g] = dz @ concat.T  # every gate saw [a<t-1>; x<t>]
        grads["db" + g] = dz.sum(axis=1, keepdims=True)
        dconcat += p["W" + g].T @ dz
    if peephole:
        grads["dpf"] = (dz_f * c_prev).sum(axis=1, keepdims=True)
        grads["dpu"] = (dz_u * c_prev).sum(axis=1, keepdims=True)
        grads["dpo"] = (dz_o * c_next).sum(axis=1, keepdims=True)
    grads["da_prev"], grads["dxt"] = dconcat[:n_a], dconcat[n_a:]  # split [a<t-1>; x<t>]
    grads["dc_prev"] = dc_prev
    return grads


# --------------------------------------------------------------------------------------------
# Whole sequence: a loop over the cell, and back
# --------------------------------------------------------------------------------------------


def lstm_forward(x, a0, c0, parameters, peephole=False):
    """LSTM over all T_x steps: ``lstm_cell_forward`` at every step, left to right.

    Arguments:
    - x (n_x, m, T_x); a0 (n_a, m); c0 (n_a, m), or None for zeros.
    - parameters, peephole: as for ``lstm_cell_forward``.

    Returns:
    - a (n_a, m, T_x) hidden states; c (n_a, m, T_x) memory cells (carry ``a[:, :, -1]`` and
      ``c[:, :, -1]`` for truncated BPTT).
    - caches: (cell_caches, x), cell_caches[t] the cache of step t.
    """
    x = check_sequence("x", x)
    n_x, m, T_x = x.shape
    p, n_a = lstm_parameters(parameters, n_x, peephole, "lstm_forward")
    a0 = as_float_array("a0", a0)
    check_argument_shape("a0", a0, ("n_a", "m"), {"n_a": n_a, "m": m})
    c0 = np.zeros_like(a0) if c0 is None else as_float_array("c0", c0)
    check_argument_shape("c0", c0, ("n_a", "m"), {"n_a": n_a, "m": m})
    if T_x == 0:
        raise ValueError("x has no time steps (T_x = 0)")

    dtype = common_dtype(x, a0, c0, *p.values())
    a = np.zeros((n_a, m, T_x), dtype=dtype)
    c = np.zeros((n_a, m, T_x), dtype=dtype)
    cell_caches = []
    a_next, c_next = a0, c0
    for t in range(T_x):
        a_next, c_next, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters, peephole)
        a[:, :, t], c[:, :, t] = a_next, c_next
        cell_caches.append(cache)
    return a, c, (cell_caches, x)


def lstm_backward(da, dc, caches):
    """Backprop through time: ``lstm_cell_backward`` at every step, right to left.

    Arguments:
    - da: dL/da<t> from above for every step, (n_a, m, T_x).
    - dc: dL/dc<t> from outside the recurrence, (n_a, m, T_x), or None (zeros); e.g. the
      gradient of a carried final memory goes in ``dc[:, :, -1]``.
    - caches: (cell_caches, x) from ``lstm_forward``.

    Returns a dict: dx (n_x, m, T_x), da0 (n_a, m), dc0 (n_a, m), dWf, dWu, dWo, dWc, dbf, dbu,
    dbo, dbc and, with peepholes, dpf, dpu, dpo, summed over time.
    """
    cell_caches, x = caches
    n_x, m, T_x = x.shape
    a_last, *_ = cell_caches[-1]  # a_next of the last step
    n_a, dtype = a_last.shape[0], a_last.dtype
    sizes = {"n_a": n_a, "m": m, "T_x": T_x}
    da = as_float_array("da", da)
    check_argument_shape("da", da, ("n_a", "m", "T_x"), sizes)
    if dc is not None:
        dc = as_float_array("dc", dc)
        check_argument_shape("dc", dc, ("n_a", "m", "T_x"), sizes)

    dx = np.zeros((n_x, m, T_x), dtype=dtype)
    weights = {}  # d + parameter, summed over the steps
    da_prev = np.zeros((n_a, m), dtype=dtype)  # dL/da<t> arriving from step t+1
    dc_prev = np.zeros((n_a, m), dtype=dtype)  # dL/dc<t> arriving from step t+1
    for t in reversed(range(T_x)):
        dc_t = dc_prev if dc is None else dc_prev + dc[:, :, t]
        step = lstm_cell_backward(da[:, :, t] + da_prev, dc_t, cell_caches[t])  # above + future
        dx[:, :, t] = step.pop("dxt")
        da_prev, dc_prev = step.pop("da_prev"), step.pop("dc_prev")  # on to step t-1
        for name, grad in step.items():  # the same weights serve every step
            weights[name] = weights.get(name, 0) + grad
    return {"dx": dx, "da0": da_prev, "dc0": dc_prev, **weights}
