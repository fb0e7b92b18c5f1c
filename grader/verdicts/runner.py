"""The authoritative re-grade: test code runs here, in the trusted grader; student code runs only
in the sandbox.

For each submitted notebook, :func:`grade_notebook` lays the notebook out with
:func:`grader.verdicts.plan.plan` (the student's cells as they are, the instructor's reduced to
definitions, test cells from ``solutions/``), runs the student's cells in the student's
sandbox (:class:`grader.verdicts.student_calls.StudentSession`) in the notebook's order, as their
kernel did, and runs every test cell *here*, in a namespace built from the instructor's cells, in
which each name the student defined is a :class:`~grader.verdicts.student_calls.RemoteFunction` (or
the plain value of a constant). The verdict, pass or the failing check's message, is therefore
computed where no student code ever ran, on plain data only: a lying ``__eq__``, a patched
``np.allclose`` or a forged result line cannot reach it. A name the instructor's cells define
cannot be replaced by the student's (``checks = ...`` in an answer changes nothing here).

Run as ``python -m grader.verdicts.runner LIB COURSE [--no-sandbox]`` (a service of
:mod:`grader.verdicts.services`; LIB is the folder the sandbox mounts, see
:mod:`grader.verdicts.sandbox`; COURSE the course root, which no sandbox may see). A job is
``{"source": notebook text, "student": path or None, "timeout": seconds per test cell, "memory_mb":
limit, "owner": student}``; the result is ``{"tests": [{grade_id, passed, error, output, seconds,
setup_errors}], "notes": [...], "error": None or why the notebook cannot be graded}``
(``output``: what the test cell printed, shown in the autograded notebook by
:mod:`grader.books.autograde`).
"""

from __future__ import annotations

import builtins
import contextlib
import io
import sys
import time
from pathlib import Path

import nbformat

from grader.course import notebooks as nbs
from grader.verdicts import plan as definitions
from grader.verdicts import services
from grader.verdicts.sandbox import ResourceGroup, Sandbox, SandboxUnavailable
from grader.verdicts.student_calls import (
    ProtocolViolation,
    SandboxFailure,
    StudentCrashed,
    StudentSession,
    StudentTimeout,
)


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."


def student_session(sandbox: Sandbox, memory_mb: int, log: Path | None = None) -> StudentSession:
    """A session for one student: sandboxed as ``sandbox`` says, and, where the machine lets
    the grader create cgroups, with the whole sandbox held to ``memory_mb`` and
    :data:`~grader.verdicts.sandbox.PIDS_MAX` processes."""
    command = sandbox.command([sys.executable, "-m", "grader.verdicts.student_calls"])
    group = None
    if sandbox.enabled and memory_mb:
        with contextlib.suppress(SandboxUnavailable):  # RLIMIT_AS per process still holds
            group = ResourceGroup(memory_mb * 1024 * 1024)
    return StudentSession(command, None, memory_mb, log, group)


def _trusted_namespace(blocks: list[dict]) -> tuple[dict, set[str]]:
    """The instructor's cells of ``blocks`` run here; returns the namespace and its names."""
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    for block in blocks:
        if block["student"]:
            continue
        try:
            exec(compile(block["code"], f"<{block['label']}>", "exec"), namespace)
        except Exception as error:  # the instructor's cell: report, do not hide
            raise RuntimeError(f"the course's own cell {block['label']} fails: {error}") from error
    return namespace, set(namespace)


MAX_OUTPUT = 20_000  # characters of a test cell's printed output kept for its notebook


def run_test(session: StudentSession, plan: dict, test: dict, timeout: float) -> dict:
    """One test cell: its verdict, computed here. When it fails and a cell of the student's
    before it could not run when grading, the message says so first (the cell, the line and
    why), since that is what the student must mend."""
    start = time.monotonic()
    result = {"grade_id": test["grade_id"], "passed": False, "error": None, "setup_errors": []}
    printed = io.StringIO()
    try:
        bound, result["setup_errors"] = session.begin(test["prefix"], timeout)
        namespace, trusted = _trusted_namespace(plan["blocks"][: test["prefix"]])
        # A student's name never replaces the instructor's, nor a builtin the tests use.
        trusted |= set(vars(builtins))
        namespace.update({k: v for k, v in bound.items() if k not in trusted})
        with contextlib.redirect_stdout(printed):
            exec(compile(test["code"], f"<test {test['grade_id']}>", "exec"), namespace)
        result["passed"] = True
    except ProtocolViolation:
        raise
    except StudentTimeout:
        result["error"] = f"timed out after {timeout:g} s (an infinite loop?)"
    except StudentCrashed as error:
        result["error"] = str(error)
    except SandboxFailure as error:  # pragma: no cover - the three above are all there is
        result["error"] = _describe(error)
    except Exception as error:
        result["error"] = _describe(error)
    finally:
        session.end()
    if result["error"] and result["setup_errors"]:
        result["error"] = f"{'; '.join(result['setup_errors'])}. Then the test failed: " + str(
            result["error"]
        )
    result["output"] = printed.getvalue()[:MAX_OUTPUT]
    result["seconds"] = round(time.monotonic() - start, 3)
    return result


def grade_notebook(
    source_nb, student_nb, session: StudentSession, timeout: float
) -> dict[str, object]:
    """Re-grade one notebook in ``session`` (started on first use, closed by the caller)."""
    plan = definitions.plan(source_nb, student_nb)
    session.plan(plan["blocks"])
    tests = []
    try:
        for test in plan["tests"]:
            tests.append(run_test(session, plan, test, timeout))
    except ProtocolViolation as error:
        return {"tests": [], "notes": plan["notes"], "error": f"protocol violation: {error}"}
    notes = plan["notes"] + session.cell_problems()
    return {"tests": tests, "notes": notes, "error": None}


class Regrader:
    """The service's state: where the sandbox's files are, whether to sandbox at all, and the
    sandbox of the student being graded (kept for that student's next notebook, since jobs
    come student by student; never shared between two students)."""

    def __init__(self, lib: Path, sandboxed: bool, log: Path | None, course: Path | None = None):
        fontlists = sorted((lib.parent / "matplotlib").glob("fontlist-*.json"))
        self.sandbox = Sandbox(
            lib=lib, enabled=sandboxed, fontlist=(fontlists or [None])[-1], repository=course
        )
        self.log = log
        self.owner: str | None = None
        self.session: StudentSession | None = None

    def _session_for(self, owner: str, memory_mb: int) -> StudentSession:
        if self.session is not None and (owner != self.owner or self.session.proc is None):
            self.session.close()
            self.session = None
        if self.session is None:
            self.session = student_session(self.sandbox, memory_mb, self.log)
            self.owner = owner
        return self.session

    def handle(self, job: dict) -> dict:
        source_nb = nbformat.reads(job["source"], as_version=nbs.NB_VERSION)
        student_nb = None
        if job.get("student"):
            try:
                student_nb = nbs.read(Path(job["student"]))
            except Exception as error:
                return {"tests": [], "notes": [], "error": f"cannot read: {_describe(error)}"}
        session = self._session_for(str(job.get("owner")), int(job.get("memory_mb", 0)))
        try:
            return grade_notebook(source_nb, student_nb, session, float(job.get("timeout", 20)))
        except BaseException:
            session.close()
            raise


def main(argv: list[str]) -> None:
    lib, course = Path(argv[0]), Path(argv[1])
    sandboxed = "--no-sandbox" not in argv[2:]

    def prepare() -> Regrader:
        import importlib
        import pkgutil

        import utils

        for module in pkgutil.walk_packages(utils.__path__, prefix="utils."):
            try:  # the checks the test cells call, imported once
                importlib.import_module(module.name)
            except Exception as error:  # a broken optional module must not stop grading
                print(f"re-grade: cannot import {module.name}: {error}", file=sys.stderr)
        return Regrader(lib, sandboxed, None, course)

    def failure(error: Exception) -> dict:
        return {"tests": [], "notes": [], "error": f"the re-grade failed: {_describe(error)}"}

    services.serve(prepare, lambda state, job: state.handle(job), failure)


if __name__ == "__main__":
    main(sys.argv[1:])
