"""Checks of assignment 08 (utils/exercises/bidirectional.py): correct variants pass, each
known-wrong brnn_forward / brnn_backward is rejected with a message that names its problem,
and the provided word-boundary task is what the notebook says."""

import numpy as np
import pytest
from rejects import rejecting

from utils import bidirectional
from utils.checks import IntegrityError
from utils.exercises import bidirectional as ex
from utils.layer import layer_backward, layer_forward

SEEDS = [0, 1, 7]


_fails = rejecting(SEEDS)

# --------------------------------------------------------------------------------------------
# brnn_forward
# --------------------------------------------------------------------------------------------


def brnn_forward(x, parameters, cell):
    a_fwd, cache_fwd = layer_forward(cell, x, parameters["forward"])
    a_rev, cache_bwd = layer_forward(cell, x[:, :, ::-1], parameters["backward"])
    return np.concatenate([a_fwd, a_rev[:, :, ::-1]], axis=0), (
        a_fwd.shape[0],
        cache_fwd,
        cache_bwd,
    )


def brnn_forward_flip(x, parameters, cell):
    a_fwd, cache_fwd = layer_forward(cell, x, parameters["forward"])
    a_rev, cache_bwd = layer_forward(cell, np.flip(x, axis=2), parameters["backward"])
    a = np.vstack((a_fwd, np.flip(a_rev, axis=2)))
    return a.astype(x.dtype), (len(a_fwd), cache_fwd, cache_bwd)


def brnn_forward_preallocated(x, parameters, cell):
    a_fwd, cache_fwd = layer_forward(cell, x, parameters["forward"])
    a_rev, cache_bwd = layer_forward(cell, x[:, :, ::-1].copy(), parameters["backward"])
    n_a, m, T = a_fwd.shape
    a = np.zeros((2 * n_a, m, T), dtype=a_fwd.dtype)
    for t in range(T):
        a[:n_a, :, t] = a_fwd[:, :, t]
        a[n_a:, :, t] = a_rev[:, :, T - 1 - t]
    return a, (n_a, cache_fwd, cache_bwd)


@pytest.mark.parametrize("variant", [brnn_forward, brnn_forward_flip, brnn_forward_preallocated])
def test_forward_correct_variants_pass(variant):
    for seed in SEEDS:
        ex.check_brnn_forward(variant, seed=seed)


def not_reversed(x, parameters, cell):
    a_fwd, cf = layer_forward(cell, x, parameters["forward"])
    a_bwd, cb = layer_forward(cell, x, parameters["backward"])
    return np.concatenate([a_fwd, a_bwd]), (a_fwd.shape[0], cf, cb)


def reversed_twice(x, parameters, cell):
    a_fwd, cf = layer_forward(cell, x, parameters["forward"])
    a_bwd, cb = layer_forward(cell, x[:, :, ::-1][:, :, ::-1], parameters["backward"])
    return np.concatenate([a_fwd, a_bwd[:, :, ::-1][:, :, ::-1]]), (a_fwd.shape[0], cf, cb)


def not_realigned(x, parameters, cell):
    a_fwd, cf = layer_forward(cell, x, parameters["forward"])
    a_rev, cb = layer_forward(cell, x[:, :, ::-1], parameters["backward"])
    return np.concatenate([a_fwd, a_rev]), (a_fwd.shape[0], cf, cb)


def wrong_order(x, parameters, cell):
    a, cache = brnn_forward(x, parameters, cell)
    n_a = a.shape[0] // 2
    return np.concatenate([a[n_a:], a[:n_a]]), cache


def features_reversed(x, parameters, cell):
    a_fwd, cf = layer_forward(cell, x, parameters["forward"])
    a_rev, cb = layer_forward(cell, x[::-1], parameters["backward"])
    return np.concatenate([a_fwd, a_rev[:, :, ::-1]]), (a_fwd.shape[0], cf, cb)


def same_parameters(x, parameters, cell):
    return brnn_forward(
        x, {"forward": parameters["forward"], "backward": parameters["forward"]}, cell
    )


def stacked_on_time(x, parameters, cell):
    a, cache = brnn_forward(x, parameters, cell)
    n_a = a.shape[0] // 2
    return np.concatenate([a[:n_a], a[n_a:]], axis=2), cache


def cache_of_unreversed_run(x, parameters, cell):
    a, (n_a, cf, _) = brnn_forward(x, parameters, cell)
    _, cb = layer_forward(cell, x, parameters["backward"])
    return a, (n_a, cf, cb)


def cache_without_n_a(x, parameters, cell):
    a, (_, cf, cb) = brnn_forward(x, parameters, cell)
    return a, (cf, cb)


def calls_reference(x, parameters, cell):
    return bidirectional.bidirectional_forward(x, parameters, cell)


def mutates_x(x, parameters, cell):
    result = brnn_forward(x, parameters, cell)
    x[:, :, 0] = 0
    return result


FORWARD_BANK = [
    (
        not_reversed,
        r"reversed in time: run it on x\[:, :, ::-1\] \(not on x, and not reversed twice",
    ),
    (reversed_twice, r"not reversed twice"),
    (not_realigned, r"put them back at their step t"),
    (wrong_order, r"stack the forward states first"),
    (features_reversed, r"reverses the features \(axis 0\)"),
    (same_parameters, r"its own parameters: parameters\['backward'\]"),
    (stacked_on_time, r"along the features \(axis 0\), not along time"),
    (cache_of_unreversed_run, r"the backward direction's cache is not that of the right run"),
    (cache_without_n_a, r"cache must be \(n_a, cache_fwd, cache_bwd\)"),
    (mutates_x, r"changed its argument x in place"),
]


@pytest.mark.parametrize(("func", "match"), FORWARD_BANK, ids=[f.__name__ for f, _ in FORWARD_BANK])
def test_forward_mistakes_named(func, match):
    _fails(ex.check_brnn_forward, func, match)


def test_forward_calling_the_reference_is_caught():
    with pytest.raises(IntegrityError, match="bidirectional_forward"):
        ex.check_brnn_forward(calls_reference)


# --------------------------------------------------------------------------------------------
# brnn_backward
# --------------------------------------------------------------------------------------------


def brnn_backward(da, cache):
    n_a, cache_fwd, cache_bwd = cache
    g_fwd = layer_backward(da[:n_a], cache_fwd)
    g_bwd = layer_backward(da[n_a:, :, ::-1], cache_bwd)
    dx = g_fwd.pop("dx") + g_bwd.pop("dx")[:, :, ::-1]
    return {"forward": g_fwd, "backward": g_bwd, "dx": dx}


def brnn_backward_flip(da, cache):
    _n_a, cache_fwd, cache_bwd = cache
    top, bottom = np.split(da, 2, axis=0)
    g_fwd = layer_backward(top, cache_fwd)
    g_bwd = layer_backward(np.flip(bottom, axis=2).copy(), cache_bwd)
    return {
        "dx": np.add(g_fwd["dx"], np.flip(g_bwd["dx"], axis=2)),
        "forward": {k: v for k, v in g_fwd.items() if k != "dx"},
        "backward": {k: v for k, v in g_bwd.items() if k != "dx"},
    }


@pytest.mark.parametrize("variant", [brnn_backward, brnn_backward_flip])
def test_backward_correct_variants_pass(variant):
    for seed in SEEDS:
        ex.check_brnn_backward(variant, seed=seed)


def _with(dx_of, da_fwd_of, da_bwd_of):
    def wrong(da, cache):
        n_a, cf, cb = cache
        g_fwd = layer_backward(da_fwd_of(da, n_a), cf)
        g_bwd = layer_backward(da_bwd_of(da, n_a), cb)
        dx = dx_of(g_fwd.pop("dx"), g_bwd.pop("dx"))
        return {"forward": g_fwd, "backward": g_bwd, "dx": dx}

    return wrong


def _top(da, n_a):
    return da[:n_a]


def _bottom_reversed(da, n_a):
    return da[n_a:, :, ::-1]


dx_forward_only = _with(lambda f, b: f, _top, _bottom_reversed)
dx_backward_only = _with(lambda f, b: b[:, :, ::-1], _top, _bottom_reversed)
dx_not_reversed_back = _with(lambda f, b: f + b, _top, _bottom_reversed)
da_not_reversed = _with(lambda f, b: f + b[:, :, ::-1], _top, lambda da, n: da[n:])
halves_swapped = _with(
    lambda f, b: f + b[:, :, ::-1], lambda da, n: da[n:], lambda da, n: da[:n, :, ::-1]
)


def backward_params_dropped(da, cache):
    grads = brnn_backward(da, cache)
    grads["backward"] = {k: np.zeros_like(v) for k, v in grads["backward"].items()}
    return grads


def mutates_da(da, cache):
    n_a = cache[0]
    da[n_a:] = da[n_a:, :, ::-1]
    return brnn_backward(da[:, :, :], cache)


BACKWARD_BANK = [
    (dx_forward_only, r"the backward direction's part is missing"),
    (dx_backward_only, r"the forward direction's part is missing"),
    (dx_not_reversed_back, r"flip it back"),
    (da_not_reversed, r"must be reversed in time \(da\[n_a:, :, ::-1\]\)"),
    (halves_swapped, r"first n_a rows belong to the forward direction"),
    (backward_params_dropped, r"the backward direction's gradients are missing"),
    (mutates_da, r"changed its argument da in place"),
]


@pytest.mark.parametrize(
    ("func", "match"), BACKWARD_BANK, ids=[f.__name__ for f, _ in BACKWARD_BANK]
)
def test_backward_mistakes_named(func, match):
    _fails(ex.check_brnn_backward, func, match)


def test_gradient_check_is_asserted():
    """A wrong gradient that no named mistake or value case reproduces still fails: the
    proof runs even when the cases are bypassed."""
    rng = np.random.default_rng(0)
    wrong = lambda case: {**brnn_backward(**case.args), "dx": np.zeros((3, 2, 4))}  # noqa: E731
    with pytest.raises(AssertionError, match="gradient check of brnn_backward"):
        ex.BRNN_BACKWARD.proofs[0](wrong, rng)


# --------------------------------------------------------------------------------------------
# The provided task
# --------------------------------------------------------------------------------------------


def test_word_boundary_lines_and_batch():
    lines = ex.word_boundary_lines("To be, or not to be:\nAy.\nWhat's done is done.", min_words=3)
    assert lines == [["to", "be", "or", "not", "to", "be"], ["what", "s", "done", "is", "done"]]
    x, y, mask = ex.boundary_batch(lines)
    assert x.shape == (26, 2, 15)
    assert y.shape == mask.shape == (2, 15)
    assert "".join(ex.LETTERS[i] for i in x[:, 0].argmax(0)) == "tobeornottobe" + "aa"
    assert y[0, :13].tolist() == [0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1]
    assert mask.sum(1).tolist() == [13, 15]
    assert not x[:, 0, 13:].any()
    assert not y[0, 13:].any()


# --------------------------------------------------------------------------------------------
# Issue 22: the common BRNN bugs that had no hint, each named
# --------------------------------------------------------------------------------------------


def _runs(fwd_in, fwd_out, bwd_in, bwd_out, backward_half=None, forward_params="forward"):
    """brnn_forward as students write it, with the time order of each side switched:
    ``*_in`` is applied to x before that direction's run, ``*_out`` to its states after it;
    ``backward_half(a_fwd)`` replaces the backward run's states."""

    def forward(x, parameters, cell):
        a_fwd, cf = layer_forward(cell, fwd_in(x), parameters[forward_params])
        a_run, cb = layer_forward(cell, bwd_in(x), parameters["backward"])
        a_bwd = bwd_out(a_run) if backward_half is None else backward_half(a_fwd)
        return np.concatenate([fwd_out(a_fwd), a_bwd], axis=0), (a_fwd.shape[0], cf, cb)

    return forward


def _keep(v):
    return v


def _flip_time(v):
    return v[:, :, ::-1]


def _flip_features(v):
    return v[::-1]


FEATURES = r"x\[::-1\] reverses the features \(axis 0\), not time: run the backward direction on "
ONLY_BACKWARD = r"only the backward direction reads the sequence reversed: the forward direction"

ISSUE_FORWARD_BANK = {
    "backward_run_on_x_unreversed_states_flipped": (
        _runs(_keep, _keep, _keep, _flip_time),
        r"the backward direction ran on x itself and only its states were flipped",
    ),
    "features_reversed_states_kept": (_runs(_keep, _keep, _flip_features, _keep), FEATURES),
    "features_reversed_states_flipped_on_features": (
        _runs(_keep, _keep, _flip_features, _flip_features),
        FEATURES,
    ),
    "both_directions_reversed": (
        _runs(_flip_time, _flip_time, _flip_time, _flip_time),
        ONLY_BACKWARD,
    ),
    "both_directions_reversed_forward_not_flipped": (
        _runs(_flip_time, _keep, _flip_time, _flip_time),
        ONLY_BACKWARD,
    ),
    "both_directions_reversed_none_flipped": (
        _runs(_flip_time, _keep, _flip_time, _keep),
        ONLY_BACKWARD,
    ),
    "forward_states_reused": (
        _runs(_keep, _keep, _flip_time, _flip_time, backward_half=_keep),
        r"the backward half holds the forward direction's states: the backward direction has "
        r"its own run",
    ),
    "forward_states_reused_flipped": (
        _runs(_keep, _keep, _flip_time, _flip_time, backward_half=_flip_time),
        r"the backward half holds the forward direction's states flipped in time",
    ),
}


def test_issue22_forward_helper_without_switches_passes():
    for seed in SEEDS:
        ex.check_brnn_forward(_runs(_keep, _keep, _flip_time, _flip_time), seed=seed)


@pytest.mark.parametrize("item", ISSUE_FORWARD_BANK)
def test_issue22_forward_bugs_named(item):
    func, match = ISSUE_FORWARD_BANK[item]
    for seed in SEEDS:
        with pytest.raises(AssertionError, match=match) as failure:
            ex.check_brnn_forward(func, seed=seed)
        assert not str(failure.value).endswith(")"), "a hint follows the index it was wrong at"


def test_unnamed_wrong_half_is_located():
    """A wrong a that no named mistake reproduces still says which half is wrong."""
    backward_params_for_both = _runs(
        _keep, _keep, _flip_time, _flip_time, forward_params="backward"
    )
    _fails(
        ex.check_brnn_forward,
        backward_params_for_both,
        r"the backward half \(the last n_a rows\) is right; the forward half",
    )

    def backward_half_scaled(x, parameters, cell):
        a, cache = brnn_forward(x, parameters, cell)
        n_a = a.shape[0] // 2
        return np.concatenate([a[:n_a], 0.5 * a[n_a:]]), cache

    _fails(
        ex.check_brnn_forward,
        backward_half_scaled,
        r"the forward half \(the first n_a rows\) is right; the backward half",
    )


def test_errors_inside_the_functions_name_their_case():
    def concatenates_on_a_missing_axis(x, parameters, cell):
        a_fwd, _ = layer_forward(cell, x, parameters["forward"])
        a_run, _ = layer_forward(cell, x[:, :, ::-1], parameters["backward"])
        if cell == "gru":
            return np.concatenate([a_fwd, a_run], axis=3), None
        return brnn_forward(x, parameters, cell)

    with pytest.raises(AssertionError, match=r"\[gru cell\] raised AxisError in concatenates_on"):
        ex.check_brnn_forward(concatenates_on_a_missing_axis)

    def backward_crashes(da, cache):
        if cache[0] and da.dtype == np.float32:
            raise TypeError("my own bug")
        return brnn_backward(da, cache)

    with pytest.raises(AssertionError, match=r"\[float32\] raised TypeError in backward_crashes"):
        ex.check_brnn_backward(backward_crashes)

    def stub(x, parameters, cell):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        ex.check_brnn_forward(stub)
