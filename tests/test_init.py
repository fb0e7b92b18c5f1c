"""Tests for utils.init: shapes, dtypes, scale, reproducibility through rng."""

import numpy as np
import pytest

from utils import init


def test_rnn_parameters_shapes_and_orthogonal_recurrence():
    p = init.init_rnn_parameters(3, 8, np.random.default_rng(0), n_y=4)
    assert {k: v.shape for k, v in p.items()} == {
        "Waa": (8, 8),
        "Wax": (8, 3),
        "ba": (8, 1),
        "Wya": (4, 8),
        "by": (4, 1),
    }
    np.testing.assert_allclose(p["Waa"] @ p["Waa"].T, np.eye(8), atol=1e-12)
    assert np.all(p["ba"] == 0)


def test_same_rng_seed_same_parameters_and_float32():
    a = init.init_lstm_parameters(3, 4, np.random.default_rng(5), dtype=np.float32)
    b = init.init_lstm_parameters(3, 4, np.random.default_rng(5), dtype=np.float32)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert a[k].dtype == np.float32


@pytest.mark.parametrize(
    ("variant", "keys"),
    [
        ("simplified", {"Wu", "bu", "Wc", "bc"}),
        ("full", {"Wu", "bu", "Wr", "br", "Wc", "bc"}),
        ("reset_after", {"Wu", "bu", "Wr", "br", "Wc", "bc", "bcr"}),
    ],
)
def test_gru_parameter_sets(variant, keys):
    p = init.init_gru_parameters(3, 4, np.random.default_rng(0), variant=variant)
    assert set(p) == keys
    assert p["Wu"].shape == (4, 7)
    recurrent = p["Wc"][:, :4]  # acts on c<t-1>: orthogonal
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=1e-12)


def test_lstm_forget_bias_and_peepholes():
    p = init.init_lstm_parameters(3, 4, np.random.default_rng(0), peephole=True, n_y=2)
    assert set(p) >= {"Wf", "Wu", "Wo", "Wc", "bf", "bu", "bo", "bc", "pf", "pu", "po"}
    assert np.all(p["bf"] == 1.0)
    assert p["Wya"].shape == (2, 4)


def test_lecun_normal_scale():
    W = init.lecun_normal(np.random.default_rng(0), (400, 100))
    assert W.std() == pytest.approx(0.1, rel=0.05)
