"""The checks behind assignment 05 pass correct implementations written in different styles and
reject a bank of known-wrong ones, each with a message that names the problem."""

import math

import numpy as np
import pytest
from rejects import rejecting

from utils.exercises import vanishing_gradients as ex

SEEDS = [0, 2024]


_fails = rejecting(SEEDS)


def _global_norm(grads):
    return math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))


# --- clip_by_value ---------------------------------------------------------------------------


def clip_value_np(grads, max_value):
    return {k: np.clip(g, -max_value, max_value) for k, g in grads.items()}, _global_norm(grads)


def clip_value_where(grads, max_value):
    clipped = {}
    for k, g in grads.items():
        c = np.where(g > max_value, max_value, g)
        clipped[k] = np.where(c < -max_value, -max_value, c).astype(g.dtype)
    norm = np.sqrt(np.sum([np.linalg.norm(g) ** 2 for g in grads.values()]))
    return clipped, float(norm)


def _spectral(grads):
    """sqrt(sum of squared np.linalg.norm(g, 2)): a matrix's ord=2 norm is its largest
    singular value."""
    return math.sqrt(sum(float(np.linalg.norm(g, 2)) ** 2 for g in grads.values()))


def _sum_of_norms(grads):
    return sum(float(np.linalg.norm(g)) for g in grads.values())


def test_clip_by_value_accepts_correct_variants():
    for variant in (clip_value_np, clip_value_where):
        for seed in SEEDS:
            ex.check_clip_by_value(variant, seed=seed)


def _value_in_place(grads, max_value):
    norm = _global_norm(grads)
    for g in grads.values():
        np.clip(g, -max_value, max_value, out=g)
    return grads, norm


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (
            lambda g, v: ({k: np.minimum(a, v) for k, a in g.items()}, _global_norm(g)),
            "clip from below too",
        ),
        (
            lambda g, v: ({k: np.clip(a, 0, v) for k, a in g.items()}, _global_norm(g)),
            r"not \[0, max_value\]",
        ),
        (
            lambda g, v: (clip_value_np(g, v)[0], _global_norm(clip_value_np(g, v)[0])),
            r"\*before\* clipping",
        ),
        (lambda g, v: (clip_value_np(g, v)[0], _global_norm(g) ** 2), "square root"),
        (
            lambda g, v: (
                clip_value_np(g, v)[0],
                max(float(np.linalg.norm(a)) for a in g.values()),
            ),
            "every entry of every array",
        ),
        (_value_in_place, "changed its argument grads in place"),
        (lambda g, v: clip_value_np(g, v)[0], "should return a tuple"),
        (lambda g, v: (clip_value_np(g, v)[0], _spectral(g)), r"np.linalg.norm\(g, 2\) \(ord=2\)"),
        (lambda g, v: (clip_value_np(g, v)[0], _sum_of_norms(g)), "not the sum N_1 \\+ N_2"),
    ],
)
def test_clip_by_value_rejects_known_mistakes(wrong, match):
    _fails(ex.check_clip_by_value, wrong, match)


# --- clip_by_global_norm ---------------------------------------------------------------------


def clip_norm_scale(grads, max_norm):
    norm = _global_norm(grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    return {k: g * np.asarray(scale, dtype=g.dtype) for k, g in grads.items()}, norm


def clip_norm_concatenate(grads, max_norm):
    flat = np.concatenate([np.ravel(g).astype(float) for g in grads.values()])
    norm = float(np.linalg.norm(flat))
    if norm <= max_norm:
        return {k: g.copy() for k, g in grads.items()}, norm
    return {k: (g * (max_norm / norm)).astype(g.dtype) for k, g in grads.items()}, norm


def clip_norm_copies(grads, max_norm):
    """Copies below max_norm, written as a branch; np.linalg.norm without ord per array."""
    norm = math.sqrt(sum(np.linalg.norm(g) ** 2 for g in grads.values()))
    if norm <= max_norm:
        return {k: np.array(g) for k, g in grads.items()}, norm
    return {k: g * (max_norm / norm) for k, g in grads.items()}, norm


def test_clip_by_global_norm_accepts_correct_variants():
    for variant in (clip_norm_scale, clip_norm_concatenate, clip_norm_copies):
        for seed in SEEDS:
            ex.check_clip_by_global_norm(variant, seed=seed)


def _per_array(grads, max_norm):
    out = {}
    for k, g in grads.items():
        n = float(np.linalg.norm(g))
        out[k] = g * (max_norm / n if n > max_norm else 1.0)
    return out, _global_norm(grads)


def _clip_with_norm(norm_of):
    """Clipping right, but with the global norm computed by ``norm_of``."""

    def wrong(grads, max_norm):
        norm = norm_of(grads)
        scale = max_norm / norm if norm > max_norm else 1.0
        return {k: g * scale for k, g in grads.items()}, norm

    return wrong


def _returns_own_arrays(how):
    """Issue 22: below max_norm, the caller's own dict / arrays / views of them returned
    (the exercise asks for new arrays; this passed every check)."""

    def wrong(grads, max_norm):
        norm = _global_norm(grads)
        if norm > max_norm:
            return {k: g * (max_norm / norm) for k, g in grads.items()}, norm
        if how == "dict":
            return grads, norm
        if how == "arrays":
            return dict(grads), norm
        return {k: g[...] for k, g in grads.items()}, norm

    return wrong


def _norm_in_place(grads, max_norm):
    norm = _global_norm(grads)
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return grads, norm


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (_per_array, "not each array by its own norm"),
        (
            lambda g, n: ({k: a * n / _global_norm(g) for k, a in g.items()}, _global_norm(g)),
            "only rescale when the global norm exceeds max_norm",
        ),
        (
            lambda g, n: ({k: a / _global_norm(g) for k, a in g.items()}, _global_norm(g)),
            "not 1 / norm",
        ),
        (
            lambda g, n: ({k: np.clip(a, -n, n) for k, a in g.items()}, _global_norm(g)),
            "clipping entries by value is another",
        ),
        (lambda g, n: (clip_norm_scale(g, n)[0], min(_global_norm(g), n)), r"\*before\* clipping"),
        (lambda g, n: (clip_norm_scale(g, n)[0], _global_norm(g) ** 2), "square root"),
        (_norm_in_place, "changed its argument grads in place"),
        (_clip_with_norm(_spectral), r"np.linalg.norm\(g, 2\) \(ord=2\)"),
        (_clip_with_norm(_sum_of_norms), "not the sum N_1 \\+ N_2"),
        (_returns_own_arrays("dict"), r"\[global norm below max_norm.*is the dict grads itself"),
        (
            _returns_own_arrays("arrays"),
            r"\[global norm below max_norm.*\['dWaa'\] is the caller's array grads\['dWaa'\]",
        ),
        (
            _returns_own_arrays("views"),
            r"\[global norm below max_norm.*\['dWaa'\] is the caller's array grads\['dWaa'\] "
            r"itself \(or a view of it\)",
        ),
    ],
)
def test_clip_by_global_norm_rejects_known_mistakes(wrong, match):
    _fails(ex.check_clip_by_global_norm, wrong, match)


# --- hidden_state_gradient_norms -------------------------------------------------------------


def probe_loop(da, caches):
    cell_caches, _ = caches
    norms, da_future = [], 0.0
    for a_next, _, _, parameters, activation in reversed(cell_caches):
        da_t = da[:, :, len(cell_caches) - 1 - len(norms)] + da_future
        norms.append(float(np.linalg.norm(da_t)))
        dz = da_t * (1 - a_next**2) if activation == "tanh" else da_t * (a_next > 0)
        da_future = np.dot(parameters["Waa"].T, dz)
    return np.array(norms[::-1])


def probe_preallocated(da, caches):
    cell_caches, _ = caches
    T = len(cell_caches)
    norms = np.empty(T)
    carry = np.zeros(da.shape[:2])
    for t in range(T - 1, -1, -1):
        a_next, _, _, p, activation = cell_caches[t]
        total = da[:, :, t] + carry
        norms[t] = np.sqrt((total**2).sum())
        derivative = np.where(a_next > 0, 1.0, 0.0) if activation == "relu" else 1 - a_next**2
        carry = p["Waa"].T @ (derivative * total)
    return norms


def probe_float32_stacked(da, caches):
    """float32 throughout, the norm by np.linalg.norm of the flattened gradient, g' for ReLU
    as a float mask, the step back as np.dot of the transpose."""
    cell_caches, _ = caches
    T = len(cell_caches)
    norms, carry = np.zeros(T, dtype=np.float32), np.zeros(da.shape[:2], dtype=np.float32)
    for t in range(T - 1, -1, -1):
        a_next, _, _, p, activation = cell_caches[t]
        total = da[:, :, t].astype(np.float32) + carry
        norms[t] = np.linalg.norm(total.ravel())
        if activation == "relu":
            g_prime = (a_next > 0).astype(np.float32)
        else:
            g_prime = (1 - a_next**2).astype(np.float32)
        carry = np.dot(p["Waa"].astype(np.float32).T, g_prime * total)
    return norms


def test_hidden_state_gradient_norms_accepts_correct_variants():
    for variant in (probe_loop, probe_preallocated, probe_float32_stacked):
        for seed in SEEDS:
            ex.check_hidden_state_gradient_norms(variant, seed=seed)


def _probe(
    g_prime=True,
    transpose=True,
    future=True,
    after_step=False,
    square=False,
    left_to_right=False,
    relu_ge=False,
    weight="Waa",
    send_local=False,
):
    """A student's probe with one slip (written here, not taken from the checks):
    ``left_to_right`` scans t = 0, 1, ...; ``relu_ge`` takes ReLU's derivative as
    a_next >= 0; ``weight`` is the matrix of the step back; ``send_local`` sends back only
    da[:, :, t] instead of the whole dL/da<t>."""

    def wrong(da, caches):
        cell_caches, _ = caches
        norms = np.zeros(len(cell_caches))
        carry = np.zeros(da.shape[:2])
        steps = range(len(cell_caches))
        for t in steps if left_to_right else reversed(steps):
            a_next, _, _, p, activation = cell_caches[t]
            total = da[:, :, t] + carry if future else da[:, :, t]
            relu = (a_next >= 0) if relu_ge else (a_next > 0)
            derivative = 1 - a_next**2 if activation == "tanh" else relu * 1.0
            W = p[weight].T if transpose else p[weight]
            sent = da[:, :, t] if send_local else total
            back = W @ (derivative * sent if g_prime else sent)
            measured = back if after_step else total
            norms[t] = np.sum(measured**2) if square else np.linalg.norm(measured)
            carry = back
        return norms

    return wrong


def _uses_reference_backward(da, caches):
    from utils import rnn

    cell_caches, _ = caches
    norms, carry = np.zeros(len(cell_caches)), 0.0
    for t in reversed(range(len(cell_caches))):
        total = da[:, :, t] + carry
        norms[t] = np.linalg.norm(total)
        carry = rnn.rnn_cell_backward(total, cell_caches[t])["da_prev"]
    return norms


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (_probe(g_prime=False), "back through the activation first"),
        (_probe(transpose=False), "Waa\\^T \\(the transpose\\)"),
        (_probe(future=False), "includes what comes back from step t\\+1"),
        (_probe(after_step=True), "taken before stepping back"),
        (_probe(square=True), "square root"),
        (lambda da, caches: probe_loop(da, caches)[::-1].copy(), "in time order"),
    ],
)
def test_hidden_state_gradient_norms_rejects_known_mistakes(wrong, match):
    _fails(ex.check_hidden_state_gradient_norms, wrong, match)


def test_hidden_state_gradient_norms_must_not_call_the_library_backward():
    from utils.checks import IntegrityError

    with pytest.raises(IntegrityError, match="rnn_cell_backward"):
        ex.check_hidden_state_gradient_norms(_uses_reference_backward)


@pytest.mark.parametrize(
    ("wrong", "match", "absent"),
    [
        pytest.param(
            _probe(left_to_right=True),
            "the scan goes left to right: backpropagation through time starts at the last step",
            "includes what comes back from step t+1",
            id="scan left to right",
        ),
        pytest.param(
            _probe(send_local=True),
            r"send back the whole dL/da<t> \(da\[:, :, t\] plus",
            None,
            id="only da[:, :, t] sent back",
        ),
        pytest.param(
            _probe(relu_ge=True),
            r"\[ReLU\].*ReLU's derivative is \(a_next > 0\).*a_next >= 0 is always True",
            "back through the activation first",
            id="ReLU derivative as a_next >= 0",
        ),
        pytest.param(
            _probe(weight="Wax"),
            "the step back to a<t-1> goes through Waa\\^T, the recurrent weight",
            "a sum, max or mask on the wrong axis",
            id="Wax instead of Waa",
        ),
    ],
)
def test_hidden_state_gradient_norms_issue_22_mistakes_are_named(wrong, match, absent):
    """Issue 22: these got a hint about another bug (or none, or a shape error's guess)."""
    for seed in SEEDS:
        with pytest.raises(AssertionError, match=match) as caught:
            ex.check_hidden_state_gradient_norms(wrong, seed=seed)
        if absent:
            assert absent not in str(caught.value)


def test_hidden_state_gradient_norms_tanh_without_derivative_keeps_its_hint():
    """The derivative left out everywhere fails at the first (tanh) case with the tanh hint,
    not with the ReLU one."""
    with pytest.raises(AssertionError, match=r"\[a loss at every step") as caught:
        ex.check_hidden_state_gradient_norms(_probe(g_prime=False))
    assert "ReLU's derivative is" not in str(caught.value)
