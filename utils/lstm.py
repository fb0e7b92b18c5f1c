"""LSTM with forget, update and output gates, optionally with peephole connections.

Lecture equations (one step; [a; x] stacks a<t-1> on x<t>; * is element-wise)::

    Γf<t> = σ(Wf [a<t-1>; x<t>] + bf  + pf * c<t-1>)      forget gate
    Γu<t> = σ(Wu [a<t-1>; x<t>] + bu  + pu * c<t-1>)      update gate
    c~<t> = tanh(Wc [a<t-1>; x<t>] + bc)                  candidate memory
    c<t>  = Γf<t> * c<t-1> + Γu<t> * c~<t>
    Γo<t> = σ(Wo [a<t-1>; x<t>] + bo  + po * c<t>)        output gate
    a<t>  = Γo<t> * tanh(c<t>)

The peephole terms (``pf, pu, po``, diagonal, shape (n_a, 1)) are used only with
``peephole=True``; without them the equations are the lecture's plain LSTM.

Shapes: x (n_x, m, T_x); a0, c0 (n_a, m); a, c (n_a, m, T_x);
Wf, Wu, Wo, Wc (n_a, n_a + n_x) acting on [a_prev; x]; bf, bu, bo, bc, pf, pu, po (n_a, 1).

Public functions:

- ``lstm_cell_forward(xt, a_prev, c_prev, parameters, peephole=False)``
  -> ``(a_next, c_next, cache)``; ``lstm_cell_backward(da_next, dc_next, cache)`` -> grads.
  The cell is written exactly as the equations above.
- ``lstm_forward(x, a0, parameters, c0=None, peephole=False)`` -> ``(a, c, cache)``;
  ``lstm_backward(da, cache, dc=None)`` -> grads with dx, da0, dc0 and d + every parameter.
  The sequence functions compute the same thing faster: the four gate matrices are stacked
  into one (4 n_a, n_a + n_x) matrix, its input half is applied to all time steps in one matmul
  before the loop, and the weight gradients are one matmul after it.

The output layer is separate (``utils.rnn.dense_forward`` + ``utils.losses``).

PyTorch correspondence (``torch.nn.LSTM(n_x, n_a)``, no peepholes; gate order i, f, g, o with
i = our update gate Γu and g = our candidate c~; tested in ``tests/test_torch_parity.py``)::

    weight_ih_l0 = concat([Wu, Wf, Wc, Wo])[:, n_a:]     (input columns)
    weight_hh_l0 = concat([Wu, Wf, Wc, Wo])[:, :n_a]     (recurrent columns)
    bias_ih_l0 + bias_hh_l0 = concat([bu, bf, bc, bo])[:, 0]
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
from utils.activations import sigmoid

__all__ = ["lstm_backward", "lstm_cell_backward", "lstm_cell_forward", "lstm_forward"]

GATES = ("f", "u", "o", "c")  # order of the blocks in the stacked gate matrix
PEEPHOLES = ("pf", "pu", "po")


def _lstm_params(parameters, n_x, peephole, where):
    """Fetch and shape-check the LSTM parameters; return (dict of float arrays, n_a)."""
    Wf = get_param(parameters, "Wf", where)
    n_a = Wf.shape[0] if Wf.ndim == 2 else -1
    sizes = {"n_a": n_a, "n_a + n_x": n_a + n_x}
    p = {}
    for g in GATES:
        p["W" + g] = get_param(parameters, "W" + g, where)
        check_shape("W" + g, p["W" + g], ("n_a", "n_a + n_x"), sizes)
        p["b" + g] = get_param(parameters, "b" + g, where)
        check_shape("b" + g, p["b" + g], ("n_a", 1), sizes)
    if peephole:
        for name in PEEPHOLES:
            p[name] = get_param(parameters, name, where)
            check_shape(name, p[name], ("n_a", 1), sizes)
    return p, n_a


# --------------------------------------------------------------------------------------------
# One time step, written as the equations
# --------------------------------------------------------------------------------------------


def lstm_cell_forward(xt, a_prev, c_prev, parameters, peephole=False):
    """One LSTM step: update the memory cell c and the hidden state a.

    Arguments:
    - xt (n_x, m); a_prev (n_a, m); c_prev (n_a, m).
    - parameters: Wf, Wu, Wo, Wc (n_a, n_a + n_x); bf, bu, bo, bc (n_a, 1);
      with ``peephole=True`` also pf, pu, po (n_a, 1).

    Returns:
    - a_next (n_a, m), c_next (n_a, m).
    - cache: dict with concat = [a_prev; xt], c_prev, c_next, tanh_c = tanh(c_next), the gates
      gf, gu, go and the candidate cc, the parameters and ``peephole``.
    """
    xt, a_prev, c_prev = (
        as_float_array(n, v) for n, v in (("xt", xt), ("a_prev", a_prev), ("c_prev", c_prev))
    )
    if xt.ndim != 2:
        raise ValueError(f"xt must be 2-D with shape (n_x, m), got {xt.shape}")
    n_x, m = xt.shape
    p, n_a = _lstm_params(parameters, n_x, peephole, "lstm_cell_forward")
    check_shape("a_prev", a_prev, ("n_a", "m"), {"n_a": n_a, "m": m})
    check_shape("c_prev", c_prev, ("n_a", "m"), {"n_a": n_a, "m": m})

    concat = np.concatenate([a_prev, xt], axis=0)  # [a<t-1>; x<t>]
    zf = p["Wf"] @ concat + p["bf"]
    zu = p["Wu"] @ concat + p["bu"]
    if peephole:
        zf = zf + p["pf"] * c_prev  # the gates peek at the old memory
        zu = zu + p["pu"] * c_prev
    gf, gu = sigmoid(zf), sigmoid(zu)
    cc = np.tanh(p["Wc"] @ concat + p["bc"])
    c_next = gf * c_prev + gu * cc  # forget some old memory, write some new
    zo = p["Wo"] @ concat + p["bo"]
    if peephole:
        zo = zo + p["po"] * c_next  # the output gate peeks at the new memory
    go = sigmoid(zo)
    tanh_c = np.tanh(c_next)
    a_next = go * tanh_c

    cache = {
        "concat": concat,
        "c_prev": c_prev,
        "c_next": c_next,
        "tanh_c": tanh_c,
        "gf": gf,
        "gu": gu,
        "go": go,
        "cc": cc,
        "p": p,
        "peephole": peephole,
    }
    return a_next, c_next, cache


def lstm_cell_backward(da_next, dc_next, cache):
    """Backward pass of one LSTM step.

    Arguments:
    - da_next: dL/da<t> (n_a, m); dc_next: dL/dc<t> from the next step (n_a, m), or None.
    - cache: from ``lstm_cell_forward``.

    Returns a dict: dxt (n_x, m), da_prev (n_a, m), dc_prev (n_a, m), dWf, dWu, dWo, dWc
    (n_a, n_a + n_x), dbf, dbu, dbo, dbc (n_a, 1), and dpf, dpu, dpo with peepholes.
    """
    p, peephole = cache["p"], cache["peephole"]
    gf, gu, go, cc = cache["gf"], cache["gu"], cache["go"], cache["cc"]
    c_prev, tanh_c, concat = cache["c_prev"], cache["tanh_c"], cache["concat"]
    n_a, m = c_prev.shape
    da_next = as_float_array("da_next", da_next)
    check_shape("da_next", da_next, ("n_a", "m"), {"n_a": n_a, "m": m})
    if dc_next is None:
        dc_next = np.zeros_like(c_prev)
    dc_next = as_float_array("dc_next", dc_next)
    check_shape("dc_next", dc_next, ("n_a", "m"), {"n_a": n_a, "m": m})

    dzo = da_next * tanh_c * go * (1 - go)  # a = Γo tanh(c), back through σ
    dc = dc_next + da_next * go * (1 - tanh_c**2)  # a = Γo tanh(c), back through tanh
    if peephole:
        dc = dc + p["po"] * dzo  # zo = ... + po * c
    dzc = dc * gu * (1 - cc**2)  # c = ... + Γu c~, back through tanh
    dzu = dc * cc * gu * (1 - gu)  # c = ... + Γu c~, back through σ
    dzf = dc * c_prev * gf * (1 - gf)  # c = Γf c_prev + ..., back through σ
    dc_prev = dc * gf
    if peephole:
        dc_prev = dc_prev + p["pf"] * dzf + p["pu"] * dzu  # zf, zu peek at c_prev

    grads = {}
    dconcat = np.zeros_like(concat)
    for g, dz in (("f", dzf), ("u", dzu), ("o", dzo), ("c", dzc)):
        grads["dW" + g] = dz @ concat.T
        grads["db" + g] = dz.sum(axis=1, keepdims=True)
        dconcat += p["W" + g].T @ dz
    if peephole:
        grads["dpf"] = (dzf * c_prev).sum(axis=1, keepdims=True)
        grads["dpu"] = (dzu * c_prev).sum(axis=1, keepdims=True)
        grads["dpo"] = (dzo * cache["c_next"]).sum(axis=1, keepdims=True)
    grads["da_prev"], grads["dxt"] = dconcat[:n_a], dconcat[n_a:]  # split [a_prev; xt]
    grads["dc_prev"] = dc_prev
    return grads


# --------------------------------------------------------------------------------------------
# Whole sequence, with the four gates stacked into one matrix
# --------------------------------------------------------------------------------------------


def lstm_forward(x, a0, parameters, c0=None, peephole=False):
    """LSTM over all T_x steps.

    Arguments:
    - x (n_x, m, T_x); a0 (n_a, m); c0 (n_a, m) or None for zeros.
    - parameters: as for ``lstm_cell_forward``.

    Returns:
    - a (n_a, m, T_x) hidden states; c (n_a, m, T_x) memory cells (carry ``a[:, :, -1]`` and
      ``c[:, :, -1]`` for truncated BPTT).
    - cache: dict with x_steps (n_x, T_x, m), h (n_a, T_x+1, m) = a<0..T>, cs (n_a, T_x+1, m)
      = c<0..T>, tanh_c (n_a, T_x, m), gates (4 n_a, T_x, m) = [Γf; Γu; Γo; c~] per step,
      W_h, W_x (the stacked recurrent and input halves), parameters, peephole.
      (Step layout (n, T, m): see ``utils._validate.to_steps_layout``.)
    """
    x = check_sequence("x", x)
    n_x, m, T = x.shape
    p, n_a = _lstm_params(parameters, n_x, peephole, "lstm_forward")
    a0 = as_float_array("a0", a0)
    check_shape("a0", a0, ("n_a", "m"), {"n_a": n_a, "m": m})
    c0 = np.zeros_like(a0) if c0 is None else as_float_array("c0", c0)
    check_shape("c0", c0, ("n_a", "m"), {"n_a": n_a, "m": m})
    dtype = common_dtype(x, a0, c0, *p.values())
    p = {k: v.astype(dtype, copy=False) for k, v in p.items()}
    n = n_a

    W = np.concatenate([p["W" + g] for g in GATES])  # (4 n_a, n_a + n_x), blocks f, u, o, c
    b = np.concatenate([p["b" + g] for g in GATES])  # (4 n_a, 1)
    W_h, W_x = W[:, :n_a], W[:, n_a:]  # act on a<t-1> and on x<t>
    x_steps = to_steps_layout(x.astype(dtype, copy=False))
    zx = (W_x @ x_steps.reshape(n_x, T * m) + b).reshape(4 * n, T, m)  # all steps at once

    h = np.empty((n_a, T + 1, m), dtype=dtype)  # a<0..T>
    cs = np.empty((n_a, T + 1, m), dtype=dtype)  # c<0..T>
    tanh_c = np.empty((n_a, T, m), dtype=dtype)
    gates = np.empty((4 * n, T, m), dtype=dtype)  # Γf, Γu, Γo, c~ stacked
    h[:, 0], cs[:, 0] = a0, c0
    for t in range(T):
        c_prev = cs[:, t]
        z = W_h @ h[:, t] + zx[:, t]  # (4 n_a, m): all four pre-activations
        if peephole:
            z[:n] += p["pf"] * c_prev
            z[n : 2 * n] += p["pu"] * c_prev
        gf, gu = sigmoid(z[:n]), sigmoid(z[n : 2 * n])
        cc = np.tanh(z[3 * n :])
        c = gf * c_prev + gu * cc
        if peephole:
            z[2 * n : 3 * n] += p["po"] * c
        go = sigmoid(z[2 * n : 3 * n])
        tanh_c[:, t] = np.tanh(c)
        h[:, t + 1] = go * tanh_c[:, t]
        cs[:, t + 1] = c
        gates[:n, t], gates[n : 2 * n, t], gates[2 * n : 3 * n, t], gates[3 * n :, t] = (
            gf,
            gu,
            go,
            cc,
        )

    cache = {
        "x_steps": x_steps,
        "h": h,
        "cs": cs,
        "tanh_c": tanh_c,
        "gates": gates,
        "W_h": W_h,
        "W_x": W_x,
        "p": p,
        "peephole": peephole,
    }
    return to_lecture_layout(h[:, 1:]), to_lecture_layout(cs[:, 1:]), cache


def lstm_backward(da, cache, dc=None):
    """Backprop through time for ``lstm_forward``.

    Arguments:
    - da: dL/da<t> from above for every step, (n_a, m, T_x).
    - cache: from ``lstm_forward``.
    - dc: optional dL/dc<t> from outside the recurrence, (n_a, m, T_x) (e.g. the gradient of
      a carried final state: put it in ``dc[:, :, -1]``).

    Returns a dict: dx (n_x, m, T_x), da0 (n_a, m), dc0 (n_a, m), dWf, dWu, dWo, dWc,
    dbf, dbu, dbo, dbc and, with peepholes, dpf, dpu, dpo.
    """
    h, cs, tanh_c, gates = cache["h"], cache["cs"], cache["tanh_c"], cache["gates"]
    W_h, W_x, p, peephole = cache["W_h"], cache["W_x"], cache["p"], cache["peephole"]
    x_steps = cache["x_steps"]
    n_a, T1, m = h.shape
    T, n_x, n = T1 - 1, x_steps.shape[0], n_a
    sizes = {"n_a": n_a, "m": m, "T_x": T}
    da = as_float_array("da", da)
    check_shape("da", da, ("n_a", "m", "T_x"), sizes)
    da_steps = to_steps_layout(da.astype(h.dtype, copy=False))
    if dc is not None:
        dc = as_float_array("dc", dc)
        check_shape("dc", dc, ("n_a", "m", "T_x"), sizes)
        dc_steps = to_steps_layout(dc.astype(h.dtype, copy=False))

    dz = np.empty((4 * n, T, m), dtype=h.dtype)  # dL/d(pre-activations), blocks f, u, o, c
    da_next = np.zeros((n_a, m), dtype=h.dtype)  # from step t+1 through W_h
    dc_next = np.zeros((n_a, m), dtype=h.dtype)  # from step t+1 through c<t+1> = Γf c<t> + ...
    for t in reversed(range(T)):
        gf, gu, go, cc = (
            gates[:n, t],
            gates[n : 2 * n, t],
            gates[2 * n : 3 * n, t],
            gates[3 * n :, t],
        )
        c_prev, tc = cs[:, t], tanh_c[:, t]
        da_t = da_steps[:, t] + da_next
        dzo = da_t * tc * go * (1 - go)  # a = Γo tanh(c), back through σ
        dc_t = dc_next + da_t * go * (1 - tc * tc)  # a = Γo tanh(c), back through tanh
        if dc is not None:
            dc_t += dc_steps[:, t]
        if peephole:
            dc_t += p["po"] * dzo  # zo = ... + po * c
        dzf = dc_t * c_prev * gf * (1 - gf)  # c = Γf c_prev + ..., back through σ
        dzu = dc_t * cc * gu * (1 - gu)  # c = ... + Γu c~, back through σ
        dzc = dc_t * gu * (1 - cc * cc)  # c = ... + Γu c~, back through tanh
        dc_next = dc_t * gf
        if peephole:
            dc_next += p["pf"] * dzf + p["pu"] * dzu  # zf, zu peek at c_prev
        dz[:n, t], dz[n : 2 * n, t], dz[2 * n : 3 * n, t], dz[3 * n :, t] = dzf, dzu, dzo, dzc
        da_next = W_h.T @ dz[:, t]  # all four gates saw a<t-1>

    # Weight gradients over all steps and the batch: one matmul for each half of W.
    dz_flat = dz.reshape(4 * n, T * m)
    dW_h = dz_flat @ h[:, :T].reshape(n_a, T * m).T  # with a<t-1>
    dW_x = dz_flat @ x_steps.reshape(n_x, T * m).T  # with x<t>
    db = dz_flat.sum(axis=1, keepdims=True)
    grads = {
        "dx": to_lecture_layout((W_x.T @ dz_flat).reshape(n_x, T, m)),
        "da0": da_next,
        "dc0": dc_next,
    }
    for k, g in enumerate(GATES):
        rows = slice(k * n, (k + 1) * n)
        grads["dW" + g] = np.concatenate([dW_h[rows], dW_x[rows]], axis=1)
        grads["db" + g] = db[rows]
    if peephole:
        dzf, dzu, dzo = dz[:n], dz[n : 2 * n], dz[2 * n : 3 * n]  # (n_a, T, m)
        grads["dpf"] = (dzf * cs[:, :T]).sum(axis=(1, 2))[:, None]
        grads["dpu"] = (dzu * cs[:, :T]).sum(axis=(1, 2))[:, None]
        grads["dpo"] = (dzo * cs[:, 1:]).sum(axis=(1, 2))[:, None]
    return grads
