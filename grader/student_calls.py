"""Calling a student's functions in the sandbox from trusted test code: both halves.

*Inside the sandbox* (``python -m grader.student_calls``, see :func:`serve`) a small server
imports numpy and the course package once, then for each test cell forks a child that runs the
notebook's definitions (the instructor's setup cells and the student's answers, already reduced
to definitions by :mod:`grader.definitions`), lists the names the student defined, and answers
calls of those functions until the test cell ends. Each call runs under
:func:`utils.checks.guarded_call` *inside* the sandbox, so calling a forbidden reference or
patching numpy while the function runs is still reported.

*Outside* (the trusted grader process) :class:`StudentSession` starts that server in the
sandbox and :class:`RemoteFunction` stands for each student function in the test's namespace.
Only plain data (:mod:`grader.plain_data`) crosses: arguments are sent fresh for every call
and the arguments as the function left them come back, so in-place mutation is mirrored onto
the caller's objects (and caught by the checks as before). A student object never reaches a
check.

Messages are JSON lines. Every request carries an ``id`` and every reply must name it; a reply
for anything else, a malformed line, or a line longer than :data:`MAX_LINE` is a
:class:`ProtocolViolation` for the notebook being graded (and nobody else: one sandbox holds
one notebook of one student). A function that overruns the test cell's time budget raises
:class:`StudentTimeout`; one that ends its process, :class:`StudentCrashed`. These three derive
from :class:`SandboxFailure`, a ``BaseException``, so that no ``except Exception`` in a check
can swallow them.
"""

from __future__ import annotations

import builtins
import contextlib
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

from grader import plain_data

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


def _student_names(blocks: list[dict], prefix: int) -> tuple[dict, dict, list[str]]:
    """Run ``blocks[:prefix]``; return (namespace, {name: description}, setup errors)."""
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    student: set[str] = set()
    errors = []
    for block in blocks[:prefix]:
        before = dict(namespace)
        filename = f"<{block['label']}>"
        lines = block["code"].splitlines(True)
        linecache.cache[filename] = (len(block["code"]), None, lines, filename)  # for tracebacks
        try:
            exec(compile(block["code"], filename, "exec"), namespace)
        except BaseException as error:  # a broken answer must not stop the others
            errors.append(f"{block['label']}: {type(error).__name__}: {error}"[:500])
        changed = {k for k, v in namespace.items() if k not in before or before[k] is not v}
        if block.get("student"):
            student |= changed
        else:
            student -= changed
    names = {}
    for name in sorted(student):
        value = namespace.get(name)
        if name.startswith("__") or isinstance(value, types.ModuleType):
            continue
        if isinstance(value, types.FunctionType):
            names[name] = {"kind": "function"}
        elif isinstance(value, type):
            names[name] = {"kind": "class"}
        else:
            try:
                names[name] = {"kind": "value", "value": plain_data.encode(value, name)}
            except plain_data.NotPlainData as error:
                names[name] = {"kind": "other", "why": str(error)}
    return namespace, names, errors


def _answer_call(namespace: dict, message: dict) -> dict:
    from utils import checks

    name = message.get("name")
    func = namespace.get(name)
    if not isinstance(func, types.FunctionType | type):
        return {"ok": False, "error": {"type": "TypeError", "message": f"{name} is not a function"}}
    try:
        args = plain_data.decode(message["args"])
        kwargs = plain_data.decode(message["kwargs"])
        forbid = [_resolve(ref) for ref in message.get("forbidden", [])]
        result = checks.guarded_call(func, *args, forbid=forbid, name=name, **kwargs)
        return {
            "ok": True,
            "result": plain_data.encode(result, f"the result of {name}"),
            "args": plain_data.encode(args, f"the arguments of {name}"),
            "kwargs": plain_data.encode(kwargs, f"the arguments of {name}"),
        }
    except BaseException as error:  # everything the student's code raises is reported
        return {"ok": False, "error": _describe(error)}


def _serve_test(lines: _Lines, out: int, blocks: list[dict], begin: dict) -> None:
    """The forked child: one test cell's namespace, then calls until ``end``."""
    namespace, names, errors = _student_names(blocks, int(begin["prefix"]))
    _write(out, {"id": begin["id"], "names": names, "setup_errors": errors})
    while True:
        message = lines.read(None)
        if message is None or message.get("op") == "end":
            if message is not None:
                _write(out, {"id": message.get("id"), "ended": True})
            return
        if message.get("op") == "call":
            _write(out, {"id": message.get("id"), **_answer_call(namespace, message)})
        else:
            _write(out, {"id": message.get("id"), "ok": False, "error": {"type": "bad request"}})


# The exit status of a test's child that answered ``end``; any other (os._exit(0) in the
# student's code included) means it died during the test, which the server then reports.
_FINISHED = 86


def serve() -> None:
    """The server's main loop (runs in the sandbox)."""
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
        elif op == "begin":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                status = 1
                try:
                    os.setsid()
                    _serve_test(lines, protocol_out, blocks, message)
                    status = _FINISHED
                finally:
                    os._exit(status)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != _FINISHED:
                _write(protocol_out, {"id": message["id"], "died": _exit_reason(status)})
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


class StudentSession:
    """One sandboxed server for one notebook of one student."""

    def __init__(self, command: list[str], env: dict | None, memory_mb: int, log: Path | None):
        self.command, self.env, self.memory_mb, self.log = command, env, memory_mb, log
        self.proc: subprocess.Popen | None = None
        self.lines: _Lines | None = None
        self.next_id = 0
        self.deadline: float | None = None
        self.test_id: int | None = None
        self.planned: list[dict] | None = None

    # -- process --------------------------------------------------------------------------

    def _limits(self) -> None:  # in the child, before exec
        if self.memory_mb:
            limit = self.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def start(self) -> None:
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
        if self.planned is not None:
            self.deadline = time.monotonic() + START_TIMEOUT
            self._request({"op": "plan", "blocks": self.planned})

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self.proc, self.lines, self.test_id = None, None, None

    close = kill

    # -- requests -------------------------------------------------------------------------

    def _request(self, message: dict) -> dict:
        if self.proc is None:
            self.start()
        assert self.proc is not None
        assert self.proc.stdin is not None
        assert self.lines is not None
        self.next_id += 1
        message = {"id": self.next_id, **message}
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise StudentCrashed("the sandbox ended before the call") from None
        try:
            reply = self.lines.read(self.deadline)
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
        if reply.get("id") != message["id"]:
            self.kill()
            raise ProtocolViolation(
                f"a reply for request {reply.get('id')!r:.40} arrived while request "
                f"{message['id']} was in flight"
            )
        return reply

    def plan(self, blocks: list[dict]) -> None:
        """The notebook's blocks ({label, code, student}), sent once per sandbox."""
        self.planned = blocks
        if self.proc is not None:
            self._request({"op": "plan", "blocks": blocks})

    def begin(self, prefix: int, timeout: float) -> tuple[dict, list[str]]:
        """Start a test cell's namespace (the first ``prefix`` blocks), which then has
        ``timeout`` seconds for all its calls (starting the sandbox does not count). Returns
        the values to bind in the trusted namespace (proxies and plain values) and the setup
        errors."""
        if self.proc is None:
            self.start()
        self.deadline = time.monotonic() + timeout
        reply = self._request({"op": "begin", "prefix": prefix})
        self.test_id = reply["id"]
        names, errors = reply.get("names"), reply.get("setup_errors", [])
        if type(names) is not dict or type(errors) is not list:
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
        return bound, [str(e) for e in errors]

    def end(self) -> None:
        if self.proc is not None and self.test_id is not None:
            self.deadline = time.monotonic() + 10
            with contextlib.suppress(SandboxFailure):
                self._request({"op": "end"})
        self.test_id = None

    def call(self, name: str, args, kwargs, forbidden=()) -> Any:
        if self.test_id is None:
            raise StudentCrashed("your code is no longer running (it crashed in an earlier call)")
        payload = {
            "op": "call",
            "name": name,
            "args": plain_data.encode(list(args), f"the arguments of {name}"),
            "kwargs": plain_data.encode(dict(kwargs), f"the arguments of {name}"),
            "forbidden": [str(f) for f in forbidden],
        }
        reply = self._request(payload)
        if reply.get("ok") is not True:
            error = reply.get("error")
            raise _rebuild_error(error if type(error) is dict else {})
        try:
            result = plain_data.decode(reply.get("result"))
            args_after = plain_data.decode(reply.get("args"))
            kwargs_after = plain_data.decode(reply.get("kwargs"))
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
        return result


if __name__ == "__main__":
    serve()
