"""Helpers for the notebooks' test cells: checks whose messages name the problem.

Every helper raises ``AssertionError`` with a message that says *which* value is wrong, what
was expected and what came back (and, for arrays, the first mismatching index). None of them
prints and carries on, and none hides the real error behind a canned message.

Student code is called through :func:`guarded_call`, which

- refuses to let the call tamper with the checking machinery: any change to ``numpy``,
  ``builtins``, ``math`` or any ``utils`` module (a replaced function, a swapped ``__code__``)
  is reported as an :class:`IntegrityError`;
- can forbid calling a reference implementation from ``utils`` (detected through the code
  object that runs, so ``from utils.data import one_hot as f`` is caught too).

The baseline for the tamper check is taken when this module is first imported (``seal``); the
course grader imports it, seals it and only then defines the student's functions.
"""

from __future__ import annotations

import copy
import math
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "IntegrityError",
    "check_close",
    "check_dtype",
    "check_equal",
    "check_finite",
    "check_not_mutated",
    "check_shape",
    "check_type",
    "guarded_call",
    "plain",
    "same_value",
    "seal",
    "verify_integrity",
]

# Private references taken at import, so that the checks keep working on the real thing even
# if a name in ``numpy`` is replaced later (the replacement is also reported, see below).
_asarray = np.asarray
_isfinite = np.isfinite
_abs = np.abs
_argwhere = np.argwhere
_issubdtype = np.issubdtype
_floating = np.floating
_ndarray = np.ndarray


class IntegrityError(AssertionError):
    """The code under test changed the environment the checks rely on, or called a reference
    implementation it was asked to write itself."""


class ReferenceUnavailable(IntegrityError):
    """Raised by a reference implementation that grading has made absent (the sandbox gives
    every reference an exercise forbids code that raises this, see
    ``grader.verdicts.student_calls``)."""

    def __init__(self, reference: str):
        super().__init__(f"{reference} is not available to your code when grading")
        self.reference = reference


# --------------------------------------------------------------------------------------------
# Tamper detection
# --------------------------------------------------------------------------------------------

_PROTECTED_PREFIXES = ("numpy", "utils")
_PROTECTED_EXACT = ("builtins", "math", "copy", "types")
_getprofile = sys.getprofile
_setprofile = sys.setprofile


@dataclass
class _ModuleState:
    """A protected module as sealed: every attribute (compared by identity, so that no id can
    be reused), and what could change while an attribute stays the same object: a function's
    code and defaults, the members of a ``utils`` class."""

    values: dict[str, Any]
    functions: list[tuple[str, types.FunctionType, types.CodeType, Any, Any]]
    classes: list[tuple[str, type, dict[str, Any]]]


_baseline: dict[str, _ModuleState] = {}
_MISSING = object()

# Names that IPython and ipykernel legitimately swap around each cell they execute.
_VOLATILE_BUILTINS = frozenset(
    {"input", "raw_input", "_", "__", "___", "exit", "quit", "get_ipython", "display", "help"}
)


def _module_state(module: types.ModuleType) -> _ModuleState:
    skip = _VOLATILE_BUILTINS if module.__name__ == "builtins" else ()
    state = _ModuleState({}, [], [])
    for name, value in list(vars(module).items()):
        if name in skip:
            continue
        state.values[name] = value
        if isinstance(value, types.FunctionType):
            state.functions.append(
                (name, value, value.__code__, value.__defaults__, value.__kwdefaults__)
            )
        elif isinstance(value, type) and str(value.__module__).startswith("utils"):
            state.classes.append((name, value, dict(vars(value))))
    return state


def _changed(state: _ModuleState, module: types.ModuleType) -> list[str]:
    """The attributes of ``module`` replaced, deleted or changed inside since ``state``. (This
    runs before and after every call of a student's function: identity checks only.)"""
    now = vars(module)
    changed = [name for name, value in state.values.items() if now.get(name, _MISSING) is not value]
    for name, f, code, defaults, kwdefaults in state.functions:
        same = f.__code__ is code and f.__defaults__ is defaults
        if not same or f.__kwdefaults__ is not kwdefaults:
            changed.append(name)
    for name, cls, members in state.classes:
        got = vars(cls)
        if got.keys() != members.keys() or any(got[k] is not v for k, v in members.items()):
            changed.append(name)
    return changed


def _protected_modules() -> dict[str, types.ModuleType]:
    modules = {}
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            continue
        if name in _PROTECTED_EXACT or (
            name.split(".")[0] in _PROTECTED_PREFIXES and not name.startswith("numpy._")
        ):
            modules[name] = module
    return modules


def seal() -> None:
    """Record the current state of numpy, builtins, math and every loaded ``utils`` module as
    the trusted baseline. Modules imported later are added to the baseline on first sight."""
    _baseline.clear()
    for name, module in _protected_modules().items():
        _baseline[name] = _module_state(module)


def _integrity_problems() -> list[str]:
    problems = []
    current = _protected_modules()
    for name, state in _baseline.items():
        module = current.get(name)
        if module is None:
            problems.append(f"module {name} was removed from sys.modules")
            continue
        # Added names cannot fool a check; replaced or deleted ones can.
        problems += [f"{name}.{attr} was replaced or deleted" for attr in _changed(state, module)]
    for name, module in current.items():
        if name not in _baseline:
            _baseline[name] = _module_state(module)
    return problems


def verify_integrity(context: str = "the code under test") -> None:
    """Raise :class:`IntegrityError` if numpy, builtins, math or utils differ from the baseline."""
    problems = _integrity_problems()
    if problems:
        shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
        raise IntegrityError(
            f"{context} modified the environment the checks rely on: {shown}. "
            "Graded functions must not monkeypatch numpy, builtins or utils; "
            "restart the kernel and remove that code."
        )


def guarded_call(
    func: Callable,
    *args: Any,
    forbid: Iterable[Callable] = (),
    name: str | None = None,
    **kwargs: Any,
) -> Any:
    """Call ``func(*args, **kwargs)`` and check that it neither tampers with the environment nor
    runs any of the ``forbid`` functions (reference implementations it must not call).

    Exceptions raised by ``func`` propagate unchanged, so the student sees their own traceback.
    """
    if not callable(func):
        raise AssertionError(f"{name or 'the object under test'} is not a function: {func!r}")
    remote = getattr(type(func), "__remote_call__", None)
    if remote is not None:
        # The course grader's proxy for a function that runs in its sandbox: the tamper and
        # forbidden-reference checks run there, on the real function.
        references = [f"{f.__module__}.{f.__qualname__}" for f in _functions(forbid)]
        return remote(func, args, kwargs, forbidden=references)
    label = name or getattr(func, "__name__", "the function under test")
    verify_integrity(context=f"code run before {label}")
    forbidden = {f.__code__: f"{f.__module__}.{f.__qualname__}" for f in _functions(forbid)}
    seen: list[str] = []
    previous = _getprofile()

    def tripwire(frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in forbidden:
            seen.append(forbidden[frame.f_code])

    _setprofile(tripwire if forbidden else previous)
    try:
        result = func(*args, **kwargs)
    except ReferenceUnavailable as error:
        seen.append(error.reference)
        result = None
    finally:
        hijacked = bool(forbidden) and _getprofile() is not tripwire
        _setprofile(previous)
    if seen:
        raise IntegrityError(
            f"{label} calls the reference implementation {seen[0]}. "
            "This exercise asks you to write it yourself."
        )
    if hijacked:
        raise IntegrityError(f"{label} changed the interpreter's profile hook (sys.setprofile).")
    verify_integrity(context=label)
    return result


def _functions(items: Iterable[Callable]) -> list[types.FunctionType]:
    out = []
    for item in items:
        if isinstance(item, type):
            for value in vars(item).values():
                value = getattr(value, "__func__", getattr(value, "fget", value))
                if isinstance(value, types.FunctionType):
                    out.append(value)
        elif isinstance(item, types.FunctionType):
            out.append(item)
        elif isinstance(item, types.MethodType):
            out.append(item.__func__)
    return out


# --------------------------------------------------------------------------------------------
# Value checks
# --------------------------------------------------------------------------------------------


def _fmt_shape(shape: tuple, names: str | None) -> str:
    text = str(tuple(shape))
    return f"{names} = {text}" if names else text


def check_type(name: str, got: Any, expected_type: type | tuple[type, ...]) -> None:
    """``got`` must be an instance of ``expected_type``."""
    if not isinstance(got, expected_type):
        wanted = (
            " or ".join(t.__name__ for t in expected_type)
            if isinstance(expected_type, tuple)
            else expected_type.__name__
        )
        raise AssertionError(
            f"{name} should be a {wanted}, got {type(got).__name__}: {plain(got)!r:.80}"
        )


def check_shape(name: str, got: Any, expected_shape: tuple, names: str | None = None) -> None:
    """``got`` must be a NumPy array of shape ``expected_shape``.

    ``names`` spells the shape symbolically, e.g. ``"(n_x, m, T_x)"``, for the message.
    """
    if not isinstance(got, _ndarray):
        raise AssertionError(
            f"{name} should be a NumPy array of shape {_fmt_shape(expected_shape, names)}, "
            f"got {type(got).__name__}"
        )
    if tuple(got.shape) != tuple(expected_shape):
        hint = ""
        if sorted(got.shape) == sorted(expected_shape):
            hint = " (the right sizes in the wrong order: a transposed weight or swapped axes?)"
        raise AssertionError(
            f"{name} has shape {tuple(got.shape)}, expected {_fmt_shape(expected_shape, names)}"
            + hint
        )


def check_dtype(name: str, got: np.ndarray, kind: str) -> None:
    """``kind`` is ``"float"``, ``"int"`` or ``"bool"``."""
    kinds = {"float": "f", "int": "iu", "bool": "b"}
    if got.dtype.kind not in kinds[kind]:
        raise AssertionError(f"{name} should hold {kind} values, got dtype {got.dtype}")


def check_finite(name: str, got: np.ndarray) -> None:
    """Every entry of ``got`` must be finite."""
    bad = _argwhere(~_isfinite(got))
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        raise AssertionError(
            f"{name} has {len(bad)} non-finite entries (NaN or inf), first at index {index}: "
            f"{got[index]}"
        )


def check_close(
    name: str,
    got: Any,
    expected: Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    names: str | None = None,
    hint: str | None = None,
) -> None:
    """``got`` must match ``expected`` in shape and, entry by entry, within
    ``|got - expected| <= atol + rtol * |expected|``.

    The message names the array, the first mismatching index with both values, how many entries
    differ and the largest error; ``hint`` (a likely cause) is appended when given.
    """
    expected = _asarray(expected)
    if not isinstance(got, _ndarray) and isinstance(got, int | float | np.number):
        got = _asarray(got)
    check_shape(name, got, expected.shape, names)
    if not _issubdtype(got.dtype, np.number):
        raise AssertionError(f"{name} should hold numbers, got dtype {got.dtype}")
    check_finite(name, got)
    error = _abs(got.astype(np.float64) - expected)
    bad = _argwhere(error > atol + rtol * _abs(expected))
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        where = f" at index {index}" if index else ""
        message = (
            f"{name} is wrong{where}: expected {expected[index]:.6g}, got {got[index]:.6g} "
            f"({len(bad)} of {expected.size} entries differ, largest error {error.max():.3g})"
        )
        if hint:
            message += f". {hint}"
        raise AssertionError(message)


def check_equal(name: str, got: Any, expected: Any, hint: str | None = None) -> None:
    """Exact equality for ints, strings, lists, dicts and integer/bool arrays."""
    if isinstance(expected, _ndarray):
        check_shape(name, got, expected.shape)
        diff = _argwhere(got != expected)
        if len(diff):
            index = tuple(int(i) for i in diff[0])
            message = (
                f"{name} is wrong at index {index}: expected {plain(expected[index])!r}, "
                f"got {plain(got[index])!r} ({len(diff)} of {expected.size} entries differ)"
            )
            raise AssertionError(message + (f". {hint}" if hint else ""))
        return
    if isinstance(expected, list | tuple) and isinstance(got, list | tuple):
        if len(got) != len(expected):
            message = f"{name} has length {len(got)}, expected {len(expected)}"
            raise AssertionError(message + (f". {hint}" if hint else ""))
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            if g != e or not _same_kind(g, e):
                message = f"{name}[{i}] is {plain(g)!r}, expected {plain(e)!r}"
                raise AssertionError(message + (f". {hint}" if hint else ""))
        if type(got) is not type(expected):
            raise AssertionError(
                f"{name} should be a {type(expected).__name__}, got {type(got).__name__}"
            )
        return
    if got != expected or not _same_kind(got, expected):
        message = f"{name} is {plain(got)!r:.200}, expected {plain(expected)!r:.200}"
        raise AssertionError(message + (f". {hint}" if hint else ""))


def _same_kind(a: Any, b: Any) -> bool:
    """Values of interchangeable types: two strings (``str`` or ``np.str_``), two integers
    (``int`` or ``np.int64``, not ``bool``), or two values of the same type."""
    integers = (int, np.integer)
    if isinstance(a, str) and isinstance(b, str):
        return True
    if isinstance(a, integers) and isinstance(b, integers):
        return not isinstance(a, bool | np.bool_) and not isinstance(b, bool | np.bool_)
    return type(a) is type(b)


def check_not_mutated(
    func: Callable, *args: Any, forbid: Iterable[Callable] = (), **kwargs: Any
) -> Any:
    """Call ``func`` through :func:`guarded_call` and fail if it changed any of its arguments
    in place. Returns the function's result."""
    before = copy.deepcopy((args, kwargs))
    result = guarded_call(func, *args, forbid=forbid, **kwargs)
    label = getattr(func, "__name__", "the function")
    for position, (old, new) in enumerate(zip(before[0], args, strict=True)):
        if not same_value(old, new):
            raise AssertionError(
                f"{label} changed its argument #{position + 1} in place; "
                "work on a copy instead (e.g. x = x.copy())"
            )
    for key, old in before[1].items():
        if not same_value(old, kwargs[key]):
            raise AssertionError(f"{label} changed its argument {key!r} in place")
    return result


def plain(value: Any) -> Any:
    """``value`` with NumPy scalars as Python numbers (so messages say ``True``, not
    ``np.True_``), recursively through lists, tuples and dicts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, _ndarray):
        return (
            isinstance(b, _ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and bool(((a == b) | ((a != a) & (b != b))).all())
        )
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(same_value(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    try:
        return bool(a == b)
    except Exception:  # objects without a usable == (compare by identity instead)
        return a is b


seal()
