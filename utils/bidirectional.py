"""Bidirectional recurrent layer over any cell (RNN, GRU, LSTM).

A bidirectional layer runs two independent recurrences over the same inputs, one left to right
and one right to left, and stacks their states::

    a_fwd<t> = cell_fwd(x<t>, a_fwd<t-1>)          t = 1 .. T_x
    a_bwd<t> = cell_bwd(x<t>, a_bwd<t+1>)          t = T_x .. 1
    a<t>     = [a_fwd<t>; a_bwd<t>]                (2 n_a, m)

so a prediction at step t can use the whole sequence (and the layer cannot run while the
sequence is still arriving: no streaming language model).

Parameters: ``{"forward": {...}, "backward": {...}}``, each a dict for the chosen cell.
Gradients mirror that: ``{"forward": {"dWaa": ..., "da0": ...}, "backward": {...}, "dx": ...}``
(``dc0`` too for the LSTM), which is what ``utils.optim`` optimisers expect.

Each direction is one ``utils.layer`` layer (any cell, the fast kernels); ``cell`` and the
cell's ``options`` (activation / variant / peephole) are passed on to it.

PyTorch: ``bidirectional=True`` layers concatenate [forward; backward] features in the same
order; the ``*_reverse`` weights are our ``"backward"`` parameters (same per-cell weight map).
"""

from __future__ import annotations

import numpy as np

from utils._validate import check_sequence
from utils.layer import layer_backward, layer_forward

__all__ = ["bidirectional_backward", "bidirectional_forward"]


def bidirectional_forward(x, parameters, cell="rnn", a0=None, c0=None, **options):
    """Bidirectional layer.

    Arguments:
    - x: (n_x, m, T_x).
    - parameters: {"forward": cell parameters, "backward": cell parameters}.
    - cell: "rnn", "gru" or "lstm"; options: passed to the cell (activation/variant/peephole).
    - a0, c0: None (zeros) or {"forward": (n_a, m), "backward": (n_a, m)}; the backward
      direction's initial state is the one it starts from, at the *end* of the sequence.

    Returns:
    - a: (2 n_a, m, T_x) = [a_fwd; a_bwd] at every step.
    - cache: for ``bidirectional_backward``.
    """
    x = check_sequence("x", x)
    for direction in ("forward", "backward"):
        if direction not in parameters:
            raise KeyError(f"bidirectional parameters need a {direction!r} dict")
    a0, c0 = a0 or {}, c0 or {}
    a_fwd, cache_fwd = layer_forward(
        cell, x, parameters["forward"], a0.get("forward"), c0.get("forward"), **options
    )
    x_reversed = x[:, :, ::-1]  # the backward direction reads x<T_x> first
    a_rev, cache_bwd = layer_forward(
        cell,
        x_reversed,
        parameters["backward"],
        a0.get("backward"),
        c0.get("backward"),
        **options,
    )
    a = np.concatenate([a_fwd, a_rev[:, :, ::-1]], axis=0)  # put a_bwd<t> back at step t
    return a, (a_fwd.shape[0], cache_fwd, cache_bwd)


def bidirectional_backward(da, cache):
    """Backward of ``bidirectional_forward``, given da = dL/da (2 n_a, m, T_x).

    Returns {"forward": grads, "backward": grads, "dx": (n_x, m, T_x)}, where each direction's
    grads hold d + its parameters and its da0 (and dc0).
    """
    n_a, cache_fwd, cache_bwd = cache
    da = np.asarray(da)
    if da.ndim != 3 or da.shape[0] != 2 * n_a:
        raise ValueError(
            f"da must have shape (2 n_a, m, T_x) with 2 n_a = {2 * n_a}, got {da.shape}"
        )
    g_fwd = layer_backward(da[:n_a], cache_fwd)
    g_bwd = layer_backward(da[n_a:, :, ::-1], cache_bwd)  # in the order that direction ran
    dx = g_fwd.pop("dx") + g_bwd.pop("dx")[:, :, ::-1]  # both directions read every x<t>
    return {"forward": g_fwd, "backward": g_bwd, "dx": dx}
