"""LSTM kernels: the fused, fast versions of ``utils.lstm``'s sequence functions.

Same signatures and results as the reference (``lstm_forward(x, a0, c0, parameters,
peephole)``, ``lstm_backward(da, dc, cache)``; tests hold them equal); the cache is a dict in
the kernel's own layout and goes to the kernel backward only. The equations are in
``utils.lstm``.

How: the four gate matrices and their biases are stacked into one (4 n_a, n_a + n_x + 1)
matrix applied to [a<t-1>; x<t>; 1] in one matmul per step, the local derivatives of the
gates are computed for blocks of steps at once (they do not depend on the gradient flowing
back in time), and the weight and bias gradients are one matmul after the loop. The rows of
the three sigmoid gates are stored negated (S W, S = diag(-1 on Γo, Γu, Γf rows, +1 on c~
rows)), so that the matmul gives -z and σ = 1 / (1 + exp(-z)) takes three calls, not four;
the backward carries S dz and undoes S once, on the weight gradients. Large arrays come from
the kernels' buffer pool (``utils.kernels._fast.empty``): no page faults on memory the
previous call gave back.

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
    check_argument_shape,
    common_dtype,
    gradient_in,
    lstm_parameters,
    sequence_in,
)
from utils.kernels._fast import const, empty, sigmoid_of_negated_, to_lecture

__all__ = ["lstm_backward", "lstm_forward"]

GATES = ("o", "u", "f", "c")  # order of the blocks in the stacked gate matrix (see lstm_forward)


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
    - cache: dict with ax (n_a + n_x + 1, T_x+1, m) = [a<t-1>; x<t>; 1] per step
      (ax[:n_a, T_x] = a<T_x>), gates (T_x+1, 5 n_a, m) = [Γo; Γu; Γf; c~; c<t-1>] per step
      (gates[T_x] holds only c<T_x>), cs (T_x+1, n_a, m) = c<0..T> (a view of gates),
      tanh_c (T_x, n_a, m), W (the stacked [W | b], sigmoid rows negated), peek (the
      peepholes, negated likewise; empty without), peephole.

    Speed: the arrays that the loop computes in (gates, tanh_c) have time as their *first*
    axis, so each step's slice is one contiguous block, and each line writes into a
    preallocated array (``out=``) instead of allocating a new one: at small sizes NumPy's fixed
    cost per call dominates. The bias is a column of the stacked matrix applied to a row of
    ones under [a<t-1>; x<t>] (no addition per step; db comes out of the weight gradient's
    matmul). c<t-1> sits under c~ in the step's block, so that [Γu; Γf] * [c~; c<t-1>] is one
    call. ax, which the matmuls read, has time second: then ax[:, :T_x] is one
    (n_a + n_x + 1, T_x m) matrix for the weight gradient, without a copy.

    ``x`` may also be a ``utils._validate.Steps`` (a checked sequence in step layout, from
    ``utils.layer``); ``a`` and ``c`` are then returned as ``Steps`` too.
    """
    x_steps, as_steps = sequence_in("x", x)
    n_x, T, m = x_steps.shape
    p, n_a = lstm_parameters(parameters, n_x, peephole, "lstm_forward")
    a0 = as_float_array("a0", a0)
    check_argument_shape("a0", a0, ("n_a", "m"), {"n_a": n_a, "m": m})
    if c0 is not None:
        c0 = as_float_array("c0", c0)
        check_argument_shape("c0", c0, ("n_a", "m"), {"n_a": n_a, "m": m})
    dtype = common_dtype(x_steps, a0, *(() if c0 is None else (c0,)), *p.values())
    n = n_a

    # Blocks o, u, f, c: the three sigmoid gates are adjacent (one call activates them all),
    # and so are Γu, Γf (their products with c~ and c<t-1> are one call, forward and back).
    # The sigmoid gates' rows are stored negated (with their biases and peepholes): the matmul
    # then gives -z, which is what σ(z) = 1 / (1 + exp(-z)) needs, one call fewer per step.
    W = empty((4 * n, n_a + n_x + 1), dtype)  # [S W | S b], S = diag(-1 on Γ rows, +1 on c~)
    for k, g in enumerate(GATES):
        W[k * n : (k + 1) * n, : n_a + n_x] = p["W" + g]
        W[k * n : (k + 1) * n, n_a + n_x :] = p["b" + g]
    W[: 3 * n] *= -1
    peek = {k: -p[k].astype(dtype, copy=False) for k in ("pf", "pu", "po")} if peephole else {}

    ax = empty((n_a + n_x + 1, T + 1, m), dtype)  # [a<t-1>; x<t>; 1] for every step
    ax[n_a : n_a + n_x, :T] = x_steps  # x<t> under a<t-1>
    ax[n_a : n_a + n_x, T] = 0  # no input after the last step; ax[:n_a, T] holds a<T>
    ax[n_a + n_x] = 1  # the bias's row
    ax[:n_a, 0] = a0
    gates = empty((T + 1, 5 * n, m), dtype)  # Γo, Γu, Γf, c~, c<t-1> stacked
    cs = gates[:, 4 * n :]  # c<0..T>
    tanh_c = empty((T, n_a, m), dtype)
    uf = np.empty((2 * n, m), dtype=dtype)  # scratch for [Γu c~; Γf c<t-1>]
    one = const(1.0, dtype)
    cs[0] = 0 if c0 is None else c0
    with np.errstate(over="ignore"):  # in σ, exp(-z) = inf for very negative z: σ = 0
        for t in range(T):
            z = gates[t]  # holds the pre-activations first, then the gates
            np.matmul(W, ax[:, t], out=z[: 4 * n])  # S (W [a<t-1>; x<t>] + b), one matmul
            if peephole:  # z: [-zo; -zu; -zf; zc]
                z[n : 2 * n] += peek["pu"] * cs[t]  # the gates peek at the old memory
                z[2 * n : 3 * n] += peek["pf"] * cs[t]
                sigmoid_of_negated_(z[n : 3 * n], one)  # Γu, Γf (Γo waits for c<t>)
            else:
                sigmoid_of_negated_(z[: 3 * n], one)  # Γo, Γu, Γf in one go
            np.tanh(z[3 * n : 4 * n], out=z[3 * n : 4 * n])  # c~
            np.multiply(z[n : 3 * n], z[3 * n :], out=uf)  # [Γu c~; Γf c<t-1>]
            c = cs[t + 1]
            np.add(uf[:n], uf[n:], out=c)  # c<t> = Γf c<t-1> + Γu c~
            if peephole:
                z[:n] += peek["po"] * c  # the output gate peeks at the new memory
                sigmoid_of_negated_(z[:n], one)
            np.tanh(c, out=tanh_c[t])
            np.multiply(z[:n], tanh_c[t], out=ax[:n, t + 1])  # a<t> = Γo tanh(c<t>)

    cache = {
        "ax": ax,
        "gates": gates,
        "cs": cs,
        "tanh_c": tanh_c,
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


def _local_derivatives(gates, tanh_c, one):
    """Local derivatives of a block of steps (axis 0 = step), for lstm_backward.

    None of them needs the gradient that flows back from later steps, so they are computed for
    the whole block at once (few NumPy calls when m and n_a are small; a block small enough to
    stay in cache when they are large), and the loop over steps only multiplies by them:
    [dc_a; dzo] = da * j_oc, dc = dc_a + (dc from step t+1),
    [dzu; dzf; dzc; dc to step t-1] = dc * j_ufc. Like the forward's weights, the sigmoid
    gates' derivatives are negated (so dz comes out as S dz: [-dzo; -dzu; -dzf; dzc], which
    the stored S W needs).
    """
    B, n, m = tanh_c.shape
    go, gu, cc = gates[:, :n], gates[:, n : 2 * n], gates[:, 3 * n : 4 * n]
    dsig = np.subtract(gates[:, : 3 * n], one, out=empty((B, 3 * n, m), gates.dtype))
    dsig *= gates[:, : 3 * n]  # -σ' = s (s - 1) of Γo, Γu, Γf
    j_oc = empty((B, 2, n, m), gates.dtype)  # pooled: fresh memory would fault in each block
    j_ufc = empty((B, 4, n, m), gates.dtype)
    tanh2 = np.multiply(tanh_c, tanh_c, out=j_oc[:, 0])
    np.subtract(one, tanh2, out=tanh2)
    np.multiply(go, tanh2, out=j_oc[:, 0])  # a = Γo tanh(c), back through tanh to c
    np.multiply(tanh_c, dsig[:, :n], out=j_oc[:, 1])  # a = Γo tanh(c), to Γo, -σ'
    # c = Γu c~ + Γf c<t-1>: to Γu and Γf (-σ'), in one call
    np.multiply(
        dsig[:, n:].reshape(B, 2, n, m), gates[:, 3 * n :].reshape(B, 2, n, m), out=j_ufc[:, :2]
    )
    cc2 = np.multiply(cc, cc, out=j_ufc[:, 2])
    np.subtract(one, cc2, out=cc2)
    np.multiply(gu, cc2, out=j_ufc[:, 2])  # to c~, tanh'
    np.copyto(j_ufc[:, 3], gates[:, 2 * n : 3 * n])  # c = ... + Γf c<t-1>: to c<t-1>
    return j_oc, j_ufc


def _steps_of(name, d, sizes, dtype):
    """An upstream gradient (lecture layout or Steps) as (T_x, n_a, m) with contiguous rows:
    a view when it is already in step layout, else one copy into a pooled buffer."""
    d_steps, as_steps = gradient_in(name, d, ("n_a", "m", "T_x"), sizes)
    d_steps = d_steps.transpose(1, 0, 2)  # (T_x, n_a, m)
    if d_steps.dtype == dtype and d_steps.strides[-1] == d_steps.itemsize:
        return d_steps, as_steps
    out = empty(d_steps.shape, dtype)
    np.copyto(out, d_steps)
    return out, as_steps


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
    ax, gates, cs, tanh_c = cache["ax"], cache["gates"], cache["cs"], cache["tanh_c"]
    W, peek, peephole = cache["W"], cache["peek"], cache["peephole"]  # S [W | b], -peepholes
    T, n_a, m = tanh_c.shape
    n_x, n, dtype = ax.shape[0] - n_a - 1, n_a, tanh_c.dtype
    W_hT, W_x = np.ascontiguousarray(W[:, :n_a].T), W[:, n_a : n_a + n_x]  # on a<t-1>, x<t>
    sizes = {"n_a": n_a, "m": m, "T_x": T}
    da_steps, as_steps = _steps_of("da", da, sizes, dtype)
    if dc is not None:
        dc_steps, _ = _steps_of("dc", dc, sizes, dtype)

    # The loop computes in dzs (T_x+1, 6 n_a, m), time first (each step's slice contiguous):
    # blocks dc_a (dL/dc<t> through a<t>), S dz of o, u, f, c (the pre-activations), and
    # dc_prev (dL/dc<t-1> through c<t> = ... + Γf c<t-1>); time slot T_x holds dc_prev = 0.
    # After the loop, S dz is copied into dz (4 n_a, T_x, m), time second, the layout of the
    # weight gradients' matmul (computing in that layout instead, strided, without the copy,
    # was 5-27% slower on every shape of benchmarks/bench_layers.py).
    dzs = empty((T + 1, 6 * n, m), dtype)
    dzs6 = dzs.reshape(T + 1, 6, n, m)  # the same array, one block per index
    dzs6[T, 5] = 0
    dz = empty((4 * n, T, m), dtype)
    da_next = np.zeros((n_a, m), dtype=dtype)  # from step t+1 through W_h
    da_t = np.empty((n_a, m), dtype=dtype)
    one = const(1.0, dtype)
    block = max(1, BLOCK_SIZE // (n_a * m))  # steps per block
    for start in reversed(range(0, T, block)):
        stop = min(start + block, T)
        j_oc, j_ufc = _local_derivatives(gates[start:stop], tanh_c[start:stop], one)
        for t in reversed(range(start, stop)):
            i = t - start  # step t within the block
            np.add(da_steps[t], da_next, out=da_t)  # dL/da<t>: from above and from step t+1
            d = dzs6[t]
            np.multiply(da_t, j_oc[i], out=d[:2])  # [dc_a; dzo]
            dc_t = d[0]
            dc_t += dzs6[t + 1, 5]  # plus the path through c<t+1> = Γf c<t> + ...
            if dc is not None:
                dc_t += dc_steps[t]
            if peephole:
                dc_t += peek["po"] * d[1]  # zo = ... + po * c (both negated)
            np.multiply(dc_t, j_ufc[i], out=d[2:])  # dzu, dzf, dzc, dc_prev
            if peephole:  # zu, zf = ... + pu c<t-1>, pf c<t-1>
                d[5] += peek["pu"] * d[2] + peek["pf"] * d[3]
            np.matmul(W_hT, dzs[t, n : 5 * n], out=da_next)  # all four gates saw a<t-1>
    np.copyto(dz, dzs[:T, n : 5 * n].transpose(1, 0, 2))

    # Weight and bias gradients over all steps and the batch in one matmul:
    # [dW | db] = Σ dz [a<t-1>; x<t>; 1]^T.
    dz_flat = dz.reshape(4 * n, T * m)  # column t m + j: step t, example j
    dWb = dz_flat @ ax[:, :T].reshape(n_a + n_x + 1, T * m).T  # S [dW | db] (views, no copies)
    dWb[: 3 * n] *= -1  # S S = 1
    dx = empty((n_x, T, m), dtype)  # dx = (S W_x)^T (S dz) = W_x^T dz
    np.matmul(W_x.T, dz_flat, out=dx.reshape(n_x, T * m))
    grads = {
        "dx": Steps(dx) if as_steps else to_lecture(dx),
        "da0": da_next,
        "dc0": dzs6[0, 5].copy(),
    }
    for k, g in enumerate(GATES):
        rows = slice(k * n, (k + 1) * n)
        grads["dW" + g], grads["db" + g] = dWb[rows, : n_a + n_x], dWb[rows, n_a + n_x :]
    if peephole:
        dzo, dzu, dzf = dz[:n], dz[n : 2 * n], dz[2 * n : 3 * n]  # (n_a, T_x, m), negated
        grads["dpf"] = -(dzf * cs[:T].transpose(1, 0, 2)).sum(axis=(1, 2))[:, None]
        grads["dpu"] = -(dzu * cs[:T].transpose(1, 0, 2)).sum(axis=(1, 2))[:, None]
        grads["dpo"] = -(dzo * cs[1:].transpose(1, 0, 2)).sum(axis=(1, 2))[:, None]
    return grads
