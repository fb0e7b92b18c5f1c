"""The plain-data codec: exact round trips, clear refusals, and nothing it did not produce."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from grader.verdicts import plain_data
from grader.verdicts.plain_data import MalformedData, NotPlainData, OverBudget, decode, encode
from utils.data import Vocabulary


def _round_trip(value):
    return decode(json.loads(json.dumps(encode(value))))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**70),
        1.5,
        float("inf"),
        complex(1, -2),
        "héllo",
        [1, "a", None],
        (1, (2.0, [3])),
        {"a": 1, 2: "b", -(2**31): [3.0], 2**31 - 1: ()},
        np.float64(0.25),
        np.int32(-7),
        np.bool_(True),
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([[True, False]]),
        np.zeros((0, 3), dtype=np.int64),
        np.arange(6, dtype=np.uint8)[::2],  # not contiguous
        {"Waa": np.ones((2, 2)), "cache": (np.zeros(3), "tanh")},
    ],
)
def test_round_trip_is_exact(value):
    back = _round_trip(value)
    assert plain_data.same_value(back, value)
    assert type(back) is type(value)


def test_numpy_strings_arrive_as_str():
    back = _round_trip([np.str_("a")])
    assert back == ["a"]
    assert type(back[0]) is str


def test_nan_round_trips():
    back = _round_trip([float("nan"), np.array([np.nan, 1.0])])
    assert np.isnan(back[0])
    assert np.isnan(back[1][0])


class MyArray(np.ndarray):
    pass


class MyStr(str):
    pass


class MyInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (np.zeros(3).view(MyArray), "the result is a MyArray (a subclass of numpy.ndarray)"),
        (MyStr("x"), "the result is a MyStr (a subclass of str); return a plain str"),
        (MyInt(3), "the result is a MyInt (a subclass of int)"),
        (np.array([object()]), "the result is a NumPy array of dtype object"),
        (np.array(["a"]), "NumPy array of dtype <U1"),
        (np.zeros(2, dtype=[("x", "f8")]), "NumPy array of dtype"),
        (lambda: 1, "the result is a function"),
        ({"k": {1, 2}}, "the result['k'] is a set"),
        ([1, [2, MyStr("y")]], "the result[1][1] is a MyStr"),
        (np.datetime64("2020-01-01"), "the result is a NumPy datetime64"),
    ],
)
def test_anything_else_is_refused_naming_type_and_place(value, words):
    with pytest.raises(NotPlainData) as info:
        encode(value, "the result")
    assert words in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        "x",
        ["x"],
        ["i", 1.5],
        ["b", 1],
        ["a", "|O", [1], "AAAA"],
        ["a", "<f8", [2], "AAAA"],  # wrong length
        ["a", "<f8", [-1], ""],
        ["a", "<f8", [1], "!!!"],
        ["g", "<f8", "AA=="],
        ["d", [["s", "k"]]],
        ["d", [[["l", []], ["n"]]]],  # unhashable key
        ["l", [["n"], ["q"]]],
        ["f", "1e5"],
        ["r", "1", "2", 0],  # a field missing
        ["r", "-1", "2", 0, 0],
        ["r", "1", str(2**128), 0, 0],
        ["r", "1", "2", 2, 0],
        ["r", "1", "2", 0, 2**32],
    ],
)
def test_decode_refuses_what_encode_cannot_produce(data):
    with pytest.raises(MalformedData):
        decode(data)


def test_decoded_arrays_are_fresh_and_writable():
    a = decode(encode(np.arange(3.0)))
    a[0] = 5.0
    assert a.flags.writeable
    assert a[0] == 5.0


def test_copy_into_mirrors_in_place_changes():
    x = np.zeros(3)
    params = {"W": np.ones((2, 2)), "b": [1, 2]}
    plain_data.copy_into(x, np.array([1.0, 2.0, 3.0]))
    plain_data.copy_into(params, {"W": np.full((2, 2), 2.0), "b": [1, 2, 3], "new": 1})
    assert x.tolist() == [1.0, 2.0, 3.0]
    assert params["W"][0, 0] == 2.0
    assert params["b"] == [1, 2, 3]
    assert params["new"] == 1


def test_course_caches_cross_as_plain_tuples_and_mirror_changes():
    from utils import deep, lstm, rnn

    a = np.zeros((2, 1))
    cache = rnn.RNNCache(a, a.copy(), np.ones((3, 1)), {"Waa": np.eye(2)}, "tanh")
    value = [deep.StepCache("rnn", cache), lstm.LSTMCache(*range(10), False)]
    got = decode(encode(value))
    assert type(got[0]) is tuple
    assert type(got[0][1]) is tuple
    assert type(got[1]) is tuple
    assert plain_data.same_value(got[0][1], tuple(cache))
    changed = decode(encode(cache))
    changed[0][0, 0] = 7.0  # what the sandbox sends back when a function wrote into a_next
    plain_data.copy_into(cache, changed)
    assert cache.a_next[0, 0] == 7.0


def test_generator_crosses_as_its_state_and_advances_the_callers():
    """A check may hand the student's sample(..., rng) its generator: the sandbox side draws
    from a copy in the same state, and copying the state back advances the caller's generator
    exactly as a call in one process would."""
    caller, twin = np.random.default_rng(7), np.random.default_rng(7)
    inside = decode(encode(caller))
    assert type(inside) is np.random.Generator
    assert inside is not caller
    assert inside.random(5).tolist() == twin.random(5).tolist()
    assert plain_data.copy_into(caller, decode(encode(inside))) is caller
    assert caller.random(3).tolist() == twin.random(3).tolist()
    assert plain_data.same_value(caller, decode(encode(caller)))


def test_only_the_default_generator_crosses():
    with pytest.raises(NotPlainData, match="Generator"):
        encode(np.random.Generator(np.random.MT19937(0)), "argument rng")
    with pytest.raises(NotPlainData, match="RandomState"):
        encode(np.random.RandomState(0), "argument rng")


class HostileVocabulary(Vocabulary):
    def __eq__(self, other):
        return True

    __hash__ = None


def test_a_vocabulary_crosses_as_its_tokens_and_is_rebuilt_by_the_course():
    """sample(parameters, vocab, rng) is given a real Vocabulary in the sandbox, and one that
    comes back is built on this side from its token list (never the student's object)."""
    vocab = Vocabulary.from_corpus([list("anna"), list("bob")])
    data = json.loads(json.dumps(encode({"vocab": vocab})))
    assert data == ["d", [[["s", "vocab"], ["v", ["<UNK>", "<EOS>", "a", "b", "n", "o"]]]]]
    back = decode(data)["vocab"]
    assert type(back) is Vocabulary
    assert back is not vocab
    assert back == vocab
    assert back.token_to_id == vocab.token_to_id
    assert back.encode(list("nab")) == vocab.encode(list("nab"))
    assert plain_data.same_value(back, vocab)
    assert not plain_data.same_value(back, Vocabulary(["<UNK>", "<EOS>", "a"]))


def test_a_changed_vocabulary_is_mirrored_onto_the_callers():
    caller = Vocabulary(["<UNK>", "<EOS>", "a"])
    inside = decode(encode(caller))
    inside.id_to_token.append("b")
    inside.token_to_id["b"] = 3
    assert plain_data.copy_into(caller, decode(encode(inside))) is caller
    assert caller.id_to_token == ["<UNK>", "<EOS>", "a", "b"]
    assert caller.encode(["b"]) == [3, 1]


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        (lambda v: v.token_to_id.update(a=5), "token_to_id does not match its id_to_token"),
        (lambda v: v.id_to_token.append("a"), "token_to_id does not match"),
        (lambda v: setattr(v, "id_to_token", ("<UNK>", "<EOS>", "a")), "not a list of str"),
        (lambda v: v.id_to_token.__setitem__(2, MyStr("a")), "not a list of str"),
        (lambda v: vars(v).pop("id_to_token"), "not a list of str"),
        (
            lambda v: (v.id_to_token.reverse(), v.token_to_id.update({"a": 0, "<UNK>": 2})),
            "not a valid Vocabulary: a Vocabulary must start with",
        ),
    ],
)
def test_a_vocabulary_that_its_tokens_do_not_rebuild_is_refused(tamper, words):
    vocab = Vocabulary(["<UNK>", "<EOS>", "a"])
    tamper(vocab)
    with pytest.raises(NotPlainData, match="the result") as info:
        encode(vocab, "the result")
    assert words in str(info.value)


def test_a_vocabulary_subclass_is_refused_by_name():
    hostile = HostileVocabulary(["<UNK>", "<EOS>", "a"])
    with pytest.raises(NotPlainData) as info:
        encode([hostile], "the result")
    assert str(info.value) == (
        "the result[0] is a HostileVocabulary (a subclass of utils.data.Vocabulary); return a "
        "utils.data.Vocabulary"
    )


@pytest.mark.parametrize(
    "data",
    [
        ["v", [["s", "<UNK>"]]],  # tokens are bare strings, not encoded values
        ["v", ["<UNK>", "<EOS>", 3]],
        ["v", ["<EOS>", "<UNK>"]],  # the course's constructor refuses it
        ["v", ["<UNK>", "<EOS>", "a", "a"]],
        ["v", "<UNK><EOS>"],
        ["v", ["<UNK>", "<EOS>"], ["a"]],
    ],
)
def test_decode_rebuilds_only_valid_vocabularies(data):
    with pytest.raises(MalformedData):
        decode(data)


# --- the decoder's budget (issue 21) ---------------------------------------------------------

COLLIDING = 2**61 - 1  # every multiple of it hashes to 0: a dict of them is quadratic to build


def _colliding_reply(n: int = 40_000) -> list:
    """A reply a student's own test child could forge: a dict whose integer keys all hash
    alike, as JSON would deliver it."""
    return json.loads(json.dumps(["d", [[["i", k * COLLIDING], ["n"]] for k in range(1, n + 1)]]))


def test_hash_colliding_keys_are_refused_fast():
    assert len({hash(k * COLLIDING) for k in range(1, 100)}) == 1  # they do collide
    reply = _colliding_reply()
    start = time.perf_counter()
    with pytest.raises(OverBudget) as info:
        decode(reply)
    assert time.perf_counter() - start < 0.1
    assert "integer key 2305843009213693951 is outside [-2**31, 2**31)" in str(info.value)


def test_small_colliding_looking_keys_are_fine_and_fast():
    """Small ints hash to themselves (no two alike), strings hash with the process's secret
    seed: the keys the budget allows cannot be made to collide."""
    reply = json.loads(json.dumps(encode({k: k for k in range(-40_000, 40_000)})))
    start = time.perf_counter()
    back = decode(reply)
    assert len(back) == 80_000
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (["d", [[["t", [["i", 1]]], ["n"]]]], "a dict key is a tuple"),
        (["d", [[["f", 1.5], ["n"]]]], "a dict key is a float"),
        (["d", [[["b", True], ["n"]]]], "a dict key is a bool"),
        (["d", [[["n"], ["n"]]]], "a dict key is a None"),
        (["d", [[["i", str(2**70)], ["n"]]]], "integer dict key outside [-2**31, 2**31)"),
        (["l", [["n"]] * (plain_data.MAX_LENGTH + 1)], "a list of 500001 items"),
        (["t", [["n"]] * (plain_data.MAX_LENGTH + 1)], "a tuple of 500001 items"),
        (["v", ["a"] * (plain_data.MAX_LENGTH + 1)], "a vocabulary of 500001 items"),
        (["i", "9" * 5000], "an integer of more than 400 digits"),
        (["s", "x" * (plain_data.MAX_BYTES + 1)], "more than 32 MiB"),
        (["l", [["s", "x" * 2**20]] * 40], "more than 32 MiB"),
        (["l", [["l", [["n"]] * 400_000]] * 3], "more than 1000000 items"),
    ],
)
def test_decoding_over_budget_names_the_limit(data, words):
    with pytest.raises(OverBudget) as info:
        decode(data)
    assert words in str(info.value)
    assert str(info.value).startswith("the value is over budget: ")


def test_nesting_over_budget():
    data = ["n"]
    for _ in range(plain_data.MAX_DEPTH + 2):
        data = ["l", [data]]
    with pytest.raises(OverBudget, match="nested more than 64 levels deep"):
        decode(data)
    assert issubclass(OverBudget, MalformedData)


def test_repeated_keys_are_malformed():
    with pytest.raises(MalformedData, match="repeats the key"):
        decode(["d", [[["s", "a"], ["n"]], [["s", "a"], ["n"]]]])


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({(1, 2): 3}, "a key is a tuple; dict keys must be strings or small integers"),
        ({2**40: 1}, "the integer key 1099511627776 is outside"),
        ({1.5: 1}, "a key is a float"),
        ([0] * (plain_data.MAX_LENGTH + 1), "a list of 500001 items"),
        (10**500, "an integer of more than 400 digits"),
    ],
)
def test_encoding_refuses_what_decoding_would(value, words):
    with pytest.raises(NotPlainData) as info:
        encode(value, "the result")
    assert words in str(info.value)
