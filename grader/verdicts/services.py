"""Both halves of the line protocol between ``python -m grader grade`` and its long-lived
services (the nbgrader workers, :mod:`grader.books.nbgrader_worker`, and the re-grade,
:mod:`grader.verdicts.runner`).

A service pays its start-up cost once, says ``{"ready": true}``, then answers one JSON job per
line on stdin with one JSON result per line on stdout (:func:`serve`). Every job carries a
``job`` id and its result must name the same id: :class:`Service` accepts only the reply to
the job in flight, so a line that names another job, is not JSON, or is not an object is a
:class:`ProtocolError` for *that* job (the service is then restarted; the next job starts on a
clean channel). Anything else a service or its children print goes to stderr (the service's
log), never into the protocol channel, and the channel is not inherited by any child: the
student sandboxes get their own.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

MAX_LINE = 64 * 1024 * 1024


class ProtocolError(RuntimeError):
    """A service answered something other than the result of the job in flight."""


# --------------------------------------------------------------------------------------------
# The service side
# --------------------------------------------------------------------------------------------


def serve(
    prepare: Callable[[], object],
    handle: Callable[[object, dict], dict],
    failure: Callable[[Exception], dict],
) -> None:
    """Run a service: ``state = prepare()``, then ``handle(state, job)`` for every job.

    An exception in ``handle`` becomes ``failure(error)`` for that job; the service goes on.
    """
    channel = os.fdopen(os.dup(1), "w", buffering=1)  # os.dup: not inheritable (PEP 446)
    os.dup2(2, 1)  # anything else printed goes to stderr
    state = prepare()
    channel.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = handle(state, job)
        except Exception as error:
            result = failure(error)
        channel.write(json.dumps({**result, "job": job.get("job")}) + "\n")


# --------------------------------------------------------------------------------------------
# The grader side
# --------------------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (each sandbox also ends with its parent)."""
    tree, todo, found = _children(), [pid], []
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    for victim in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)


class Service:
    """A service process speaking this protocol; restarted after a kill, a crash or a protocol
    error. ``before_start`` runs before every (re)start (the grader checks there that the code
    the service runs from is still the verified one)."""

    _ids = itertools.count(1)

    def __init__(
        self,
        name: str,
        argv: list[str],
        cwd: Path,
        memory_mb: int,
        log: Path,
        env: dict[str, str] | None = None,
        before_start: Callable[[], None] | None = None,
    ):
        self.name, self.argv, self.cwd, self.memory_mb, self.log_path = (
            name,
            argv,
            cwd,
            memory_mb,
            log,
        )
        self.env = env
        self.before_start = before_start
        self.proc: subprocess.Popen | None = None
        self.buffer = b""
        self.job: dict | None = None
        self.deadline = 0.0
        self.started = 0.0

    def _limits(self) -> None:  # runs in the child before exec
        if self.memory_mb:
            limit = self.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def start(self, timeout: float = 180.0) -> None:
        if self.before_start is not None:
            self.before_start()
        env = dict(self.env if self.env is not None else os.environ)
        for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(key, "1")
        env.setdefault("MPLBACKEND", "Agg")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                preexec_fn=self._limits,
            )
        self.buffer = b""
        try:
            line = self._line(time.monotonic() + timeout)
        except ProtocolError:
            line = None
        if line is None or not line.get("ready"):
            self.kill()
            raise RuntimeError(f"{self.name} did not start; see {self.log_path}")

    def fileno(self) -> int:
        assert self.proc is not None
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def has_line(self) -> bool:
        return b"\n" in self.buffer

    def _parse(self) -> dict:
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            raise ProtocolError(f"a line that is not JSON: {line[:100]!r}") from None
        if type(message) is not dict:
            raise ProtocolError(f"a line that is not a JSON object: {line[:100]!r}")
        return message

    def _line(self, deadline: float) -> dict | None:
        """Block until a full line or the deadline; None on timeout or EOF."""
        return self._parse() if self._line_ready(deadline) else None

    def pump(self) -> bool:
        """Read what is available; False at EOF (the process died)."""
        chunk = os.read(self.fileno(), 1 << 16)
        if not chunk:
            return False
        self.buffer += chunk
        if len(self.buffer) > MAX_LINE and not self.has_line():
            raise ProtocolError(f"a line longer than {MAX_LINE} bytes")
        return True

    def result(self) -> dict:
        """The complete line in the buffer, which must be the result of the job in flight."""
        message = self._parse()
        expected = None if self.job is None else self.job["job"]
        if message.get("job") != expected or expected is None:
            raise ProtocolError(
                f"a result for job {message.get('job')!r:.60} arrived while job {expected!r} "
                "was in flight"
            )
        return message

    def send(self, job: dict, timeout: float) -> None:
        if self.buffer:  # stray output after the last result: start on a clean channel
            self.restart()
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.job = {**job, "job": f"{self.name}#{next(self._ids)}"}
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.proc.stdin.write((json.dumps(self.job) + "\n").encode())
        self.proc.stdin.flush()

    def call(self, job: dict, timeout: float) -> dict | None:
        """Send one job and wait for its result (None on timeout or death)."""
        self.send(job, timeout)
        out = self.result() if self._line_ready(self.deadline) else None
        self.job = None
        return out

    def _line_ready(self, deadline: float) -> bool:
        while not self.has_line():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with selectors.DefaultSelector() as sel:
                sel.register(self.fileno(), selectors.EVENT_READ)
                if not sel.select(left):
                    continue
            if not self.pump():
                return False
        return True

    def restart(self) -> None:
        self.kill()
        self.start()

    def kill(self) -> None:
        if self.proc is not None:
            kill_tree(self.proc.pid)
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
            self.proc = None
        self.buffer = b""

    def close(self) -> None:
        """End the service and everything it started (sandboxes) at once: it holds
        nothing that needs a graceful shutdown, and nothing may outlive grading."""
        self.kill()
