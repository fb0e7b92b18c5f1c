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
  into one (4 n_a, n_a + n_x) matrix applied to [a<t-1>; x<t>] in one matmul per step, the
  local derivatives of the gates are computed for blocks of steps at once (they do not
  depend on the gradient flowing back in time), and the weight gradients are one matmul after
  the loop.

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
)
from utils.activations import sigmoid
from utils.kernels._fast import const, sigmoid_

__all__ = ["lstm_backward", "lstm_cell_backward", "lstm_cell_forward", "lstm_forward"]

GATES = ("o", "f", "u", "c")  # order of the blocks in the stacked gate matrix (see lstm_forward)
PEEPHOLES = ("pf", "pu", "po")


def _lstm_params(parameters, n_x, peephole, where):
    """Fetch and shape-check the LSTM parameters; return (dict of float arrays, n_a)."""
    Wf = get_param(parameters, "Wf", where)
    n_a = Wf.shape[0] if Wf.ndim == 2 else -1
    sizes = {"n_a": n_a, "n_a + n_x": n_a + n_x}
    p = {}
    for g in ("f", "u", "o", "c"):  # the lecture's order, for the error messages
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
    - peephole: use the peephole terms pf, pu, po (the parameters must then include them).

    Returns:
    - a (n_a, m, T_x) hidden states; c (n_a, m, T_x) memory cells (carry ``a[:, :, -1]`` and
      ``c[:, :, -1]`` for truncated BPTT).
    - cache: dict with ax (n_a + n_x, T_x+1, m) = [a<t-1>; x<t>] per step (ax[:n_a, T_x] =
      a<T_x>), cs (T_x+1, n_a, m) = c<0..T>, tanh_c (T_x, n_a, m), gates (T_x, 4 n_a, m)
      = [Γo; Γf; Γu; c~] per step, W (the stacked gate matrix), p (the parameters), peephole.

    Speed: the arrays that the loop computes in (cs, gates) have time as their *first* axis,
    so each step's slice is one contiguous block, and each line writes into a preallocated
    array (``out=``) instead of allocating a new one: at small sizes NumPy's fixed cost per
    call dominates. ax, which the matmuls read, has time second: then ax[:, :T_x] is one
    (n_a + n_x, T_x m) matrix for the weight gradient, without a copy.
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

    # Blocks o, f, u, c: the three sigmoid gates are adjacent (one call activates them all),
    # and so are the three blocks that c<t> feeds back into (f, u, c; see lstm_backward).
    W = np.concatenate([p["W" + g] for g in GATES])  # (4 n_a, n_a + n_x)
    b = np.concatenate([p["b" + g] for g in GATES])  # (4 n_a, 1)

    ax = np.empty((n_a + n_x, T + 1, m), dtype=dtype)  # [a<t-1>; x<t>] for every step
    ax[n_a:, :T] = x.transpose(0, 2, 1)  # x<t> under a<t-1>
    ax[n_a:, T] = 0  # no input after the last step; ax[:n_a, T] holds a<T>
    ax[:n_a, 0] = a0
    cs = np.empty((T + 1, n_a, m), dtype=dtype)  # c<0..T>
    tanh_c = np.empty((T, n_a, m), dtype=dtype)
    gates = np.empty((T, 4 * n, m), dtype=dtype)  # Γo, Γf, Γu, c~ stacked
    uc = np.empty((n_a, m), dtype=dtype)  # scratch for Γu * c~
    half = const(0.5, dtype)
    cs[0] = c0
    for t in range(T):
        z = gates[t]  # holds the pre-activations first, then the gates
        go, gf, gu, cc = z[:n], z[n : 2 * n], z[2 * n : 3 * n], z[3 * n :]
        np.matmul(W, ax[:, t], out=z)  # W [a<t-1>; x<t>], all four blocks in one matmul
        z += b
        if peephole:
            gf += p["pf"] * cs[t]  # the gates peek at the old memory
            gu += p["pu"] * cs[t]
            sigmoid_(z[n : 3 * n], half)  # Γf, Γu (Γo waits for c<t>)
        else:
            sigmoid_(z[: 3 * n], half)  # Γo, Γf, Γu in one go
        np.tanh(cc, out=cc)  # c~
        c = cs[t + 1]
        np.multiply(gf, cs[t], out=c)  # c<t> = Γf c<t-1> ...
        c += np.multiply(gu, cc, out=uc)  # ... + Γu c~
        if peephole:
            go += p["po"] * c  # the output gate peeks at the new memory
            sigmoid_(go, half)
        np.tanh(c, out=tanh_c[t])
        np.multiply(go, tanh_c[t], out=ax[:n, t + 1])  # a<t> = Γo tanh(c<t>)

    cache = {
        "ax": ax,
        "cs": cs,
        "tanh_c": tanh_c,
        "gates": gates,
        "W": W,
        "p": p,
        "peephole": peephole,
    }
    return to_lecture_layout(ax[:n_a, 1:]), _lecture(cs[1:]), cache


def _lecture(steps):
    """(T_x, n, m) -> a new (n, m, T_x) array in the lecture's layout (two copies, the first
    moving whole rows: faster than one copy at large sizes)."""
    return to_lecture_layout(np.ascontiguousarray(steps.transpose(1, 0, 2)))


BLOCK_SIZE = 16384  # lstm_backward: about this many numbers per (n_a, m) array of a block


def _local_derivatives(gates, c_prev, tanh_c):
    """Local derivatives of a block of steps (axis 0 = step), for lstm_backward.

    None of them needs the gradient that flows back from later steps, so they are computed for
    the whole block at once (few NumPy calls when m and n_a are small; a block small enough to
    stay in cache when they are large), and the loop over steps only multiplies by them:
    dzo = da * j_o, dc = da * j_c + (dc from step t+1), [dzf; dzu; dzc] = dc * j_fuc.
    """
    n = c_prev.shape[1]
    go, gu, cc = gates[:, :n], gates[:, 2 * n : 3 * n], gates[:, 3 * n :]
    dsig = gates[:, : 3 * n] * (1 - gates[:, : 3 * n])  # σ' = s (1 - s) of Γo, Γf, Γu
    j_o = tanh_c * dsig[:, :n]  # a = Γo tanh(c), to Γo, back through σ
    j_c = go * (1 - tanh_c * tanh_c)  # a = Γo tanh(c), back through tanh to c
    j_fuc = np.empty((len(gates), 3, n, gates.shape[2]), dtype=gates.dtype)
    np.multiply(c_prev, dsig[:, n : 2 * n], out=j_fuc[:, 0])  # c = Γf c_prev + ..., σ'
    np.multiply(cc, dsig[:, 2 * n :], out=j_fuc[:, 1])  # c = ... + Γu c~, to Γu, σ'
    np.multiply(gu, 1 - cc * cc, out=j_fuc[:, 2])  # c = ... + Γu c~, to c~, tanh'
    return j_o, j_c, j_fuc


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
    ax, cs, tanh_c, gates = cache["ax"], cache["cs"], cache["tanh_c"], cache["gates"]
    W, p, peephole = cache["W"], cache["p"], cache["peephole"]
    T1, n_a, m = cs.shape
    T, n_x, n, dtype = T1 - 1, ax.shape[0] - n_a, n_a, cs.dtype
    W_h, W_x = W[:, :n_a], W[:, n_a:]  # act on a<t-1> and on x<t>
    sizes = {"n_a": n_a, "m": m, "T_x": T}
    da = as_float_array("da", da)
    check_shape("da", da, ("n_a", "m", "T_x"), sizes)
    da_steps = da.astype(dtype, copy=False).transpose(2, 0, 1)  # (T_x, n_a, m) view
    if dc is not None:
        dc = as_float_array("dc", dc)
        check_shape("dc", dc, ("n_a", "m", "T_x"), sizes)
        dc_steps = dc.astype(dtype, copy=False).transpose(2, 0, 1)

    dz = np.empty((4 * n, T, m), dtype=dtype)  # dL/d(pre-activations), blocks o, f, u, c
    dz4 = dz.reshape(4, n_a, T, m)  # the same array, one block per index
    da_next = np.zeros((n_a, m), dtype=dtype)  # from step t+1 through W_h
    dc_next = np.zeros((n_a, m), dtype=dtype)  # from step t+1 through c<t+1> = Γf c<t> + ...
    da_t, dc_t = np.empty((n_a, m), dtype=dtype), np.empty((n_a, m), dtype=dtype)
    block = max(1, BLOCK_SIZE // (n_a * m))  # steps per block
    for start in reversed(range(0, T, block)):
        stop = min(start + block, T)
        j_o, j_c, j_fuc = _local_derivatives(gates[start:stop], cs[start:stop], tanh_c[start:stop])
        for t in reversed(range(start, stop)):
            i = t - start  # step t within the block
            np.add(da_steps[t], da_next, out=da_t)  # dL/da<t>: from above and from step t+1
            np.multiply(da_t, j_o[i], out=dz4[0, :, t])  # dzo
            np.multiply(da_t, j_c[i], out=dc_t)  # a = Γo tanh(c), back to c
            dc_t += dc_next  # plus the path through c<t+1> = Γf c<t> + ...
            if dc is not None:
                dc_t += dc_steps[t]
            if peephole:
                dc_t += p["po"] * dz4[0, :, t]  # zo = ... + po * c
            np.multiply(dc_t, j_fuc[i], out=dz4[1:, :, t])  # dzf, dzu, dzc in one call
            np.multiply(dc_t, gates[t, n : 2 * n], out=dc_next)  # c = Γf c_prev + ...
            if peephole:
                dc_next += p["pf"] * dz4[1, :, t] + p["pu"] * dz4[2, :, t]  # zf, zu peek
            np.matmul(W_h.T, dz[:, t], out=da_next)  # all four gates saw a<t-1>

    # Weight gradients over all steps and the batch in one matmul: dW = Σ dz [a<t-1>; x<t>]^T.
    dz_flat = dz.reshape(4 * n, T * m)  # column t m + j: step t, example j
    dW = dz_flat @ ax[:, :T].reshape(n_a + n_x, T * m).T  # (views, no copies)
    db = dz_flat.sum(axis=1, keepdims=True)
    grads = {
        "dx": to_lecture_layout((W_x.T @ dz_flat).reshape(n_x, T, m)),
        "da0": da_next,
        "dc0": dc_next,
    }
    for k, g in enumerate(GATES):
        rows = slice(k * n, (k + 1) * n)
        grads["dW" + g], grads["db" + g] = dW[rows], db[rows]
    if peephole:
        dzo, dzf, dzu = dz4[0], dz4[1], dz4[2]  # (n_a, T_x, m)
        grads["dpf"] = (dzf * cs[:T].transpose(1, 0, 2)).sum(axis=(1, 2))[:, None]
        grads["dpu"] = (dzu * cs[:T].transpose(1, 0, 2)).sum(axis=(1, 2))[:, None]
        grads["dpo"] = (dzo * cs[1:].transpose(1, 0, 2)).sum(axis=(1, 2))[:, None]
    return grads
