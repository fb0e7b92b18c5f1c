"""The checks behind assignment 04 pass correct implementations written in different styles and
reject a bank of known-wrong ones, each with a message that names the problem. Sampling is
judged statistically, so the wrong samplers here are rejected by the frequencies they produce."""

import math

import numpy as np
import pytest
from rejects import rejecting

from utils import optim, rnn
from utils.activations import softmax
from utils.exercises import language_model as ex

SEEDS = [0, 2024]


_fails = rejecting(SEEDS)

# --- make_lm_batch ---------------------------------------------------------------------------


def batch_loops(sequences, n_x):
    m, T = len(sequences), max(len(s) for s in sequences)
    x, y, mask = np.zeros((n_x, m, T)), np.zeros((m, T), dtype=int), np.zeros((m, T), dtype=bool)
    for i, ids in enumerate(sequences):
        for t, token in enumerate(ids):
            y[i, t], mask[i, t] = token, True
            if t > 0:
                x[ids[t - 1], i, t] = 1.0
    return x, y, mask


def batch_vectorised(sequences, n_x):
    T = max(map(len, sequences))
    y = np.array([list(s) + [0] * (T - len(s)) for s in sequences])
    mask = np.array([[t < len(s) for t in range(T)] for s in sequences])
    previous = np.concatenate([np.zeros((len(sequences), 1), dtype=int), y[:, :-1]], axis=1)
    real = mask & (np.arange(T) > 0)
    x = np.eye(n_x)[previous].transpose(2, 0, 1) * real[None]
    return x.astype(np.float32), y, mask


def test_make_lm_batch_accepts_correct_variants():
    for variant in (batch_loops, batch_vectorised):
        for seed in SEEDS:
            ex.check_make_lm_batch(variant, seed=seed)


def _batch_no_shift(sequences, n_x):
    _, y, mask = batch_loops(sequences, n_x)
    return np.eye(n_x)[y].transpose(2, 0, 1) * mask[None], y, mask


def _batch_eos_first(sequences, n_x):
    x, y, mask = batch_loops(sequences, n_x)
    x[1, :, 0] = 1
    return x, y, mask


def _batch_next_token(sequences, n_x):
    x, y, mask = batch_loops(sequences, n_x)
    x = np.zeros_like(x)
    for i, ids in enumerate(sequences):
        for t in range(len(ids) - 1):
            x[ids[t + 1], i, t] = 1
    return x, y, mask


def _batch_pads_x(sequences, n_x):
    x, y, mask = batch_loops(sequences, n_x)
    for t in range(1, x.shape[2]):
        x[:, :, t] = np.eye(n_x)[y[:, t - 1]].T
    return x, y, mask


def _batch_eos_leaks(sequences, n_x):
    """The off-by-one that writes each token into the step after it, the last one (<EOS>)
    included, as long as that step is inside the batch."""
    T = max(len(s) for s in sequences)
    x, y, mask = batch_loops(sequences, n_x)
    x = np.zeros_like(x)
    for i, ids in enumerate(sequences):
        for t, token in enumerate(ids):
            if t + 1 < T:
                x[token, i, t + 1] = 1.0
    return x, y, mask


def _batch_int_x(sequences, n_x):
    x, y, mask = batch_loops(sequences, n_x)
    return x.astype(int), y, mask


def _batch_pads_y_with_eos(sequences, n_x):
    x, y, mask = batch_loops(sequences, n_x)
    return x, np.where(mask, y, 1), mask


def _batch_int_mask(sequences, n_x):
    x, y, mask = batch_loops(sequences, n_x)
    return x, y, mask.astype(int)


def _batch_time_first(sequences, n_x):
    x, y, mask = batch_loops(sequences, n_x)
    return x.transpose(0, 2, 1), y, mask


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (_batch_no_shift, r"x<t> must be the one-hot of the token \*before\* step t"),
        (_batch_eos_first, "x<1> is the zero vector"),
        (_batch_next_token, "the shift goes the wrong way"),
        (_batch_eos_leaks, "the <EOS> that ends a name is read at the padded step after it"),
        (_batch_pads_x, "padded steps"),
        (_batch_int_x, "x from make_lm_batch.* should hold float values, got dtype int"),
        (_batch_pads_y_with_eos, "pad y with 0"),
        (_batch_int_mask, "mask from make_lm_batch.*should be a bool array"),
        (_batch_time_first, r"x from make_lm_batch.* has shape"),
    ],
)
def test_make_lm_batch_rejects_known_mistakes(wrong, match):
    _fails(ex.check_make_lm_batch, wrong, match)


# --- sequence_log_prob -----------------------------------------------------------------------


def log_prob_cells(parameters, ids):
    n_x, n_a = parameters["Wax"].shape[1], parameters["Waa"].shape[0]
    a, xt, total = np.zeros((n_a, 1)), np.zeros((n_x, 1)), 0.0
    for token in ids:
        a, y_hat, _ = rnn.rnn_cell_forward(xt, a, parameters)
        total += np.log(y_hat[token, 0])
        xt = np.zeros((n_x, 1))
        xt[token, 0] = 1
    return float(total)


def log_prob_dot(parameters, ids):
    n_a = parameters["Waa"].shape[0]
    a, previous, total = np.zeros(n_a), None, 0.0
    for token in ids:
        pre = np.dot(parameters["Waa"], a) + parameters["ba"][:, 0]
        if previous is not None:
            pre = pre + parameters["Wax"][:, previous]  # Wax @ one-hot = a column
        a = np.tanh(pre)
        z = np.dot(parameters["Wya"], a) + parameters["by"][:, 0]
        total += z[token] - z.max() - np.log(np.sum(np.exp(z - z.max())))
        previous = token
    return total


def log_prob_one_entry_array(parameters, ids):
    """The total kept as a (1,) array (y_hat[token] rather than y_hat[token, 0]): the ordinary
    cases accept a one-entry float array as a float, so the 400-token case must too."""
    n_x, n_a = parameters["Wax"].shape[1], parameters["Waa"].shape[0]
    a, xt, total = np.zeros((n_a, 1)), np.zeros((n_x, 1)), np.zeros(1)
    for token in ids:
        a, y_hat, _ = rnn.rnn_cell_forward(xt, a, parameters)
        total = total + np.log(y_hat[token])
        xt = np.eye(n_x)[:, [token]]
    return total


def test_sequence_log_prob_accepts_correct_variants():
    for variant in (log_prob_cells, log_prob_dot, log_prob_one_entry_array):
        for seed in SEEDS:
            ex.check_sequence_log_prob(variant, seed=seed)


def test_sequence_log_prob_one_entry_array_of_a_product_gets_the_underflow_hint():
    """Issue 22: a (1,) array crashed the 400-token case (float() of an array) with a raw
    TypeError; now its value is judged like any float's."""

    def product_as_array(parameters, ids):
        n_x, n_a = parameters["Wax"].shape[1], parameters["Waa"].shape[0]
        a, xt, product = np.zeros((n_a, 1)), np.zeros((n_x, 1)), np.ones(1)
        for token in ids:
            a, y_hat, _ = rnn.rnn_cell_forward(xt, a, parameters)
            product = product * y_hat[token]
            xt = np.eye(n_x)[:, [token]]
        with np.errstate(divide="ignore"):
            return np.log(product)

    _fails(ex.check_sequence_log_prob, product_as_array, r"\[400 tokens\] is -inf.*underflows")


def test_sequence_log_prob_non_float_in_the_long_case_is_named():
    def list_when_long(parameters, ids):
        value = log_prob_cells(parameters, ids)
        return [value] if len(ids) > 100 else value

    _fails(ex.check_sequence_log_prob, list_when_long, r"\[400 tokens\] should be a float")


def test_an_error_inside_the_students_function_names_its_case():
    """Issue 22: every error raised inside a student's function is wrapped with its case."""

    def crashes(parameters, ids):
        return parameters["Waa"].shape() if len(ids) == 1 else log_prob_cells(parameters, ids)

    with pytest.raises(AssertionError) as caught:
        ex.check_sequence_log_prob(crashes)
    text = str(caught.value)
    assert "[ids = [<EOS>]: the first step only (x<1> = 0, a<0> = 0)] raised TypeError" in text
    assert "in crashes, at `return parameters" in text


def _log_prob(parameters, ids, shift=True, carry=True, first_eos=False, log=np.log, drop=0):
    n_x, n_a = parameters["Wax"].shape[1], parameters["Waa"].shape[0]
    a, xt, total = np.zeros((n_a, 1)), np.zeros((n_x, 1)), 0.0
    if first_eos:
        xt[1] = 1
    for token in ids[: len(ids) - drop]:
        if not shift:
            xt = np.eye(n_x)[:, [token]]
        a_new, y_hat, _ = rnn.rnn_cell_forward(xt, a, parameters)
        a = a_new if carry else np.zeros_like(a)
        total += log(y_hat[token, 0])
        xt = np.eye(n_x)[:, [token]]
    return float(total)


def _log_of_product(parameters, ids):
    n_x, n_a = parameters["Wax"].shape[1], parameters["Waa"].shape[0]
    a, xt, product = np.zeros((n_a, 1)), np.zeros((n_x, 1)), 1.0
    for token in ids:
        a, y_hat, _ = rnn.rnn_cell_forward(xt, a, parameters)
        product *= y_hat[token, 0]
        xt = np.eye(n_x)[:, [token]]
    with np.errstate(divide="ignore"):
        return float(np.log(product))


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (lambda p, ids: _log_prob(p, ids, shift=False), "the previous token ids\\[t-1\\]"),
        (lambda p, ids: _log_prob(p, ids, drop=1), "include its log-probability"),
        (lambda p, ids: _log_prob(p, ids, carry=False), "carry the hidden state"),
        (lambda p, ids: _log_prob(p, ids, first_eos=True), "x<1> is the zero vector"),
        (lambda p, ids: _log_prob(p, ids, log=np.log2), "not log2"),
        (lambda p, ids: _log_prob(p, ids, log=np.log10), "not log10"),
        (lambda p, ids: -_log_prob(p, ids), "not -log P"),
        (_log_of_product, "underflows to 0; add their logs"),
    ],
)
def test_sequence_log_prob_rejects_known_mistakes(wrong, match):
    _fails(ex.check_sequence_log_prob, wrong, match)


# --- nats_and_perplexity ---------------------------------------------------------------------


def nats_loop(parameters, sequences):
    total, count = 0.0, 0
    for ids in sequences:
        total -= log_prob_cells(parameters, ids)
        count += len(ids)
    return total / count, math.exp(total / count)


def nats_numpy(parameters, sequences):
    logs = np.array([log_prob_dot(parameters, ids) for ids in sequences])
    nats = -logs.sum() / np.sum([len(s) for s in sequences])
    return float(nats), float(np.exp(nats))


def test_nats_and_perplexity_accepts_correct_variants():
    for variant in (nats_loop, nats_numpy):
        for seed in SEEDS:
            ex.check_nats_and_perplexity(variant, seed=seed)


def _mean_of_means(p, seqs):
    nats = float(np.mean([-log_prob_cells(p, s) / len(s) for s in seqs]))
    return nats, math.exp(nats)


def _no_eos_count(p, seqs):
    nats = -sum(log_prob_cells(p, s) for s in seqs) / sum(len(s) - 1 for s in seqs)
    return nats, math.exp(nats)


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (_mean_of_means, "not the mean of each sequence's average"),
        (_no_eos_count, "the <EOS> of each sequence included"),
        (
            lambda p, s: (
                nats_loop(p, s)[0] / math.log(2),
                2 ** (nats_loop(p, s)[0] / math.log(2)),
            ),
            "bits = nats / ln 2",
        ),
        (lambda p, s: (nats_loop(p, s)[0], 2 ** nats_loop(p, s)[0]), r"exp\(nats per token\)"),
        (lambda p, s: (nats_loop(p, s)[0] * sum(map(len, s)), 1.0), "nats per token, not per"),
        (lambda p, s: nats_loop(p, s)[::-1], r"return \(nats, perplexity\) in this order"),
    ],
)
def test_nats_and_perplexity_rejects_known_mistakes(wrong, match):
    _fails(ex.check_nats_and_perplexity, wrong, match)


# --- sample ----------------------------------------------------------------------------------


def _generate(
    parameters, vocab, max_len, choose, feed=True, carry=True, stop=True, start_token=False
):
    n_x, n_a = parameters["Wax"].shape[1], parameters["Waa"].shape[0]
    a, xt, ids = np.zeros((n_a, 1)), np.zeros((n_x, 1)), []
    if start_token:  # x<1> = the one-hot of <EOS>, as if it were a start token
        xt[vocab.eos_id] = 1
    for _ in range(max_len):
        a_new = np.tanh(parameters["Waa"] @ a + parameters["Wax"] @ xt + parameters["ba"])
        a = a_new if carry else np.zeros_like(a)
        token = choose(parameters["Wya"] @ a_new + parameters["by"])
        ids.append(token)
        if token == vocab.eos_id and stop:
            break
        xt = np.zeros((n_x, 1))
        if feed:
            xt[token] = 1
    return ids


def sample_choice(parameters, vocab, rng, temperature=1.0, max_len=20):
    return _generate(
        parameters,
        vocab,
        max_len,
        lambda z: int(rng.choice(z.shape[0], p=softmax(z / temperature)[:, 0])),
    )


def sample_inverse_cdf(parameters, vocab, rng, temperature=1.0, max_len=20):
    """Probabilities as p**(1/T) renormalised (the same distribution; computed from the logs,
    relative to the largest, so that it stays finite), drawn by inverse CDF."""

    def draw(z):
        log_p = np.log(softmax(z)[:, 0])
        p = np.exp((log_p - log_p.max()) / temperature)
        cdf = np.cumsum(p / p.sum())
        return int(min(np.searchsorted(cdf, rng.random()), len(cdf) - 1))

    return _generate(parameters, vocab, max_len, draw)


def sample_gumbel(parameters, vocab, rng, temperature=1.0, max_len=20):
    """The Gumbel-max trick: argmax of z / T plus Gumbel noise is a draw from softmax(z / T)."""
    return _generate(
        parameters,
        vocab,
        max_len,
        lambda z: int(np.argmax(z[:, 0] / temperature + rng.gumbel(size=z.shape[0]))),
    )


def sample_float32(parameters, vocab, rng, temperature=1.0, max_len=20):
    """The model run in float32 (the probabilities renormalised in float64 for rng.choice)."""
    p32 = {k: v.astype(np.float32) for k, v in parameters.items()}

    def draw(z):
        q = softmax(z / np.float32(temperature))[:, 0].astype(np.float64)
        return int(rng.choice(len(q), p=q / q.sum()))

    return _generate(p32, vocab, max_len, draw)


def test_sample_accepts_correct_variants():
    for variant in (sample_choice, sample_inverse_cdf, sample_gumbel, sample_float32):
        ex.check_sample(variant)
    ex.check_sample(sample_choice, seed=2024)
    ex.check_sample(sample_gumbel, seed=9)


def test_sample_with_eos_as_a_start_token_is_rejected():
    """Issue 22: x<1> = the one-hot of <EOS> passed every check (only the first step reads it,
    and six long samples hold six first steps); a model that remembers its first input for
    good now tells the two apart at every step."""

    def start_token(parameters, vocab, rng, temperature=1.0, max_len=20):
        return _generate(
            parameters,
            vocab,
            max_len,
            lambda z: _draw_with(rng, softmax(z / temperature)[:, 0]),
            start_token=True,
        )

    for seed in (0, 9, 2024):
        with pytest.raises(AssertionError, match="x<1> is the zero vector") as caught:
            ex.check_sample(start_token, seed=seed)
        assert "one-hot of <EOS> as x<1>" in str(caught.value)


def _draw_with(rng, p):
    return int(rng.choice(len(p), p=p / p.sum()))


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p, v, max_len, lambda z: _draw_with(rng, softmax(z)[:, 0])
            ),
            "the temperature is ignored",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p, v, max_len, lambda z: _draw_with(rng, softmax(z * temperature)[:, 0])
            ),
            "do not multiply",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p, v, max_len, lambda z: int(np.argmax(z))
            ),
            "do not take the argmax",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p, v, max_len, lambda z: int(rng.integers(z.shape[0]))
            ),
            r"\(nearly\) uniform",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p, v, max_len, lambda z: _draw_with(rng, softmax(softmax(z) / temperature)[:, 0])
            ),
            r"apply the softmax once|\(nearly\) uniform",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p, v, max_len, lambda z: _draw_with(rng, softmax(z / temperature)[:, 0]), feed=False
            ),
            "feed the drawn token back",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p,
                v,
                max_len,
                lambda z: _draw_with(rng, softmax(z / temperature)[:, 0]),
                carry=False,
            ),
            "carry the hidden state",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p,
                v,
                max_len,
                lambda z: int(np.random.choice(len(z), p=softmax(z / temperature)[:, 0])),  # noqa: NPY002
            ),
            "only source of randomness",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: sample_choice(
                p, v, rng, temperature, max_len + 1
            ),
            "more than max_len",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p, v, max_len, lambda z: _draw_with(rng, softmax(z / temperature)[:, 0]), stop=False
            ),
            "goes on after <EOS>",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: (
                [t for t in sample_choice(p, v, rng, temperature, max_len) if t != 1] or [2]
            ),
            "without <EOS> and before max_len",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: _generate(
                p, v, max_len, lambda z: _draw_with(rng, np.exp(z / temperature)[:, 0])
            ),
            "overflows",
        ),
        (
            lambda p, v, rng, temperature=1.0, max_len=20: np.array(
                sample_choice(p, v, rng, temperature, max_len)
            ),
            "should be a list of int",
        ),
    ],
)
def test_sample_rejects_known_mistakes(wrong, match):
    with pytest.raises(AssertionError, match=match):
        ex.check_sample(wrong)


# --- greedy_decode ---------------------------------------------------------------------------


def greedy_loop(parameters, vocab, max_len=20):
    return _generate(parameters, vocab, max_len, lambda z: int(np.argmax(z)))


def greedy_on_probabilities(parameters, vocab, max_len=20):
    def pick(z):
        return int(np.argmax(softmax(z)[:, 0]))

    return _generate(parameters, vocab, max_len, pick)


def greedy_vectorised_float32(parameters, vocab, max_len=20):
    """float32 weights, a 1-D state and column lookups instead of one-hot products."""
    p = {k: v.astype(np.float32) for k, v in parameters.items()}
    a, previous, ids = np.zeros(p["Waa"].shape[0], dtype=np.float32), None, []
    while len(ids) < max_len:
        pre = p["Waa"] @ a + p["ba"][:, 0]
        a = np.tanh(pre if previous is None else pre + p["Wax"][:, previous])
        previous = int(np.argmax(p["Wya"] @ a + p["by"][:, 0]))
        ids.append(previous)
        if previous == vocab.eos_id:
            break
    return ids


def test_greedy_decode_accepts_correct_variants():
    for variant in (greedy_loop, greedy_on_probabilities, greedy_vectorised_float32):
        for seed in (0, 1, 2, 2024):
            ex.check_greedy_decode(variant, seed=seed)


def test_greedy_decode_resetting_the_state_is_rejected():
    """Issue 22: a<t-1> reset to zeros at every step passed (the first case's path did not
    depend on the state); the first case is now drawn so that it does."""

    def reset(parameters, vocab, max_len=20):
        return _generate(parameters, vocab, max_len, lambda z: int(np.argmax(z)), carry=False)

    for seed in (0, 1, 2, 5, 2024):
        with pytest.raises(AssertionError, match="carry the hidden state a<t>") as caught:
            ex.check_greedy_decode(reset, seed=seed)
        assert "feed each chosen token back" not in str(caught.value)


def _greedy_drops_eos(parameters, vocab, max_len=20):
    ids = greedy_loop(parameters, vocab, max_len)
    return ids[:-1] if ids and ids[-1] == vocab.eos_id else ids


def _greedy_ignores_eos(parameters, vocab, max_len=20):
    n_x, n_a = parameters["Wax"].shape[1], parameters["Waa"].shape[0]
    a, xt, ids = np.zeros((n_a, 1)), np.zeros((n_x, 1)), []
    for _ in range(max_len):
        a = np.tanh(parameters["Waa"] @ a + parameters["Wax"] @ xt + parameters["ba"])
        ids.append(int(np.argmax(parameters["Wya"] @ a + parameters["by"])))
        xt = np.eye(n_x)[:, [ids[-1]]]
    return ids


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (
            lambda p, v, max_len=20: _generate(
                p, v, max_len, lambda z: int(np.argmax(z)), feed=False
            ),
            "feed each chosen token back",
        ),
        (_greedy_drops_eos, "keep the <EOS> as the last token"),
        (lambda p, v, max_len=20: greedy_loop(p, v, max_len + 1), "at most max_len"),
        (_greedy_ignores_eos, "stop as soon as <EOS>"),
    ],
)
def test_greedy_decode_rejects_known_mistakes(wrong, match):
    _fails(ex.check_greedy_decode, wrong, match, seeds=[0, 1])


# --- train_step ------------------------------------------------------------------------------

NAMES = ("Waa", "Wax", "ba", "Wya", "by")


def train_step_dicts(parameters, adam_state, x, y, mask, learning_rate, clip_norm):
    from utils.lm import loss_and_gradients

    loss, grads = loss_and_gradients(parameters, x, y, mask)
    grads, _ = optim.clip_by_global_norm(grads, clip_norm)
    t = adam_state["t"] + 1
    new_p, m, v = {}, {}, {}
    for k in NAMES:
        g = grads["d" + k]
        m[k] = 0.9 * adam_state["m"][k] + 0.1 * g
        v[k] = 0.999 * adam_state["v"][k] + 0.001 * g**2
        new_p[k] = parameters[k] - learning_rate * (m[k] / (1 - 0.9**t)) / (
            np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8
        )
    return loss, new_p, {"t": t, "m": m, "v": v}


def train_step_own_clip(parameters, adam_state, x, y, mask, learning_rate, clip_norm):
    """Clipping written out, and Adam's step folded into one learning rate (same maths)."""
    from utils.lm import loss_and_gradients

    loss, grads = loss_and_gradients(parameters, x, y, mask)
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    scale = min(1.0, clip_norm / norm)
    t = adam_state["t"] + 1
    out = ({}, {"t": t, "m": {}, "v": {}})
    for k in NAMES:
        g = grads["d" + k] * scale
        m = 0.9 * adam_state["m"][k] + (1 - 0.9) * g
        v = 0.999 * adam_state["v"][k] + (1 - 0.999) * np.square(g)
        out[1]["m"][k], out[1]["v"][k] = m, v
        step = learning_rate * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        out[0][k] = parameters[k] - step * m / (np.sqrt(v) + 1e-8 * math.sqrt(1 - 0.999**t))
    return loss, out[0], out[1]


def train_step_comprehensions(
    parameters, adam_state, x, y, mask, learning_rate, clip_norm, beta1=0.9, beta2=0.999, eps=1e-8
):
    """The notebook's signature (betas and eps as keywords), dict comprehensions throughout."""
    from utils.lm import loss_and_gradients

    loss, grads = loss_and_gradients(parameters, x, y, mask)
    grads, _ = optim.clip_by_global_norm(grads, clip_norm)
    t = adam_state["t"] + 1
    m = {k: beta1 * adam_state["m"][k] + (1 - beta1) * grads["d" + k] for k in NAMES}
    v = {k: beta2 * adam_state["v"][k] + (1 - beta2) * grads["d" + k] ** 2 for k in NAMES}
    new_p = {
        k: parameters[k]
        - learning_rate * (m[k] / (1 - beta1**t)) / (np.sqrt(v[k] / (1 - beta2**t)) + eps)
        for k in NAMES
    }
    return loss, new_p, {"t": t, "m": m, "v": v}


def test_train_step_accepts_correct_variants():
    for variant in (train_step_dicts, train_step_own_clip, train_step_comprehensions):
        for seed in SEEDS:
            ex.check_train_step(variant, seed=seed)


def _adam_with(
    bias=True,
    clip="norm",
    descend=True,
    square=True,
    new_t=True,
    guard=False,
    betas=(0.9, 0.999),
    swap_corrections=True,
    eps_inside=False,
):
    """A student's train_step with one slip (written here, not taken from the checks):
    ``new_t=False`` corrects with the old step count (``guard``: and skips the correction
    where that count is 0); ``betas`` the pair used in the moments (``swap_corrections``: in
    the corrections too); ``eps_inside``: sqrt(v_hat + eps)."""

    def wrong(parameters, adam_state, x, y, mask, learning_rate, clip_norm):
        from utils.lm import loss_and_gradients

        loss, grads = loss_and_gradients(parameters, x, y, mask)
        if clip == "norm":
            grads, _ = optim.clip_by_global_norm(grads, clip_norm)
        elif clip == "value":
            grads = {k: np.clip(g, -clip_norm, clip_norm) for k, g in grads.items()}
        t = adam_state["t"] + 1
        t_used = t if new_t else adam_state["t"]
        b1, b2 = betas
        c1, c2 = betas if swap_corrections else (0.9, 0.999)
        new_p, m, v = {}, {}, {}
        for k in NAMES:
            g = grads["d" + k]
            m[k] = b1 * adam_state["m"][k] + (1 - b1) * g
            v[k] = b2 * adam_state["v"][k] + (1 - b2) * (g**2 if square else np.abs(g))
            with np.errstate(divide="ignore", invalid="ignore"):  # new_t=False at t = 0
                correct = bias and not (guard and t_used == 0)
                m_hat = m[k] / (1 - c1**t_used) if correct else m[k]
                v_hat = v[k] / (1 - c2**t_used) if correct else v[k]
                if eps_inside:
                    step = learning_rate * m_hat / np.sqrt(v_hat + 1e-8)
                else:
                    step = learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)
            new_p[k] = parameters[k] - step if descend else parameters[k] + step
        return loss, new_p, {"t": t, "m": m, "v": v}

    return wrong


def _in_place(parameters, adam_state, x, y, mask, learning_rate, clip_norm):
    loss, new_p, state = train_step_dicts(
        parameters, adam_state, x, y, mask, learning_rate, clip_norm
    )
    for k in NAMES:
        parameters[k] -= parameters[k] - new_p[k]
    return loss, parameters, state


def _state_t_unchanged(*args):
    loss, new_p, state = train_step_dicts(*args)
    return loss, new_p, {**state, "t": state["t"] - 1}


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (_adam_with(bias=False), "bias correction is missing"),
        (_adam_with(clip=None), "clip the gradients by their global norm"),
        (_adam_with(clip="value"), "not each entry by value"),
        (_adam_with(descend=False), "descend"),
        (_adam_with(square=False), "squared gradients"),
        (_adam_with(new_t=False), "the bias correction uses the old step count"),
        (_in_place, "changed its argument parameters in place"),
        (_state_t_unchanged, r"\['t'\] is .*goes up by 1"),
    ],
)
def test_train_step_rejects_known_mistakes(wrong, match):
    _fails(ex.check_train_step, wrong, match)


@pytest.mark.parametrize(
    ("wrong", "match", "absent"),
    [
        pytest.param(
            _adam_with(new_t=False, guard=True),
            "the bias correction uses the old step count",
            "bias correction is missing",
            id="old step count, guarded at t = 0",
        ),
        pytest.param(
            _adam_with(betas=(0.999, 0.9)),
            "beta1 and beta2 are swapped",
            None,
            id="betas swapped everywhere",
        ),
        pytest.param(
            _adam_with(betas=(0.999, 0.9), swap_corrections=False),
            "beta1 and beta2 are swapped",
            None,
            id="betas swapped in the moments only",
        ),
        pytest.param(
            _adam_with(eps_inside=True),
            r"eps goes outside the square root",
            None,
            id="eps inside the square root",
        ),
    ],
)
def test_train_step_issue_22_mistakes_are_named(wrong, match, absent):
    """Issue 22: the old count guarded at t = 0 was told its correction was missing; swapped
    betas and eps inside the square root got no hint."""
    for seed in SEEDS:
        with pytest.raises(AssertionError, match=match) as caught:
            ex.check_train_step(wrong, seed=seed)
        if absent:
            assert absent not in str(caught.value)
