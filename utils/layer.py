"""One recurrent layer over any cell: the interface ``utils.bidirectional`` and ``utils.deep``
build on.

::

    layer_forward(cell, x, parameters, a0=None, c0=None, **options) -> (a, cache)
    layer_backward(da, cache) -> grads: dx, da0 (and dc0 for "lstm"), d + every parameter

``cell`` ("rnn", "gru" or "lstm") comes first because it picks the function that runs; then
that function's arguments. ``options`` are the cell's own (``activation`` for the RNN,
``variant`` for the GRU, ``peephole`` for the LSTM); missing initial states are zeros, and
``c0`` is an error for the cells that have no separate memory. The layer runs the fast
kernels of ``utils.kernels`` (the same numbers as the reference modules ``utils.rnn``,
``utils.gru``, ``utils.lstm``, which say what each cell computes).
"""

from __future__ import annotations

import numpy as np

from utils._validate import check_option, check_sequence
from utils.kernels import gru, lstm, rnn

__all__ = ["CELLS", "layer_backward", "layer_forward", "state_size"]

CELLS = ("rnn", "gru", "lstm")


def state_size(cell, parameters):
    """Hidden size n_a read from the parameters (rows of Waa / Wu / Wf)."""
    check_option("cell", cell, CELLS)
    name = {"rnn": "Waa", "gru": "Wu", "lstm": "Wf"}[cell]
    if name not in parameters:
        raise KeyError(f"{cell} parameters have no {name!r} (has {sorted(parameters)})")
    return np.shape(parameters[name])[0]


def layer_forward(cell, x, parameters, a0=None, c0=None, **options):
    """One recurrent layer of type ``cell`` over x (n_x, m, T_x).

    Returns (a (n_a, m, T_x), cache); ``a0`` (and ``c0`` for the LSTM) default to zeros.
    """
    x = check_sequence("x", x)
    if a0 is None:
        a0 = np.zeros((state_size(cell, parameters), x.shape[1]), dtype=x.dtype)
    if cell == "lstm":
        a, _, cache = lstm.lstm_forward(x, a0, c0, parameters, **options)
        return a, (cell, cache)
    check_option("cell", cell, CELLS)
    if c0 is not None:
        raise ValueError(f"c0 is only used by the LSTM (a {cell} layer has only a0)")
    if cell == "rnn":
        a, cache = rnn.rnn_layer_forward(x, a0, parameters, **options)
    else:
        a, cache = gru.gru_forward(x, a0, parameters, **options)
    return a, (cell, cache)


def layer_backward(da, cache):
    """Backward of ``layer_forward``: grads with dx, da0 (dc0 for the LSTM), d + parameters."""
    cell, inner = cache
    if cell == "rnn":
        return rnn.rnn_backward(da, inner)
    if cell == "gru":
        return gru.gru_backward(da, inner)
    return lstm.lstm_backward(da, None, inner)
