"""Calling a student's functions in the sandbox from trusted test code: both halves.

*Inside the sandbox* (``python -m grader.verdicts.student_calls``, see :func:`serve`) a small server
imports numpy and the course package once and never runs student code itself. For each
notebook it forks a *notebook process* that first makes absent the ``utils`` references the
calls it will serve forbid (:func:`disable_references`), then runs the notebook's cells one
by one, as the student's kernel did (the student's cells whole, the instructor's reduced to
definitions by :mod:`grader.verdicts.plan`), and lists what the student defined; for each test
cell it forks a *test child* that answers calls of those functions until the test ends, so a
test's calls cannot change what the next test sees. Each call runs under
:func:`utils.checks.guarded_call`, so patching numpy while the function runs is reported.

*Outside* (the trusted grader process) :class:`StudentSession` starts that server in the
sandbox, runs each cell under its own time budget (a cell that hangs or ends its process is
named, then kept as its definitions only), and binds a :class:`RemoteFunction` for each
student function in the test's namespace. Only plain data (:mod:`grader.verdicts.plain_data`)
crosses: arguments are sent fresh for every call and the arguments as the function left them come
back, so in-place mutation is mirrored onto the caller's objects (and caught by the checks as
before), as is returning the caller's own object. A student object never reaches a check.

Messages are JSON lines. Every request carries an ``id`` and every reply must name it; a reply
for anything else, a malformed line, or a line longer than :data:`MAX_LINE` is a
:class:`ProtocolViolation` for the notebook being graded (and nobody else: one sandbox holds
one notebook of one student). A function that overruns the test cell's time budget raises
:class:`StudentTimeout`; one that ends its process, :class:`StudentCrashed`. These three derive
from :class:`SandboxFailure`, a ``BaseException``, so that no ``except Exception`` in a check
can swallow them.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import functools
import json
import linecache
import os
import resource
import selectors
import signal
import subprocess
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any

import numpy as np

from grader.verdicts import plain_data

MAX_LINE = 64 * 1024 * 1024  # a reply may not flood the trusted process (arrays: MAX_BYTES)
START_TIMEOUT = 60.0


class SandboxFailure(BaseException):
    """A call into the sandbox that produced no result (base of the three failures below)."""


class ProtocolViolation(SandboxFailure):
    """The sandbox answered something other than the reply to the request in flight."""


class StudentTimeout(SandboxFailure):
    """The student's code did not answer within the test's time budget."""


class StudentCrashed(SandboxFailure):
    """The process running the student's code ended (os._exit, a crash, a memory limit)."""


class StudentError(Exception):
    """An exception raised by the student's code whose type is not a built-in one."""


# ============================================================================================
# Shared: reading and writing JSON lines on raw file descriptors
# ============================================================================================


class _Lines:
    def __init__(self, fd: int):
        self.fd, self.buffer = fd, b""

    def read(self, deadline: float | None) -> dict | None:
        """The next message; None at EOF; TimeoutError after ``deadline``."""
        while b"\n" not in self.buffer:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                with selectors.DefaultSelector() as sel:
                    sel.register(self.fd, selectors.EVENT_READ)
                    if not sel.select(left):
                        continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return None
            self.buffer += chunk
            if len(self.buffer) > MAX_LINE and b"\n" not in self.buffer:
                raise ProtocolViolation(f"a message longer than {MAX_LINE} bytes")
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            raise ProtocolViolation(f"a line that is not JSON: {line[:80]!r}") from None
        if type(message) is not dict:
            raise ProtocolViolation(f"a message that is not an object: {line[:80]!r}")
        return message


def _write(fd: int, message: dict) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


# ============================================================================================
# Inside the sandbox
# ============================================================================================


def _prepare() -> None:
    """Import what notebooks use (paid once per sandbox) and seal the checks' baseline."""
    import importlib
    import pkgutil

    import numpy  # noqa: F401

    for name in ("matplotlib", "matplotlib.pyplot", "IPython.display"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    import utils

    for module in pkgutil.walk_packages(utils.__path__, prefix="utils."):
        with contextlib.suppress(Exception):
            importlib.import_module(module.name)
    from utils import checks

    checks.seal()


def _describe(error: BaseException) -> dict:
    """The student's exception as plain data, with the check harness's explanation of where
    it happened (``student_trace``: the student's frames; ``student_locals``: array shapes)."""
    tb = traceback.extract_tb(error.__traceback__)
    where = [f"{f.filename}:{f.lineno} in {f.name}" for f in tb if f.filename.startswith("<")]
    trace, shapes = [], {}
    with contextlib.suppress(Exception):
        from utils.exercises.harness import _describe as explain

        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next  # the frames of this server are not the student's
        explain(error.with_traceback(tb))
        trace = [[str(name), str(line)] for name, line in getattr(error, "student_trace", [])]
        shapes = {
            str(k): [int(n) for n in v] for k, v in getattr(error, "student_locals", {}).items()
        }
    return {
        "type": type(error).__name__,
        "module": type(error).__module__,
        "message": str(error)[:4000],
        "where": where[-3:],
        "trace": trace,
        "locals": shapes,
    }


def _resolve(dotted: str):
    """``"utils.rnn.rnn_forward"`` -> the function (the module part is imported)."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise LookupError(f"cannot find the forbidden reference {dotted}")


# -- What an exercise forbids is absent, not policed ------------------------------------------


def _reference_functions(obj) -> list[types.FunctionType]:
    """The functions whose code makes up ``obj`` (a function, method or class), wrappers'
    ``__wrapped__`` included."""
    found: list[types.FunctionType] = []
    pending = list(vars(obj).values()) if isinstance(obj, type) else [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, staticmethod | classmethod | types.MethodType):
            pending.append(item.__func__)
        elif isinstance(item, property):
            pending += [f for f in (item.fget, item.fset, item.fdel) if f is not None]
        elif isinstance(item, types.FunctionType) and item not in found:
            found.append(item)
            if hasattr(item, "__wrapped__"):
                pending.append(item.__wrapped__)
    return found


def _stub_code(reference: str, free: int) -> types.CodeType:
    """Code that raises :class:`utils.checks.ReferenceUnavailable` for ``reference``, with
    ``free`` free variables so that it can replace the code of a closure or method."""
    names = [f"_cell{i}" for i in range(free)]
    source = ["def _outer():", *(f"    {n} = None" for n in names), "    def _stub(*a, **k):"]
    if names:
        source.append(f"        ({', '.join(names)},)")
    source += [
        f"        raise __import__('utils.checks').checks.ReferenceUnavailable({reference!r})",
        "    return _stub",
    ]
    namespace: dict = {}
    exec("\n".join(source), namespace)
    return namespace["_outer"]().__code__


def disable_references(references: list[str]) -> None:
    """Give every function of the ``references`` (``"module.function"``, ``"module.Class"``,
    ``"module.Class.method"``) code that raises, before any student code runs in this
    process. The function objects stay (every alias in ``utils`` sees the change); their
    code is gone from the process, so no thread, profile hook or saved alias can reach it.
    The checks' baseline is sealed again (it held the old code, and would flag the change)."""
    if not references:
        return
    from utils import checks

    for reference in references:
        for function in _reference_functions(_resolve(reference)):
            function.__code__ = _stub_code(reference, len(function.__code__.co_freevars))
    checks.seal()


# -- A notebook's cells, run as the student's kernel ran them ---------------------------------


class _Shell:
    """What ``get_ipython()`` returns when grading: magics and shell escapes (``%matplotlib
    inline``, ``!pip install``) and anything else asked of IPython do nothing, as they change
    nothing that is graded."""

    def __getattr__(self, name: str) -> _Shell:
        return self

    def __call__(self, *args, **kwargs) -> None:
        return None


def _cell_error(error: BaseException, filename: str) -> str:
    """``line N: Type: message`` for an exception raised by a cell (N: the cell's own line
    where it happened, even when the error comes from a function it called)."""
    line = getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    text = f"{type(error).__name__}: {error}".strip()
    return (f"line {line}: {text}" if line else text)[:1000]


def _run_cell(namespace: dict, student: set[str], block: dict) -> str | None:
    """Run one block in the notebook's namespace, as a kernel runs a cell (an exception stops
    the cell, not the notebook); track which names the student's cells bound last."""
    before = dict(namespace)
    filename = f"<{block['label']}>"
    code = block["code"]
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    error = None
    try:
        exec(compile(code, filename, "exec"), namespace)
    except BaseException as problem:  # SystemExit and KeyboardInterrupt too: a kernel survives
        error = _cell_error(problem, filename)
    changed = {k for k, v in namespace.items() if k not in before or before[k] is not v}
    changed |= before.keys() - namespace.keys()
    if block.get("student"):
        student |= changed
    else:
        student -= changed
    return error


def _student_names(namespace: dict, student: set[str]) -> dict:
    """``{name: description}`` of what the student's cells defined: functions and other
    callables, classes, plain values; anything else is named with why it stays here."""
    names = {}
    for name in sorted(student):
        if name.startswith("__") or name not in namespace:
            continue
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            continue
        if isinstance(value, type):
            names[name] = {"kind": "class"}
        elif callable(value):
            names[name] = {"kind": "function"}
        else:
            try:
                names[name] = {"kind": "value", "value": plain_data.encode(value, name)}
            except Exception as error:  # NotPlainData, or a value whose inspection fails
                names[name] = {"kind": "other", "why": str(error)[:500]}
    return names


def _aliases(result, args: list, kwargs: dict) -> list:
    """``[[path in result, path in [args, kwargs]], ...]`` for every array, list or dict of
    the result that *is* one of the arguments (returning the caller's own array), so that the
    trusted side can hand the checks the caller's object there, as in one process."""
    where: dict[int, list] = {}
    pending: list[tuple[Any, list]] = [([args, kwargs], [])]
    while pending:
        value, path = pending.pop()
        if isinstance(value, list | dict | np.ndarray):
            where.setdefault(id(value), path)
        if isinstance(value, dict):
            pending += [(v, [*path, k]) for k, v in value.items() if isinstance(k, str | int)]
        elif isinstance(value, list | tuple):
            pending += [(v, [*path, i]) for i, v in enumerate(value)]
    found = []
    pending = [(result, [])]
    while pending:
        value, path = pending.pop()
        if id(value) in where:
            found.append([path, where[id(value)]])
        elif isinstance(value, dict):
            pending += [(v, [*path, k]) for k, v in value.items() if isinstance(k, str | int)]
        elif isinstance(value, list | tuple):
            pending += [(v, [*path, i]) for i, v in enumerate(value)]
    return found


def _answer_call(namespace: dict, message: dict, guarded_call) -> dict:
    name = message.get("name")
    func = namespace.get(name)
    if isinstance(func, types.ModuleType) or not callable(func):
        return {"ok": False, "error": {"type": "TypeError", "message": f"{name} is not a function"}}
    try:
        args = plain_data.decode(message["args"])
        kwargs = plain_data.decode(message["kwargs"])
        forbid = [_resolve(ref) for ref in message.get("forbidden", [])]
        result = guarded_call(func, *args, forbid=forbid, name=name, **kwargs)
        return {
            "ok": True,
            "result": plain_data.encode(result, f"the result of {name}"),
            "args": plain_data.encode(args, f"the arguments of {name}"),
            "kwargs": plain_data.encode(kwargs, f"the arguments of {name}"),
            "aliases": _aliases(result, list(args), dict(kwargs)),
        }
    except BaseException as error:  # everything the student's code raises is reported
        return {"ok": False, "error": _describe(error)}


def _serve_calls(lines: _Lines, out: int, namespace: dict, begin: dict, guarded_call) -> None:
    """A test's child: calls of the student's functions until ``end``, each through
    ``guarded_call`` (taken before any student code ran: a cell that replaces
    ``utils.checks.guarded_call`` changes nothing here, and the integrity check reports it)."""
    _write(out, {"id": begin["id"], "begun": True})
    while True:
        message = lines.read(None)
        if message is None or message.get("op") == "end":
            if message is not None:
                _write(out, {"id": message.get("id"), "ended": True})
            return
        if message.get("op") == "call":
            reply = _answer_call(namespace, message, guarded_call)
            _write(out, {"id": message.get("id"), **reply})
        else:
            _write(out, {"id": message.get("id"), "ok": False, "error": {"type": "bad request"}})


def _serve_notebook(lines: _Lines, out: int, blocks: list[dict], opened: dict) -> None:
    """A notebook's process: the forbidden references made absent, then the cells run one by
    one as asked (``run``), what they defined listed (``names``), and a child forked per test
    (``begin``) so that a test's calls cannot change what the next test sees."""
    from utils.checks import guarded_call

    disable_references([str(r) for r in opened.get("forbidden", [])])
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    namespace["get_ipython"] = functools.partial(_Shell)
    student: set[str] = set()
    _write(out, {"id": opened["id"], "opened": True})
    while True:
        message = lines.read(None)
        op = None if message is None else message.get("op")
        if op is None or op == "close":
            if message is not None:
                _write(out, {"id": message.get("id"), "closed": True})
            return
        if op == "run":
            block = blocks[int(message["index"])]
            if isinstance(message.get("code"), str):  # the cell's definitions only
                block = {**block, "code": message["code"]}
            error = _run_cell(namespace, student, block)
            _write(out, {"id": message["id"], "ran": True, "error": error})
        elif op == "names":
            _write(out, {"id": message["id"], "names": _student_names(namespace, student)})
        elif op == "begin":
            _in_child(
                functools.partial(_serve_calls, lines, out, namespace, message, guarded_call),
                out,
                message["id"],
            )
        else:
            _write(out, {"id": message.get("id"), "error": f"unknown op {op!r}"})


# The exit status of a child that finished its part of the protocol; any other (os._exit(0)
# in the student's code included) means it died, which its parent then reports.
_FINISHED = 86


def _in_child(work, out: int, request_id) -> None:
    """Run ``work`` in a forked child and wait for it; report its death as the reply to
    ``request_id``. Every process the child left in its group ends with it."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        status = 1
        try:
            os.setpgid(0, 0)
            work()
            status = _FINISHED
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if os.waitstatus_to_exitcode(status) != _FINISHED:
        _write(out, {"id": request_id, "died": _exit_reason(status)})


def serve() -> None:
    """The server's main loop (runs in the sandbox). It never runs student code itself: each
    notebook gets a forked process (``open``), which forks one child per test."""
    protocol_in, protocol_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)  # the student's code cannot read the requests...
    os.dup2(2, 1)  # ...and what it prints goes to stderr, not into the replies
    _prepare()
    lines = _Lines(protocol_in)
    _write(protocol_out, {"ready": True})
    blocks: list[dict] = []
    while True:
        message = lines.read(None)
        if message is None:
            return
        op = message.get("op")
        if op == "plan":
            blocks = message["blocks"]
            _write(protocol_out, {"id": message["id"], "planned": len(blocks)})
        elif op == "open":
            serve_notebook = functools.partial(
                _serve_notebook, lines, protocol_out, blocks, message
            )
            _in_child(serve_notebook, protocol_out, message["id"])
        else:
            _write(protocol_out, {"id": message.get("id"), "error": f"unknown op {op!r}"})


def _exit_reason(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        name = signal.Signals(-code).name
        return f"the process running your code was killed by {name} (a crash or the memory limit)"
    return f"the process running your code exited with status {code} (os._exit in your code?)"


# ============================================================================================
# Outside: the trusted side
# ============================================================================================

_BUILTIN_EXCEPTIONS = {
    name: value
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, Exception)
}


def _rebuild_error(error: dict) -> BaseException:
    """The student's exception as an exception of the same built-in type (checks catch
    ``ValueError`` and ``IndexError`` to explain them), never as the student's own class;
    with the harness's ``student_trace`` and ``student_locals`` when they are well formed."""
    rebuilt = _rebuild_type(error)
    trace, shapes = error.get("trace"), error.get("locals")
    if type(trace) is list and all(
        type(t) is list and len(t) == 2 and all(type(x) is str for x in t) for t in trace
    ):
        rebuilt.student_trace = [tuple(t) for t in trace]
    if type(shapes) is dict and all(
        type(v) is list and all(type(n) is int for n in v) for v in shapes.values()
    ):
        rebuilt.student_locals = {str(k): tuple(v) for k, v in shapes.items()}
    return rebuilt


def _rebuild_type(error: dict) -> BaseException:
    kind, message = str(error.get("type", "Error")), str(error.get("message", ""))
    if kind == "IntegrityError" and error.get("module") == "utils.checks":
        from utils.checks import IntegrityError

        return IntegrityError(message)
    if kind == "NotPlainData":
        return AssertionError(message)
    if kind in _BUILTIN_EXCEPTIONS and error.get("module") == "builtins":
        with contextlib.suppress(Exception):
            return _BUILTIN_EXCEPTIONS[kind](message)
    return StudentError(f"{kind}: {message}")


class RemoteFunction:
    """A student's function, called in the sandbox. Honours the check harness's hook:
    ``__remote_call__(args, kwargs, forbidden=("module.function", ...))``."""

    def __init__(self, session: StudentSession, name: str):
        self._session, self.__name__, self.__qualname__ = session, name, name

    def __remote_call__(self, args, kwargs, forbidden=()):
        return self._session.call(self.__name__, args, kwargs, forbidden)

    def __call__(self, *args, **kwargs):
        return self.__remote_call__(args, kwargs, forbidden=())

    def __repr__(self) -> str:
        return f"<your function {self.__name__} (run in the sandbox)>"


class _NotebookEnded(SandboxFailure):
    """The process running a notebook's cells ended (the server reports it; the sandbox lives)."""


class StudentSession:
    """One sandboxed server for one student, a notebook at a time.

    The trusted side drives it: :meth:`plan` sends a notebook's blocks; :meth:`begin` has the
    notebook's process run the blocks a test needs, each cell under its own time budget (a cell
    that hangs or ends its process is skipped from then on, with the reason), and lists what
    the student defined; the first :meth:`call` of a test forks the test's child, in a notebook
    process that lacks the references the call forbids (a call forbidding others has the
    notebook's cells run again in a process that lacks those); :meth:`end` ends the test.
    """

    def __init__(
        self,
        command: list[str],
        env: dict | None,
        memory_mb: int,
        log: Path | None,
        group=None,
    ):
        self.command, self.env, self.memory_mb, self.log = command, env, memory_mb, log
        self.group = group  # a sandbox.ResourceGroup (cgroup limits for all the sandbox holds)
        self.proc: subprocess.Popen | None = None
        self.lines: _Lines | None = None
        self.next_id = 0
        self.deadline: float | None = None
        self.blocks: list[dict] | None = None
        self.cell_timeout = 20.0
        self.notebook_id: int | None = None  # the open notebook process (its request's id)
        self.forbidden: tuple[str, ...] = ()  # what that process lacks
        self.ran = 0  # how many blocks it has run (or skipped)
        self.skipped: dict[int, str] = {}  # cells that hung or ended the process...
        self.fallback: dict[int, str | None] = {}  # ...which run as their definitions only
        self.errors: dict[int, str] = {}  # cells that raised: rerun, as a kernel would
        self.prefix = 0  # the blocks of the current test
        self.test_id: int | None = None  # the current test's child (its request's id)
        self.test_crashed: str | None = None

    # -- process --------------------------------------------------------------------------

    def _limits(self) -> None:  # in the child, before exec
        if self.group is not None:
            self.group.enter()
        if self.memory_mb:
            limit = self.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def start(self) -> None:
        if self.group is not None:
            self.group.create()
            atexit.register(self.kill)  # the sandbox's cgroup goes with the grader
        stderr = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
                preexec_fn=self._limits,
            )
        finally:
            if self.log:
                stderr.close()
        assert self.proc.stdout is not None
        self.lines = _Lines(self.proc.stdout.fileno())
        try:
            ready = self.lines.read(time.monotonic() + START_TIMEOUT)
        except TimeoutError:
            ready = None
        if not ready or ready.get("ready") is not True:
            self.kill()
            raise RuntimeError("the sandbox did not start (is bwrap working? see the log)")
        if self.blocks is not None:
            self._request({"op": "plan", "blocks": self.blocks}, START_TIMEOUT)

    def kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if self.group is not None:
            self.group.remove()
            atexit.unregister(self.kill)
        self.proc, self.lines = None, None
        self.notebook_id, self.test_id = None, None

    close = kill

    # -- requests -------------------------------------------------------------------------

    def _request(self, message: dict, timeout: float | None = None) -> dict:
        """Send a request and read its reply, by ``timeout`` seconds from now (default: the
        current deadline)."""
        if self.proc is None:
            self.start()
        assert self.proc is not None
        assert self.proc.stdin is not None
        assert self.lines is not None
        deadline = self.deadline if timeout is None else time.monotonic() + timeout
        self.next_id += 1
        message = {"id": self.next_id, **message}
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise StudentCrashed("the sandbox ended before the call") from None
        try:
            reply = self.lines.read(deadline)
        except TimeoutError:
            self.kill()
            raise StudentTimeout("your code did not finish in time (an infinite loop?)") from None
        except ProtocolViolation:
            self.kill()
            raise
        if reply is None:
            self.kill()
            raise StudentCrashed("the sandbox ended during the call")
        if "died" in reply and reply.get("id") == self.test_id:
            self.test_id = None
            raise StudentCrashed(str(reply["died"]))
        if "died" in reply and reply.get("id") == self.notebook_id:
            if self.test_id is not None:  # its test's child may outlive it: start afresh
                self.kill()
            self.notebook_id, self.test_id = None, None
            raise _NotebookEnded(str(reply["died"]))
        if reply.get("id") != message["id"]:
            self.kill()
            raise ProtocolViolation(
                f"a reply for request {reply.get('id')!r:.40} arrived while request "
                f"{message['id']} was in flight"
            )
        return reply

    def plan(self, blocks: list[dict]) -> None:
        """A notebook's blocks ({label, code, student}); its cells run from the start."""
        self._close_notebook()
        self.blocks, self.skipped, self.fallback, self.errors = blocks, {}, {}, {}
        if self.proc is not None:
            self._request({"op": "plan", "blocks": blocks}, START_TIMEOUT)

    def _close_notebook(self) -> None:
        self.end()
        if self.proc is not None and self.notebook_id is not None:
            with contextlib.suppress(_NotebookEnded):
                self._request({"op": "close"}, START_TIMEOUT)
        self.notebook_id = None

    def _open(self, forbidden: tuple[str, ...]) -> None:
        """A new notebook process lacking ``forbidden``, none of its blocks run yet."""
        self._close_notebook()
        if self.proc is None:
            self.start()
        reply = self._request({"op": "open", "forbidden": list(forbidden)}, START_TIMEOUT)
        if reply.get("opened") is not True:
            raise StudentCrashed(f"the notebook's process did not start: {reply.get('died')}")
        self.notebook_id, self.forbidden, self.ran = reply["id"], forbidden, 0

    def _advance(self, prefix: int) -> None:
        """Run blocks until the first ``prefix`` have run, each cell within
        :attr:`cell_timeout`. A cell that hangs or ends the process is named, and from then
        on only its definitions run (functions, classes, imports: nothing that can hang);
        the cells before it run again in a new process."""
        assert self.blocks is not None
        while self.ran < prefix:
            index = self.ran
            label = self.blocks[index]["label"]
            request = {"op": "run", "index": index}
            if index in self.skipped:
                if self.fallback.get(index) is None:
                    self.ran += 1
                    continue
                request["code"] = self.fallback[index]
            try:
                reply = self._request(request, self.cell_timeout)
            except StudentTimeout:
                problem = (
                    f"{label} ran for more than {self.cell_timeout:g} s when grading (a long "
                    "computation or an endless loop at the top level of the cell?)"
                )
            except (_NotebookEnded, StudentCrashed) as error:
                problem = f"{label} stopped the process running it: {error}"
            else:
                error = reply.get("error")
                if error and index not in self.skipped:
                    self.errors[index] = f"{label} raised an error when grading, {error}"
                self.ran += 1
                continue
            if index in self.skipped:  # even its definitions fail: it is left out
                self.fallback[index] = None
            else:
                self.skipped[index] = f"{problem}; grading kept only its definitions"
                self.fallback[index] = self._definitions_only(index)
            self._open(self.forbidden)  # the cells before it run again

    def _definitions_only(self, index: int) -> str | None:
        from grader.verdicts.plan import safe_code  # the trusted side only

        assert self.blocks is not None
        code, _notes = safe_code(self.blocks[index]["code"])
        return code or None

    def cell_problems(self, prefix: int | None = None) -> list[str]:
        """What went wrong running the student's cells (of the first ``prefix`` blocks)."""
        assert self.blocks is not None
        found = {**self.errors, **self.skipped}
        return [
            found[i]
            for i in sorted(found)
            if (prefix is None or i < prefix) and self.blocks[i].get("student")
        ]

    def begin(self, prefix: int, timeout: float) -> tuple[dict, list[str]]:
        """Prepare a test cell that follows the first ``prefix`` blocks: run them (each within
        ``timeout``, as its own budget), then list what the student defined. The test's calls
        then have ``timeout`` seconds in all (running cells again for a call that forbids
        other references does not count). Returns the values to bind in the trusted namespace
        (proxies and plain values) and what went wrong running the student's cells."""
        self.cell_timeout, self.prefix, self.test_crashed = timeout, prefix, None
        if self.notebook_id is None or self.ran > prefix:
            self._open(self.forbidden)
        try:
            self._advance(prefix)
            self.deadline = time.monotonic() + timeout
            reply = self._request({"op": "names"})
        except _NotebookEnded as error:
            raise StudentCrashed(str(error)) from None
        names = reply.get("names")
        if type(names) is not dict:
            self.kill()
            raise ProtocolViolation("the list of your definitions is malformed")
        bound = {}
        for name, entry in names.items():
            kind = entry.get("kind") if type(entry) is dict else None
            if kind in ("function", "class"):
                bound[name] = RemoteFunction(self, name)
            elif kind == "value":
                try:
                    bound[name] = plain_data.decode(entry.get("value"))
                except plain_data.MalformedData as error:
                    self.kill()
                    raise ProtocolViolation(f"the value of {name}: {error}") from None
        return bound, self.cell_problems(prefix)

    def end(self) -> None:
        if self.proc is not None and self.test_id is not None:
            with contextlib.suppress(SandboxFailure):
                self._request({"op": "end"}, 10)
        self.test_id = None

    def _test_child(self, forbidden: tuple[str, ...]) -> None:
        """The test's child, forked from a notebook process that lacks ``forbidden``."""
        if forbidden and forbidden != self.forbidden:
            started = time.monotonic()
            self.end()
            self._open(forbidden)
            self._advance(self.prefix)
            if self.deadline is not None:
                self.deadline += time.monotonic() - started
        if self.notebook_id is None:
            self._open(self.forbidden)
            self._advance(self.prefix)
        if self.test_id is None:
            reply = self._request({"op": "begin"})
            if reply.get("begun") is not True:
                raise StudentCrashed(str(reply.get("died")))
            self.test_id = reply["id"]

    def call(self, name: str, args, kwargs, forbidden=()) -> Any:
        if self.deadline is not None and time.monotonic() > self.deadline:
            # the budget covers the trusted side's decoding and checking too
            raise StudentTimeout("the test ran out of time (decoding and checking included)")
        if self.test_crashed:
            raise StudentCrashed(
                f"your code is no longer running (an earlier call crashed: {self.test_crashed})"
            )
        payload = {
            "op": "call",
            "name": name,
            "args": plain_data.encode(list(args), f"the arguments of {name}"),
            "kwargs": plain_data.encode(dict(kwargs), f"the arguments of {name}"),
            "forbidden": [str(f) for f in forbidden],
        }
        try:
            self._test_child(tuple(sorted(set(payload["forbidden"]))))
            reply = self._request(payload)
        except (StudentCrashed, _NotebookEnded) as error:
            self.test_crashed = str(error)
            raise StudentCrashed(str(error)) from None
        if reply.get("ok") is not True:
            error = reply.get("error")
            raise _rebuild_error(error if type(error) is dict else {})
        try:
            result = plain_data.decode(reply.get("result"))
            args_after = plain_data.decode(reply.get("args"))
            kwargs_after = plain_data.decode(reply.get("kwargs"))
        except plain_data.OverBudget as error:  # a value too big or odd to check: this test
            raise AssertionError(f"what {name} returned cannot be graded: {error}") from None
        except plain_data.MalformedData as error:
            self.kill()
            raise ProtocolViolation(f"the reply to a call of {name}: {error}") from None
        if type(args_after) is not list or len(args_after) != len(args):
            self.kill()
            raise ProtocolViolation(f"the reply to a call of {name} lost its arguments")
        for original, after in zip(args, args_after, strict=True):
            plain_data.copy_into(original, after)
        if type(kwargs_after) is dict:
            for key, original in kwargs.items():
                if key in kwargs_after:
                    plain_data.copy_into(original, kwargs_after[key])
        return _with_aliases(result, reply.get("aliases"), [list(args), dict(kwargs)])


def _follow(root, path: list):
    for step in path:
        root = root[step]
    return root


def _with_aliases(result, aliases, arguments: list):
    """``result`` with the caller's own objects where the student's function returned one of
    its arguments (``aliases`` from the sandbox); a path that does not fit is ignored."""
    if type(aliases) is not list:
        return result
    for entry in aliases:
        try:
            result_path, argument_path = entry
            original = _follow(arguments, argument_path)
            if not result_path:
                return original
            container = _follow(result, result_path[:-1])
            if type(container) is tuple:  # rebuild the tuple around the original
                items = list(container)
                items[result_path[-1]] = original
                if len(result_path) == 1:
                    result = tuple(items)
                else:
                    _follow(result, result_path[:-2])[result_path[-2]] = tuple(items)
            else:
                container[result_path[-1]] = original
        except (TypeError, ValueError, KeyError, IndexError):
            continue
    return result


if __name__ == "__main__":
    serve()
