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
cell's ``options`` (activation / variant / peephole) are passed on to it. ``x`` and ``da``
are checked here, once, and passed to the layers as ``utils._validate.Steps`` (a
``utils.kernels.deep`` stack passes them in as ``Steps`` already, and gets ``Steps`` back).

PyTorch: ``bidirectional=True`` layers concatenate [forward; backward] features in the same
order; the ``*_reverse`` weights are our ``"backward"`` parameters (same per-cell weight map).
"""

from __future__ import annotations

import numpy as np

from utils._validate import Steps, gradient_in, sequence_in
from utils.kernels._fast import sequence_out
from utils.layer import layer_backward, layer_forward, output_shape

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
    x_steps, as_steps = sequence_in("x", x)  # (n_x, T_x, m): time is axis 1 here
    for direction in ("forward", "backward"):
        if direction not in parameters:
            raise KeyError(f"bidirectional parameters need a {direction!r} dict")
    a0, c0 = a0 or {}, c0 or {}
    a_fwd, cache_fwd = layer_forward(
        cell, Steps(x_steps), parameters["forward"], a0.get("forward"), c0.get("forward"), **options
    )
    x_reversed = x_steps[:, ::-1]  # the backward direction reads x<T_x> first
    a_rev, cache_bwd = layer_forward(
        cell,
        Steps(x_reversed),
        parameters["backward"],
        a0.get("backward"),
        c0.get("backward"),
        **options,
    )
    a_fwd, a_rev = a_fwd.array, a_rev.array
    a = np.concatenate([a_fwd, a_rev[:, ::-1]], axis=0)  # put a_bwd<t> back at step t
    return sequence_out(a, as_steps), (a_fwd.shape[0], cache_fwd, cache_bwd)


def bidirectional_backward(da, cache):
    """Backward of ``bidirectional_forward``, given da = dL/da (2 n_a, m, T_x).

    Returns {"forward": grads, "backward": grads, "dx": (n_x, m, T_x)}, where each direction's
    grads hold d + its parameters and its da0 (and dc0).
    """
    n_a, cache_fwd, cache_bwd = cache
    _, m, T_x = output_shape(cache_fwd)
    sizes = {"2 n_a": 2 * n_a, "m": m, "T_x": T_x}
    da_steps, as_steps = gradient_in("da", da, ("2 n_a", "m", "T_x"), sizes)  # (2 n_a, T_x, m)
    g_fwd = layer_backward(Steps(da_steps[:n_a]), cache_fwd)
    g_bwd = layer_backward(Steps(da_steps[n_a:, ::-1]), cache_bwd)  # in the order it ran
    dx = g_fwd.pop("dx").array + g_bwd.pop("dx").array[:, ::-1]  # both read every x<t>
    return {"forward": g_fwd, "backward": g_bwd, "dx": sequence_out(dx, as_steps)}
