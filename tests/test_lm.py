"""Unit tests for utils.lm: the language model's batches, scores, sampling and training step."""

import copy
import math

import numpy as np
import pytest

from utils import data, init, lm, optim

EOS_ID = 1


@pytest.fixture(scope="module")
def vocab():
    return data.Vocabulary(["<UNK>", "<EOS>", "a", "b", "c"])


def _parameters(seed, n_x=5, n_a=6, scale=1.0):
    rng = np.random.default_rng(seed)
    p = init.init_rnn_parameters(n_x, n_a, rng, n_y=n_x)
    p["by"] = scale * rng.standard_normal((n_x, 1))
    p["Wya"] = scale * p["Wya"]
    return p


def test_make_lm_batch_shifts_inputs_by_one_step():
    x, y, mask = lm.make_lm_batch([[2, 3, 1], [4, 1]], n_x=5)
    assert x.shape == (5, 2, 3)
    assert y.tolist() == [[2, 3, 1], [4, 1, 0]]
    assert mask.tolist() == [[True, True, True], [True, True, False]]
    assert np.all(x[:, :, 0] == 0)  # nothing read before the first token
    assert np.argmax(x[:, 0, 1]) == 2
    assert np.argmax(x[:, 0, 2]) == 3
    assert np.argmax(x[:, 1, 1]) == 4
    assert np.all(x[:, 1, 2] == 0)  # padding
    assert x.sum() == 3


def test_make_lm_batch_rejects_bad_input():
    with pytest.raises(ValueError, match="n_x"):
        lm.make_lm_batch([[1]], n_x=0)
    with pytest.raises(ValueError, match="empty"):
        lm.make_lm_batch([], n_x=3)
    with pytest.raises(ValueError, match=r"sequences\[1\]"):
        lm.make_lm_batch([[1], [7]], n_x=3)


def test_sequence_log_prob_agrees_with_the_batched_loss():
    p = _parameters(0)
    sequences = [[2, 3, 1], [4, 1], [2, 2, 2, 4, 1]]
    x, y, mask = lm.make_lm_batch(sequences, 5)
    loss, _ = lm.loss_and_gradients(p, x, y, mask)
    total = sum(lm.sequence_log_prob(p, s) for s in sequences)
    assert -total / len(sequences) == pytest.approx(loss, rel=1e-12)


def test_probabilities_of_all_sequences_sum_to_one():
    """Two symbols (a, EOS): P(EOS) + P(a EOS) + ... + P(a^K EOS) + P(a^(K+1) first) = 1."""
    rng = np.random.default_rng(3)
    p = init.init_rnn_parameters(2, 4, rng, n_y=2)  # id 0 = a, id 1 = EOS
    K = 12
    total = sum(math.exp(lm.sequence_log_prob(p, [0] * k + [1])) for k in range(K + 1))
    # P(the first K+1 tokens are all a) = P(a^(K+1) EOS) / P(EOS | a^(K+1))
    x, _, _ = lm.make_lm_batch([[0] * (K + 1) + [1]], 2)
    a = np.zeros((4, 1))
    prefix = 0.0
    for t in range(K + 1):
        a = np.tanh(p["Waa"] @ a + p["Wax"] @ x[:, :, t] + p["ba"])
        z = p["Wya"] @ a + p["by"]
        prefix += z[0, 0] - np.log(np.exp(z).sum())
    assert total + math.exp(prefix) == pytest.approx(1.0, abs=1e-12)


def test_nats_and_perplexity_of_a_uniform_model_is_log_vocabulary():
    p = {k: np.zeros_like(v) for k, v in _parameters(1).items()}
    nats, perplexity = lm.nats_and_perplexity(p, [[2, 1], [3, 4, 1]])
    assert nats == pytest.approx(math.log(5))
    assert perplexity == pytest.approx(5.0)


def test_nats_and_perplexity_weights_every_token_equally():
    p = _parameters(2)
    sequences = [[2, 1], [3, 4, 2, 2, 1]]
    nats, perplexity = lm.nats_and_perplexity(p, sequences)
    total = sum(lm.sequence_log_prob(p, s) for s in sequences)
    assert nats == pytest.approx(-total / 7)
    assert perplexity == pytest.approx(math.exp(nats))


def test_sample_first_token_frequencies_follow_the_softmax(vocab):
    p = _parameters(4, scale=2.0)
    a1 = np.tanh(p["ba"])  # x<1> = 0, a<0> = 0
    z1 = (p["Wya"] @ a1 + p["by"])[:, 0]
    rng = np.random.default_rng(5)
    n = 6000
    for temperature in (1.0, 0.5):
        want = np.exp(z1 / temperature) / np.exp(z1 / temperature).sum()
        counts = np.bincount(
            [lm.sample(p, vocab, rng, temperature, max_len=1)[0] for _ in range(n)], minlength=5
        )
        # every frequency within 4.5 standard errors of its probability
        assert np.all(np.abs(counts / n - want) <= 4.5 * np.sqrt(want * (1 - want) / n) + 1e-3)


def test_sample_stops_at_eos_or_max_len_and_uses_only_the_generator(vocab):
    p = _parameters(6)
    state = np.random.get_state()  # noqa: NPY002 (the legacy global generator must be untouched)
    lengths = set()
    for seed in range(200):
        ids = lm.sample(p, vocab, np.random.default_rng(seed), max_len=4)
        assert ids == lm.sample(p, vocab, np.random.default_rng(seed), max_len=4)
        assert 1 <= len(ids) <= 4
        assert EOS_ID not in ids[:-1]
        assert ids[-1] == EOS_ID or len(ids) == 4
        lengths.add(len(ids))
    assert lengths == {1, 2, 3, 4}
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # noqa: NPY002


def test_low_temperature_sampling_is_greedy(vocab):
    p = _parameters(7, scale=3.0)
    greedy = lm.greedy_decode(p, vocab, max_len=15)
    for seed in range(5):
        assert lm.sample(p, vocab, np.random.default_rng(seed), 1e-4, max_len=15) == greedy


def test_greedy_decode_takes_the_argmax_and_feeds_it_back(vocab):
    p = _parameters(8, scale=3.0)
    ids = lm.greedy_decode(p, vocab, max_len=6)
    a, xt = np.zeros((6, 1)), np.zeros((5, 1))
    for token in ids:
        a = np.tanh(p["Waa"] @ a + p["Wax"] @ xt + p["ba"])
        assert token == int(np.argmax(p["Wya"] @ a + p["by"]))
        xt = np.eye(5)[:, [token]]


def test_sampling_rejects_bad_arguments(vocab):
    p = _parameters(9)
    with pytest.raises(ValueError, match="rng"):
        lm.sample(p, vocab, 0)
    with pytest.raises(ValueError, match="temperature"):
        lm.sample(p, vocab, np.random.default_rng(0), temperature=0)
    with pytest.raises(ValueError, match="max_len"):
        lm.greedy_decode(p, vocab, max_len=0)


def test_train_step_matches_clipped_adam_and_mutates_nothing():
    p = _parameters(10)
    x, y, mask = lm.make_lm_batch([[2, 3, 1], [4, 1], [3, 3, 3, 1]], 5)
    state = lm.init_adam_state(p)
    p_before, state_before = copy.deepcopy(p), copy.deepcopy(state)
    reference = copy.deepcopy(p)
    adam = optim.Adam(lr=0.05)
    for _ in range(3):
        _loss, p, state = lm.train_step(p, state, x, y, mask, learning_rate=0.05, clip_norm=0.5)
        _, grads = lm.loss_and_gradients(reference, x, y, mask)
        clipped, norm = optim.clip_by_global_norm(grads, 0.5)
        assert norm > 0.5  # the clipping is exercised
        adam.step(reference, clipped)
    for name in lm.PARAMETER_NAMES:
        np.testing.assert_allclose(p[name], reference[name], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(p_before[name], _parameters(10)[name])
    assert state["t"] == 3
    assert state_before["t"] == 0
    assert all(np.all(v == 0) for v in state_before["m"].values())


def test_a_few_hundred_steps_beat_the_bigram_on_held_out_names():
    train, validation = data.load_names("train"), data.load_names("validation")
    vocab = data.Vocabulary.from_corpus([list(n) for n in train])
    train_ids = [vocab.encode(list(n)) for n in train]
    x_val, y_val, m_val = lm.make_lm_batch([vocab.encode(list(n)) for n in validation], len(vocab))
    rng = np.random.default_rng(0)
    p = init.init_rnn_parameters(len(vocab), 32, rng, n_y=len(vocab))
    state = lm.init_adam_state(p)
    for _ in range(150):
        batch = [train_ids[i] for i in rng.integers(0, len(train_ids), 64)]
        _, p, state = lm.train_step(p, state, *lm.make_lm_batch(batch, len(vocab)))
    assert lm.batch_nats_per_token(p, x_val, y_val, m_val) < 2.367  # the add-k bigram
