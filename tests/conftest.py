"""Shared fixtures for the layer tests: one seeded ``rng`` and the parameter builders.

The builders draw non-trivial random parameters (no zero weights, so every path of a cell is
exercised) with the names the layers expect; ``dtype`` selects float64 or float32.
"""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _cast(p, dtype):
    return {k: v.astype(dtype) for k, v in p.items()}


def _rnn_params(rng, n_x, n_a, n_y, dtype=np.float64):
    p = {
        "Waa": rng.normal(size=(n_a, n_a)) * 0.6,
        "Wax": rng.normal(size=(n_a, n_x)),
        "ba": rng.normal(size=(n_a, 1)) * 0.5,
        "Wya": rng.normal(size=(n_y, n_a)),
        "by": rng.normal(size=(n_y, 1)) * 0.5,
    }
    return _cast(p, dtype)


def _gru_params(rng, n_x, n_a, variant="full", dtype=np.float64):
    p = {}
    for g in "uc" if variant == "simplified" else "urc":
        p["W" + g] = rng.normal(size=(n_a, n_a + n_x)) * 0.7
        p["b" + g] = rng.normal(size=(n_a, 1)) * 0.5
    if variant == "reset_after":
        p["bcr"] = rng.normal(size=(n_a, 1)) * 0.5
    return _cast(p, dtype)


def _lstm_params(rng, n_x, n_a, peephole=True, dtype=np.float64):
    p = {}
    for g in "fuoc":
        p["W" + g] = rng.normal(size=(n_a, n_a + n_x)) * 0.7
        p["b" + g] = rng.normal(size=(n_a, 1)) * 0.5
    if peephole:
        for g in "fuo":
            p["p" + g] = rng.normal(size=(n_a, 1))
    return _cast(p, dtype)


@pytest.fixture
def rnn_params():
    """``rnn_params(rng, n_x, n_a, n_y, dtype=float64)``: Waa, Wax, ba, Wya, by."""
    return _rnn_params


@pytest.fixture
def gru_params():
    """``gru_params(rng, n_x, n_a, variant="full", dtype=float64)``: the variant's gates."""
    return _gru_params


@pytest.fixture
def lstm_params():
    """``lstm_params(rng, n_x, n_a, peephole=True, dtype=float64)``: Wf, Wu, Wo, Wc, their
    biases and, with ``peephole``, pf, pu, po."""
    return _lstm_params


def snapshot(*trees):
    """Copies of every array in each (flat) dict, for :func:`assert_unchanged`."""
    return [{k: np.array(v, copy=True) for k, v in t.items()} for t in trees]


def assert_unchanged(trees, saved):
    for t, s in zip(trees, saved, strict=True):
        for k in s:
            np.testing.assert_array_equal(t[k], s[k], err_msg=f"{k} was mutated")


@pytest.fixture
def unchanged():
    """``(snapshot, assert_unchanged)``: take copies of input dicts, then check them."""
    return snapshot, assert_unchanged


def _cell_params(rng, cell, n_x, n_a):
    """Exactly the parameters of one ``cell`` layer ("rnn", "gru" full, "lstm" with
    peepholes): the initialisers' values plus noise, so biases and peepholes are non-zero."""
    from utils import init

    if cell == "rnn":
        p = init.init_rnn_parameters(n_x, n_a, rng)
    elif cell == "gru":
        p = init.init_gru_parameters(n_x, n_a, rng)
    else:
        p = init.init_lstm_parameters(n_x, n_a, rng, peephole=True)
    return {k: v + 0.3 * rng.normal(size=v.shape) for k, v in p.items()}


@pytest.fixture
def cell_params():
    """``cell_params(rng, cell, n_x, n_a)``: one layer's parameters for cell rnn/gru/lstm."""
    return _cell_params
