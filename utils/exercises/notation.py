"""Checks for assignment 01 — notation: tokens, vocabulary, encoding, one-hot batches.

Each exercise is data for the harness (:mod:`utils.exercises.harness`); the references are in
:mod:`utils.data`. ``check_<name>(func, seed=0)`` raises ``AssertionError`` naming the first
problem; the visible tests use ``seed=0``, the hidden tests other seeds.
"""

from __future__ import annotations

import numpy as np

from utils import data
from utils.exercises.harness import Case, Exercise, Mistake, Output

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


def _exact(case: Case, got) -> dict:
    return {"rtol": 0.0, "atol": 0.0}


# --------------------------------------------------------------------------------------------
# Exercise 1 — char_tokenize
# --------------------------------------------------------------------------------------------


def _char_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    cases = [
        Case("the empty string", {"text": ""}),
        Case("two letters", {"text": "ab"}),
        Case("a space and upper case", {"text": "Hi there"}),
        Case("punctuation and a newline", {"text": "Hello, World!\n"}),
    ]
    alphabet = list("abcXYZ .,;!?\t\n'é")
    for _ in range(5):
        text = "".join(rng.choice(alphabet, size=rng.integers(1, 30)))
        cases.append(Case("random characters", {"text": text}))
    return cases


def _tokenize_without(keep):
    return lambda case: data.char_tokenize("".join(c for c in case.args["text"] if keep(c)))


CHAR_TOKENIZE = Exercise(
    name="char_tokenize",
    assignment=1,
    number=1,
    arguments=("text",),
    returns=(Output("tokens", kind="exact", type=list),),
    reference=lambda case: data.char_tokenize(case.args["text"]),
    cases=_char_cases,
    mistakes=(
        Mistake(
            "spaces and newlines are characters too: keep them",
            _tokenize_without(lambda c: not c.isspace()),
        ),
        Mistake(
            "spaces and newlines are characters too: keep them (no strip())",
            lambda case: data.char_tokenize(case.args["text"].strip()),
        ),
        Mistake(
            "keep upper case as it is", lambda case: data.char_tokenize(case.args["text"].lower())
        ),
        Mistake(
            "punctuation marks are characters too: keep them",
            _tokenize_without(lambda c: c.isalnum() or c.isspace()),
        ),
    ),
    forbidden=("utils.data.char_tokenize",),
    doc="``char_tokenize(text)`` must return every character of ``text`` in order, as a list.",
)


# --------------------------------------------------------------------------------------------
# Exercise 2 — build_vocabulary
# --------------------------------------------------------------------------------------------


def _vocabulary_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    fixed = [
        ([["b", "a"]], 1, "two tokens, sorted"),
        ([["the", "cat"], ["the", "dog"]], 2, "only 'the' occurs twice"),
        ([["x", "x", "y", "y", "y"]], 2, "counts within one sentence"),
        ([["b"], ["a", "b"], ["c", "a"]], 1, "tokens across sentences"),
        ([["b", "a", "B", "A", "c"]], 1, "mixed case: plain sorted() order puts 'A', 'B' first"),
        ([["<EOS>", "hi"]], 1, "a special token in the corpus is not listed again"),
        ([["rare"]], 5, "nothing is frequent enough: only the special tokens remain"),
    ]
    cases = [
        Case(label, {"sentences": corpus, "min_count": k}, context={"why": label})
        for corpus, k, label in fixed
    ]
    for _ in range(4):
        corpus = _random_corpus(rng)
        cases.append(
            Case("random corpus", {"sentences": corpus, "min_count": int(rng.integers(1, 4))})
        )
    cases.append(
        Case(
            "min_count left out",
            {"sentences": [["z", "y"]]},
            context={"why": "min_count should default to 1"},
        )
    )
    return cases


def _vocabulary(sentences, min_count=1) -> list[str]:
    return data.Vocabulary.from_corpus(sentences, min_count=min_count).id_to_token


def _vocabulary_of(case: Case) -> list[str]:
    return _vocabulary(**case.args)


def _structure_hint(got, want, case: Case) -> str | None:
    """What is wrong with the list's structure, else the case's own explanation."""
    if not isinstance(got, list) or got[:2] != [data.UNK, data.EOS]:
        return "the list must start with '<UNK>' then '<EOS>'"
    if len(set(got)) != len(got):
        return "each token must appear once (a special token in the corpus is not listed again)"
    rest = got[2:]
    if rest != sorted(rest):
        return (
            "the tokens after '<UNK>' and '<EOS>' must be in alphabetical order, meaning plain "
            "sorted() (code-point order: upper case before lower case, 'B' before 'a')"
        )
    return case.context.get("why")


def _min_count(case: Case) -> int:
    return case.args.get("min_count", 1)


BUILD_VOCABULARY = Exercise(
    name="build_vocabulary",
    assignment=1,
    number=2,
    arguments=("sentences", "min_count"),
    returns=(Output("vocabulary", kind="exact", type=list, hint=_structure_hint),),
    reference=_vocabulary_of,
    cases=_vocabulary_cases,
    mistakes=(
        Mistake(
            "min_count should default to 1",
            lambda case: None if "min_count" in case.args else [data.UNK, data.EOS],
        ),
        Mistake(
            "count every occurrence, not the number of sentences a token is in",
            lambda case: _vocabulary(
                [sorted(set(s)) for s in case.args["sentences"]], _min_count(case)
            ),
        ),
        Mistake(
            lambda case: (
                f"keep tokens seen at least min_count={_min_count(case)} times (>=, not >)"
            ),
            lambda case: _vocabulary(case.args["sentences"], _min_count(case) + 1),
        ),
        Mistake(
            "alphabetical order here means plain sorted() (code-point order: 'B' before 'a'), "
            "not sorted(key=str.lower)",
            lambda case: [
                *_vocabulary_of(case)[:2],
                *sorted(_vocabulary_of(case)[2:], key=str.lower),
            ],
        ),
    ),
    forbidden=("utils.data.Vocabulary",),
    doc="``build_vocabulary(sentences, min_count=1)``: '<UNK>', '<EOS>', then every token seen "
    "at least ``min_count`` times, in sorted() order.",
)


# --------------------------------------------------------------------------------------------
# Exercise 3 — encode
# --------------------------------------------------------------------------------------------


def _encode_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    vocab = data.Vocabulary([data.UNK, data.EOS, "a", "cat", "sat"])
    fixed = [
        ([], "an empty sentence is just <EOS>"),
        (["cat"], "one known token, then <EOS>"),
        (["a", "cat", "sat"], "known tokens"),
        (["the", "cat"], "an unknown token becomes <UNK> (id 0); it is not skipped"),
        (["dog", "dog", "sat"], "every unknown token becomes <UNK>"),
    ]
    pairs = [(tokens, vocab, why) for tokens, why in fixed]
    for _ in range(4):
        corpus = _random_corpus(rng)
        pairs.append((corpus[0], data.Vocabulary.from_corpus(corpus[1:]), "random sentence"))
    return [
        Case(
            why,
            {"tokens": list(tokens), "token_to_id": dict(table.token_to_id)},
            context={"why": why},
        )
        for tokens, table, why in pairs
    ]


def _table(case: Case) -> data.Vocabulary:
    return data.Vocabulary(list(case.args["token_to_id"]))


def _ids_are_ints(name, got, want, case) -> None:
    for i, value in enumerate(got):
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise AssertionError(
                f"{name}[{i}] should be an int, got {type(value).__name__}: {value!r}"
            )


ENCODE = Exercise(
    name="encode",
    assignment=1,
    number=3,
    arguments=("tokens", "token_to_id"),
    returns=(
        Output(
            "ids",
            kind="exact",
            type=list,
            check=_ids_are_ints,
            hint=lambda got, want, case: case.context.get("why"),
        ),
    ),
    reference=lambda case: _table(case).encode(case.args["tokens"]),
    cases=_encode_cases,
    mistakes=(
        Mistake(
            "append the <EOS> id (1) at the end",
            lambda case: _table(case).encode(case.args["tokens"], add_eos=False),
        ),
        Mistake(
            "<EOS> goes at the end, not at the start",
            lambda case: [1, *_table(case).encode(case.args["tokens"], add_eos=False)],
        ),
        Mistake(
            "unknown tokens must become the <UNK> id (0), not be skipped",
            lambda case: _table(case).encode([t for t in case.args["tokens"] if t in _table(case)]),
        ),
    ),
    forbidden=("utils.data.Vocabulary.encode",),
    key_hint=(
        "A token that is not in token_to_id must become the <UNK> id (0), e.g. "
        "token_to_id.get(token, token_to_id['<UNK>'])."
    ),
    doc="``encode(tokens, token_to_id)``: the id of each token (unknown -> <UNK> = 0), then "
    "<EOS> = 1.",
)


# --------------------------------------------------------------------------------------------
# Exercise 4 — one_hot
# --------------------------------------------------------------------------------------------


def _one_hot_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    pairs = [
        ([2], 5, "one id"),
        ([0, 4, 4], 5, "first and last id, repeated"),
        ([3, 1, 0, 2], 6, "a permutation"),
        ([], 3, "an empty sequence: shape (n_x, 0)"),
    ]
    for _ in range(4):
        n_x = int(rng.integers(2, 40))
        T = int(rng.integers(1, 12))
        while n_x == T:
            T = int(rng.integers(1, 12))
        pairs.append((rng.integers(0, n_x, size=T).tolist(), n_x, "random ids"))
    pairs.append((np.array([1, 0, 2]), 3, "a NumPy array of ids"))
    return [
        Case(why, {"ids": ids, "n_x": n_x}, {"n_x": n_x, "T": len(ids)}) for ids, n_x, why in pairs
    ]


def _wrong_row_hint(got, want, case) -> str | None:
    columns = isinstance(got, np.ndarray) and got.shape == want.shape and got.size
    if columns and np.array_equal(got.sum(axis=0), np.ones(want.shape[1])):
        return "each column has a single one, but in the wrong row (off-by-one in the id?)"
    return None


ONE_HOT = Exercise(
    name="one_hot",
    assignment=1,
    number=4,
    arguments=("ids", "n_x"),
    returns=(Output("x", shape="(n_x, T)", dtype="float", hint=_wrong_row_hint),),
    reference=lambda case: data.one_hot(**case.args),
    cases=_one_hot_cases,
    forbidden=("utils.data.one_hot", "utils.data.one_hot_batch"),
    tolerance=_exact,
    index_hint="Every id is in 0 .. n_x - 1: row ids[t] of column t is the one.",
    doc="``one_hot(ids, n_x)``: the (n_x, T) float array whose column t is one-hot of ids[t].",
)


# --------------------------------------------------------------------------------------------
# Exercise 5 — one_hot_batch
# --------------------------------------------------------------------------------------------


def _batch_cases(rng: np.random.Generator, seed: int) -> list[Case]:
    pairs = [
        ([[1, 2]], 4, "one sequence"),
        ([[0], [3]], 4, "two sequences of length 1"),
        ([[2, 0, 1], [3]], 5, "the second sequence is padded"),
        ([[1], [2, 2], [0, 1, 2, 3, 4]], 7, "three lengths"),
    ]
    for _ in range(4):
        n_x = int(rng.integers(2, 30))
        m = int(rng.integers(1, 7))
        batch = [rng.integers(0, n_x, size=rng.integers(1, 9)).tolist() for _ in range(m)]
        pairs.append((batch, n_x, "random batch"))
    cases = []
    for sequences, n_x, why in pairs:
        sizes = {"n_x": n_x, "m": len(sequences), "T_x": max(len(s) for s in sequences)}
        cases.append(Case(why, {"sequences": sequences, "n_x": n_x}, sizes))
    return cases


def _padding_hint(got, want, case) -> str | None:
    padding = ~data.one_hot_batch(**case.args)[1]
    same = isinstance(got, np.ndarray) and got.shape == want.shape and padding.any()
    if same and np.any(got[:, padding] != 0):
        return "padded positions (mask False) must be all-zero columns, not a token's one-hot"
    return None


ONE_HOT_BATCH = Exercise(
    name="one_hot_batch",
    assignment=1,
    number=5,
    arguments=("sequences", "n_x"),
    packing="tuple",
    returns=(
        Output("x", shape="(n_x, m, T_x)", dtype="float", hint=_padding_hint),
        Output(
            "mask",
            shape="(m, T_x)",
            dtype="bool",
            hint=lambda got, want, case: "mask[i, t] is True exactly when t < len(sequences[i])",
        ),
    ),
    reference=lambda case: data.one_hot_batch(**case.args),
    cases=_batch_cases,
    forbidden=("utils.data.one_hot_batch", "utils.data.one_hot", "utils.data.pad_sequences"),
    tolerance=_exact,
    shapes={"x": "(n_x, m, T_x)", "mask": "(m, T_x)"},
    index_hint="T_x is the length of the longest sequence; position t of sequence i is x[:, i, t].",
    doc="``one_hot_batch(sequences, n_x)`` returns ``(x, mask)``: x (n_x, m, T_x) with all-zero "
    "columns past each sequence's end, mask a bool (m, T_x) array, True at real positions.",
)
