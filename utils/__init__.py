"""Shared NumPy package for the course *Sequence Models from Scratch*.

One module per concept, growing notebook by notebook:

- ``utils.data``: tokenizers, ``Vocabulary`` (``<UNK>``, ``<EOS>``), one-hot batches, padding,
  and the shipped corpora (Census first names, two Shakespeare plays; ``corpora/DATA.md``)
- ``utils.ngram``: count-based n-gram language models, the baselines of notebook 04
- ``utils.lm``: the RNN language model of notebook 04 (batches, scores, sampling, training step)
- ``utils.gradient_flow``: the gradient-norm-through-time probe and matrix norms of notebook 05
- ``utils.activations``: numerically stable sigmoid, softmax, tanh, relu and derivatives
- ``utils.gradcheck``: centred finite differences with a report of the worst entries
- ``utils.checks``: helpers used by the notebooks' test cells (messages that name the problem)
- ``utils.rnn``, ``utils.gru``, ``utils.lstm``: the reference layers, written to be read (a
  sequence function is a loop over the cell, its backward a loop back over the cell's)
- ``utils.deep``: the deep (stacked) RNN step by step and the deep head on every step
- ``utils.kernels``: the fast path, one module per reference module of the same name
  (``utils.kernels.rnn`` for ``utils.rnn``, ... ``utils.kernels.deep`` for ``utils.deep``),
  held equal to the reference by tests; ``utils.layer`` (one layer of any cell) and
  ``utils.bidirectional`` run on the kernels too
- ``utils.losses``, ``utils.optim``, ``utils.init``, ``utils.train``: training pieces
- ``utils.exercises``: the checks behind each assignment's graded test cells

Modules are imported on demand (``from utils import rnn``), so ``import utils`` stays cheap.

One rule for every cell (RNN, GRU simplified / full / reset_after, LSTM with or without
peepholes), reference and kernel alike:

- **Arguments**: the input first (``xt`` for a cell, ``x`` (n_x, m, T_x) for a sequence), then
  the states in the order a, c (``a_prev, c_prev`` / ``a0, c0``), then ``parameters``, then the
  cell's option as a keyword with a default (``activation="tanh"``, ``variant="full"``,
  ``peephole=False``). A function that adds a loss to a layer takes the layer's arguments,
  then the loss's: ``rnn_model_forward(x, a0, parameters, y, mask=None)``. Wrappers over any
  cell take their initial states as keywords (nested, default zeros):
  ``bidirectional_forward(x, parameters, cell="rnn", a0=None, c0=None)``, ``deep_forward``
  alike; ``layer_forward(cell, x, parameters, a0=None, c0=None)`` names the cell first because
  the cell picks the function that runs.
- **State names**: the state passed from step to step is ``a`` everywhere; only the LSTM has a
  separate memory cell ``c``. In a GRU c<t> = a<t>: its functions take and return ``a``, and
  the code names it c where the lecture's equations do.
- **Returns**: a forward returns ``(outputs..., cache)`` with the states in the order a, c
  (the RNN also returns y_hat, as the lecture's ``rnn_forward`` does). A backward takes the
  gradient of each output in the same order, then the cache (``lstm_cell_backward(da_next,
  dc_next, cache)``, ``lstm_backward(da, dc, caches)``; a ``dc`` may be None for zeros), and
  returns one dict: ``dxt``/``dx``, ``da_prev``/``da0``, ``dc_prev``/``dc0`` (LSTM) and ``"d" +
  name`` for every parameter. Gate names are the lecture's: Γu, Γr, Γf, Γo, c~ are
  ``gamma_u``, ``gamma_r``, ``gamma_f``, ``gamma_o``, ``c_tilde``.
- **Caches**: a cell cache is a tuple ``(outputs, previous states, input, gate values,
  parameters, option)``, e.g. ``(a_next, a_prev, xt, parameters, activation)``; a sequence
  cache is ``(cell_caches, x)``. Caches hold the caller's arrays and ``parameters`` dict by
  reference (nothing is copied), so a cache is valid while those are unchanged. A kernel's
  cache is its own object and goes to the kernel's backward only.
- **Inputs** are never modified; a wrong shape raises ``ValueError`` naming the argument and
  the expected shape (``Wax must have shape (n_a, n_x) = (5, 3), got (3, 5)``). float64 by
  default, float32 stays float32.
- **Clipping** (``utils.optim``): ``clip_by_value`` and ``clip_by_global_norm`` both return
  ``(clipped, norm)``, the norm measured before clipping.
"""

__version__ = "0.1.0"
