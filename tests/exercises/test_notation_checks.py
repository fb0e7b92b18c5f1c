"""The checks behind assignment 01 pass every correct variant and reject known-wrong ones,
each with a message that names the problem."""

from collections import Counter

import numpy as np
import pytest
from rejects import rejecting

from utils import data
from utils.checks import IntegrityError
from utils.exercises import notation as ex

SEEDS = [0, 1, 2718]  # the visible seed and two others, as the hidden tests use


_fails = rejecting(SEEDS)

# --- char_tokenize ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [lambda text: list(text), lambda text: [c for c in text], lambda text: [*text]],
    ids=["list", "comprehension", "unpack"],
)
def test_char_tokenize_accepts_correct_variants(variant):
    for seed in SEEDS:
        ex.check_char_tokenize(variant, seed=seed)


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (lambda text: [c for c in text if c != " "], "spaces and newlines are characters"),
        (lambda text: list(text.lower()), "keep upper case"),
        (lambda text: list(text.strip()), "spaces and newlines are characters"),
        (lambda text: text.split(), r"char_tokenize\(text='ab'\)"),
        (lambda text: tuple(text), "should be a list"),
        (lambda text: data.char_tokenize(text), "calls the reference implementation"),
    ],
    ids=["drops-spaces", "lowercases", "strips", "splits-words", "tuple", "reference"],
)
def test_char_tokenize_rejects(wrong, match):
    _fails(ex.check_char_tokenize, wrong, match)


# --- build_vocabulary ------------------------------------------------------------------------


def vocab_counter(sentences, min_count=1):
    counts = Counter(token for sentence in sentences for token in sentence)
    kept = sorted(t for t, n in counts.items() if n >= min_count and t not in ("<UNK>", "<EOS>"))
    return ["<UNK>", "<EOS>", *kept]


def vocab_numpy(sentences, min_count=1):
    tokens = [t for s in sentences for t in s]
    if not tokens:
        return ["<UNK>", "<EOS>"]
    values, counts = np.unique(np.array(tokens), return_counts=True)  # sorted, np.str_
    return ["<UNK>", "<EOS>"] + [
        v
        for v, n in zip(values, counts, strict=True)
        if n >= min_count and v not in ("<UNK>", "<EOS>")
    ]


def test_build_vocabulary_accepts_correct_variants():
    for variant in (vocab_counter, vocab_numpy):
        for seed in SEEDS:
            ex.check_build_vocabulary(variant, seed=seed)


def vocab_strict_count(sentences, min_count=1):
    return vocab_counter(sentences, min_count + 1)


def vocab_unsorted(sentences, min_count=1):
    counts = Counter(token for sentence in sentences for token in sentence)
    return ["<UNK>", "<EOS>"] + [t for t, n in counts.items() if n >= min_count]


def vocab_no_specials(sentences, min_count=1):
    return vocab_counter(sentences, min_count)[2:]


def vocab_specials_last(sentences, min_count=1):
    return vocab_counter(sentences, min_count)[2:] + ["<UNK>", "<EOS>"]


def vocab_duplicate_specials(sentences, min_count=1):
    counts = Counter(token for sentence in sentences for token in sentence)
    return ["<UNK>", "<EOS>"] + sorted(t for t, n in counts.items() if n >= min_count)


def vocab_per_sentence(sentences, min_count=1):
    counts = Counter(token for sentence in sentences for token in set(sentence))
    kept = sorted(t for t, n in counts.items() if n >= min_count and t not in ("<UNK>", "<EOS>"))
    return ["<UNK>", "<EOS>", *kept]


def vocab_sorts_in_place(sentences, min_count=1):
    for sentence in sentences:
        sentence.sort()
    return vocab_counter(sentences, min_count)


def vocab_no_default(sentences, min_count=2):
    return vocab_counter(sentences, min_count)


def vocab_case_insensitive(sentences, min_count=1):
    kept = vocab_counter(sentences, min_count)[2:]
    return ["<UNK>", "<EOS>", *sorted(kept, key=str.lower)]


def vocab_reference(sentences, min_count=1):
    return data.Vocabulary.from_corpus(sentences, min_count).id_to_token


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (vocab_strict_count, r"at least min_count=\d+ times \(>=, not >\)"),
        (vocab_unsorted, "alphabetical order"),
        (vocab_no_specials, "must start with '<UNK>' then '<EOS>'"),
        (vocab_specials_last, "must start with '<UNK>' then '<EOS>'"),
        (vocab_duplicate_specials, "each token must appear once"),
        (vocab_per_sentence, "count every occurrence"),
        (vocab_sorts_in_place, "changed its argument sentences in place; a shallow copy"),
        (vocab_case_insensitive, r"plain sorted\(\) \(code-point order: 'B' before 'a'\)"),
        (vocab_no_default, "min_count should default to 1"),
        (vocab_reference, "calls the reference implementation"),
    ],
)
def test_build_vocabulary_rejects(wrong, match):
    _fails(ex.check_build_vocabulary, wrong, match)


# --- encode ----------------------------------------------------------------------------------


def encode_loop(tokens, token_to_id):
    ids = []
    for token in tokens:
        ids.append(token_to_id[token] if token in token_to_id else token_to_id["<UNK>"])
    ids.append(token_to_id["<EOS>"])
    return ids


def encode_numpy_ints(tokens, token_to_id):
    return list(np.array([token_to_id.get(t, 0) for t in tokens] + [1], dtype=np.int64))


def test_encode_accepts_correct_variants():
    for variant in (encode_loop, encode_numpy_ints):
        for seed in SEEDS:
            ex.check_encode(variant, seed=seed)


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (lambda tokens, table: [table.get(t, 0) for t in tokens], "append the <EOS> id"),
        (lambda tokens, table: [1] + [table.get(t, 0) for t in tokens], "not at the start"),
        (lambda tokens, table: [table[t] for t in tokens if t in table] + [1], "not be skipped"),
        (lambda tokens, table: [table.get(t, 1) for t in tokens] + [1], r"encode\("),
        (lambda tokens, table: [float(table.get(t, 0)) for t in tokens] + [1.0], "should be a"),
        (
            lambda tokens, table: tokens.append("<EOS>") or [table.get(t, 0) for t in tokens],
            "in place",
        ),
        (lambda tokens, table: data.Vocabulary(list(table)).encode(tokens), "reference"),
    ],
    ids=[
        "no-eos",
        "eos-first",
        "skips-unknown",
        "unknown-as-eos",
        "floats",
        "mutates",
        "reference",
    ],
)
def test_encode_rejects(wrong, match):
    _fails(ex.check_encode, wrong, match)


def test_encode_bare_key_error_says_unknown_tokens_map_to_unk():
    def strict(tokens, table):
        return [table[t] for t in tokens] + [1]

    with pytest.raises(AssertionError) as info:
        ex.check_encode(strict)
    text = str(info.value)
    assert "raised KeyError in " in text
    assert "`return [table[t] for t in tokens] + [1]`" in text
    assert ": 'the'." in text
    assert "must become the <UNK> id (0)" in text


def test_encode_other_student_errors_reach_the_student_unchanged():
    def broken(tokens, table):
        raise RuntimeError("my own bug")

    with pytest.raises(RuntimeError, match="my own bug"):
        ex.check_encode(broken)


# --- one_hot ---------------------------------------------------------------------------------


def one_hot_eye(ids, n_x):
    return np.eye(n_x)[:, np.asarray(ids, dtype=int)]


def one_hot_fancy(ids, n_x):
    x = np.zeros((n_x, len(ids)))
    x[np.asarray(ids, dtype=int), np.arange(len(ids))] = 1
    return x


def one_hot_float32(ids, n_x):
    return one_hot_fancy(ids, n_x).astype(np.float32)


def test_one_hot_accepts_correct_variants():
    for variant in (one_hot_eye, one_hot_fancy, one_hot_float32):
        for seed in SEEDS:
            ex.check_one_hot(variant, seed=seed)


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (lambda ids, n_x: one_hot_fancy(ids, n_x).T, r"expected \(n_x, T\)"),
        (lambda ids, n_x: one_hot_fancy(ids, n_x).astype(int), "float values"),
        (lambda ids, n_x: one_hot_fancy([(i + 1) % n_x for i in ids], n_x), "off-by-one"),
        (lambda ids, n_x: np.ones((n_x, len(ids))), "one_hot.* is wrong"),
        (lambda ids, n_x: data.one_hot(ids, n_x), "reference"),
    ],
    ids=["transposed", "int-dtype", "off-by-one", "all-ones", "reference"],
)
def test_one_hot_rejects(wrong, match):
    _fails(ex.check_one_hot, wrong, match)


# --- one_hot_batch ---------------------------------------------------------------------------


def batch_loops(sequences, n_x):
    T_x = max(len(s) for s in sequences)
    x = np.zeros((n_x, len(sequences), T_x))
    mask = np.zeros((len(sequences), T_x), dtype=bool)
    for i, sequence in enumerate(sequences):
        for t, token in enumerate(sequence):
            x[token, i, t] = 1
            mask[i, t] = True
    return x, mask


def batch_stack(sequences, n_x):
    T_x = max(map(len, sequences))
    columns = [
        np.concatenate([one_hot_fancy(s, n_x), np.zeros((n_x, T_x - len(s)))], axis=1)
        for s in sequences
    ]
    mask = np.arange(T_x)[None, :] < np.array([len(s) for s in sequences])[:, None]
    return np.stack(columns, axis=1), mask


def test_one_hot_batch_accepts_correct_variants():
    for variant in (batch_loops, batch_stack):
        for seed in SEEDS:
            ex.check_one_hot_batch(variant, seed=seed)


def batch_time_major(sequences, n_x):
    x, mask = batch_loops(sequences, n_x)
    return x.transpose(0, 2, 1), mask


def batch_pads_with_unk(sequences, n_x):
    T_x = max(len(s) for s in sequences)
    return batch_loops([list(s) + [0] * (T_x - len(s)) for s in sequences], n_x)[0], batch_loops(
        sequences, n_x
    )[1]


def batch_mask_all_true(sequences, n_x):
    x, mask = batch_loops(sequences, n_x)
    return x, np.ones_like(mask)


def batch_float_mask(sequences, n_x):
    x, mask = batch_loops(sequences, n_x)
    return x, mask.astype(float)


def batch_mask_transposed(sequences, n_x):
    x, mask = batch_loops(sequences, n_x)
    return x, mask.T


def batch_x_only(sequences, n_x):
    return batch_loops(sequences, n_x)[0]


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (batch_time_major, r"expected \(n_x, m, T_x\)"),
        (batch_pads_with_unk, "padded positions .* must be all-zero columns"),
        (batch_mask_all_true, r"mask\[i, t\] is True exactly when"),
        (batch_float_mask, "bool values"),
        (batch_mask_transposed, r"expected \(m, T_x\)"),
        (batch_x_only, r"should return a tuple \(x, mask\)"),
        (lambda s, n: data.one_hot_batch(s, n), "reference"),
        (
            lambda s, n: batch_stack([data.one_hot(q, n).argmax(0).tolist() for q in s], n),
            "reference",
        ),
    ],
    ids=[
        "time-major",
        "pads-with-unk",
        "mask-all-true",
        "float-mask",
        "mask-transposed",
        "x-only",
        "reference",
        "reference-one_hot-inside",
    ],
)
def test_one_hot_batch_rejects(wrong, match):
    _fails(ex.check_one_hot_batch, wrong, match)


def test_reference_call_is_an_integrity_error():
    with pytest.raises(IntegrityError):
        ex.check_one_hot(data.one_hot)


def test_nested_list_mutation_advice_is_not_a_shallow_copy():
    with pytest.raises(AssertionError) as info:
        ex.check_build_vocabulary(vocab_sorts_in_place)
    text = str(info.value)
    assert "x = x.copy()" not in text
    assert "copy.deepcopy" in text


def test_visible_cases_include_mixed_case_tokens():
    cases = ex.BUILD_VOCABULARY.cases(np.random.default_rng(0), 0)
    tokens = {t for case in cases for s in case.args["sentences"] for t in s}
    assert {"A", "a", "B", "b"} <= tokens


def test_messages_print_plain_values():
    def float_mask(sequences, n_x):
        x, mask = batch_loops(sequences, n_x)
        mask[0, 0] = False
        return x, mask

    with pytest.raises(AssertionError) as info:
        ex.check_one_hot_batch(float_mask)
    assert "np.True_" not in str(info.value)
    assert "expected True, got False" in str(info.value)
