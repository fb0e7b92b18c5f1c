"""utils.layer, utils.bidirectional, utils.kernels.deep: inputs are checked and converted once.

A stack of layers checks ``x`` (forward) and ``da`` (backward) at the outer call and passes
them down in the kernels' step layout; these tests count the checks and the conversions, and
hold the stacked results equal to running each level on its own through its public function.
"""

import sys
from collections import Counter

import numpy as np
import pytest
from test_kernels_deep import deep_params

from utils import _validate
from utils.bidirectional import bidirectional_backward, bidirectional_forward
from utils.kernels import _fast
from utils.kernels.deep import deep_backward, deep_forward
from utils.layer import layer_backward, layer_forward

N_X, N_A, M, T = 3, 4, 2, 5
OPTIONS = {"rnn": {"activation": "tanh"}, "gru": {"variant": "full"}, "lstm": {"peephole": True}}


@pytest.fixture
def checks(monkeypatch):
    """A Counter of the arrays checked, by argument name (every check of an input or a
    gradient starts with ``as_float_array(name, value)``), plus ``"to_lecture"``: the
    conversions of a sequence back to the lecture layout (n, m, T_x)."""
    counts = Counter()
    check = _validate.as_float_array
    converters = (_validate.to_lecture_layout, _fast.to_lecture)

    def counting_check(name, value):
        counts[name] += 1
        return check(name, value)

    def counting(convert):
        def counting_convert(seq):
            counts["to_lecture"] += 1
            return convert(seq)

        return counting_convert

    for module in list(sys.modules.values()):  # every module that imported them by name
        if getattr(module, "__name__", "").startswith("utils"):
            if getattr(module, "as_float_array", None) is check:
                monkeypatch.setattr(module, "as_float_array", counting_check)
            for convert in converters:
                if getattr(module, convert.__name__, None) is convert:
                    monkeypatch.setattr(module, convert.__name__, counting(convert))
    return counts


def stack_params(cell_params, rng, cell, n_layers, bidirectional):
    return deep_params(cell_params, rng, cell, n_layers, bidirectional, N_X, N_A)


def level_by_level(x, params, cell, bidirectional, da):
    """The same stack run one public call per level (each checks and converts its own input)."""
    forward = bidirectional_forward if bidirectional else None
    caches, inputs = [], x
    for name in sorted(params):
        if forward:
            inputs, cache = forward(inputs, params[name], cell, **OPTIONS[cell])
        else:
            inputs, cache = layer_forward(cell, inputs, params[name], **OPTIONS[cell])
        caches.append((name, cache))
    a, grads = inputs, {}
    for name, cache in reversed(caches):
        g = bidirectional_backward(da, cache) if bidirectional else layer_backward(da, cache)
        da = g.pop("dx")
        grads[name] = g
    grads["dx"] = da
    return a, grads


def assert_same_tree(got, want, path="grads"):
    assert sorted(got) == sorted(want), f"{path}: keys {sorted(got)} != {sorted(want)}"
    for key in want:
        if isinstance(want[key], dict):
            assert_same_tree(got[key], want[key], f"{path}[{key!r}]")
        else:
            assert isinstance(got[key], np.ndarray), f"{path}[{key!r}] is {type(got[key])}"
            np.testing.assert_allclose(got[key], want[key], rtol=1e-13, atol=1e-15, err_msg=key)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_deep_checks_x_and_da_once_and_converts_once(rng, cell_params, checks, cell, bidirectional):
    p = stack_params(cell_params, rng, cell, 3, bidirectional)
    x = rng.normal(size=(N_X, M, T))
    da = rng.normal(size=(2 * N_A if bidirectional else N_A, M, T))

    a, cache = deep_forward(x, p, cell, bidirectional, **OPTIONS[cell])
    assert checks["x"] == 1, f"x was checked {checks['x']} times in one deep_forward"
    assert checks["to_lecture"] == 1, "only the top layer's states go back to (n, m, T_x)"
    checks.clear()
    grads = deep_backward(da, cache)
    assert checks["da"] == 1, f"da was checked {checks['da']} times in one deep_backward"
    assert checks["to_lecture"] == 1, "only dx goes back to (n, m, T_x)"

    # ... and the numbers are those of the levels run one by one through the public calls
    # (where every level checks and converts again).
    checks.clear()
    want_a, want_grads = level_by_level(x, p, cell, bidirectional, da)
    assert checks["x"] > 1  # the counter sees the checks it claims are saved
    assert a.shape == want_a.shape
    assert a.flags.c_contiguous
    np.testing.assert_allclose(a, want_a, rtol=1e-13, atol=1e-15)
    assert_same_tree(grads, want_grads)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_bidirectional_and_layer_check_once(rng, cell_params, checks, cell):
    p = {d: cell_params(rng, cell, N_X, N_A) for d in ("forward", "backward")}
    x = rng.normal(size=(N_X, M, T))
    a, cache = bidirectional_forward(x, p, cell, **OPTIONS[cell])
    bidirectional_backward(np.ones_like(a), cache)
    assert (checks["x"], checks["da"], checks["to_lecture"]) == (1, 1, 2)
    checks.clear()
    a, cache = layer_forward(cell, x, p["forward"], **OPTIONS[cell])
    layer_backward(np.ones_like(a), cache)
    assert (checks["x"], checks["da"], checks["to_lecture"]) == (1, 1, 2)


def test_stacked_gradients_are_still_checked(rng, cell_params):
    p = stack_params(cell_params, rng, "gru", 2, True)
    x = rng.normal(size=(N_X, M, T))
    a, cache = deep_forward(x, p, "gru", True)
    with pytest.raises(ValueError, match=r"da must have shape \(2 n_a, m, T_x\) = \(8, 2, 5\)"):
        deep_backward(a[:, :, :-1], cache)
    a, cache = deep_forward(x, stack_params(cell_params, rng, "lstm", 2, False), "lstm")
    with pytest.raises(ValueError, match=r"da must have shape \(n_a, m, T_x\) = \(4, 2, 5\)"):
        deep_backward(a[:, :1], cache)
    with pytest.raises(ValueError, match="x must be 3-D"):
        deep_forward(x[:, :, 0], p, "gru", True)


def test_stacks_do_not_modify_their_inputs(rng, cell_params):
    p = stack_params(cell_params, rng, "lstm", 2, True)
    x = rng.normal(size=(N_X, M, T))
    da = rng.normal(size=(2 * N_A, M, T))
    x_saved, da_saved = x.copy(), da.copy()
    _, cache = deep_forward(x, p, "lstm", True, peephole=True)
    deep_backward(da, cache)
    np.testing.assert_array_equal(x, x_saved)
    np.testing.assert_array_equal(da, da_saved)
