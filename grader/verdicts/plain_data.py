"""The only values that cross the sandbox boundary, and their exact encoding.

A student's function runs in the sandbox; its arguments go in and its result comes out as
*plain data*, so that no student object (with its own ``__eq__``, ``__sub__`` or
``__array_ufunc__``) ever reaches a check. Plain data is, exactly (subclasses refused):

- ``numpy.ndarray`` of a bool, integer, float or complex dtype (no object, string, structured
  or sub-array dtypes), and the NumPy scalars of those dtypes (``np.float64(0.5)``);
- ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str`` (a ``numpy.str_`` arrives as
  the ``str`` it holds);
- ``list``, ``tuple`` and ``dict`` of these (dict keys: ``str``, or ``int`` of at most 31
  bits; no other key can be sent, so a reply cannot make a dict's keys hash alike);
- ``numpy.random.Generator`` over ``PCG64`` (what ``np.random.default_rng`` makes), sent as its
  bit generator's state only, so a check can hand a student's ``sample(..., rng)`` its random
  numbers: the sandbox draws from a copy with the same state, and the state after the call is
  copied back (the caller's generator advances exactly as in one process);
- ``utils.data.Vocabulary`` (the course's class, exactly), sent as its token list only and
  rebuilt on the other side with the course's constructor (which checks the list): a student's
  ``sample(parameters, vocab, rng)`` gets a real vocabulary, and a vocabulary a student's
  function returns reaches the checks as one built here, never as the student's object;
- the course's cell caches (``typing.NamedTuple`` classes of ``utils``, exactly:
  :data:`COURSE_TUPLES`), sent as tuples: they arrive as plain tuples, which every check
  accepts (students build their caches as plain tuples).

:func:`encode` turns a value into JSON-ready lists (``["a", dtype, shape, base64]`` for an
array, ``["d", [[key, value], ...]]`` for a dict, ...) and raises :class:`NotPlainData` naming
the offending type and where it sits; :func:`decode` rebuilds the value and raises
:class:`MalformedData` on anything it did not produce. Neither side ever unpickles or
evaluates anything.

Both sides keep a *budget*: nesting depth (:data:`MAX_DEPTH`), items in one value
(:data:`MAX_ITEMS`), items in one list, tuple, dict or vocabulary (:data:`MAX_LENGTH`), bytes
of arrays, strings and long integers together (:data:`MAX_BYTES`), digits of one integer
(:data:`MAX_INT_DIGITS`) and the key types above. Encoding over budget is
:class:`NotPlainData`; decoding over budget is :class:`OverBudget` (a :class:`MalformedData`),
raised as soon as a limit is passed, so a forged reply costs the trusted side no more than
the budget to refuse.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from utils.data import Vocabulary
from utils.deep import StepCache
from utils.gru import GRUCache
from utils.lstm import LSTMCache
from utils.rnn import RNNCache

COURSE_TUPLES = (RNNCache, GRUCache, LSTMCache, StepCache)

MAX_DEPTH = 64
MAX_ITEMS = 1_000_000  # containers and scalars in one value
MAX_LENGTH = 500_000  # items of one list, tuple, dict or vocabulary (a play's characters fit)
MAX_BYTES = 32 * 1024 * 1024  # arrays, strings and long integers in one value
MAX_INT_DIGITS = 400  # decimal digits of one integer (a 128-bit state has 39)
KEY_INT_BITS = 31  # int dict keys lie in [-2**31, 2**31): small ints hash to themselves

# Exact NumPy scalar types of the allowed kinds (bool, signed, unsigned, float, complex).
_NUMPY_SCALARS = {np.dtype(code).type for code in "?bhilqBHILQefdgFDG"}
_ARRAY_KINDS = "biufc"
_BUILTIN_NAMES = {
    bool: "bool",
    int: "int",
    float: "float",
    complex: "complex",
    str: "str",
    list: "list",
    tuple: "tuple",
    dict: "dict",
}


class NotPlainData(TypeError):
    """A value that may not cross the sandbox boundary (the message says what and where)."""


class MalformedData(ValueError):
    """An encoded value that :func:`encode` cannot have produced (a protocol violation)."""


class OverBudget(MalformedData):
    """An encoded value over the decoder's budget (the message says which limit and by what);
    the caller fails the test that received it rather than the whole notebook."""


def _key_problem(key: Any) -> str | None:
    """Why ``key`` may not be a dict key that crosses (None: it may)."""
    kind = type(key)
    if kind is str:
        return None
    if kind is int and -(2**KEY_INT_BITS) <= key < 2**KEY_INT_BITS:
        return None
    if kind is int:
        return f"the integer key {str(key)[:40]} is outside [-2**{KEY_INT_BITS}, 2**{KEY_INT_BITS})"
    return f"a key is a {kind.__name__}; dict keys must be strings or small integers"


def _refusal(value: Any, where: str) -> NotPlainData:
    kind = type(value)
    name = kind.__name__
    if isinstance(value, np.ndarray):
        if kind is not np.ndarray:
            return NotPlainData(
                f"{where} is a {name} (a subclass of numpy.ndarray); return a NumPy array "
                "(np.asarray(...))"
            )
        return NotPlainData(
            f"{where} is a NumPy array of dtype {value.dtype}; return an array of numbers or "
            "booleans"
        )
    if isinstance(value, Vocabulary):
        return NotPlainData(
            f"{where} is a {name} (a subclass of utils.data.Vocabulary); return a "
            "utils.data.Vocabulary"
        )
    for base, base_name in _BUILTIN_NAMES.items():
        if isinstance(value, base):
            return NotPlainData(
                f"{where} is a {name} (a subclass of {base_name}); return a plain {base_name}"
            )
    if isinstance(value, np.generic):
        return NotPlainData(f"{where} is a NumPy {name}; return a number, bool or str")
    if "argument" in where:  # the checks' own inputs: a limit of the sandbox, said so
        return NotPlainData(
            f"{where} is a {name}, which cannot be sent into the grading sandbox (only NumPy "
            "arrays, numbers, strings, NumPy's default Generator, utils.data.Vocabulary, and "
            "lists, tuples and dicts of these can)"
        )
    return NotPlainData(
        f"{where} is a {name}; return NumPy arrays, numbers, strings, or lists, tuples and "
        "dicts of these"
    )


class _Budget:
    """What one value may hold; ``error`` is the exception raised when it is exceeded."""

    def __init__(self, error: type[Exception] = NotPlainData):
        self.items = 0
        self.bytes = 0
        self.error = error

    def take(self, items: int = 1, nbytes: int = 0) -> None:
        self.items += items
        self.bytes += nbytes
        if self.items > MAX_ITEMS:
            raise self.error(f"the value is over budget: more than {MAX_ITEMS} items")
        if self.bytes > MAX_BYTES:
            raise self.error(
                f"the value is over budget: more than {MAX_BYTES // 2**20} MiB of arrays, "
                "strings and integers"
            )

    def length(self, n: int, what: str) -> None:
        if n > MAX_LENGTH:
            raise self.error(
                f"the value is over budget: {what} of {n} items (the limit is {MAX_LENGTH})"
            )


def encode(value: Any, where: str = "the value") -> list:
    """The JSON-ready form of a plain value; :class:`NotPlainData` for anything else."""
    return _encode(value, where, 0, _Budget())


def _encode(value: Any, where: str, depth: int, budget: _Budget) -> list:
    if depth > MAX_DEPTH:
        raise NotPlainData(f"{where} is nested more than {MAX_DEPTH} levels deep")
    budget.take()
    kind = type(value)
    if value is None:
        return ["n"]
    if kind is bool:
        return ["b", value]
    if kind is int:
        if abs(value) < 2**63:
            return ["i", value]
        digits = str(value) if value.bit_length() < 4 * MAX_INT_DIGITS else ""
        if not digits or len(digits.lstrip("-")) > MAX_INT_DIGITS:
            raise NotPlainData(f"{where} is an integer of more than {MAX_INT_DIGITS} digits")
        budget.take(0, len(digits))
        return ["i", digits]
    if kind is float:
        return ["f", _float(value)]
    if kind is complex:
        return ["c", _float(value.real), _float(value.imag)]
    if kind is str:
        budget.take(0, len(value))
        return ["s", value]
    if kind is np.str_:  # what NumPy gives for the items of a string array: plain text
        budget.take(0, len(value))
        return ["s", str(value)]
    if kind is np.ndarray:
        if value.dtype.kind not in _ARRAY_KINDS or value.dtype.fields or value.dtype.subdtype:
            raise _refusal(value, where)
        data = np.ascontiguousarray(value).tobytes()
        budget.take(0, len(data))
        return ["a", value.dtype.str, list(value.shape), base64.b64encode(data).decode("ascii")]
    if kind in _NUMPY_SCALARS:
        return ["g", value.dtype.str, base64.b64encode(value.tobytes()).decode("ascii")]
    if kind is np.random.Generator and type(value.bit_generator) is np.random.PCG64:
        state = value.bit_generator.state["state"]
        has_uint32, uinteger = (
            value.bit_generator.state["has_uint32"],
            value.bit_generator.state["uinteger"],
        )
        return ["r", str(state["state"]), str(state["inc"]), int(has_uint32), int(uinteger)]
    if kind is Vocabulary:
        tokens = _vocabulary_tokens(value, where)
        budget.length(len(tokens), f"{where}, a vocabulary")
        budget.take(len(tokens), sum(map(len, tokens)))
        return ["v", tokens]
    if kind is list or kind is tuple or kind in COURSE_TUPLES:
        budget.length(len(value), f"{where}, a {kind.__name__}")
        items = [_encode(v, f"{where}[{i}]", depth + 1, budget) for i, v in enumerate(value)]
        return ["l" if kind is list else "t", items]
    if kind is dict:
        budget.length(len(value), f"{where}, a dict")
        pairs = []
        for key, item in value.items():
            problem = _key_problem(key)
            if problem:
                raise NotPlainData(f"{where} cannot be sent: {problem}")
            label = f"{where}[{key!r:.40}]" if type(key) in (str, int) else f"a key of {where}"
            pairs.append(
                [
                    _encode(key, f"a key of {where}", depth + 1, budget),
                    _encode(item, label, depth + 1, budget),
                ]
            )
        return ["d", pairs]
    raise _refusal(value, where)


def _vocabulary_tokens(vocab: Vocabulary, where: str) -> list[str]:
    """The token list that rebuilds ``vocab``, or :class:`NotPlainData` if it does not: the
    list must hold plain strings, map to exactly the ids of ``token_to_id`` and be a valid
    vocabulary."""
    state = vars(vocab)
    tokens, mapping = state.get("id_to_token"), state.get("token_to_id")
    if type(tokens) is not list or not all(type(t) is str for t in tokens):
        raise NotPlainData(f"{where} is a Vocabulary whose id_to_token is not a list of str")
    if type(mapping) is not dict or mapping != {t: i for i, t in enumerate(tokens)}:
        raise NotPlainData(
            f"{where} is a Vocabulary whose token_to_id does not match its id_to_token "
            "(leave a Vocabulary as it is, or build a new one with utils.data.Vocabulary(tokens))"
        )
    try:
        Vocabulary(tokens)
    except ValueError as error:
        raise NotPlainData(f"{where} is not a valid Vocabulary: {error}") from None
    return list(tokens)


def _float(x: float):
    return x if math.isfinite(x) else repr(x)  # "nan", "inf", "-inf"


def _unfloat(x) -> float:
    if type(x) in (int, float):
        return float(x)
    if x in ("nan", "inf", "-inf"):
        return float(x)
    raise MalformedData(f"not a float: {x!r:.40}")


def decode(data: Any) -> Any:
    """The value :func:`encode` encoded; :class:`OverBudget` for a value over the budget,
    :class:`MalformedData` for anything else :func:`encode` cannot have produced."""
    return _decode(data, 0, _Budget(OverBudget))


def _dtype(text: Any) -> np.dtype:
    if type(text) is not str or len(text) > 8:
        raise MalformedData(f"not a dtype: {text!r:.40}")
    try:
        dtype = np.dtype(text)
    except TypeError as error:
        raise MalformedData(f"not a dtype: {text!r:.40}") from error
    if dtype.kind not in _ARRAY_KINDS or dtype.fields or dtype.subdtype:
        raise MalformedData(f"dtype {dtype} is not plain")
    return dtype


def _bytes(text: Any) -> bytes:
    if type(text) is not str:
        raise MalformedData("array data is not base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise MalformedData("array data is not base64 text") from error


def _decoded_key(data: Any) -> str | int:
    """A dict key, checked on its encoded form before anything is built from it."""
    if type(data) is list and len(data) == 2 and data[0] == "s" and type(data[1]) is str:
        return data[1]
    if type(data) is list and len(data) == 2 and data[0] == "i" and type(data[1]) is int:
        if _key_problem(data[1]) is None:
            return data[1]
        raise OverBudget(f"the value is over budget: {_key_problem(data[1])}")
    if type(data) is list and data and data[0] == "i":
        raise OverBudget(
            f"the value is over budget: an integer dict key outside [-2**{KEY_INT_BITS}, "
            f"2**{KEY_INT_BITS})"
        )
    kind = {"n": "None", "b": "bool", "f": "float", "c": "complex", "t": "tuple"}.get(
        data[0] if type(data) is list and data and type(data[0]) is str else "", "non-key value"
    )
    raise OverBudget(
        f"the value is over budget: a dict key is a {kind}; keys must be strings or small integers"
    )


def _decode(data: Any, depth: int, budget: _Budget) -> Any:
    if depth > MAX_DEPTH:
        raise OverBudget(f"the value is over budget: nested more than {MAX_DEPTH} levels deep")
    budget.take()
    if type(data) is not list or not data or type(data[0]) is not str:
        raise MalformedData(f"not an encoded value: {data!r:.60}")
    tag, rest = data[0], data[1:]
    try:
        if tag == "n" and not rest:
            return None
        if tag == "b" and len(rest) == 1 and type(rest[0]) is bool:
            return rest[0]
        if tag == "i" and len(rest) == 1 and type(rest[0]) is int:
            return rest[0]
        if tag == "i" and len(rest) == 1 and type(rest[0]) is str:
            digits = rest[0]
            if len(digits) > MAX_INT_DIGITS + 1:
                raise OverBudget(
                    f"the value is over budget: an integer of more than {MAX_INT_DIGITS} digits"
                )
            budget.take(0, len(digits))
            return int(digits)
        if tag == "f" and len(rest) == 1:
            return _unfloat(rest[0])
        if tag == "c" and len(rest) == 2:
            return complex(_unfloat(rest[0]), _unfloat(rest[1]))
        if tag == "s" and len(rest) == 1 and type(rest[0]) is str:
            budget.take(0, len(rest[0]))
            return rest[0]
        if tag == "a" and len(rest) == 3:
            dtype, shape, raw = _dtype(rest[0]), rest[1], _bytes(rest[2])
            if type(shape) is not list or len(shape) > MAX_DEPTH:
                raise MalformedData("array shape is not a list of sizes")
            if not all(type(n) is int and n >= 0 for n in shape):
                raise MalformedData("array shape is not a list of sizes")
            if len(raw) != dtype.itemsize * math.prod(shape):
                raise MalformedData("array data does not match its shape")
            budget.take(0, len(raw))
            return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if tag == "g" and len(rest) == 2:
            dtype, raw = _dtype(rest[0]), _bytes(rest[1])
            if len(raw) != dtype.itemsize:
                raise MalformedData("scalar data does not match its dtype")
            return np.frombuffer(raw, dtype=dtype)[0]
        if tag == "r" and len(rest) == 4:
            return _generator(*rest)
        if tag == "v" and len(rest) == 1 and type(rest[0]) is list:
            budget.length(len(rest[0]), "a vocabulary")
            if not all(type(t) is str for t in rest[0]):
                raise MalformedData("a vocabulary's tokens are not all strings")
            budget.take(len(rest[0]), sum(map(len, rest[0])))
            return Vocabulary(rest[0])  # the course's constructor checks the list
        if tag in ("l", "t") and len(rest) == 1 and type(rest[0]) is list:
            budget.length(len(rest[0]), "a list" if tag == "l" else "a tuple")
            items = [_decode(v, depth + 1, budget) for v in rest[0]]
            return items if tag == "l" else tuple(items)
        if tag == "d" and len(rest) == 1 and type(rest[0]) is list:
            budget.length(len(rest[0]), "a dict")
            out = {}
            for pair in rest[0]:
                if type(pair) is not list or len(pair) != 2:
                    raise MalformedData("a dict entry is not a [key, value] pair")
                key = _decoded_key(pair[0])
                budget.take(1, len(key) if type(key) is str else 0)
                if key in out:
                    raise MalformedData(f"a dict repeats the key {key!r:.40}")
                out[key] = _decode(pair[1], depth + 1, budget)
            return out
    except (TypeError, ValueError, OverflowError) as error:
        if isinstance(error, MalformedData):
            raise
        raise MalformedData(f"bad {tag!r} value: {error}") from None
    raise MalformedData(f"not an encoded value: {data!r:.60}")


def _generator(state: Any, inc: Any, has_uint32: Any, uinteger: Any) -> np.random.Generator:
    """A fresh PCG64 generator in the given state (every field checked: no other input)."""
    words = (state, inc)
    if not all(type(w) is str and w.isdigit() and len(w) <= 40 for w in words):
        raise MalformedData("generator state is not two decimal integers")
    if type(has_uint32) is not int or has_uint32 not in (0, 1):
        raise MalformedData("generator has_uint32 is not 0 or 1")
    if type(uinteger) is not int or not 0 <= uinteger < 2**32:
        raise MalformedData("generator uinteger is not a 32-bit unsigned integer")
    if not all(int(w) < 2**128 for w in words):
        raise MalformedData("generator state is not a 128-bit integer")
    bit_generator = np.random.PCG64()
    bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": int(state), "inc": int(inc)},
        "has_uint32": has_uint32,
        "uinteger": uinteger,
    }
    return np.random.Generator(bit_generator)


def same_value(a: Any, b: Any) -> bool:
    """Plain values equal in type, shape, dtype and content (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if type(a) is np.ndarray:
        return (
            a.shape == b.shape
            and a.dtype == b.dtype
            and bool(((a == b) | ((a != a) & (b != b))).all())
        )
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is float and math.isnan(a):
        return math.isnan(b)
    if type(a) is np.random.Generator:
        return encode(a) == encode(b)
    return bool(a == b)


def copy_into(target: Any, value: Any) -> Any:
    """Make ``target`` equal to ``value`` in place where it is mutable (arrays, lists, dicts,
    recursively), so that a call in the sandbox changes the caller's arguments as a call in
    the same process would. Returns the object the caller should now hold."""
    if type(target) is np.ndarray and type(value) is np.ndarray:
        if target.shape == value.shape and target.dtype == value.dtype and target.flags.writeable:
            target[...] = value
            return target
        return value
    if type(target) is np.random.Generator and type(value) is np.random.Generator:
        target.bit_generator.state = value.bit_generator.state  # it drew in the sandbox
        return target
    if type(target) is Vocabulary and type(value) is Vocabulary:
        if target.id_to_token != value.id_to_token:  # changed in the sandbox: show it here
            target.id_to_token[:] = value.id_to_token
            target.token_to_id.clear()
            target.token_to_id.update(value.token_to_id)
        return target
    if type(target) is list and type(value) is list:
        if len(target) == len(value):
            for i, item in enumerate(value):
                target[i] = copy_into(target[i], item)
        else:
            target[:] = value
        return target
    if type(target) is dict and type(value) is dict:
        for key in [k for k in target if k not in value]:
            del target[key]
        for key, item in value.items():
            target[key] = copy_into(target[key], item) if key in target else item
        return target
    tuple_like = type(target) is tuple or type(target) in COURSE_TUPLES
    if tuple_like and type(value) is tuple and len(target) == len(value):
        for old, new in zip(target, value, strict=True):
            copy_into(old, new)  # a tuple cannot change, its mutable items can
        return target
    return target
