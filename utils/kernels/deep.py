"""Deep (stacked) recurrent networks, the fast path: layer l reads the states of layer l - 1.

Lecture notation: a[l]<t> = g(Wa[l] [a[l]<t-1>; a[l-1]<t>] + ba[l]) with a[0]<t> = x<t>; each
layer has its own parameters and its own time recurrence. Any cell works, uni- or
bidirectional (a bidirectional layer feeds [a_fwd; a_bwd], 2 n_a features, to the next).

Parameters: ``{"layer1": {...}, "layer2": {...}, ...}``; with ``bidirectional=True`` each layer
is ``{"forward": {...}, "backward": {...}}``. Gradients mirror it, plus ``dx``; each layer's
gradient dict also holds that layer's ``da0`` (and ``dc0``), or, bidirectional, each
direction's.

Initial states: ``a0`` (and ``c0``) is None (all zeros) or ``{"layer1": state, ...}``, where a
state is an (n_a, m) array, or ``{"forward": ..., "backward": ...}`` when bidirectional.

The output head (``utils.rnn.dense_forward`` + ``utils.losses``, or ``utils.deep.head_forward``)
goes on top of the last layer. ``utils.deep`` is the readable reference (a loop over time, the
layers inside it, one cell step at a time); this module computes the same states layer by
layer, each layer one ``utils.layer`` call on the fused kernels (tests hold them equal), and
adds any cell and bidirectional layers.

``x`` (forward) and ``da`` (backward) are checked and converted to the kernels' step layout
once, here; the layers pass them to each other as ``utils._validate.Steps`` (see
``utils.layer``), and only the result is converted back.

PyTorch: ``nn.RNN/LSTM(num_layers=L, bidirectional=...)`` layer l is our ``f"layer{l+1}"``,
with the per-cell weight maps of ``utils.rnn`` and ``utils.lstm`` (``*_l{l}`` and
``*_l{l}_reverse``).
"""

from __future__ import annotations

from utils._validate import Steps, gradient_in, sequence_in
from utils.bidirectional import bidirectional_backward, bidirectional_forward
from utils.kernels._fast import sequence_out
from utils.layer import layer_backward, layer_forward, output_shape

__all__ = ["deep_backward", "deep_forward"]


def _layer_names(parameters):
    names = sorted((k for k in parameters if k.startswith("layer")), key=lambda k: int(k[5:]))
    if not names or names != [f"layer{i}" for i in range(1, len(names) + 1)]:
        raise KeyError(f"deep parameters need keys layer1, layer2, ...; got {sorted(parameters)}")
    return names


def deep_forward(x, parameters, cell="rnn", bidirectional=False, a0=None, c0=None, **options):
    """Stacked recurrent layers.

    Arguments:
    - x: (n_x, m, T_x).
    - parameters: {"layer1": ..., "layer2": ..., ...} (see the module docstring).
    - cell: "rnn", "gru" or "lstm"; bidirectional: every layer bidirectional or not.
    - a0, c0: None or {"layer<l>": initial state}.
    - options: the cell's own options (activation / variant / peephole).

    Returns:
    - a: states of the top layer, (n_a, m, T_x) or (2 n_a, m, T_x) if bidirectional.
    - cache: for ``deep_backward``.
    """
    x_steps, as_steps = sequence_in("x", x)
    a0, c0 = a0 or {}, c0 or {}
    caches = []
    inputs = Steps(x_steps)  # a[0] = x, checked once for the whole stack
    for name in _layer_names(parameters):
        if bidirectional:
            inputs, cache = bidirectional_forward(
                inputs, parameters[name], cell, a0.get(name), c0.get(name), **options
            )
        else:
            inputs, cache = layer_forward(
                cell, inputs, parameters[name], a0.get(name), c0.get(name), **options
            )
        caches.append((name, cache))
    return sequence_out(inputs.array, as_steps), (bidirectional, caches)


def deep_backward(da, cache):
    """Backward of ``deep_forward`` given da = dL/da of the top layer.

    Returns {"layer1": grads, ..., "dx": (n_x, m, T_x)}; each layer's grads hold d + its
    parameters and its da0 (dc0), per direction if bidirectional.
    """
    bidirectional, caches = cache
    top = caches[-1][1]  # the top layer's cache: (n_a, cache_fwd, cache_bwd) if bidirectional
    n_a, m, T_x = output_shape(top[1] if bidirectional else top)
    rows = "2 n_a" if bidirectional else "n_a"
    sizes = {rows: 2 * n_a if bidirectional else n_a, "m": m, "T_x": T_x}
    da_steps, as_steps = gradient_in("da", da, (rows, "m", "T_x"), sizes)
    da = Steps(da_steps)  # checked once for the whole stack
    grads = {}
    for name, layer_cache in reversed(caches):
        if bidirectional:
            g = bidirectional_backward(da, layer_cache)
        else:
            g = layer_backward(da, layer_cache)
        da = g.pop("dx")  # the layer's input gradient is the layer below's output gradient
        grads[name] = g
    grads["dx"] = sequence_out(da.array, as_steps)
    return grads
