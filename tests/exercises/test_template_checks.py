"""The harness (utils/exercises/harness.py), exercised through the template check module: the
runner passes correct variants, names each declared mistake, explains the student's errors by
what failed, honours the sandbox proxy's ``__remote_call__`` and shows messages without the
checker's internals."""

import traceback

import numpy as np
import pytest

from utils import activations
from utils.checks import IntegrityError
from utils.exercises import harness
from utils.exercises import template as ex

SEEDS = [0, 1, 2024]


def _fails(func, match, seeds=SEEDS, error=AssertionError):
    for seed in seeds:
        with pytest.raises(error, match=match):
            ex.check_dense_softmax(func, seed=seed)


def vectorised(W, a, b):
    z = W @ a + b
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def looped_dot(W, a, b):
    out = np.zeros((W.shape[0], a.shape[1]))
    for i in range(a.shape[1]):
        z = np.dot(W, a[:, i]) + b[:, 0]
        out[:, i] = np.exp(z) / np.exp(z).sum()
    return out


def float32_throughout(W, a, b):
    z = (W.astype(np.float32) @ a.astype(np.float32) + b.astype(np.float32)).astype(np.float32)
    return (np.exp(z) / np.exp(z).sum(axis=0)).astype(np.float32)


@pytest.mark.parametrize("variant", [vectorised, looped_dot, float32_throughout])
def test_correct_variants_pass(variant):
    for seed in SEEDS:
        ex.check_dense_softmax(variant, seed=seed)


def no_bias(W, a, b):
    return vectorised(W, a, 0 * b)


def wrong_axis(W, a, b):
    z = W @ a + b
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def no_softmax(W, a, b):
    return W @ a + b


def transposed(W, a, b):
    return vectorised(W.T, a, b)


def calls_reference(W, a, b):
    return activations.softmax(W @ a + b)


def in_place_on_bias(W, a, b):
    z = b
    z += W @ a
    return vectorised(W, a, b)


def max_as_relu(W, a, b):
    z = np.max(W @ a + b, 0)
    return W @ z


def mask_wrong_axis(W, a, b):
    keep = np.ones(a.shape[1])[None].T  # (m, 1): meant (1, m)
    return vectorised(W, a, b) * keep


def mutates_a(W, a, b):
    a += 1.0
    return vectorised(W, a - 1.0, b)


def float_index(W, a, b):
    return vectorised(W, a, b)[np.array([0.0, 1.0])]


def returns_list(W, a, b):
    return vectorised(W, a, b).tolist()


@pytest.mark.parametrize(
    ("func", "match"),
    [
        (no_bias, "b is missing"),
        (wrong_axis, "softmax over the wrong axis"),
        (no_softmax, "each column must sum to 1"),
        (returns_list, r"should be a NumPy array of shape \(n_out, m\)"),
    ],
)
def test_wrong_values_are_named(func, match):
    _fails(func, match)


def test_calling_the_forbidden_reference_is_an_integrity_error():
    _fails(
        calls_reference,
        "calls the reference implementation utils.activations.softmax",
        error=IntegrityError,
    )


def test_matmul_error_names_both_operands_and_sizes():
    with pytest.raises(AssertionError) as info:
        ex.check_dense_softmax(transposed)
    text = str(info.value)
    assert "A has 4 (= n_out) columns and B has 3 (= n_in) rows" in text
    assert "in vectorised, at `z = W @ a + b`" in text
    assert "(called from transposed" in text
    assert "(W (3, 4) @ a (3, 2))" in text  # the two clashing operands, with their shapes
    assert "Expected: W (n_out, n_in) = (4, 3), a (n_in, m) = (3, 2)" in text


def test_in_place_on_a_smaller_array_says_so_not_transposed():
    with pytest.raises(AssertionError, match=r"in-place operation .* shape \(4, 1\)") as info:
        ex.check_dense_softmax(in_place_on_bias)
    assert "transposed" not in str(info.value)


def test_a_result_of_the_wrong_rank_names_the_line_result_not_a_weight():
    with pytest.raises(AssertionError) as info:
        ex.check_dense_softmax(max_as_relu)
    text = str(info.value)
    assert "z has shape (2,), expected (n_out, m) = (4, 2)" in text
    assert "np.maximum(z, 0) is relu" in text
    assert "weight transposed" not in text


def test_a_broadcast_error_names_the_operands_and_suggests_axes():
    with pytest.raises(AssertionError) as info:
        ex.check_dense_softmax(mask_wrong_axis)
    text = str(info.value)
    assert "arrays of shapes (4, 2) and (2, 1) cannot be combined elementwise" in text
    assert "keep (2, 1)" in text
    assert "keepdims" in text
    assert "weight transposed" not in text


def test_a_float_array_used_as_index_is_explained():
    _fails(float_index, "a 0/1 float array cannot index")


def test_a_changed_argument_is_named():
    _fails(mutates_a, "changed its argument a in place; compute new arrays")


def test_a_shallow_copy_is_not_suggested_for_nested_lists():
    advice = harness._copy_advice([[1, 2], [3]])
    assert "shallow copy" in advice
    assert "still shares the inner lists" in advice


def test_failure_shows_the_message_not_the_checker_source():
    with pytest.raises(AssertionError) as info:
        ex.check_dense_softmax(no_bias)
    frames = traceback.extract_tb(info.value.__traceback__)
    ours = [f for f in frames if "/utils/" in f.filename.replace("\\", "/")]
    assert len(ours) == 1
    assert ours[0].name == "check_dense_softmax" == frames[-1].name
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def raises_own_error(W, a, b):
    raise RuntimeError("my own bug")


def test_the_student_own_error_keeps_the_student_frames_only():
    with pytest.raises(RuntimeError, match="my own bug") as info:
        ex.check_dense_softmax(raises_own_error)
    names = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert names[-2:] == ["check_dense_softmax", "raises_own_error"]


class Proxy:
    """Stands in for the sandboxed grader's proxy: records exactly what crosses."""

    def __init__(self, func, mutate=False):
        self.func, self.mutate, self.calls = func, mutate, []

    def __call__(self, *args, **kwargs):
        raise AssertionError("the runner must use __remote_call__, never call the proxy")

    def __remote_call__(self, args, kwargs, forbidden):
        self.calls.append((args, kwargs, forbidden))
        copied = tuple(np.array(a) for a in args)  # what the sandbox receives: copies
        result = self.func(*copied, **kwargs)
        if self.mutate:
            copied[1][0, 0] += 1.0
            return harness.Outcome(result, copied, kwargs)
        return result


def test_remote_proxy_is_called_with_plain_data_and_the_declared_forbidden_names():
    proxy = Proxy(vectorised)
    ex.check_dense_softmax(proxy)
    assert len(proxy.calls) == 4
    for args, kwargs, forbidden in proxy.calls:
        assert all(isinstance(a, np.ndarray) for a in args)
        assert kwargs == {}
        assert forbidden == ex.DENSE_SOFTMAX.forbidden


def test_remote_results_and_errors_are_judged_like_local_ones():
    with pytest.raises(AssertionError, match="b is missing"):
        ex.check_dense_softmax(Proxy(no_bias))
    with pytest.raises(RuntimeError, match="my own bug"):
        ex.check_dense_softmax(Proxy(raises_own_error))
    with pytest.raises(AssertionError, match="changed its argument a in place"):
        ex.check_dense_softmax(Proxy(vectorised, mutate=True))


def test_remote_error_explained_from_the_attached_plain_data():
    error = ValueError(
        "non-broadcastable output operand with shape (4,1) doesn't match the broadcast shape (4,2)"
    )
    error.student_trace = [("dense_softmax", "z += W @ a")]
    error.student_locals = {"z": (4, 1), "W": (4, 3)}
    case = ex.DENSE_SOFTMAX.cases(harness.rng_for(ex.DENSE_SOFTMAX, 0), 0)[0]
    text = harness.explain_error(ex.DENSE_SOFTMAX, case, error)
    assert "in dense_softmax, at `z += W @ a`" in text
    assert "W (4, 3)" in text


def test_a_function_with_a_remote_call_attribute_is_still_called_in_process():
    def sneaky(W, a, b):
        return activations.softmax(W @ a + b)

    sneaky.__remote_call__ = lambda args, kwargs, forbidden: vectorised(*args)
    with pytest.raises(IntegrityError):
        ex.check_dense_softmax(sneaky)


def test_seed_policy_is_one_generator_per_assignment_exercise_and_seed():
    a = harness.rng_for(ex.DENSE_SOFTMAX, 5).standard_normal(3)
    b = np.random.default_rng([0, 1, 5]).standard_normal(3)
    assert np.array_equal(a, b)
    sizes = {
        c.sizes["n_in"]
        for s in SEEDS
        for c in ex.DENSE_SOFTMAX.cases(harness.rng_for(ex.DENSE_SOFTMAX, s), s)
    }
    assert len(sizes) > 1  # hidden seeds draw other shapes


def test_forbidden_names_must_be_importable():
    assert harness.forbidden_objects(["utils.data.Vocabulary.encode"])[0].__name__ == "encode"
    with pytest.raises(ValueError, match="not an importable name"):
        harness.forbidden_objects(["nowhere.at_all"])
    with pytest.raises(AttributeError):
        harness.forbidden_objects(["utils.rnn.no_such_function"])


def test_messages_print_plain_values_not_numpy_reprs():
    from utils.checks import check_equal

    with pytest.raises(AssertionError) as info:
        check_equal("flag", np.False_, np.True_)
    assert "np." not in str(info.value)
    assert "False" in str(info.value)
