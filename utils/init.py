"""Parameter initialisers for the course's layers. Randomness comes only from ``rng``.

Weights that multiply an input vector of size ``fan_in`` are drawn from
N(0, 1 / fan_in) ("LeCun normal"), which keeps pre-activations of order 1 at the start.
Recurrent matrices ``Waa`` (and the recurrent blocks ``W[:, :n_a]`` of GRU/LSTM gates) are
random orthogonal matrices: they neither shrink nor grow a state vector, which delays
vanishing/exploding gradients. Biases start at 0, except the LSTM forget-gate bias, which
starts at ``forget_bias = 1`` so the cell remembers by default.

Functions return parameter dicts with the names that ``utils.rnn``, ``utils.gru`` and
``utils.lstm`` expect (``Waa``, ``Wu``, ``bf``, ...); ``dtype`` selects float64 (default) or
float32.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "init_dense_parameters",
    "init_gru_parameters",
    "init_lstm_parameters",
    "init_rnn_parameters",
    "lecun_normal",
    "orthogonal",
]


def lecun_normal(rng: np.random.Generator, shape: tuple[int, int], dtype=np.float64):
    """Matrix of shape (fan_out, fan_in) with entries from N(0, 1 / fan_in)."""
    return (rng.standard_normal(shape) / np.sqrt(shape[1])).astype(dtype)


def orthogonal(rng: np.random.Generator, n: int, dtype=np.float64):
    """Random n x n orthogonal matrix (QR of a Gaussian matrix, signs fixed to be uniform)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.sign(np.diag(r))).astype(dtype)


def init_dense_parameters(n_in, n_out, rng, names=("Wya", "by"), dtype=np.float64):
    """Output layer: W (n_out, n_in) LeCun normal, b (n_out, 1) zeros, named ``names``."""
    W, b = names
    return {W: lecun_normal(rng, (n_out, n_in), dtype), b: np.zeros((n_out, 1), dtype=dtype)}


def init_rnn_parameters(n_x, n_a, rng, n_y=None, dtype=np.float64):
    """Vanilla RNN: Waa (orthogonal), Wax, ba; plus Wya, by when ``n_y`` is given."""
    params = {
        "Waa": orthogonal(rng, n_a, dtype),
        "Wax": lecun_normal(rng, (n_a, n_x), dtype),
        "ba": np.zeros((n_a, 1), dtype=dtype),
    }
    if n_y is not None:
        params.update(init_dense_parameters(n_a, n_y, rng, dtype=dtype))
    return params


def _gate_matrix(rng, n_a, n_x, dtype):
    """(n_a, n_a + n_x) gate weights on [a_prev; x]: orthogonal recurrent block, LeCun input."""
    return np.concatenate(
        [orthogonal(rng, n_a, dtype), lecun_normal(rng, (n_a, n_x), dtype)], axis=1
    )


def init_gru_parameters(n_x, n_a, rng, variant="full", n_y=None, dtype=np.float64):
    """GRU parameters for ``utils.gru`` (variant "full", "simplified" or "reset_after")."""
    gates = ("u", "c") if variant == "simplified" else ("u", "r", "c")
    params = {}
    for g in gates:
        params["W" + g] = _gate_matrix(rng, n_a, n_x, dtype)
        params["b" + g] = np.zeros((n_a, 1), dtype=dtype)
    if variant == "reset_after":
        params["bcr"] = np.zeros((n_a, 1), dtype=dtype)
    if n_y is not None:
        params.update(init_dense_parameters(n_a, n_y, rng, dtype=dtype))
    return params


def init_lstm_parameters(
    n_x, n_a, rng, peephole=False, forget_bias=1.0, n_y=None, dtype=np.float64
):
    """LSTM parameters for ``utils.lstm``: Wf, Wu, Wo, Wc, bf (= forget_bias), bu, bo, bc,
    and peepholes pf, pu, po (zeros) when ``peephole`` is true."""
    params = {}
    for g in ("f", "u", "o", "c"):
        params["W" + g] = _gate_matrix(rng, n_a, n_x, dtype)
        params["b" + g] = np.zeros((n_a, 1), dtype=dtype)
    params["bf"] += forget_bias
    if peephole:
        for g in ("f", "u", "o"):
            params["p" + g] = np.zeros((n_a, 1), dtype=dtype)
    if n_y is not None:
        params.update(init_dense_parameters(n_a, n_y, rng, dtype=dtype))
    return params
