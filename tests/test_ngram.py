"""Unit tests for utils.ngram: the count-based baselines of the language-model notebook."""

import math

import numpy as np
import pytest

from utils import data, ngram
from utils.data import EOS


def test_bigram_probabilities_follow_the_add_k_formula():
    # "ab", "b": bigrams (S,a) (a,b) (b,E) (S,b) (b,E); symbols {a, b, EOS}: V = 3
    model = ngram.NGramModel(order=2, k=0.5).fit(["ab", "b"])
    assert model.symbols == {"a", "b", EOS}
    assert model.prob([], "a") == pytest.approx((1 + 0.5) / (2 + 1.5))
    assert model.prob("a", "b") == pytest.approx((1 + 0.5) / (1 + 1.5))
    assert model.prob("xa", "b") == model.prob("a", "b")  # only the last token is history
    assert model.prob("b", EOS) == pytest.approx((2 + 0.5) / (2 + 1.5))
    assert model.prob("b", "a") == pytest.approx(0.5 / (2 + 1.5))
    expected = math.log(model.prob([], "b")) + math.log(model.prob("b", EOS))
    assert model.log_prob("b") == pytest.approx(expected)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_every_context_gives_a_distribution(order):
    model = ngram.NGramModel(order, k=0.1).fit(["anna", "bob", "abba"])
    for context in ["", "a", "ab", "bb", "zz"[:0]]:
        total = sum(model.prob(context, s) for s in model.symbols)
        assert total == pytest.approx(1.0)


def test_unigram_is_symbol_frequency():
    model = ngram.NGramModel(order=1, k=1e-9).fit(["aab"])  # a a b EOS
    assert model.prob("whatever", "a") == pytest.approx(0.5)
    assert ngram.nats_per_token(model, ["aab"]) == pytest.approx(
        -(2 * math.log(0.5) + 2 * math.log(0.25)) / 4
    )


def test_nats_per_token_counts_the_end_mark_and_works_on_words():
    model = ngram.NGramModel(order=2, k=1).fit([["the", "cat"], ["the", "dog"]])
    nats = ngram.nats_per_token(model, [["the", "cat"]])
    assert nats == pytest.approx(-model.log_prob(["the", "cat"]) / 3)


def test_uniform_nats_is_log_of_symbol_count():
    assert ngram.uniform_nats(27) == pytest.approx(math.log(27))
    with pytest.raises(ValueError, match="n_symbols"):
        ngram.uniform_nats(0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="order"):
        ngram.NGramModel(0)
    with pytest.raises(ValueError, match="k must be a positive"):
        ngram.NGramModel(2, k=0)
    with pytest.raises(ValueError, match="not been fitted"):
        ngram.NGramModel(2).log_prob("ab")
    model = ngram.NGramModel(2).fit(["ab"])
    with pytest.raises(ValueError, match="not symbols of the model"):
        model.log_prob("abz")
    with pytest.raises(ValueError, match="list of sequences"):
        model.fit("ab")
    with pytest.raises(ValueError, match="add the end mark"):
        model.fit([["a", EOS]])
    with pytest.raises(ValueError, match="empty"):
        ngram.nats_per_token(model, [])


def test_tune_k_picks_from_the_candidates_without_touching_held_out_data():
    train = data.load_names("train")
    k = ngram.tune_k(2, train, [1e-3, 0.1, 5.0], np.random.default_rng(0))
    assert k == 0.1  # 1e-3 overfits rare bigrams, 5 flattens them
    with pytest.raises(ValueError, match="ks is empty"):
        ngram.tune_k(2, train, [], np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        ngram.tune_k(2, train, [0.1], 0)


def test_baselines_on_the_shipped_names():
    """The figures quoted in notebook 04 and the README (nats per character, validation)."""
    train, validation = data.load_names("train"), data.load_names("validation")
    unigram = ngram.NGramModel(1, k=1.0).fit(train)
    bigram = ngram.NGramModel(2, k=0.1).fit(train)
    trigram = ngram.NGramModel(3, k=0.1).fit(train)
    figures = [
        ngram.uniform_nats(len(unigram.symbols)),
        ngram.nats_per_token(unigram, validation),
        ngram.nats_per_token(bigram, validation),
        ngram.nats_per_token(trigram, validation),
    ]
    assert len(unigram.symbols) == 27
    assert figures == pytest.approx([3.2958, 2.8149, 2.3671, 2.1146], abs=1e-4)
