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


def _sigmoid_(z):
    """σ(z) written into z, as σ(z) = (1 + tanh(z / 2)) / 2.

    One tanh covers a whole block of stacked gates (four calls in all, whatever its size), it
    never overflows (σ(±1000) = 1, 0), and float32 stays float32. Used by the sequence loop;
    the cell functions call ``utils.activations.sigmoid``.
    """
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5
    return z


def lstm_forward(x, a0, parameters, c0=None, peephole=False):
    """LSTM over all T_x steps.

    Arguments:
    - x (n_x, m, T_x); a0 (n_a, m); c0 (n_a, m) or None for zeros.
    - parameters: as for ``lstm_cell_forward``.

    Returns:
    - a (n_a, m, T_x) hidden states; c (n_a, m, T_x) memory cells (carry ``a[:, :, -1]`` and
      ``c[:, :, -1]`` for truncated BPTT).
    - cache: dict with x_flat (n_x, T_x m) (column t m + j is step t of example j),
      h (T_x+1, n_a, m) = a<0..T>, cs (T_x+1, n_a, m) = c<0..T>, tanh_c (T_x, n_a, m),
      gates (T_x, 4 n_a, m) = [Γf; Γu; Γo; c~] per step,
      W_h, W_x (the stacked recurrent and input halves), parameters, peephole.

    Speed: inside the loop, time is the *first* axis, so every step's slice (h[t], gates[t])
    is one contiguous block, and each line writes into a preallocated array (``out=``)
    instead of allocating a new one: at small sizes NumPy's fixed cost per call dominates.
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
    x = x.astype(dtype, copy=False)
    n = n_a

    W = np.concatenate([p["W" + g] for g in GATES])  # (4 n_a, n_a + n_x), blocks f, u, o, c
    b = np.concatenate([p["b" + g] for g in GATES])  # (4 n_a, 1)
    W_h, W_x = W[:, :n_a], W[:, n_a:]  # act on a<t-1> and on x<t>
    x_flat = to_steps_layout(x).reshape(n_x, T * m)  # column t m + j: step t, example j
    zx = W_x @ x_flat  # input half of all gates, all steps in one matmul
    zx += b
    zx = zx.reshape(4 * n, T, m).transpose(1, 0, 2)  # (T_x, 4 n_a, m) view: zx[t] is step t

    h = np.empty((T + 1, n_a, m), dtype=dtype)  # a<0..T>
    cs = np.empty((T + 1, n_a, m), dtype=dtype)  # c<0..T>
    tanh_c = np.empty((T, n_a, m), dtype=dtype)
    gates = np.empty((T, 4 * n, m), dtype=dtype)  # Γf, Γu, Γo, c~ stacked
    uc = np.empty((n_a, m), dtype=dtype)  # scratch for Γu * c~
    h[0], cs[0] = a0, c0
    for t in range(T):
        z = gates[t]  # holds the pre-activations first, then the gates
        gf, gu, go, cc = z[:n], z[n : 2 * n], z[2 * n : 3 * n], z[3 * n :]
        np.matmul(W_h, h[t], out=z)
        z += zx[t]  # z = W_h a<t-1> + W_x x<t> + b, all four blocks
        if peephole:
            gf += p["pf"] * cs[t]  # the gates peek at the old memory
            gu += p["pu"] * cs[t]
            _sigmoid_(z[: 2 * n])  # Γf, Γu (Γo waits for c<t>)
        else:
            _sigmoid_(z[: 3 * n])  # Γf, Γu, Γo in one go
        np.tanh(cc, out=cc)  # c~
        c = cs[t + 1]
        np.multiply(gf, cs[t], out=c)  # c<t> = Γf c<t-1> ...
        c += np.multiply(gu, cc, out=uc)  # ... + Γu c~
        if peephole:
            go += p["po"] * c  # the output gate peeks at the new memory
            _sigmoid_(go)
        np.tanh(c, out=tanh_c[t])
        np.multiply(go, tanh_c[t], out=h[t + 1])  # a<t> = Γo tanh(c<t>)

    cache = {
        "x_flat": x_flat,
        "h": h,
        "cs": cs,
        "tanh_c": tanh_c,
        "gates": gates,
        "W_h": W_h,
        "W_x": W_x,
        "p": p,
        "peephole": peephole,
    }
    return _lecture(h[1:]), _lecture(cs[1:]), cache


def _lecture(steps):
    """(T_x, n, m) -> a new (n, m, T_x) array in the lecture's layout (two cheap copies: one
    moving whole rows, then ``to_lecture_layout``; faster than one transpose at large sizes)."""
    return to_lecture_layout(_steps(steps))


def _steps(steps):
    """(T_x, n, m) -> a new (n, T_x, m) array, the layout of ``to_steps_layout(x)``."""
    return np.ascontiguousarray(steps.transpose(1, 0, 2))


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
    x_flat = cache["x_flat"]
    T1, n_a, m = h.shape
    T, n_x, n, dtype = T1 - 1, x_flat.shape[0], n_a, h.dtype
    sizes = {"n_a": n_a, "m": m, "T_x": T}
    da = as_float_array("da", da)
    check_shape("da", da, ("n_a", "m", "T_x"), sizes)
    da_steps = da.astype(dtype, copy=False).transpose(2, 0, 1)  # (T_x, n_a, m) view
    if dc is not None:
        dc = as_float_array("dc", dc)
        check_shape("dc", dc, ("n_a", "m", "T_x"), sizes)
        dc_steps = dc.astype(dtype, copy=False).transpose(2, 0, 1)

    dz = np.empty((T, 4 * n, m), dtype=dtype)  # dL/d(pre-activations), blocks f, u, o, c
    da_next = np.zeros((n_a, m), dtype=dtype)  # from step t+1 through W_h
    dc_next = np.zeros((n_a, m), dtype=dtype)  # from step t+1 through c<t+1> = Γf c<t> + ...
    da_t, dc_t = np.empty((n_a, m), dtype=dtype), np.empty((n_a, m), dtype=dtype)
    dsig = np.empty((3 * n, m), dtype=dtype)  # σ' of Γf, Γu, Γo
    tmp = np.empty((n_a, m), dtype=dtype)
    for t in reversed(range(T)):
        g, d = gates[t], dz[t]
        gf, gu, go, cc = g[:n], g[n : 2 * n], g[2 * n : 3 * n], g[3 * n :]
        dzf, dzu, dzo, dzc = d[:n], d[n : 2 * n], d[2 * n : 3 * n], d[3 * n :]
        c_prev, tc = cs[t], tanh_c[t]
        np.add(da_steps[t], da_next, out=da_t)  # from above and from step t+1
        np.subtract(1, g[: 3 * n], out=dsig)
        dsig *= g[: 3 * n]  # σ' = s (1 - s) for Γf, Γu, Γo at once
        np.multiply(da_t, tc, out=dzo)  # a = Γo tanh(c), to Γo
        dzo *= dsig[2 * n :]  # back through σ
        np.multiply(tc, tc, out=tmp)
        np.subtract(1, tmp, out=tmp)  # tanh'(c) = 1 - tanh(c)^2
        tmp *= go
        tmp *= da_t  # a = Γo tanh(c), back through tanh to c
        np.add(dc_next, tmp, out=dc_t)  # plus the path through c<t+1> = Γf c<t> + ...
        if dc is not None:
            dc_t += dc_steps[t]
        if peephole:
            dc_t += p["po"] * dzo  # zo = ... + po * c
        np.multiply(dc_t, c_prev, out=dzf)  # c = Γf c_prev + ..., to Γf
        np.multiply(dc_t, cc, out=dzu)  # c = ... + Γu c~, to Γu
        d[: 2 * n] *= dsig[: 2 * n]  # Γf, Γu back through σ
        np.multiply(cc, cc, out=tmp)
        np.subtract(1, tmp, out=tmp)  # tanh'(zc) = 1 - c~^2
        np.multiply(dc_t, gu, out=dzc)  # c = ... + Γu c~, to c~
        dzc *= tmp  # back through tanh
        np.multiply(dc_t, gf, out=dc_next)  # c = Γf c_prev + ..., to c_prev
        if peephole:
            dc_next += p["pf"] * dzf + p["pu"] * dzu  # zf, zu peek at c_prev
        np.matmul(W_h.T, d, out=da_next)  # all four gates saw a<t-1>

    # Weight gradients over all steps and the batch: one matmul for each half of W.
    dz_flat = _steps(dz).reshape(4 * n, T * m)  # columns as in x_flat
    dW_h = dz_flat @ _steps(h[:T]).reshape(n_a, T * m).T  # with a<t-1>
    dW_x = dz_flat @ x_flat.T  # with x<t>
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
        dzf, dzu, dzo = dz[:, :n], dz[:, n : 2 * n], dz[:, 2 * n : 3 * n]  # (T_x, n_a, m)
        grads["dpf"] = (dzf * cs[:T]).sum(axis=(0, 2))[:, None]
        grads["dpu"] = (dzu * cs[:T]).sum(axis=(0, 2))[:, None]
        grads["dpo"] = (dzo * cs[1:]).sum(axis=(0, 2))[:, None]
    return grads
