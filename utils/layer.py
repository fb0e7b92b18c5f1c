"""One recurrent layer over any cell: the interface ``utils.bidirectional`` and
``utils.kernels.deep`` build on.

::

    layer_forward(cell, x, parameters, a0=None, c0=None, **options) -> (a, cache)
    layer_backward(da, cache) -> grads: dx, da0 (and dc0 for "lstm"), d + every parameter

``cell`` ("rnn", "gru" or "lstm") comes first because it picks the function that runs; then
that function's arguments. ``options`` are the cell's own (``activation`` for the RNN,
``variant`` for the GRU, ``peephole`` for the LSTM); missing initial states are zeros, and
``c0`` is an error for the cells that have no separate memory. The layer runs the fast
kernels of ``utils.kernels`` (the same numbers as the reference modules ``utils.rnn``,
``utils.gru``, ``utils.lstm``, which say what each cell computes).

Stacks of layers (``utils.bidirectional``, ``utils.kernels.deep``) check and convert their
input once and pass it to the layers as a ``utils._validate.Steps`` (checked, in the kernels'
step layout); ``x`` and ``da`` may be ``Steps``, and the layer's sequence outputs (``a``, ``dx``)
come back as ``Steps`` then.
"""

from __future__ import annotations

import numpy as np

from utils._validate import Steps, check_option, sequence_in
from utils.kernels import gru, lstm, rnn
from utils.kernels._fast import sequence_out

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
    x_steps, as_steps = sequence_in("x", x)  # (n_x, T_x, m)
    if a0 is None:
        a0 = np.zeros((state_size(cell, parameters), x_steps.shape[2]), dtype=x_steps.dtype)
    x = Steps(x_steps)  # checked: the kernel does not check it again
    if cell == "lstm":
        a, _, cache = lstm.lstm_forward(x, a0, c0, parameters, **options)
    else:
        check_option("cell", cell, CELLS)
        if c0 is not None:
            raise ValueError(f"c0 is only used by the LSTM (a {cell} layer has only a0)")
        if cell == "rnn":
            a, cache = rnn.rnn_layer_forward(x, a0, parameters, **options)
        else:
            a, cache = gru.gru_forward(x, a0, parameters, **options)
    return sequence_out(a.array, as_steps), (cell, cache)


def layer_backward(da, cache):
    """Backward of ``layer_forward``: grads with dx, da0 (dc0 for the LSTM), d + parameters."""
    cell, inner = cache  # da is checked by the kernel (or was, if it is Steps)
    if cell == "rnn":
        return rnn.rnn_backward(da, inner)
    if cell == "gru":
        return gru.gru_backward(da, inner)
    return lstm.lstm_backward(da, None, inner)


def output_shape(cache):
    """Shape (n_a, m, T_x) of the states that made ``cache`` (a ``layer_forward`` cache), i.e.
    of the gradient ``layer_backward`` takes."""
    cell, inner = cache
    if cell == "lstm":
        T1, n_a, m = inner["cs"].shape
    else:
        n_a, T1, m = inner["h"].shape
    return n_a, m, T1 - 1
