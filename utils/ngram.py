"""Count-based n-gram language models: the baselines a recurrent language model has to beat.

A sequence is a list of tokens (characters of a name, words of a sentence) without an end
mark; every model here scores the sequence *followed by* ``<EOS>``, so a model also has to
predict where a sequence stops. The probability of a sequence is the lecture's chain rule,

    P(y<1>, ..., y<T>) = prod_t P(y<t> | y<1>, ..., y<t-1>),

with the history cut to the last ``order - 1`` tokens (contexts before the first token are
filled with a start mark that is never predicted). Scores are natural logarithms, so
:func:`nats_per_token` is the average cross-entropy in nats that an RNN's loss reports too.

- :func:`uniform_nats`: every symbol equally likely, ``log(n_symbols)``;
- :class:`NGramModel` with ``order=1``: the unigram (symbol frequencies);
- :class:`NGramModel` with ``order=2, 3``: add-k smoothed bigram and trigram; pick ``k`` with
  :func:`tune_k` on a slice of the *training* data, never on the data you report.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

import numpy as np

from utils.data import EOS

__all__ = ["START", "NGramModel", "nats_per_token", "tune_k", "uniform_nats"]

#: Fills the context before the first token; it is a context only, never a predicted symbol.
START = "<START>"


class NGramModel:
    """Add-k smoothed n-gram model: ``P(w | h) = (count(h, w) + k) / (count(h) + k * V)``.

    ``h`` is the last ``order - 1`` tokens and ``V`` the number of symbols that can be
    predicted: every training token plus ``<EOS>`` (or the ``symbols`` given to :meth:`fit`).
    With ``order=1`` it is the (smoothed) unigram model.
    """

    def __init__(self, order: int, k: float = 1.0):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be an integer >= 1, got {order!r}")
        if not isinstance(k, int | float) or isinstance(k, bool) or not k > 0:
            raise ValueError(f"k must be a positive number (add-k smoothing), got {k!r}")
        self.order = order
        self.k = float(k)
        self.symbols: frozenset[Hashable] = frozenset()
        self._counts: Counter = Counter()  # (context..., token) -> count
        self._context_counts: Counter = Counter()  # (context...) -> count

    def fit(
        self, sequences: Iterable[Sequence[Hashable]], symbols: Iterable[Hashable] | None = None
    ) -> NGramModel:
        """Count the n-grams of ``sequences`` (each followed by ``<EOS>``); returns ``self``.

        ``symbols`` fixes the set of predictable symbols (``<EOS>`` is always added); by default
        it is every token seen in ``sequences``.
        """
        sequences = _as_sequences(sequences)
        seen = {token for sequence in sequences for token in sequence}
        self.symbols = frozenset(seen if symbols is None else symbols) | {EOS}
        if START in self.symbols:
            raise ValueError(f"{START!r} is the context filler and cannot be a symbol")
        self._counts = Counter(_ngrams(sequences, self.order))
        self._context_counts = Counter()
        for gram, count in self._counts.items():
            self._context_counts[gram[:-1]] += count
        return self

    def prob(self, context: Sequence[Hashable], token: Hashable) -> float:
        """``P(token | context)``; only the last ``order - 1`` tokens of ``context`` count."""
        self._require_fitted()
        if token not in self.symbols:
            raise ValueError(f"token {token!r} is not one of the model's symbols")
        history = tuple([START] * (self.order - 1) + list(context))[len(context) :]
        return self._prob(history, token)

    def log_prob(self, sequence: Sequence[Hashable]) -> float:
        """Natural log-probability of ``sequence`` followed by ``<EOS>``."""
        self._require_fitted()
        return sum(math.log(p) for p in self._step_probs(_as_sequences([sequence])[0]))

    def _step_probs(self, sequence: Sequence[Hashable]) -> list[float]:
        unknown = set(sequence) - self.symbols
        if unknown:
            raise ValueError(
                f"tokens {sorted(map(str, unknown))[:5]} are not symbols of the model; "
                "map them to <UNK> first"
            )
        return [self._prob(gram[:-1], gram[-1]) for gram in _ngrams([sequence], self.order)]

    def _prob(self, history: tuple, token: Hashable) -> float:
        numerator = self._counts[(*history, token)] + self.k
        return numerator / (self._context_counts[history] + self.k * len(self.symbols))

    def _require_fitted(self) -> None:
        if not self.symbols:
            raise ValueError("the model has not been fitted; call fit(sequences) first")

    def __repr__(self) -> str:
        return f"NGramModel(order={self.order}, k={self.k:g}, {len(self.symbols)} symbols)"


def nats_per_token(model: NGramModel, sequences: Iterable[Sequence[Hashable]]) -> float:
    """Average negative log-probability per predicted token (every token and each ``<EOS>``)
    of ``sequences`` under ``model``: the cross-entropy in nats, ``exp`` of it is the
    perplexity."""
    sequences = _as_sequences(sequences)
    if not sequences:
        raise ValueError("sequences is empty; need at least one sequence")
    logs = [math.log(p) for sequence in sequences for p in model._step_probs(sequence)]
    return -sum(logs) / len(logs)


def uniform_nats(n_symbols: int) -> float:
    """Nats per token of the model that gives each of ``n_symbols`` symbols the same chance."""
    if isinstance(n_symbols, bool) or not isinstance(n_symbols, int) or n_symbols < 1:
        raise ValueError(f"n_symbols must be a positive integer, got {n_symbols!r}")
    return math.log(n_symbols)


def tune_k(
    order: int,
    sequences: Sequence[Sequence[Hashable]],
    ks: Sequence[float],
    rng: np.random.Generator,
    dev_fraction: float = 0.1,
) -> float:
    """The ``k`` in ``ks`` with the lowest nats per token on a random ``dev_fraction`` of
    ``sequences``, fitted on the rest. Pass the *training* sequences only: the data you
    report on must play no part in choosing ``k``."""
    sequences = _as_sequences(sequences)
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be between 0 and 1, got {dev_fraction!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not ks:
        raise ValueError("ks is empty; give at least one candidate k")
    order_ = rng.permutation(len(sequences))
    n_dev = max(1, round(dev_fraction * len(sequences)))
    if n_dev >= len(sequences):
        raise ValueError(f"{len(sequences)} sequences are too few to hold out a development set")
    dev = [sequences[i] for i in order_[:n_dev]]
    fit = [sequences[i] for i in order_[n_dev:]]
    symbols = {token for sequence in sequences for token in sequence}
    scores = [nats_per_token(NGramModel(order, k).fit(fit, symbols=symbols), dev) for k in ks]
    return float(ks[int(np.argmin(scores))])


def _ngrams(sequences: Iterable[Sequence[Hashable]], order: int) -> Iterable[tuple]:
    """Every n-gram ``(h..., w)`` of each sequence padded with START in front and EOS behind."""
    for sequence in sequences:
        padded = [START] * (order - 1) + list(sequence) + [EOS]
        for end in range(order, len(padded) + 1):
            yield tuple(padded[end - order : end])


def _as_sequences(sequences: Iterable[Sequence[Hashable]]) -> list[Sequence[Hashable]]:
    if isinstance(sequences, str):
        raise ValueError("sequences must be a list of sequences (e.g. a list of names), got a str")
    sequences = list(sequences)
    for i, sequence in enumerate(sequences):
        if isinstance(sequence, str):
            continue  # a string is a sequence of characters
        if not isinstance(sequence, Sequence):
            raise ValueError(f"sequences[{i}] must be a sequence of tokens, got {sequence!r}")
        if EOS in sequence:
            raise ValueError(f"sequences[{i}] contains {EOS!r}; the models add the end mark")
    return sequences
