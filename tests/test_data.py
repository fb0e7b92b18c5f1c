"""Unit tests for utils.data: tokenizers, Vocabulary, one-hot batches and padding."""

import numpy as np
import pytest

from utils import data


def test_char_tokenize_keeps_every_character():
    assert data.char_tokenize("Hi, you!\n") == ["H", "i", ",", " ", "y", "o", "u", "!", "\n"]
    assert data.char_tokenize("") == []


def test_word_tokenize_lowercases_and_splits_punctuation():
    assert data.word_tokenize("He doesn't like 2 cats, Tom.") == [
        "he",
        "doesn't",
        "like",
        "2",
        "cats",
        ",",
        "tom",
        ".",
    ]


@pytest.mark.parametrize("tokenize", [data.char_tokenize, data.word_tokenize])
def test_tokenizers_reject_non_strings(tokenize):
    with pytest.raises(ValueError, match="text must be a str"):
        tokenize(["not", "a", "string"])


def test_vocabulary_special_tokens_and_alphabetical_order():
    vocab = data.Vocabulary.from_corpus([["the", "cat"], ["the", "dog", "<EOS>"]])
    assert vocab.id_to_token == ["<UNK>", "<EOS>", "cat", "dog", "the"]
    assert (vocab.unk_id, vocab.eos_id) == (0, 1)
    assert vocab.token_to_id["the"] == 4
    assert len(vocab) == 5
    assert "dog" in vocab
    assert "bird" not in vocab


def test_vocabulary_min_count_counts_occurrences():
    corpus = [["a", "a", "b"], ["b", "c"], ["a"]]
    assert data.Vocabulary.from_corpus(corpus, min_count=2).id_to_token == [
        "<UNK>",
        "<EOS>",
        "a",
        "b",
    ]
    assert data.Vocabulary.from_corpus(corpus, min_count=3).id_to_token == ["<UNK>", "<EOS>", "a"]


@pytest.mark.parametrize("min_count", [0, -1, 1.5, True])
def test_vocabulary_rejects_bad_min_count(min_count):
    with pytest.raises(ValueError, match="min_count"):
        data.Vocabulary.from_corpus([["a"]], min_count=min_count)


def test_vocabulary_rejects_untokenized_sentences():
    with pytest.raises(ValueError, match="tokenize it first"):
        data.Vocabulary.from_corpus(["the cat"])


def test_vocabulary_constructor_validates_tokens():
    with pytest.raises(ValueError, match="must start with"):
        data.Vocabulary(["a", "<UNK>", "<EOS>"])
    with pytest.raises(ValueError, match="repeated"):
        data.Vocabulary(["<UNK>", "<EOS>", "a", "a"])


def test_encode_decode_round_trip_with_unknowns():
    vocab = data.Vocabulary(["<UNK>", "<EOS>", ".", "cat", "the"])
    ids = vocab.encode(["the", "cat", "sat", "."])
    assert ids == [4, 3, 0, 2, 1]
    assert vocab.encode(["the"], add_eos=False) == [4]
    assert vocab.decode(ids) == ["the", "cat", "<UNK>", ".", "<EOS>"]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([5])
    with pytest.raises(ValueError, match="tokenize it first"):
        vocab.encode("the cat")


def test_one_hot_columns_are_time_steps():
    x = data.one_hot([2, 0, 2], n_x=3)
    assert x.shape == (3, 3)
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, [[0, 1, 0], [0, 0, 0], [1, 0, 1]])
    assert data.one_hot([], n_x=4).shape == (4, 0)
    assert data.one_hot([1], n_x=2, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize(
    ("ids", "n_x", "message"),
    [
        ([3], 3, "outside 0 .. n_x - 1"),
        ([-1], 3, "outside"),
        ([[1]], 3, "1-D"),
        ([0.5], 3, "integer ids"),
        ([0], 0, "n_x must be a positive integer"),
    ],
)
def test_one_hot_rejects_bad_ids(ids, n_x, message):
    with pytest.raises(ValueError, match=message):
        data.one_hot(ids, n_x)


def test_pad_sequences_and_mask():
    ids, mask = data.pad_sequences([[5, 6, 7], [8]], value=-1)
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, -1, -1]])
    np.testing.assert_array_equal(mask, [[True, True, True], [True, False, False]])
    ids, mask = data.pad_sequences([[1]], T=3)
    assert ids.shape == mask.shape == (1, 3)
    with pytest.raises(ValueError, match="does not fit"):
        data.pad_sequences([[1, 2]], T=1)
    with pytest.raises(ValueError, match="empty"):
        data.pad_sequences([])


def test_one_hot_batch_layout_padding_and_mask():
    x, mask = data.one_hot_batch([[1, 2], [3]], n_x=4)
    assert x.shape == (4, 2, 2)  # (n_x, m, T_x)
    np.testing.assert_array_equal(x[:, 0, 0], [0, 1, 0, 0])
    np.testing.assert_array_equal(x[:, 0, 1], [0, 0, 1, 0])
    np.testing.assert_array_equal(x[:, 1, 0], [0, 0, 0, 1])
    np.testing.assert_array_equal(x[:, 1, 1], [0, 0, 0, 0])  # padding: all-zero column
    np.testing.assert_array_equal(mask, [[True, True], [True, False]])
    x, mask = data.one_hot_batch([[1]], n_x=2, T_x=3)
    assert x.shape == (2, 1, 3)
    assert mask.tolist() == [[True, False, False]]
    with pytest.raises(ValueError, match=r"sequences\[1\]"):
        data.one_hot_batch([[0], [9]], n_x=4)


def test_one_hot_batch_does_not_mutate_input():
    sequences = [[1, 2], [0]]
    data.one_hot_batch(sequences, n_x=3)
    assert sequences == [[1, 2], [0]]


def test_shipped_corpus_loads():
    text = data.load_text("sentences.txt")
    assert len(text.splitlines()) >= 20
    with pytest.raises(FileNotFoundError, match="available"):
        data.load_text("missing.txt")


def test_names_splits_are_disjoint_lowercase_and_sized_as_documented():
    train, validation = data.load_names("train"), data.load_names("validation")
    assert (len(train), len(validation)) == (4647, 516)
    assert len(set(train)) == len(train)
    assert len(set(validation)) == len(validation)
    assert not set(train) & set(validation)
    for name in train + validation:
        assert name.isascii(), name
        assert name.isalpha(), name
        assert name.islower(), name
    assert {"mary", "james"} <= set(train) | set(validation)
    assert set("".join(train)) == set("abcdefghijklmnopqrstuvwxyz")


def test_load_names_rejects_unknown_split():
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_names("test")


@pytest.mark.parametrize(
    ("play", "first_line"), [("macbeth", "MACBETH"), ("julius_caesar", "JULIUS CAESAR")]
)
def test_plays_load_without_gutenberg_header_or_footer(play, first_line):
    text = data.load_play(play)
    assert text.splitlines()[0] == first_line
    assert len(text) > 100_000
    assert "gutenberg" not in text.lower()
    assert "***" not in text
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert all(line == line.rstrip() for line in text.splitlines())


def test_load_play_rejects_unknown_play():
    with pytest.raises(ValueError, match="macbeth"):
        data.load_play("hamlet")


def test_every_shipped_data_file_is_package_data():
    """A non-editable install ships only what pyproject's package-data globs match."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["utils"]
    shipped = sorted(
        p.relative_to(root / "utils").as_posix() for p in (root / "utils" / "corpora").iterdir()
    )
    assert "corpora/DATA.md" in shipped
    missing = [f for f in shipped if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert not missing, f"not in [tool.setuptools.package-data] utils: {missing}"
