"""Checks for assignment 01 — notation: tokens, vocabulary, encoding, one-hot batches.

Each check raises ``AssertionError`` naming the first problem it finds and returns ``None``
when the function passes. ``seed`` selects the random cases; the visible tests use ``seed=0``.
"""

from __future__ import annotations

import numpy as np

from utils import data
from utils.checks import (
    check_close,
    check_dtype,
    check_equal,
    check_not_mutated,
    check_shape,
    check_type,
    guarded_call,
)

__all__ = [
    "check_build_vocabulary",
    "check_char_tokenize",
    "check_encode",
    "check_one_hot",
    "check_one_hot_batch",
]

_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fu"]


def _random_words(rng: np.random.Generator, n: int) -> list[str]:
    return ["".join(rng.choice(_SYLLABLES, size=rng.integers(1, 4))) for _ in range(n)]


def _random_corpus(rng: np.random.Generator) -> list[list[str]]:
    lexicon = _random_words(rng, int(rng.integers(6, 14)))
    weights = rng.dirichlet(np.ones(len(lexicon)))
    return [
        [str(w) for w in rng.choice(lexicon, size=rng.integers(1, 9), p=weights)]
        for _ in range(int(rng.integers(3, 9)))
    ]


# --------------------------------------------------------------------------------------------
# Exercise 1 — char_tokenize
# --------------------------------------------------------------------------------------------


def check_char_tokenize(char_tokenize, seed: int = 0) -> None:
    """``char_tokenize(text)`` must return every character of ``text`` in order, as a list."""
    forbid = [data.char_tokenize]
    for text in ["", "ab", "Hi there", "Hello, World!\n"]:
        got = guarded_call(char_tokenize, text, forbid=forbid)
        check_type(f"char_tokenize({text!r})", got, list)
        check_equal(f"char_tokenize({text!r})", got, list(text), hint=_char_hint(got, text))
    rng = np.random.default_rng(seed)
    alphabet = list("abcXYZ .,;!?\t\n'é")
    for _ in range(5):
        text = "".join(rng.choice(alphabet, size=rng.integers(1, 30)))
        got = guarded_call(char_tokenize, text, forbid=forbid)
        check_equal(f"char_tokenize({text!r})", got, list(text), hint=_char_hint(got, text))


def _char_hint(got: list, text: str) -> str | None:
    if got == [c for c in text if not c.isspace()] or got == list(text.strip()):
        return "spaces and newlines are characters too: keep them"
    if got == list(text.lower()):
        return "keep upper case as it is"
    if got == [c for c in text if c.isalnum() or c.isspace()]:
        return "punctuation marks are characters too: keep them"
    return None


# --------------------------------------------------------------------------------------------
# Exercise 2 — build_vocabulary
# --------------------------------------------------------------------------------------------


def _vocabulary_hint(got: list, corpus: list[list[str]], min_count: int) -> str | None:
    if not got or got[:2] != [data.UNK, data.EOS]:
        return "the list must start with '<UNK>' then '<EOS>'"
    if len(set(got)) != len(got):
        return "each token must appear once (a special token in the corpus is not listed again)"
    rest = got[2:]
    if rest != sorted(rest):
        return "the tokens after '<UNK>' and '<EOS>' must be in alphabetical order"
    causes = []
    per_sentence = data.Vocabulary.from_corpus([sorted(set(s)) for s in corpus], min_count)
    if got == per_sentence.id_to_token:
        causes.append("count every occurrence, not the number of sentences a token is in")
    strict = data.Vocabulary.from_corpus(corpus, min_count=min_count + 1)
    if got == strict.id_to_token:
        causes.append(f"keep tokens seen at least min_count={min_count} times (>=, not >)")
    return "; or ".join(causes) or None


def check_build_vocabulary(build_vocabulary, seed: int = 0) -> None:
    """``build_vocabulary(sentences, min_count)`` must return the list of tokens, ``<UNK>`` and
    ``<EOS>`` first, then every token seen at least ``min_count`` times, alphabetically."""
    forbid = [data.Vocabulary]
    cases = [
        ([["b", "a"]], 1, None),
        ([["the", "cat"], ["the", "dog"]], 2, "only 'the' occurs twice"),
        ([["x", "x", "y", "y", "y"]], 2, None),
        ([["b"], ["a", "b"], ["c", "a"]], 1, None),
        ([["<EOS>", "hi"]], 1, None),
        ([["rare"]], 5, "nothing is frequent enough: only the special tokens remain"),
    ]
    rng = np.random.default_rng(seed)
    for _ in range(4):
        cases.append((_random_corpus(rng), int(rng.integers(1, 4)), None))
    for corpus, min_count, why in cases:
        label = f"build_vocabulary({corpus!r:.60}, min_count={min_count})"
        got = check_not_mutated(build_vocabulary, corpus, min_count, forbid=forbid)
        check_type(label, got, list)
        expected = data.Vocabulary.from_corpus(corpus, min_count=min_count).id_to_token
        if got != expected:
            hint = _vocabulary_hint(got, corpus, min_count) or why
            check_equal(label, got, expected, hint=hint)
    # The default min_count is 1.
    got = guarded_call(build_vocabulary, [["z", "y"]], forbid=forbid)
    check_equal(
        "build_vocabulary([['z', 'y']]) with the default min_count",
        got,
        [data.UNK, data.EOS, "y", "z"],
        hint="min_count should default to 1",
    )


# --------------------------------------------------------------------------------------------
# Exercise 3 — encode
# --------------------------------------------------------------------------------------------


def check_encode(encode, seed: int = 0) -> None:
    """``encode(tokens, token_to_id)`` must map each token to its id (unknown → ``<UNK>`` = 0)
    and append ``<EOS>`` = 1."""
    forbid = [data.Vocabulary.encode]
    vocab = data.Vocabulary([data.UNK, data.EOS, "a", "cat", "sat"])
    cases = [
        ([], vocab, "an empty sentence is just <EOS>"),
        (["cat"], vocab, "one known token, then <EOS>"),
        (["a", "cat", "sat"], vocab, None),
        (["the", "cat"], vocab, "an unknown token becomes <UNK> (id 0); it is not skipped"),
        (["dog", "dog", "sat"], vocab, "every unknown token becomes <UNK>"),
    ]
    rng = np.random.default_rng(seed)
    for _ in range(4):
        corpus = _random_corpus(rng)
        cases.append((corpus[0], data.Vocabulary.from_corpus(corpus[1:]), None))
    for tokens, table, why in cases:
        token_to_id = dict(table.token_to_id)
        label = f"encode({tokens!r:.50}, token_to_id)"
        got = check_not_mutated(encode, tokens, token_to_id, forbid=forbid)
        check_type(label, got, list)
        expected = table.encode(tokens)
        if got != expected:
            hint = why
            if got == expected[:-1]:
                hint = "append the <EOS> id (1) at the end"
            elif got[:1] == [table.eos_id] and got[1:] == expected[:-1]:
                hint = "<EOS> goes at the end, not at the start"
            elif got == [table.token_to_id[t] for t in tokens if t in table] + [table.eos_id]:
                hint = "unknown tokens must become the <UNK> id (0), not be skipped"
            check_equal(label, got, expected, hint=hint)
        for i, value in enumerate(got):
            check_type(f"{label}[{i}]", value, (int, np.integer))


# --------------------------------------------------------------------------------------------
# Exercise 4 — one_hot
# --------------------------------------------------------------------------------------------


def check_one_hot(one_hot, seed: int = 0) -> None:
    """``one_hot(ids, n_x)`` must return the ``(n_x, T)`` float array whose column ``t`` is the
    one-hot vector of ``ids[t]``."""
    forbid = [data.one_hot, data.one_hot_batch]
    cases = [([2], 5), ([0, 4, 4], 5), ([3, 1, 0, 2], 6), ([], 3)]
    rng = np.random.default_rng(seed)
    for _ in range(4):
        n_x = int(rng.integers(2, 40))
        T = int(rng.integers(1, 12))
        while n_x == T:
            T = int(rng.integers(1, 12))
        cases.append((rng.integers(0, n_x, size=T).tolist(), n_x))
    for ids, n_x in cases:
        label = f"one_hot({ids}, n_x={n_x})"
        got = check_not_mutated(one_hot, ids, n_x, forbid=forbid)
        check_shape(label, got, (n_x, len(ids)), names="(n_x, T)")
        check_dtype(label, got, "float")
        expected = data.one_hot(ids, n_x)
        hint = None
        if got.size and np.array_equal(got.sum(axis=0), np.ones(len(ids))):
            hint = "each column has a single one, but in the wrong row (off-by-one in the id?)"
        check_close(label, got, expected, rtol=0, atol=0, hint=hint)
    # Works on a NumPy array of ids as well as on a list.
    ids = np.array([1, 0, 2])
    got = check_not_mutated(one_hot, ids, 3, forbid=forbid)
    check_close("one_hot(np.array([1, 0, 2]), n_x=3)", got, data.one_hot(ids, 3), rtol=0, atol=0)


# --------------------------------------------------------------------------------------------
# Exercise 5 — one_hot_batch
# --------------------------------------------------------------------------------------------


def check_one_hot_batch(one_hot_batch, seed: int = 0) -> None:
    """``one_hot_batch(sequences, n_x)`` must return ``(x, mask)``: ``x`` of shape
    ``(n_x, m, T_x)`` with ``T_x`` the longest length and all-zero columns past each sequence's
    end, ``mask`` a boolean ``(m, T_x)`` array, True at real positions."""
    forbid = [data.one_hot_batch, data.one_hot, data.pad_sequences]
    cases = [
        ([[1, 2]], 4),
        ([[0], [3]], 4),
        ([[2, 0, 1], [3]], 5),
        ([[1], [2, 2], [0, 1, 2, 3, 4]], 7),
    ]
    rng = np.random.default_rng(seed)
    for _ in range(4):
        n_x = int(rng.integers(2, 30))
        m = int(rng.integers(1, 7))
        cases.append(
            ([rng.integers(0, n_x, size=rng.integers(1, 9)).tolist() for _ in range(m)], n_x)
        )
    for sequences, n_x in cases:
        label = f"one_hot_batch({sequences!r:.50}, n_x={n_x})"
        result = check_not_mutated(one_hot_batch, sequences, n_x, forbid=forbid)
        if not isinstance(result, tuple) or len(result) != 2:
            raise AssertionError(f"{label} should return a tuple (x, mask), got {result!r:.80}")
        x, mask = result
        expected_x, expected_mask = data.one_hot_batch(sequences, n_x)
        n_x, m, T_x = expected_x.shape
        check_shape(f"x from {label}", x, (n_x, m, T_x), names="(n_x, m, T_x)")
        check_dtype(f"x from {label}", x, "float")
        check_shape(f"mask from {label}", mask, (m, T_x), names="(m, T_x)")
        check_dtype(f"mask from {label}", mask, "bool")
        check_equal(
            f"mask from {label}",
            mask,
            expected_mask,
            hint="mask[i, t] is True exactly when t < len(sequences[i])",
        )
        padding = ~expected_mask
        hint = None
        if padding.any() and np.any(x[:, padding] != 0):
            hint = "padded positions (mask False) must be all-zero columns, not a token's one-hot"
        check_close(f"x from {label}", x, expected_x, rtol=0, atol=0, hint=hint)
