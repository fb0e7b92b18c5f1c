"""Exercise checks as data, and the one runner that calls a student's function.

An assignment's check module declares each graded function as an :class:`Exercise`: its
argument names, what it returns (:class:`Output`), the one ``utils`` reference that computes the
right answer, the cases (:class:`Case`, each labelled with what it isolates), the known mistakes
(:class:`Mistake`: a hint and how the mistaken result is derived *from the reference*, e.g. the
reference run with ``ba = 0``) and the forbidden references (``"module.function"`` names the
student must not call). Declaring an exercise registers it (:func:`register`): its module gets
``EXERCISES`` (its exercises, in declaration order), ``check_<name>(func, seed=0)`` (which the
notebook's test cell calls; the hidden tests call it again with other seeds) and both names in
``__all__``; a seed pair ``(assignment, number)`` that another exercise has taken is an error.

The runner (:func:`run`) is the only place a student's function is called, always through
:func:`call_student`. It then checks, on plain data in this process: the type of the result,
shapes, dtypes, values, and that no argument was changed in place (except a
``numpy.random.Generator``, which drawing is meant to advance); on a wrong value it names the
first known mistake the result reproduces. Errors raised by the student's code are explained by
what failed (a matrix product, a broadcast, an in-place write into a smaller array, a result of
the wrong shape, an index, a dict key), never by a guess; a failure shows the message, not the
checker's source.

Seed policy: every case is drawn from ``np.random.default_rng([assignment, number, seed])``;
seed 0 is the visible test (fixed, readable sizes); other seeds are the hidden tests: more
draws and other shapes of the same cases.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import math
import re
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from utils.checks import (
    IntegrityError,
    check_close,
    check_dtype,
    check_equal,
    check_shape,
    check_type,
    guarded_call,
    plain,
    same_value,
)
from utils.exercises.hints import changed_in_place, copy_advice

__all__ = [
    "Case",
    "Exercise",
    "Mistake",
    "Outcome",
    "Output",
    "call_student",
    "forbidden_objects",
    "make_check",
    "register",
    "rng_for",
    "run",
]


# --------------------------------------------------------------------------------------------
# The data
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One call of the student's function.

    - ``label``: what the case isolates, e.g. ``"xt = 0: the recurrent path"``; shown in every
      message about this case.
    - ``args``: the arguments by name, in the function's order (passed positionally; leave a
      trailing argument out to test its default).
    - ``sizes``: the symbolic sizes of this case, e.g. ``{"n_x": 3, "n_a": 5, "m": 2}``, used to
      spell expected shapes (``(n_a, m) = (5, 2)``).
    - ``context``: anything else the reference or the mistakes need (not passed to the student).
    """

    label: str
    args: dict[str, Any]
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    context: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``hint`` (a string, or ``hint(case)``) is shown when the student's
    output reproduces it.

    ``derive(case)`` returns the mistaken result, in the same form as the reference's result (a
    tuple, a dict, a single value) or as a dict from output names to values (only those outputs
    are compared). Derive it from the ``utils`` reference with one thing switched (a zeroed
    parameter, a shifted input, the wrong step), not from a second copy of the answer.
    ``outputs`` limits the mistake to some outputs (default: any).
    """

    hint: str | Callable[[Case], str]
    derive: Callable[[Case], Any]
    outputs: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Output:
    """One returned value (an element of the returned tuple, or a key of the returned dict).

    - ``kind``: ``"array"`` (NumPy array compared within tolerance), ``"float"`` (a number,
      e.g. a loss), ``"exact"`` (ints, strings, lists: compared with ``==``) or ``"custom"``
      (``check(name, got, expected, case)`` does the comparison), or ``"dict"`` (a dict whose
      entries ``keys`` are outputs themselves, e.g. a gradient dict inside a returned tuple).
    - ``shape``: the symbolic shape, e.g. ``"(n_a, m)"``, evaluated with ``case.sizes``.
    - ``dtype``: ``"float"``, ``"int"`` or ``"bool"`` if the kind of dtype matters.
    - ``hint(got, expected, case)``: a hint for a wrong value no declared mistake explains.
    - ``check(name, got, expected, case)``: for ``"custom"``, the whole comparison; for other
      kinds, an extra check run once the value matched (e.g. every id is an ``int``).
    - ``type``: for ``"exact"``, the Python type the value must have (e.g. ``list``).
    """

    name: str
    kind: str = "array"
    shape: str | None = None
    dtype: str | None = None
    hint: Callable[[Any, Any, Case], str | None] | None = None
    check: Callable[[str, Any, Any, Case], None] | None = None
    type: type | tuple[type, ...] | None = None
    keys: tuple[Output, ...] = ()


@dataclasses.dataclass(frozen=True)
class Exercise:
    """A graded function, as data. See the module docstring and README "Adding an assignment".

    - ``assignment``, ``number``: the seed policy's first two entries (01-03 use 1..3, 1..n).
    - ``arguments``: the parameter names, in order (messages name arguments by these).
    - ``returns``: the outputs; ``packing`` says how they come back: ``"single"`` (the value
      itself), ``"tuple"`` (a tuple in this order) or ``"dict"`` (a dict with these keys).
    - ``reference(case)``: the right result, from ``utils`` (same packing as the student's).
    - ``cases(rng, seed)``: the list of cases; seed 0 is the visible test.
    - ``mistakes``: known wrong answers, tried in order; the first match gives the hint.
    - ``forbidden``: ``"module.function"`` (or ``"module.Class"``) names the student must not
      call: the notebook's grading note lists exactly these.
    - ``shapes``: symbolic shapes of the names a student's code typically uses (arguments,
      parameters, intermediate results such as ``a_next``), used to explain errors.
    - ``index_hint``, ``key_hint``: what an IndexError / KeyError most likely means *in this
      exercise* (None: explain only what failed).
    - ``proofs``: extra checks ``proof(call, rng)``, where ``call(case)`` runs the student on a
      case through the runner (same guards); e.g. an asserted gradient check.
    - ``tolerance(case, got) -> dict(rtol, atol)``: defaults to float64 / float32 tolerances by
      the dtypes in the case and result.
    - ``in_place_hints``: per argument name, what to do instead of changing it in place, where
      the advice by type (:func:`utils.exercises.hints.copy_advice`) would mislead.
    - ``explain(case, error)``: this exercise's own explanation of an error raised by the
      student's code (plain data only: the type, the text, ``student_trace`` /
      ``student_locals``; :func:`error_place` spells where), tried before the generic
      :func:`explain_error`; None: fall back to it.
    - ``check_name``: the name of the check the notebook calls, ``check_<name>`` by default;
      exercises of one module with the same check name make one check that runs them in
      declaration order (e.g. a full and a simplified variant).
    - ``module``: set by the declaration (:func:`register`), the module that declared it; a
      copy made with ``dataclasses.replace`` keeps it and takes the original's place.
    """

    name: str
    assignment: int
    number: int
    arguments: tuple[str, ...]
    returns: tuple[Output, ...]
    reference: Callable[[Case], Any]
    cases: Callable[[np.random.Generator, int], list[Case]]
    packing: str = "single"
    mistakes: tuple[Mistake, ...] = ()
    forbidden: tuple[str, ...] = ()
    shapes: dict[str, str] = dataclasses.field(default_factory=dict)
    index_hint: str | None = None
    key_hint: str | None = None
    proofs: tuple[Callable[[Callable[[Case], Any], np.random.Generator], None], ...] = ()
    tolerance: Callable[[Case, Any], dict] | None = None
    doc: str = ""
    in_place_hints: dict[str, str] = dataclasses.field(default_factory=dict)
    explain: Callable[[Case, BaseException], str | None] | None = None
    check_name: str = ""
    module: str = dataclasses.field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.check_name:
            object.__setattr__(self, "check_name", f"check_{self.name}")
        register(self)

    def checker(self) -> Callable[..., None]:
        """A ``check_<name>(func, seed=0)`` function running this exercise alone."""
        return make_check(f"check_{self.name}", (self,))


# --------------------------------------------------------------------------------------------
# Declaring is registering
# --------------------------------------------------------------------------------------------

_SEED_PAIRS: dict[tuple[int, int], Exercise] = {}  # (assignment, number) -> its exercise
_NAMESPACES: dict[str, dict[str, Any]] = {}  # module name -> the module's globals


def register(exercise: Exercise) -> None:
    """Record ``exercise`` (called by its declaration) and derive its module's registrations.

    The module is the one whose code declared it (a fresh declaration), or ``exercise.module``
    (a copy made with ``dataclasses.replace``, which takes the original's place). Its seed pair
    ``(assignment, number)`` must be its own: a pair declared before by another exercise, or a
    second time by a fresh declaration, raises ValueError naming both. The module then gets
    ``EXERCISES`` (a tuple, in declaration order), ``check_<name>`` (:func:`make_check` over the
    module's exercises of that check name) and both names in ``__all__``.
    """
    copied = bool(exercise.module)
    if copied:
        namespace = _NAMESPACES.get(exercise.module) or vars(sys.modules[exercise.module])
    else:
        namespace = _declaring_namespace()
        object.__setattr__(exercise, "module", namespace["__name__"])
    if not exercise.check_name.startswith("check_"):
        raise ValueError(f"{_spell_exercise(exercise)}: check_name must start with 'check_'")
    pair = (exercise.assignment, exercise.number)
    taken = _SEED_PAIRS.get(pair)
    replaces = copied and taken is not None and _same_exercise(taken, exercise)
    if taken is not None and not replaces:
        raise ValueError(
            f"{_spell_exercise(exercise)} takes the seed pair (assignment {pair[0]}, number "
            f"{pair[1]}) of {_spell_exercise(taken)}: every exercise needs a pair of its own "
            "(seed policy np.random.default_rng([assignment, number, seed])); give it another "
            "number"
        )
    _SEED_PAIRS[pair] = exercise
    _NAMESPACES.setdefault(exercise.module, namespace)
    declared = tuple(namespace.get("EXERCISES", ()))
    if replaces:
        declared = tuple(exercise if e is taken else e for e in declared)
    else:
        declared += (exercise,)
    namespace["EXERCISES"] = declared
    name = exercise.check_name
    namespace[name] = make_check(name, tuple(e for e in declared if e.check_name == name))
    namespace["__all__"] = sorted({*namespace.get("__all__", ()), "EXERCISES", name})


def _declaring_namespace() -> dict[str, Any]:
    """The globals of the code that called ``Exercise(...)`` (past this module's frames, e.g.
    the dataclass's ``__init__``, and those of :mod:`dataclasses`)."""
    frame = sys._getframe(1)
    while frame.f_globals.get("__name__") in (__name__, "dataclasses"):
        frame = frame.f_back
    return frame.f_globals


def _same_exercise(a: Exercise, b: Exercise) -> bool:
    return (a.module, a.name, a.check_name) == (b.module, b.name, b.check_name)


def _spell_exercise(exercise: Exercise) -> str:
    return f"exercise {exercise.module}.{exercise.name} (check {exercise.check_name})"


def make_check(name: str, exercises: Sequence[Exercise]) -> Callable[..., None]:
    """The ``check_<name>(func, seed=0)`` function a notebook's test cell calls: it runs each
    of ``exercises`` in turn on ``func`` and raises the first problem (an AssertionError
    naming it, or the student's own error with only the student's frames)."""
    exercises = tuple(exercises)

    def check(func: Callable, seed: int = 0) -> None:
        __tracebackhide__ = True  # pytest: show the message, not this frame
        try:
            for exercise in exercises:
                run(exercise, func, seed)
        except AssertionError as failure:
            # The message says everything; the checker's own frames would only distract.
            raise failure.with_traceback(None) from None
        except Exception as error:
            if not getattr(error, "from_student", False):
                raise  # a bug in the check itself: keep the whole traceback
            raise error.with_traceback(_student_frames(error.__traceback__)) from None

    # The one frame of ours a failure shows is then named after the check itself.
    check.__code__ = check.__code__.replace(co_name=name, co_qualname=name)
    check.__name__ = check.__qualname__ = name
    docs = dict.fromkeys(
        e.doc or f"Check ``{e.name}`` (raises AssertionError naming the problem)."
        for e in exercises
    )
    check.__doc__ = " ".join(docs) + (
        f" Runs {len(exercises)} variants in turn." if len(exercises) > 1 else ""
    )
    return check


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a remote call may return instead of the bare result: the result and the arguments
    as they were after the call (so the runner can see an argument changed in place)."""

    result: Any
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)


def rng_for(exercise: Exercise, seed: int) -> np.random.Generator:
    """The seed policy: one generator per (assignment, exercise, seed)."""
    return np.random.default_rng([exercise.assignment, exercise.number, seed])


# --------------------------------------------------------------------------------------------
# Calling the student: the one place
# --------------------------------------------------------------------------------------------


def forbidden_objects(names: Sequence[str]) -> list[Any]:
    """Resolve ``"module.function"`` / ``"module.Class.method"`` names to the objects."""
    out = []
    for name in names:
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
            out.append(obj)
            break
        else:
            raise ValueError(f"forbidden reference {name!r} is not an importable name")
    return out


def call_student(student: Any, args: tuple, kwargs: dict, exercise: Exercise) -> tuple:
    """Call the student's function once; return ``(result, args_after, kwargs_after)``.

    If ``student`` is not a plain Python function and has ``__remote_call__`` (the sandboxed
    grader's proxy), the call is ``student.__remote_call__(args, kwargs, forbidden=...)``: its
    return value is the result (or an :class:`Outcome` with the arguments after the call), its
    exception the student's error. Otherwise the function runs here, through
    :func:`utils.checks.guarded_call` with the same forbidden references, and an exception gets
    ``student_trace`` and ``student_locals`` attached (see :func:`_describe`), which a remote
    proxy attaches the same way.
    """
    remote = None
    if not isinstance(student, types.FunctionType | types.MethodType):
        remote = getattr(student, "__remote_call__", None)
    if remote is not None:
        try:
            answer = remote(args, kwargs, forbidden=tuple(exercise.forbidden))
        except Exception as error:
            error.from_student = True
            raise
        if isinstance(answer, Outcome):
            return answer.result, tuple(answer.args), dict(answer.kwargs)
        return answer, args, kwargs
    forbid = forbidden_objects(exercise.forbidden)
    try:
        result = guarded_call(student, *args, forbid=forbid, name=exercise.name, **kwargs)
    except IntegrityError:
        raise
    except Exception as error:
        _describe(error)
        error.from_student = True
        raise
    return result, args, kwargs


def _describe(error: BaseException) -> None:
    """Attach plain data about where the student's code failed: ``student_trace``, a list of
    ``(function name, source line)`` of the student's frames, innermost last, and
    ``student_locals``, ``{name: shape}`` of the NumPy arrays in the innermost student frame
    (dict entries as ``p["Wax"]``)."""
    import linecache

    trace, frames = [], []
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if not _is_ours(code.co_filename):
            line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
            trace.append((code.co_name, line))
            frames.append(tb.tb_frame)
        tb = tb.tb_next
    shapes: dict[str, tuple] = {}
    if frames:
        for name, value in frames[-1].f_locals.items():
            if isinstance(value, np.ndarray):
                shapes[name] = tuple(value.shape)
            elif isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(key, str) and isinstance(item, np.ndarray):
                        shapes[f'{name}["{key}"]'] = tuple(item.shape)
    error.student_trace = trace
    error.student_locals = shapes


def _is_ours(filename: str) -> bool:
    """Frames of numpy, the checks and the harness (not the student's)."""
    path = filename.replace("\\", "/")
    return (
        "/numpy/" in path
        or "/utils/" in path
        or path.startswith("<frozen")
        or "/contextlib.py" in path
    )


def _student_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback without the checker's frames: only the student's code (and numpy below)."""
    while tb is not None and _is_ours(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


# --------------------------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------------------------


def run(exercise: Exercise, student: Any, seed: int = 0) -> None:
    """Run every case and proof of ``exercise`` on ``student``; raise AssertionError naming
    the first problem."""
    if not callable(student):
        raise AssertionError(f"{exercise.name} is not a function: {plain(student)!r:.80}")
    rng = rng_for(exercise, seed)
    for case in exercise.cases(rng, seed):
        result = run_case(exercise, student, case)
        compare_result(exercise, case, result)
    for proof in exercise.proofs:
        proof(lambda case: run_case(exercise, student, case), rng)


_LABEL_CHARS = 60  # an argument is shown by value in a call's label when its repr fits


def _more_leaves_than(value: Any, limit: int) -> bool:
    """Whether ``value`` holds more than ``limit`` scalars (its repr is then too long to show:
    n scalars print as at least 3n - 2 characters), without printing it."""
    todo, count = [value], 0
    while todo:
        item = todo.pop()
        if isinstance(item, np.ndarray):
            count += item.size
        elif isinstance(item, list | tuple):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        else:
            count += 1
        if count > limit:
            return True
    return False


def call_label(exercise: Exercise, case: Case) -> str:
    shown = []
    for name, value in case.args.items():
        text = ""
        if not isinstance(value, np.ndarray | dict) and not _more_leaves_than(value, 20):
            text = repr(plain(value))
        shown.append(f"{name}={text}" if text and len(text) <= _LABEL_CHARS else name)
    return f"{exercise.name}({', '.join(shown)}) [{case.label}]"


def run_case(exercise: Exercise, student: Any, case: Case) -> Any:
    """Call the student on one case; fail on an explained error or a changed argument."""
    label = call_label(exercise, case)
    args = tuple(case.args.values())
    before = copy.deepcopy(args)
    try:
        result, after, _ = call_student(student, args, {}, exercise)
    except IntegrityError:
        raise
    except Exception as error:
        message = exercise.explain(case, error) if exercise.explain is not None else None
        if message is None:
            message = explain_error(exercise, case, error)
        if message is None:
            raise
        raise AssertionError(f"{label} raised {message}") from None
    for name, old, new in zip(case.args, before, after, strict=True):
        if isinstance(old, np.random.Generator):
            continue  # drawing from a generator advances it: that is what it is given for
        if not same_value(old, new):
            raise AssertionError(
                changed_in_place(label, name, old, exercise.in_place_hints.get(name))
            )
    return result


_copy_advice = copy_advice  # the advice by type now lives in utils.exercises.hints


# --------------------------------------------------------------------------------------------
# Comparing the result
# --------------------------------------------------------------------------------------------


def default_tolerance(case: Case, got: Any) -> dict:
    """float32 anywhere (arguments or result) gets float32 tolerances."""

    def has32(value: Any) -> bool:
        if isinstance(value, np.ndarray | np.floating):
            return value.dtype == np.float32
        if isinstance(value, dict):
            return any(has32(v) for v in value.values())
        if isinstance(value, list | tuple):
            return any(has32(v) for v in value)
        return False

    if has32(case.args) or has32(got):
        return {"rtol": 2e-4, "atol": 2e-5}
    return {"rtol": 1e-6, "atol": 1e-9}


def shape_of(spec: str, sizes: dict[str, int]) -> tuple[int, ...]:
    """``"(n_a, m)"`` with ``{"n_a": 5, "m": 2}`` -> ``(5, 2)``."""
    inner = spec.strip().strip("()")
    return tuple(
        int(part) if part.strip().isdigit() else sizes[part.strip()]
        for part in inner.split(",")
        if part.strip()
    )


def unpacked(exercise: Exercise, label: str, result: Any) -> dict[str, Any]:
    """The student's outputs by name; a result of the wrong form fails naming the form."""
    names = [o.name for o in exercise.returns]
    if exercise.packing == "single":
        return {names[0]: result}
    if exercise.packing == "tuple":
        if not isinstance(result, tuple) or len(result) != len(names):
            raise AssertionError(
                f"{label} should return a tuple ({', '.join(names)}), got {_brief(result)}"
            )
        return dict(zip(names, result, strict=True))
    if not isinstance(result, dict):
        raise AssertionError(
            f"{label} should return a dict with the keys {names}, got {_brief(result)}"
        )
    missing = [n for n in names if n not in result]
    if missing:
        raise AssertionError(f"{label} must return a dict with the keys {names}; missing {missing}")
    return {n: result[n] for n in names}


def _brief(value: Any) -> str:
    text = repr(plain(value))
    text = text if len(text) <= 100 else text[:97] + "..."
    if isinstance(value, tuple):
        return f"a tuple of length {len(value)}: {text}"
    return f"{type(value).__name__}: {text}"


def _pick(exercise: Exercise, derived: Any, index: int, name: str) -> Any:
    """Output ``name`` of a reference or mistaken result (missing: ``None``)."""
    if derived is None:
        return None
    if isinstance(derived, dict) and (exercise.packing != "single" or name in derived):
        return derived.get(name)
    if exercise.packing == "tuple":
        return derived[index]
    return derived


def compare_result(exercise: Exercise, case: Case, result: Any) -> None:
    label = call_label(exercise, case)
    got = unpacked(exercise, label, result)
    expected = exercise.reference(case)
    tol = (exercise.tolerance or default_tolerance)(case, result)
    derived: list[tuple[Mistake, Any]] = []

    def mistakes() -> list[tuple[Mistake, Any]]:
        if not derived and exercise.mistakes:
            derived.extend((m, m.derive(case)) for m in exercise.mistakes)
        return derived

    for index, output in enumerate(exercise.returns):
        name = f"{output.name} from {label}"

        def candidates(index=index, output=output) -> list[tuple[Mistake, Any]]:
            return [
                (m, _pick(exercise, wrong, index, output.name))
                for m, wrong in mistakes()
                if m.outputs is None or output.name in m.outputs
            ]

        want = _pick(exercise, expected, index, output.name)
        _compare(output, name, got[output.name], want, candidates, case, tol)


def _compare(output, name, value, want, candidates, case, tol) -> None:
    """Compare one output; on a mismatch, name the first mistake it reproduces."""
    if output.kind == "dict":
        check_type(name, value, dict)
        keys = [o.name for o in output.keys]
        missing = [k for k in keys if k not in value]
        if missing:
            raise AssertionError(f"{name} must be a dict with the keys {keys}; missing {missing}")
        for sub in output.keys:

            def inner(sub=sub) -> list[tuple[Mistake, Any]]:
                return [
                    (m, c.get(sub.name) if isinstance(c, dict) else None)
                    for m, c in candidates()
                    if m.outputs is None or sub.name in m.outputs
                ]

            sub_name = f"{name.split(' from ')[0]}[{sub.name!r}] from {name.split(' from ', 1)[-1]}"
            _compare(sub, sub_name, value[sub.name], want[sub.name], inner, case, tol)
        return
    if _matches(output, value, want, tol):
        if output.check is not None:
            output.check(name, value, want, case)
        return
    hint = None
    for mistake, candidate in candidates():
        if candidate is not None and _matches(output, value, candidate, tol):
            hint = mistake.hint(case) if callable(mistake.hint) else mistake.hint
            break
    if hint is None and output.hint is not None:
        hint = output.hint(value, want, case)
    _fail(output, name, value, want, case, tol, hint)


def _as_number(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.size == 1 and value.ndim <= 2:
        return value.reshape(())
    return value


def _matches(output: Output, got: Any, want: Any, tol: dict) -> bool:
    """Whether ``got`` equals ``want`` for this output (never raises)."""
    try:
        if output.kind == "array":
            if not (
                isinstance(got, np.ndarray)
                and isinstance(want, np.ndarray)
                and got.shape == want.shape
                and (output.dtype is None or _dtype_ok(got, output.dtype))
            ):
                return False
            if output.dtype in ("bool", "int"):
                return bool(np.array_equal(got, want))
            return (
                np.issubdtype(got.dtype, np.number)
                and bool(np.all(np.isfinite(got)))
                and bool(np.allclose(got, want, **tol))
            )
        if output.kind == "float":
            got = _as_number(got)
            return _is_float(got) and math.isclose(
                float(got), float(want), rel_tol=tol["rtol"], abs_tol=tol["atol"]
            )
        if output.kind == "exact":
            return same_value(want, got) and (output.type is None or isinstance(got, output.type))
        if output.kind == "custom":
            return True  # compared by output.check
    except Exception:
        return False
    raise ValueError(f"unknown output kind {output.kind!r}")


def _dtype_ok(got: np.ndarray, kind: str) -> bool:
    return got.dtype.kind in {"float": "f", "int": "iu", "bool": "b"}[kind]


def _is_float(value: Any) -> bool:
    if isinstance(value, float | np.floating):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind == "f"


def _fail(output, name, got, want, case, tol, hint) -> None:
    """Raise the most precise message about a mismatch."""
    if output.kind == "array":
        spec = output.shape
        names = spec if spec and case.sizes else None
        arrays = isinstance(got, np.ndarray) and isinstance(want, np.ndarray)
        if arrays and got.shape != want.shape and hint:
            raise AssertionError(
                f"{name} has shape {got.shape}, expected {_spell(spec, want.shape)}: {hint}"
            )
        check_shape(name, got, want.shape, names)
        if output.dtype:
            check_dtype(name, got, output.dtype)
        if output.dtype in ("bool", "int"):
            check_equal(name, got, want, hint=hint)
        check_close(name, got, want, names=names, hint=hint, **tol)
    elif output.kind == "float":
        got = _as_number(got)
        if not _is_float(got):
            raise AssertionError(f"{name} should be a float, got {_brief(got)}")
        check_close(name, np.asarray(got, dtype=float), np.asarray(want), hint=hint, **tol)
    elif output.kind == "exact":
        if output.type is not None:
            check_type(name, got, output.type)
        check_equal(name, got, want, hint=hint)
    raise AssertionError(f"{name} is wrong" + (f": {hint}" if hint else ""))


def _spell(spec: str | None, shape: tuple) -> str:
    return f"{spec} = {tuple(shape)}" if spec else str(tuple(shape))


# --------------------------------------------------------------------------------------------
# Explaining the student's errors by what failed
# --------------------------------------------------------------------------------------------

_MATMUL = re.compile(r"matmul: .*\(size (\d+) is different from (\d+)\)")
_DOT = re.compile(r"shapes \(([\d, ]*)\) and \(([\d, ]*)\) not aligned")
_INPLACE = re.compile(
    r"non-broadcastable output operand with shape \(([\d, ]*)\) doesn't match the broadcast "
    r"shape \(([\d, ]*)\)"
)
_BROADCAST = re.compile(r"could not be broadcast together with shapes ((?:\([\d, ]*\) ?)+)")
_INDEX_TYPE = "arrays used as indices must be of integer (or boolean) type"


def explain_error(exercise: Exercise, case: Case, error: BaseException) -> str | None:
    """A message for an error raised by the student's code, from plain data only: the
    exception's type and text and the ``student_trace`` / ``student_locals`` attached by
    :func:`call_student` (or by the sandbox). ``None``: let the error propagate unchanged."""
    text = str(error)
    kind = type(error).__name__
    trace = list(getattr(error, "student_trace", []) or [])
    local_shapes = dict(getattr(error, "student_locals", {}) or {})
    where = error_place(error)
    line = trace[-1][1] if trace else ""
    operands = _operands(line, local_shapes)
    expected = _expected_shapes(exercise, case)
    if isinstance(error, ValueError):
        inplace = _INPLACE.search(text)
        if inplace:
            small, big = _ints(inplace.group(1)), _ints(inplace.group(2))
            return (
                f"ValueError{where}: {text}. An in-place operation (+=, -=, *=) writes its result "
                f"into an array of shape {small}, smaller than the result {big}: e.g. `z = ba; "
                "z += W @ a` changes the bias array itself. Write `z = W @ a + ba` (a new array) "
                "instead." + _operand_text(operands)
            )
    wrong = _wrong_shapes(local_shapes, expected, line)
    if isinstance(error, ValueError | IndexError) and wrong:
        return f"{kind}{where}: {text}. " + "; ".join(wrong) + "."
    if isinstance(error, ValueError):
        matmul = _MATMUL.search(text)
        dot = _DOT.search(text)
        if matmul or dot:
            if matmul:
                rows, columns = int(matmul.group(1)), int(matmul.group(2))
            else:
                left, right = _ints(dot.group(1)), _ints(dot.group(2))
                columns, rows = left[-1], right[0]
            pair = _matmul_pair(line, operands, columns, rows)
            return (
                f"ValueError{where}: a matrix product A @ B needs as many columns in A as rows in "
                f"B, but here A has {_sized(columns, case)} columns and B has "
                f"{_sized(rows, case)} rows{pair}. Is a weight transposed, are the operands in "
                "the wrong order (W @ v with W of shape (rows, len(v))), or is this the wrong "
                "parameter dict?" + _operand_text(operands) + _expected_text(expected, line)
            )
        broadcast = _BROADCAST.search(text)
        if broadcast:
            shapes = re.findall(r"\(([\d, ]*)\)", broadcast.group(1))
            listed = " and ".join(str(_ints(s)) for s in shapes)
            return (
                f"ValueError{where}: arrays of shapes {listed} cannot be combined elementwise. "
                "Is a sum, max or mask on the wrong axis, a keepdims=True missing, or an array "
                "transposed?" + _operand_text(operands) + _expected_text(expected, line)
            )
        return None
    if isinstance(error, IndexError):
        if _INDEX_TYPE in text:
            return (
                f"IndexError{where}: {text}. An index must hold integers (or be a boolean "
                "mask): a 0/1 float array cannot index; multiply by it, or convert it with "
                ".astype(bool) / .astype(int)."
            )
        return f"IndexError{where}: {text}." + (
            f" {exercise.index_hint}" if exercise.index_hint else ""
        )
    if isinstance(error, KeyError):
        return f"KeyError{where}: {text}." + (f" {exercise.key_hint}" if exercise.key_hint else "")
    return None


def error_place(error: BaseException) -> str:
    """Where in the student's code ``error`` was raised, from its ``student_trace``:
    `` in f, at `line` (called from g: `line`)`` (empty without a trace)."""
    trace = list(getattr(error, "student_trace", []) or [])
    if not trace:
        return ""
    function, line = trace[-1]
    where = f" in {function}" + (f", at `{line}`" if line else "")
    if len(trace) > 1:
        where += f" (called from {trace[-2][0]}" + (f": `{trace[-2][1]}`)" if trace[-2][1] else ")")
    return where


def error_as_text(error: BaseException) -> str:
    """The error as the student's code raised it, with where: ``"ValueError in f, at `line`:
    text"``, for an exercise's ``explain`` to wrap an error nothing explains more precisely
    (so that the message still names the case it came from)."""
    return f"{type(error).__name__}{error_place(error)}: {error}"


def explain_or_wrap(exercise: Exercise, case: Case, error: BaseException) -> str | None:
    """For an exercise's ``explain``, after its own explanations: the generic one, or else the
    error itself with where it was raised (so every error names its case, never a bare
    traceback). A stub's NotImplementedError propagates unchanged."""
    if isinstance(error, NotImplementedError):
        return None
    return explain_error(exercise, case, error) or error_as_text(error)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.replace(" ", "").split(",") if v)


def _sized(n: int, case: Case) -> str:
    names = [k for k, v in case.sizes.items() if v == n]
    return f"{n} (= {' or '.join(names)})" if names else str(n)


def _mentioned(name: str, line: str) -> bool:
    if "[" in name:
        base, key = name.split("[", 1)
        key = key.rstrip("]").strip("\"'")
        return bool(re.search(rf"\b{re.escape(base)}\[\s*['\"]{re.escape(key)}['\"]\s*\]", line))
    return bool(re.search(rf"(?<![\w.'\"]){re.escape(name)}(?![\w'\"])", line))


def _operands(line: str, shapes: dict[str, tuple]) -> dict[str, tuple]:
    return {name: shape for name, shape in shapes.items() if line and _mentioned(name, line)}


def _operand_text(operands: dict[str, tuple]) -> str:
    if not operands:
        return ""
    return " On that line: " + ", ".join(f"{n} {s}" for n, s in operands.items()) + "."


def _matmul_pair(line: str, operands: dict[str, tuple], columns: int, rows: int) -> str:
    """Name the two operands whose sizes clash, when the line writes them as ``A @ B``."""
    for left, ls in operands.items():
        for right, rs in operands.items():
            if not (ls and rs) or left == right or ls[-1] != columns:
                continue
            if (rs[0] if len(rs) == 1 else rs[-2]) != rows:
                continue
            product = rf"{re.escape(left)}\s*@\s*{re.escape(right)}(?![\w.\[])"
            dot = rf"np\.dot\(\s*{re.escape(left)}\s*,\s*{re.escape(right)}\s*\)"
            if re.search(product, line) or re.search(dot, line):
                return f" ({left} {ls} @ {right} {rs})"
    return ""


def _expected_shapes(exercise: Exercise, case: Case) -> dict[str, tuple]:
    out = {}
    for name, spec in exercise.shapes.items():
        try:
            out[name] = (spec, shape_of(spec, case.sizes))
        except KeyError:
            continue
    return out


def _expected_text(expected: dict, line: str) -> str:
    shown = [
        f"{n} {spec} = {shape}" for n, (spec, shape) in expected.items() if _mentioned(n, line)
    ]
    return (" Expected: " + ", ".join(shown) + ".") if shown else ""


def _wrong_shapes(local_shapes: dict, expected: dict, line: str) -> list[str]:
    """Names in the failing frame whose array has the wrong rank (the line's own first)."""
    wrong = []
    for name, shape in local_shapes.items():
        key = name.split("[")[1].strip('"]') if "[" in name else name
        if key not in expected or len(shape) == len(expected[key][1]):
            continue  # same rank: the matmul / broadcast explanation below shows it
        spec, want = expected[key]
        text = f"{name} has shape {tuple(shape)}, expected {spec} = {want}"
        if len(shape) < len(want):
            text += (
                " (an axis was reduced away: e.g. np.max(z, 0) is the largest entry of each "
                "column, np.maximum(z, 0) is relu; or keepdims=True is missing)"
            )
        wrong.append((not _mentioned(name, line), text))
    return [text for _, text in sorted(wrong, key=lambda item: item[0])]


# --------------------------------------------------------------------------------------------
# Asserted gradient checks (the proofs of the backward exercises)
# --------------------------------------------------------------------------------------------

GRADCHECK_THRESHOLD = 1e-6  # worst relative error, as the notebooks state
# Entries differentiated per array (a fixed sample), plus one random direction per array,
# which a wrong entry anywhere moves (utils.gradcheck): the proof stays exhaustive in what
# it can catch at a fraction of the cost of differentiating every entry.
GRADCHECK_ENTRIES = 4


def asserted_gradcheck(label: str, f, at: dict, grads, order: int = 2) -> None:
    """Finite differences of ``f`` at ``at`` against ``grads``; an AssertionError naming
    ``label`` and the threshold when they disagree (or a gradient is missing/misshapen).
    ``order=4`` where some true gradients are ~1e-5 (gated cells, deep stacks): the classic
    stencil's own error would be near the threshold there."""
    from utils.gradcheck import assert_gradients_close

    try:
        assert_gradients_close(
            f, at, grads, threshold=GRADCHECK_THRESHOLD, order=order, max_entries=GRADCHECK_ENTRIES
        )
    except (AssertionError, KeyError, ValueError, TypeError) as error:
        raise AssertionError(
            f"gradient check of {label} failed (worst relative error must be <= "
            f"{GRADCHECK_THRESHOLD:g}; the analytic gradients disagree with finite "
            f"differences):\n{error}"
        ) from None
