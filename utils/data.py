"""Sequence data in the lecture's notation: tokens, a vocabulary, one-hot batches and padding.

A sentence becomes a list of tokens, the tokens become ids through a :class:`Vocabulary`, and a
batch of id sequences becomes the array ``x`` of shape ``(n_x, m, T_x)``: one column
``x[:, i, t]`` per example ``i`` and time step ``t`` (the one-hot vector ``x^(i)<t>``).
Sequences shorter than ``T_x`` are padded with all-zero columns, and a boolean ``mask`` of shape
``(m, T_x)`` says which positions are real.

Conventions used throughout the course:

- ``<UNK>`` has id 0 and stands for every token outside the vocabulary;
- ``<EOS>`` has id 1 and marks the end of a sentence (appended by :meth:`Vocabulary.encode`);
- the remaining tokens follow in alphabetical order, so ids do not depend on corpus order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from importlib import resources

import numpy as np

__all__ = [
    "EOS",
    "UNK",
    "Vocabulary",
    "char_tokenize",
    "load_names",
    "load_play",
    "load_text",
    "one_hot",
    "one_hot_batch",
    "pad_sequences",
    "word_tokenize",
]

#: The plays shipped in ``utils/corpora/`` (Project Gutenberg texts; see ``corpora/DATA.md``).
PLAYS = ("macbeth", "julius_caesar")
_NAME_SPLITS = {"train": "names_train.txt", "validation": "names_val.txt"}

UNK = "<UNK>"
EOS = "<EOS>"

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def char_tokenize(text: str) -> list[str]:
    """Split ``text`` into characters, keeping every one (spaces, punctuation, case)."""
    _require_str("text", text)
    return list(text)


def word_tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it into words and punctuation marks.

    Words may contain digits and one apostrophe (``"don't"``); every other non-space character
    is a token of its own: ``"Cats sleep 15h."`` → ``["cats", "sleep", "15h", "."]``.
    """
    _require_str("text", text)
    return _WORD.findall(text.lower())


class Vocabulary:
    """A bijection between tokens and integer ids, with ``<UNK>`` (id 0) and ``<EOS>`` (id 1).

    Build it from tokenized sentences with :meth:`from_corpus`; tokens seen fewer than
    ``min_count`` times are left out and will be encoded as ``<UNK>``.
    """

    def __init__(self, tokens: Iterable[str]):
        tokens = list(tokens)
        for token in tokens:
            _require_str("every token", token)
        if tokens[:2] != [UNK, EOS]:
            raise ValueError(f"a Vocabulary must start with {UNK!r}, {EOS!r}; got {tokens[:2]}")
        if len(set(tokens)) != len(tokens):
            repeated = sorted(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"tokens must be unique; repeated: {repeated[:5]}")
        self.id_to_token: list[str] = tokens
        self.token_to_id: dict[str, int] = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def from_corpus(cls, sentences: Iterable[Sequence[str]], min_count: int = 1) -> Vocabulary:
        """Vocabulary of every token that occurs at least ``min_count`` times in ``sentences``
        (a list of token lists), sorted alphabetically after ``<UNK>`` and ``<EOS>``."""
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
        counts = Counter()
        for sentence in sentences:
            if isinstance(sentence, str):
                raise ValueError(
                    "sentences must be a list of token lists, got a string; tokenize it first"
                )
            counts.update(sentence)
        kept = sorted(t for t, n in counts.items() if n >= min_count and t not in (UNK, EOS))
        return cls([UNK, EOS, *kept])

    @property
    def unk_id(self) -> int:
        return 0

    @property
    def eos_id(self) -> int:
        return 1

    def __len__(self) -> int:
        return len(self.id_to_token)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_id

    def __eq__(self, other: object) -> bool:
        """Two vocabularies are equal when they map the same tokens to the same ids."""
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.id_to_token == other.id_to_token

    __hash__ = None  # mutable, like a list

    def __reduce__(self):
        # Copies and pickles are rebuilt from the token list. (The default protocol would cache
        # ``__slotnames__`` on the class, which the checks' tamper detection sees as a change.)
        return (Vocabulary, (list(self.id_to_token),))

    def __repr__(self) -> str:
        preview = ", ".join(self.id_to_token[:6])
        return f"Vocabulary({len(self)} tokens: {preview}{', ...' if len(self) > 6 else ''})"

    def encode(self, tokens: Sequence[str], add_eos: bool = True) -> list[int]:
        """Ids of ``tokens`` (unknown tokens → ``<UNK>``), followed by ``<EOS>`` if ``add_eos``."""
        if isinstance(tokens, str):
            raise ValueError("encode takes a list of tokens, got a string; tokenize it first")
        ids = [self.token_to_id.get(token, self.unk_id) for token in tokens]
        return [*ids, self.eos_id] if add_eos else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``; raises ``ValueError`` for an id outside ``0 .. len(self) - 1``."""
        tokens = []
        for i in ids:
            if not 0 <= int(i) < len(self):
                raise ValueError(f"id {i} is outside the vocabulary (0 .. {len(self) - 1})")
            tokens.append(self.id_to_token[int(i)])
        return tokens


def one_hot(ids: Sequence[int], n_x: int, dtype=np.float64) -> np.ndarray:
    """One-hot matrix of shape ``(n_x, T)`` for a single sequence of ``T`` ids:
    column ``t`` is the one-hot vector ``x<t>``."""
    ids = _as_ids("ids", ids, n_x)
    x = np.zeros((n_x, len(ids)), dtype=dtype)
    x[ids, np.arange(len(ids))] = 1
    return x


def pad_sequences(
    sequences: Sequence[Sequence[int]], T: int | None = None, value: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stack variable-length id sequences into an ``(m, T)`` integer array.

    Shorter sequences are padded at the end with ``value``; ``T`` defaults to the longest
    length and longer sequences are an error. Returns ``(ids, mask)`` where ``mask[i, t]`` is
    True at real positions.
    """
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        sequences = sequences.tolist()
    lengths = [len(s) for s in sequences]
    if not lengths:
        raise ValueError("sequences is empty; need at least one sequence")
    T = max(lengths) if T is None else T
    if max(lengths) > T:
        raise ValueError(f"a sequence of length {max(lengths)} does not fit in T={T}")
    ids = np.full((len(sequences), T), value, dtype=np.int64)
    mask = np.zeros((len(sequences), T), dtype=bool)
    for i, sequence in enumerate(sequences):
        ids[i, : len(sequence)] = sequence
        mask[i, : len(sequence)] = True
    return ids, mask


def one_hot_batch(
    sequences: Sequence[Sequence[int]], n_x: int, T_x: int | None = None, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """One-hot encode a batch of ``m`` id sequences as ``x`` of shape ``(n_x, m, T_x)``.

    ``T_x`` defaults to the longest sequence. Positions past a sequence's end are all-zero
    columns. Returns ``(x, mask)`` with ``mask`` of shape ``(m, T_x)``, True where real.
    """
    for i, sequence in enumerate(sequences):
        _as_ids(f"sequences[{i}]", sequence, n_x)
    ids, mask = pad_sequences(sequences, T=T_x)
    m, T = ids.shape
    x = np.zeros((n_x, m, T), dtype=dtype)
    example, step = np.nonzero(mask)
    x[ids[example, step], example, step] = 1
    return x, mask


def load_text(name: str) -> str:
    """Text of a corpus shipped in ``utils/corpora/``, e.g. ``load_text("sentences.txt")``."""
    files = resources.files("utils") / "corpora"
    path = files / name
    if not path.is_file():
        available = sorted(p.name for p in files.iterdir() if p.name.endswith(".txt"))
        raise FileNotFoundError(f"no data file {name!r}; available: {available}")
    return path.read_text(encoding="utf-8")


def load_names(split: str = "train") -> list[str]:
    """First names from the 1990 US Census, lower-case, one string per name.

    ``split`` is ``"train"`` (4,647 names) or ``"validation"`` (516 names): a fixed 90/10 split
    of the 5,163 unique names, the same on every machine (``utils/corpora/DATA.md`` says how
    it was made). The two splits share no name.
    """
    if split not in _NAME_SPLITS:
        raise ValueError(f"split must be one of {sorted(_NAME_SPLITS)}, got {split!r}")
    return load_text(_NAME_SPLITS[split]).split()


def load_play(name: str) -> str:
    """Full text of a Shakespeare play shipped with the course, e.g. ``load_play("macbeth")``
    (the Project Gutenberg edition without Gutenberg's header and footer)."""
    if name not in PLAYS:
        raise ValueError(f"name must be one of {list(PLAYS)}, got {name!r}")
    return load_text(f"{name}.txt")


def _require_str(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a str, got {type(value).__name__}")


def _as_ids(name: str, ids: Sequence[int], n_x: int) -> np.ndarray:
    if isinstance(n_x, bool) or not isinstance(n_x, int | np.integer) or n_x < 1:
        raise ValueError(f"n_x must be a positive integer (the vocabulary size), got {n_x!r}")
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of ids, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer ids, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= n_x):
        raise ValueError(f"{name} holds ids outside 0 .. n_x - 1 = {n_x - 1}: {array.tolist()}")
    return array.astype(np.int64)
