"""Shared NumPy package for the course *Sequence Models from Scratch*.

One module per concept, growing notebook by notebook:

- ``utils.data``: tokenizers, ``Vocabulary`` (``<UNK>``, ``<EOS>``), one-hot batches, padding,
  and the shipped corpora (Census first names, two Shakespeare plays; ``corpora/DATA.md``)
- ``utils.ngram``: count-based n-gram language models, the baselines of notebook 04
- ``utils.activations``: numerically stable sigmoid, softmax, tanh, relu and derivatives
- ``utils.gradcheck``: centred finite differences with a report of the worst entries
- ``utils.checks``: helpers used by the notebooks' test cells (messages that name the problem)
- ``utils.rnn``, ``utils.gru``, ``utils.lstm``, ``utils.bidirectional``, ``utils.deep``:
  reference layers, forward and backward
- ``utils.losses``, ``utils.optim``, ``utils.init``, ``utils.train``: training pieces
- ``utils.exercises``: the checks behind each assignment's graded test cells

Modules are imported on demand (``from utils import rnn``), so ``import utils`` stays cheap.
"""

__version__ = "0.1.0"
