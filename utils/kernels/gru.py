"""GRU kernels: the fused, fast versions of ``utils.gru``'s sequence functions.

Same signatures and results as the reference (``gru_forward(x, a0, parameters, variant)``,
``gru_backward(da, cache)``; tests hold them equal); the cache is a dict in the kernel's own
layout and goes to the kernel backward only. The equations and variants are in ``utils.gru``.

How: the gate matrices are stacked so that the input half of every gate is applied to all
time steps in one matmul; the local derivatives of the gates are computed for blocks of
steps at once (they do not depend on the gradient flowing back in time), and the weight
gradients are one matmul after the loop.

PyTorch correspondence (``torch.nn.GRU(n_x, n_a)``, ``variant="reset_after"``; torch's gate
order is r, z, n and torch keeps the *old* state with z: h = (1 - z) * n + z * h_prev, so our
Γu = 1 - z = σ(-(...)) and the update-gate weights change sign; tested in
``tests/test_torch_parity.py``)::

    W_ir, W_iz, W_in = weight_ih_l0 row blocks;  W_hr, W_hz, W_hn = weight_hh_l0 row blocks
    Wr = [W_hr, W_ir]      br = b_ir + b_hr
    Wu = -[W_hz, W_iz]     bu = -(b_iz + b_hz)
    Wc = [W_hn, W_in]      bc = b_in            bcr = b_hn
"""

from __future__ import annotations

import numpy as np

from utils._validate import (
    VARIANTS,
    as_float_array,
    check_argument_shape,
    common_dtype,
    gradient_in,
    gru_parameters,
    sequence_in,
)
from utils.kernels._fast import const, contiguous, empty, sequence_out, sigmoid_

__all__ = ["VARIANTS", "gru_backward", "gru_forward"]


def _stacked(variant):
    """Gate blocks in the order the sequence functions stack them: the sigmoid gates Γr, Γu
    are adjacent (one call activates both), and so are u and c (see ``gru_backward``)."""
    return ("u", "c") if variant == "simplified" else ("r", "u", "c")


# --------------------------------------------------------------------------------------------
# Whole sequence, gates stacked
# --------------------------------------------------------------------------------------------


def gru_forward(x, a0, parameters, variant="full"):
    """GRU over all T_x steps.

    Arguments:
    - x (n_x, m, T_x); a0 = c<0> (n_a, m); parameters and variant as for ``gru_cell_forward``.

    Returns:
    - a (n_a, m, T_x): the states c<1..T_x> (carry ``a[:, :, -1]`` for truncated BPTT).
    - cache: dict with x_flat (n_x, T_x m) (column t m + j is step t of example j),
      h (n_a, T_x+1, m) = c<0..T>, gates (T_x, k n_a, m) = [Γr; Γu; c~] per step ([Γu; c~]
      if simplified), rec (T_x, n_a, m) = the candidate's recurrent input (Γr * c<t-1> for
      full, Wc_c c<t-1> + bcr for reset_after, None if simplified), W_h, W_x (stacked c and
      x halves), variant.

    Speed: the arrays that the loop computes in (gates, rec) have time as their *first* axis,
    so each step's slice is one contiguous block, and each line writes into a preallocated
    array (``out=``) instead of allocating a new one: at small sizes NumPy's fixed cost per
    call dominates. h, which the matmuls read, has time second: then h[:, :T_x] is one
    (n_a, T_x m) matrix for the weight gradient, without a copy.

    ``x`` may also be a ``utils._validate.Steps`` (a checked sequence in step layout, from
    ``utils.layer``); ``a`` is then returned as ``Steps`` too.
    """
    x_steps, as_steps = sequence_in("x", x)
    n_x, T, m = x_steps.shape
    p, n_a = gru_parameters(parameters, n_x, variant, "gru_forward")
    a0 = as_float_array("a0", a0)
    check_argument_shape("a0", a0, ("n_a", "m"), {"n_a": n_a, "m": m})
    dtype = common_dtype(x_steps, a0, *p.values())
    p = {k: v.astype(dtype, copy=False) for k, v in p.items()}
    gates_order = _stacked(variant)
    k, n = len(gates_order), n_a

    W = np.concatenate([p["W" + g] for g in gates_order])  # (k n_a, n_a + n_x)
    b = np.concatenate([p["b" + g] for g in gates_order])
    W_h, W_x = W[:, :n_a], W[:, n_a:]
    x_flat = contiguous(x_steps, dtype).reshape(n_x, T * m)
    zx = np.matmul(W_x, x_flat, out=empty((k * n, T * m), dtype))  # input half, all steps
    zx += b
    zx = zx.reshape(k * n, T, m).transpose(1, 0, 2)  # (T_x, k n_a, m) view: zx[t] is step t

    h = empty((n_a, T + 1, m), dtype)  # c<0..T>
    gates = empty((T, k * n, m), dtype)
    rec = empty((T, n_a, m), dtype) if variant != "simplified" else None
    tmp = np.empty((n_a, m), dtype=dtype)
    one = const(1.0, dtype)
    h[:, 0] = a0
    with np.errstate(over="ignore"):  # in σ, exp(-z) = inf for very negative z: σ = 0
        for t in range(T):
            c_prev, z = h[:, t], gates[t]  # z holds the pre-activations first, then the gates
            gu, cc = z[(k - 2) * n : (k - 1) * n], z[(k - 1) * n :]
            if variant == "simplified":
                np.matmul(W_h, c_prev, out=z)  # [Wu_c; Wc_c] c<t-1>
                z += zx[t]
                sigmoid_(gu, one)
            elif variant == "full":
                np.matmul(W_h[: 2 * n], c_prev, out=z[: 2 * n])  # [Wr_c; Wu_c] c<t-1>
                z[: 2 * n] += zx[t, : 2 * n]
                gr = sigmoid_(z[: 2 * n], one)[:n]  # Γr, Γu in one go
                np.multiply(gr, c_prev, out=rec[t])  # Γr before the product
                np.matmul(W_h[2 * n :], rec[t], out=cc)
                cc += zx[t, 2 * n :]
            else:  # reset_after
                np.matmul(W_h, c_prev, out=z)  # [Wr_c; Wu_c; Wc_c] c<t-1>
                z[: 2 * n] += zx[t, : 2 * n]
                gr = sigmoid_(z[: 2 * n], one)[:n]  # Γr, Γu in one go
                np.add(cc, p["bcr"], out=rec[t])  # hc = Wc_c c<t-1> + bcr
                np.multiply(gr, rec[t], out=cc)  # Γr after the product
                cc += zx[t, 2 * n :]
            np.tanh(cc, out=cc)  # c~
            np.subtract(cc, c_prev, out=tmp)
            tmp *= gu
            np.add(c_prev, tmp, out=h[:, t + 1])  # c<t> = c<t-1> + Γu (c~ - c<t-1>)

    cache = {
        "x_flat": x_flat,
        "h": h,
        "gates": gates,
        "rec": rec,
        "W_h": W_h,
        "W_x": W_x,
        "variant": variant,
    }
    return sequence_out(h[:, 1:], as_steps), cache


BLOCK_SIZE = 16384  # gru_backward: about this many numbers per (n_a, m) array of a block


def _local_derivatives(gates, c_prev, rec, variant):
    """Local derivatives of a block of steps (axis 0 = step), for gru_backward.

    None of them needs the gradient dc = dL/dc<t> that flows back from later steps, so they
    are computed for the whole block at once (few NumPy calls when m and n_a are small; a
    block small enough to stay in cache when they are large), and the loop over steps only
    multiplies by dc. Returns (keep, j, j_c):

    - keep = 1 - Γu: c<t> = Γu c~ + (1 - Γu) c<t-1>, the direct path to c<t-1>;
    - j (B, blocks, n_a, m): dz = dc * j for the blocks the loop stacks: [zu; zc] for
      simplified and full; [zr; zu; hc] for reset_after (hc = Wc_c c<t-1> + bcr);
    - j_c: dzc = dc * j_c for reset_after; for full, dzr = (Wc_c^T dzc) * j_c.
    """
    n = c_prev.shape[1]
    gu, cc = gates[:, -2 * n : -n], gates[:, -n:]
    keep = 1 - gu
    to_c = gu * (1 - cc * cc)  # c = ... + Γu c~, through tanh: dzc = dc * to_c
    if variant == "simplified":
        j = np.stack([(cc - c_prev) * gu * keep, to_c], axis=1)
        return keep, j, None
    gr = gates[:, :n]
    if variant == "full":
        j = np.stack([(cc - c_prev) * gu * keep, to_c], axis=1)
        return keep, j, c_prev * gr * (1 - gr)  # rc = Γr c_prev, to Γr, through σ
    j = np.empty((len(gates), 3, n, gates.shape[2]), dtype=gates.dtype)
    np.multiply(to_c * rec, gr * (1 - gr), out=j[:, 0])  # Γr scales hc, through σ
    np.multiply((cc - c_prev) * gu, keep, out=j[:, 1])  # c = c_prev + Γu (c~ - c_prev), σ'
    np.multiply(to_c, gr, out=j[:, 2])  # into hc = Wc_c c_prev + bcr
    return keep, j, to_c


def gru_backward(da, cache):
    """Backprop through time for ``gru_forward``.

    Arguments:
    - da: dL/da<t> from above for every step, (n_a, m, T_x).
    - cache: from ``gru_forward``.

    Returns a dict: dx (n_x, m, T_x), da0 (n_a, m), and dWu, dbu, dWc, dbc (+ dWr, dbr unless
    simplified, + dbcr for reset_after).

    ``da`` may also be a ``utils._validate.Steps`` (checked, step layout); dx is then
    returned as ``Steps`` too.
    """
    x_flat, h, gates, rec = cache["x_flat"], cache["h"], cache["gates"], cache["rec"]
    W_h, W_x, variant = cache["W_h"], cache["W_x"], cache["variant"]
    n_a, T1, m = h.shape
    T, n_x, n, dtype = T1 - 1, x_flat.shape[0], n_a, h.dtype
    gates_order = _stacked(variant)
    k = len(gates_order)
    sizes = {"n_a": n_a, "m": m, "T_x": T}
    da_steps, as_steps = gradient_in("da", da, ("n_a", "m", "T_x"), sizes)
    da_steps = da_steps.astype(dtype, copy=False).transpose(1, 0, 2)  # (T_x, n_a, m) view

    # dz: dL/d(pre-activation) of each gate block, time second (one matmul after the loop).
    # reset_after: the recurrent matmul sees [dzr; dzu; Γr dzc], and dzc is kept apart.
    dz = empty((k * n, T, m), dtype)
    dz_blocks = dz.reshape(k, n_a, T, m)  # the same array, one block per index
    dzc = empty((n_a, T, m), dtype) if variant == "reset_after" else dz_blocks[-1]
    dc_next = np.zeros((n_a, m), dtype=dtype)  # from step t+1
    dc, tmp = np.empty((n_a, m), dtype=dtype), np.empty((n_a, m), dtype=dtype)
    block = max(1, BLOCK_SIZE // (n_a * m))  # steps per block
    for start in reversed(range(0, T, block)):
        stop = min(start + block, T)
        c_prev = h[:, start:stop].transpose(1, 0, 2)  # (steps, n_a, m), as gates
        recs = rec[start:stop] if rec is not None else None
        keep, j, j_c = _local_derivatives(gates[start:stop], c_prev, recs, variant)
        for t in reversed(range(start, stop)):
            i = t - start  # step t within the block
            np.add(da_steps[t], dc_next, out=dc)  # dL/dc<t>: from above and from step t+1
            np.multiply(dc, keep[i], out=dc_next)  # the direct (1 - Γu) c_prev path
            if variant == "simplified":
                np.multiply(dc, j[i], out=dz_blocks[:, :, t])  # dzu, dzc at once
                np.matmul(W_h.T, dz[:, t], out=tmp)  # [zu; zc] = [Wu_c; Wc_c] c_prev + ...
            elif variant == "full":
                np.multiply(dc, j[i], out=dz_blocks[1:, :, t])  # dzu, dzc at once
                drc = np.matmul(W_h[2 * n :].T, dzc[:, t], out=tmp)  # zc = Wc_c (Γr c_prev)
                np.multiply(drc, j_c[i], out=dz_blocks[0, :, t])  # rc = Γr c_prev, to Γr
                dc_next += drc * gates[t, :n]  # rc = Γr c_prev, to c_prev
                np.matmul(W_h[: 2 * n].T, dz[: 2 * n, t], out=tmp)  # [zr; zu] = ... c_prev
            else:  # reset_after: zc = Wc_x xt + bc + Γr (Wc_c c_prev + bcr)
                np.multiply(dc, j[i], out=dz_blocks[:, :, t])  # dzr, dzu, dhc at once
                np.multiply(dc, j_c[i], out=dzc[:, t])  # dzc
                np.matmul(W_h.T, dz[:, t], out=tmp)  # [zr; zu; hc] = [Wr_c; Wu_c; Wc_c] c_prev
            dc_next += tmp

    # Weight gradients over all steps and the batch: one matmul per half (views, no copies).
    dz_flat = dz.reshape(k * n, T * m)  # column t m + j: step t, example j
    c_prev_flat = h[:, :T].reshape(n_a, T * m)
    if variant == "full":  # the candidate's c-columns multiply Γr * c_prev, not c_prev
        rec_flat = contiguous(rec.transpose(1, 0, 2), dtype).reshape(n_a, T * m)
        dW_h = np.concatenate([dz_flat[: 2 * n] @ c_prev_flat.T, dz_flat[2 * n :] @ rec_flat.T])
    else:
        dW_h = dz_flat @ c_prev_flat.T
    if variant == "reset_after":  # zr, zu see xt like c_prev; zc without Γr: dzc, not dhc
        dzx = np.concatenate([dz_flat[: 2 * n], dzc.reshape(n_a, T * m)])
        grads = {"dbcr": dz_flat[2 * n :].sum(axis=1, keepdims=True)}
    else:
        dzx, grads = dz_flat, {}
    dW_x = dzx @ x_flat.T
    db = dzx.sum(axis=1, keepdims=True)
    dx = empty((n_x, T, m), dtype)
    np.matmul(W_x.T, dzx, out=dx.reshape(n_x, T * m))
    grads["dx"] = sequence_out(dx, as_steps)
    grads["da0"] = dc_next
    for i, g in enumerate(gates_order):
        rows = slice(i * n, (i + 1) * n)
        grads["dW" + g] = np.concatenate([dW_h[rows], dW_x[rows]], axis=1)
        grads["db" + g] = db[rows]
    return grads
