"""Unit tests for utils.checks: messages that name the problem, and tamper detection."""

import builtins

import numpy as np
import pytest

from utils import checks, data
from utils.checks import IntegrityError


@pytest.fixture(autouse=True)
def _fresh_baseline():
    checks.seal()
    yield
    checks.seal()


def test_check_shape_names_tensor_and_symbolic_shape():
    with pytest.raises(AssertionError, match=r"a_next has shape \(3, 5\), expected \(n_a, m\)"):
        checks.check_shape("a_next", np.zeros((3, 5)), (5, 3), names="(n_a, m)")
    with pytest.raises(AssertionError, match="transposed"):
        checks.check_shape("W", np.zeros((3, 5)), (5, 3))
    with pytest.raises(AssertionError, match="should be a NumPy array"):
        checks.check_shape("x", [1, 2], (2,))
    checks.check_shape("x", np.zeros((2, 1)), (2, 1))


def test_check_close_reports_first_mismatch_and_hint():
    expected = np.arange(6.0).reshape(2, 3)
    got = expected.copy()
    got[1, 2] += 0.5
    with pytest.raises(AssertionError) as info:
        checks.check_close("y_hat", got, expected, hint="softmax over the wrong axis?")
    message = str(info.value)
    assert "y_hat is wrong at index (1, 2)" in message
    assert "expected 5, got 5.5" in message
    assert "1 of 6 entries differ" in message
    assert message.endswith("softmax over the wrong axis?")
    checks.check_close("y_hat", expected + 1e-12, expected)


def test_check_close_rejects_nan_and_non_numbers():
    with pytest.raises(AssertionError, match="non-finite"):
        checks.check_close("a", np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(AssertionError, match="should hold numbers"):
        checks.check_close("a", np.array(["x"]), np.array([1.0]))


def test_check_close_accepts_float32_within_tolerance():
    expected = np.linspace(-1, 1, 7)
    checks.check_close("a", expected.astype(np.float32), expected, rtol=1e-6, atol=1e-7)


def test_check_equal_lists_and_kinds():
    checks.check_equal("ids", [np.int64(3), 1], [3, 1])
    checks.check_equal("tokens", [np.str_("a")], ["a"])
    with pytest.raises(AssertionError, match=r"ids\[1\] is 2, expected 1"):
        checks.check_equal("ids", [3, 2], [3, 1])
    with pytest.raises(AssertionError, match=r"has length 1, expected 2\. hint"):
        checks.check_equal("ids", [3], [3, 1], hint="hint")
    with pytest.raises(AssertionError, match=r"flags\[0\] is True, expected 1"):
        checks.check_equal("flags", [True], [1])
    with pytest.raises(AssertionError, match="should be a list, got tuple"):
        checks.check_equal("ids", (3,), [3])
    with pytest.raises(AssertionError, match=r"mask is wrong at index \(0, 1\)"):
        checks.check_equal("mask", np.array([[True, True]]), np.array([[True, False]]))


def test_check_type_and_dtype():
    with pytest.raises(AssertionError, match="should be a list, got str"):
        checks.check_type("tokens", "abc", list)
    with pytest.raises(AssertionError, match="should hold bool values, got dtype float64"):
        checks.check_dtype("mask", np.zeros(2), "bool")


def test_check_not_mutated_catches_in_place_changes():
    def scale_in_place(x):
        x *= 2
        return x

    with pytest.raises(AssertionError, match="changed its argument #1 in place"):
        checks.check_not_mutated(scale_in_place, np.ones(3))

    def appends(tokens, table):
        tokens.append("<EOS>")
        return tokens

    with pytest.raises(AssertionError, match="argument #1"):
        checks.check_not_mutated(appends, ["a"], {"a": 1})

    def fills_dict(tokens, table):
        table["new"] = 5
        return tokens

    with pytest.raises(AssertionError, match="argument #2"):
        checks.check_not_mutated(fills_dict, ["a"], {"a": 1})
    assert checks.check_not_mutated(lambda x: x + 1, np.ones(2)).tolist() == [2.0, 2.0]


def test_guarded_call_returns_result_and_propagates_student_errors():
    assert checks.guarded_call(lambda a, b=1: a + b, 1, b=2) == 3

    def broken(_):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.guarded_call(broken, 1)
    with pytest.raises(AssertionError, match="is not a function"):
        checks.guarded_call(None, 1)


def _patches_allclose(x):
    np.allclose = lambda *args, **kwargs: True
    return x


def _patches_check_close(x):
    checks.check_close = lambda *args, **kwargs: None
    return x


def _swaps_code(x):
    checks.check_equal.__code__ = (lambda *args, **kwargs: None).__code__
    return x


def _patches_builtin(x):
    builtins.round = lambda *args: 0
    return x


@pytest.mark.parametrize(
    ("attack", "target", "attribute", "named"),
    [
        (_patches_allclose, np, "allclose", "numpy.allclose"),
        (_patches_check_close, checks, "check_close", "utils.checks.check_close"),
        (_patches_builtin, builtins, "round", "builtins.round"),
    ],
)
def test_guarded_call_detects_monkeypatching(attack, target, attribute, named):
    original = getattr(target, attribute)
    try:
        with pytest.raises(IntegrityError, match=named):
            checks.guarded_call(attack, 1)
    finally:
        setattr(target, attribute, original)


def test_guarded_call_detects_swapped_code_object():
    original = checks.check_equal.__code__
    try:
        with pytest.raises(IntegrityError, match=r"utils\.checks\.check_equal"):
            checks.guarded_call(_swaps_code, 1)
    finally:
        checks.check_equal.__code__ = original


def test_tampering_before_the_call_is_reported_too():
    original = np.array_equal
    np.array_equal = lambda *args, **kwargs: True
    try:
        with pytest.raises(IntegrityError, match="code run before"):
            checks.guarded_call(lambda x: x, 1)
    finally:
        np.array_equal = original


def test_forbidden_reference_is_caught_even_through_an_alias():
    from utils.data import one_hot as my_one_hot  # an alias does not hide the code object

    with pytest.raises(IntegrityError, match=r"calls the reference implementation utils\.data"):
        checks.guarded_call(lambda ids, n: my_one_hot(ids, n), [1], 2, forbid=[data.one_hot])
    # Methods (and classmethods) of a forbidden class are covered too.
    with pytest.raises(IntegrityError, match=r"Vocabulary\.from_corpus"):
        checks.guarded_call(
            lambda c: data.Vocabulary.from_corpus(c).id_to_token, [["a"]], forbid=[data.Vocabulary]
        )
    # Other utils functions stay allowed.
    x = checks.guarded_call(lambda ids: data.pad_sequences(ids), [[1]], forbid=[data.one_hot])
    assert x[0].tolist() == [[1]]


def test_unhooking_the_profiler_is_caught():
    import sys

    def unhooks(x):
        sys.setprofile(None)
        return x

    with pytest.raises(IntegrityError, match="profile hook"):
        checks.guarded_call(unhooks, 1, forbid=[data.one_hot])
