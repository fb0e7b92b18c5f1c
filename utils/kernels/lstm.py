"""LSTM kernels: the fused, fast versions of ``utils.lstm``'s sequence functions.

Same signatures and results as the reference (``lstm_forward(x, a0, c0, parameters,
peephole)``, ``lstm_backward(da, dc, cache)``; tests hold them equal); the cache is a dict in
the kernel's own layout and goes to the kernel backward only. The equations are in
``utils.lstm``.

How: the four gate matrices are stacked into one (4 n_a, n_a + n_x) matrix applied to
[a<t-1>; x<t>] in one matmul per step, the local derivatives of the gates are computed for
blocks of steps at once (they do not depend on the gradient flowing back in time), and the
weight gradients are one matmul after the loop. The rows of the three sigmoid gates are
stored negated (S W, S = diag(-1 on Γo, Γf, Γu rows, +1 on c~ rows)), so that the matmul
gives -z and σ = 1 / (1 + exp(-z)) takes three calls, not four; the backward carries S dz
and undoes S once, on the weight gradients. Large arrays come from the kernels' buffer pool
(``utils.kernels._fast.empty``): no page faults on memory the previous call gave back.

PyTorch correspondence (``torch.nn.LSTM(n_x, n_a)``, no peepholes; gate order i, f, g, o with
i = our update gate Γu and g = our candidate c~; tested in ``tests/test_torch_parity.py``)::

    weight_ih_l0 = concat([Wu, Wf, Wc, Wo])[:, n_a:]     (input columns)
    weight_hh_l0 = concat([Wu, Wf, Wc, Wo])[:, :n_a]     (recurrent columns)
    bias_ih_l0 + bias_hh_l0 = concat([bu, bf, bc, bo])[:, 0]
"""

from __future__ import annotations

import numpy as np

from utils._validate import (
    Steps,
    as_float_array,
    check_shape,
    common_dtype,
    gradient_in,
    sequence_in,
)
from utils.kernels._fast import const, empty, sigmoid_of_negated_, to_lecture
from utils.lstm import lstm_parameters

__all__ = ["lstm_backward", "lstm_forward"]

GATES = ("o", "f", "u", "c")  # order of the blocks in the stacked gate matrix (see lstm_forward)


# --------------------------------------------------------------------------------------------
# Whole sequence, with the four gates stacked into one matrix
# --------------------------------------------------------------------------------------------


def lstm_forward(x, a0, c0, parameters, peephole=False):
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
      = [Γo; Γf; Γu; c~] per step, W (the stacked gate matrix S W, sigmoid rows negated),
      peek (the peepholes, negated likewise; empty without), peephole.

    Speed: the arrays that the loop computes in (cs, gates) have time as their *first* axis,
    so each step's slice is one contiguous block, and each line writes into a preallocated
    array (``out=``) instead of allocating a new one: at small sizes NumPy's fixed cost per
    call dominates. ax, which the matmuls read, has time second: then ax[:, :T_x] is one
    (n_a + n_x, T_x m) matrix for the weight gradient, without a copy.

    ``x`` may also be a ``utils._validate.Steps`` (a checked sequence in step layout, from
    ``utils.layer``); ``a`` and ``c`` are then returned as ``Steps`` too.
    """
    x_steps, as_steps = sequence_in("x", x)
    n_x, T, m = x_steps.shape
    p, n_a = lstm_parameters(parameters, n_x, peephole, "lstm_forward")
    a0 = as_float_array("a0", a0)
    check_shape("a0", a0, ("n_a", "m"), {"n_a": n_a, "m": m})
    c0 = np.zeros_like(a0) if c0 is None else as_float_array("c0", c0)
    check_shape("c0", c0, ("n_a", "m"), {"n_a": n_a, "m": m})
    dtype = common_dtype(x_steps, a0, c0, *p.values())
    p = {k: v.astype(dtype, copy=False) for k, v in p.items()}
    n = n_a

    # Blocks o, f, u, c: the three sigmoid gates are adjacent (one call activates them all),
    # and so are the three blocks that c<t> feeds back into (f, u, c; see lstm_backward).
    # The sigmoid gates' rows are stored negated (with their biases and peepholes): the matmul
    # then gives -z, which is what σ(z) = 1 / (1 + exp(-z)) needs, one call fewer per step.
    W = np.concatenate([p["W" + g] for g in GATES])  # (4 n_a, n_a + n_x), o, f, u negated:
    W[: 3 * n] *= -1  # S W with S = diag(-1 on the Γ rows, +1 on the c~ rows)
    b = np.concatenate([p["b" + g] for g in GATES])  # (4 n_a, 1), the same signs
    b[: 3 * n] *= -1
    b = np.repeat(b, m, axis=1)  # (4 n_a, m): adding a whole array beats broadcasting a column
    peek = {k: -p[k] for k in ("pf", "pu", "po")} if peephole else {}  # negated too

    ax = empty((n_a + n_x, T + 1, m), dtype)  # [a<t-1>; x<t>] for every step
    ax[n_a:, :T] = x_steps  # x<t> under a<t-1>
    ax[n_a:, T] = 0  # no input after the last step; ax[:n_a, T] holds a<T>
    ax[:n_a, 0] = a0
    cs = empty((T + 1, n_a, m), dtype)  # c<0..T>
    tanh_c = empty((T, n_a, m), dtype)
    gates = empty((T, 4 * n, m), dtype)  # Γo, Γf, Γu, c~ stacked
    uc = np.empty((n_a, m), dtype=dtype)  # scratch for Γu * c~
    one = const(1.0, dtype)
    cs[0] = c0
    with np.errstate(over="ignore"):  # in σ, exp(-z) = inf for very negative z: σ = 0
        for t in range(T):
            z = gates[t]  # holds the pre-activations first, then the gates
            go, gf, gu, cc = z[:n], z[n : 2 * n], z[2 * n : 3 * n], z[3 * n :]
            np.matmul(W, ax[:, t], out=z)  # S W [a<t-1>; x<t>], all four blocks in one matmul
            z += b  # z: [-zo; -zf; -zu; zc]
            if peephole:
                gf += peek["pf"] * cs[t]  # the gates peek at the old memory
                gu += peek["pu"] * cs[t]
                sigmoid_of_negated_(z[n : 3 * n], one)  # Γf, Γu (Γo waits for c<t>)
            else:
                sigmoid_of_negated_(z[: 3 * n], one)  # Γo, Γf, Γu in one go
            np.tanh(cc, out=cc)  # c~
            c = cs[t + 1]
            np.multiply(gf, cs[t], out=c)  # c<t> = Γf c<t-1> ...
            c += np.multiply(gu, cc, out=uc)  # ... + Γu c~
            if peephole:
                go += peek["po"] * c  # the output gate peeks at the new memory
                sigmoid_of_negated_(go, one)
            np.tanh(c, out=tanh_c[t])
            np.multiply(go, tanh_c[t], out=ax[:n, t + 1])  # a<t> = Γo tanh(c<t>)

    cache = {
        "ax": ax,
        "cs": cs,
        "tanh_c": tanh_c,
        "gates": gates,
        "W": W,
        "peek": peek,
        "peephole": peephole,
    }
    if as_steps:
        return Steps(ax[:n_a, 1:]), Steps(cs[1:].transpose(1, 0, 2)), cache
    return to_lecture(ax[:n_a, 1:]), _lecture(cs[1:]), cache


def _lecture(steps):
    """(T_x, n, m) -> a new (n, m, T_x) array in the lecture's layout (two copies, the first
    moving whole rows: faster than one copy at large sizes)."""
    rows = empty((steps.shape[1], steps.shape[0], steps.shape[2]), steps.dtype)
    np.copyto(rows, steps.transpose(1, 0, 2))
    return to_lecture(rows)


BLOCK_SIZE = 16384  # lstm_backward: about this many numbers per (n_a, m) array of a block


def _local_derivatives(gates, c_prev, tanh_c):
    """Local derivatives of a block of steps (axis 0 = step), for lstm_backward.

    None of them needs the gradient that flows back from later steps, so they are computed for
    the whole block at once (few NumPy calls when m and n_a are small; a block small enough to
    stay in cache when they are large), and the loop over steps only multiplies by them:
    dzo = da * j_o, dc = da * j_c + (dc from step t+1), [dzf; dzu; dzc] = dc * j_fuc.
    Like the forward's weights, the sigmoid gates' derivatives are negated (so dz comes out
    as S dz: [-dzo; -dzf; -dzu; dzc], which the stored S W needs).
    """
    n = c_prev.shape[1]
    go, gu, cc = gates[:, :n], gates[:, 2 * n : 3 * n], gates[:, 3 * n :]
    dsig = gates[:, : 3 * n] * (gates[:, : 3 * n] - 1)  # -σ' = s (s - 1) of Γo, Γf, Γu
    j_o = tanh_c * dsig[:, :n]  # a = Γo tanh(c), to Γo, back through σ (negated)
    j_c = go * (1 - tanh_c * tanh_c)  # a = Γo tanh(c), back through tanh to c
    j_fuc = np.empty((len(gates), 3, n, gates.shape[2]), dtype=gates.dtype)
    np.multiply(c_prev, dsig[:, n : 2 * n], out=j_fuc[:, 0])  # c = Γf c_prev + ..., -σ'
    np.multiply(cc, dsig[:, 2 * n :], out=j_fuc[:, 1])  # c = ... + Γu c~, to Γu, -σ'
    np.multiply(gu, 1 - cc * cc, out=j_fuc[:, 2])  # c = ... + Γu c~, to c~, tanh'
    return j_o, j_c, j_fuc


def lstm_backward(da, dc, cache):
    """Backprop through time for ``lstm_forward``.

    Arguments:
    - da: dL/da<t> from above for every step, (n_a, m, T_x).
    - dc: dL/dc<t> from outside the recurrence, (n_a, m, T_x), or None (e.g. the gradient of
      a carried final state: put it in ``dc[:, :, -1]``).
    - cache: from ``lstm_forward``.

    Returns a dict: dx (n_x, m, T_x), da0 (n_a, m), dc0 (n_a, m), dWf, dWu, dWo, dWc,
    dbf, dbu, dbo, dbc and, with peepholes, dpf, dpu, dpo.

    ``da`` (and ``dc``) may also be ``utils._validate.Steps`` (checked, step layout); dx is
    then returned as ``Steps`` too.
    """
    ax, cs, tanh_c, gates = cache["ax"], cache["cs"], cache["tanh_c"], cache["gates"]
    W, peek, peephole = cache["W"], cache["peek"], cache["peephole"]  # S W, -peepholes
    T1, n_a, m = cs.shape
    T, n_x, n, dtype = T1 - 1, ax.shape[0] - n_a, n_a, cs.dtype
    W_hT, W_x = np.ascontiguousarray(W[:, :n_a].T), W[:, n_a:]  # act on a<t-1>, on x<t>
    sizes = {"n_a": n_a, "m": m, "T_x": T}
    da_steps, as_steps = gradient_in("da", da, ("n_a", "m", "T_x"), sizes)
    da_steps = da_steps.astype(dtype, copy=False).transpose(1, 0, 2)  # (T_x, n_a, m) view
    if dc is not None:
        dc_steps, _ = gradient_in("dc", dc, ("n_a", "m", "T_x"), sizes)
        dc_steps = dc_steps.astype(dtype, copy=False).transpose(1, 0, 2)

    dz = empty((4 * n, T, m), dtype)  # S dL/d(pre-activations), blocks o, f, u, c
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
                dc_t += peek["po"] * dz4[0, :, t]  # zo = ... + po * c (both negated)
            np.multiply(dc_t, j_fuc[i], out=dz4[1:, :, t])  # dzf, dzu, dzc in one call
            np.multiply(dc_t, gates[t, n : 2 * n], out=dc_next)  # c = Γf c_prev + ...
            if peephole:
                dc_next += peek["pf"] * dz4[1, :, t] + peek["pu"] * dz4[2, :, t]  # zf, zu
            np.matmul(W_hT, dz[:, t], out=da_next)  # all four gates saw a<t-1>

    # Weight gradients over all steps and the batch in one matmul: dW = Σ dz [a<t-1>; x<t>]^T.
    dz_flat = dz.reshape(4 * n, T * m)  # column t m + j: step t, example j
    dW = dz_flat @ ax[:, :T].reshape(n_a + n_x, T * m).T  # S dW (views, no copies)
    db = dz_flat.sum(axis=1, keepdims=True)
    dW[: 3 * n] *= -1  # S S = 1
    db[: 3 * n] *= -1
    dx = empty((n_x, T, m), dtype)  # dx = (S W_x)^T (S dz) = W_x^T dz
    np.matmul(W_x.T, dz_flat, out=dx.reshape(n_x, T * m))
    grads = {
        "dx": Steps(dx) if as_steps else to_lecture(dx),
        "da0": da_next,
        "dc0": dc_next,
    }
    for k, g in enumerate(GATES):
        rows = slice(k * n, (k + 1) * n)
        grads["dW" + g], grads["db" + g] = dW[rows], db[rows]
    if peephole:
        dzo, dzf, dzu = dz4[0], dz4[1], dz4[2]  # (n_a, T_x, m), negated
        grads["dpf"] = -(dzf * cs[:T].transpose(1, 0, 2)).sum(axis=(1, 2))[:, None]
        grads["dpu"] = -(dzu * cs[:T].transpose(1, 0, 2)).sum(axis=(1, 2))[:, None]
        grads["dpo"] = -(dzo * cs[1:].transpose(1, 0, 2)).sum(axis=(1, 2))[:, None]
    return grads
