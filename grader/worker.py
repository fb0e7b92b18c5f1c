"""A long-lived nbgrader process: pays nbgrader's start-up once, then grades job after job.

Started by :mod:`grader.grade` as ``python -m grader.worker ROOT`` with resource limits that
the notebook kernels inherit. Reads one JSON job per line on stdin and answers one JSON line
on stdout. Jobs:

- ``{"op": "generate", "assignment": A}``: put the source (with hidden tests) into the
  gradebook, generating into a throw-away folder (``notebooks/`` is not touched);
- ``{"op": "autograde", "assignment": A, "student": S}``: forget the old grades of (A, S),
  autograde, and return the per-cell scores read back from the gradebook.

The parent kills the worker (and its kernels) when a job overruns, and starts a new one.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from grader import protocol


def forget(course, assignment: str, student: str) -> None:
    from nbgrader.api import MissingEntry

    gb = course.gradebook()
    try:
        gb.remove_submission(assignment, student)
    except MissingEntry:
        pass
    finally:
        gb.close()


def scores(course, assignment: str, student: str) -> dict:
    """``{notebook: {grade_id: [auto_score, max_score, is_auto]}}`` from the gradebook."""
    from nbgrader.api import MissingEntry

    gb = course.gradebook()
    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        return {}
    try:
        out = {}
        for notebook in submission.notebooks:
            out[notebook.name] = {
                grade.name: [grade.auto_score, grade.max_score, grade.auto_score is not None]
                for grade in notebook.grades
            }
        return out
    finally:
        gb.close()


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def handle(course, job: dict) -> dict:
    op = job["op"]
    start = time.monotonic()
    result: dict = {"op": op}
    if op == "generate":
        with tempfile.TemporaryDirectory(prefix="gen-") as tmp:
            run = course.generate_assignment(job["assignment"], release_dir=Path(tmp), db=True)
        result.update(success=run["success"], error=run["error"], log=_tail(run["log"]))
    elif op == "autograde":
        forget(course, job["assignment"], job["student"])
        run = course.autograde(job["assignment"], job["student"])
        result.update(
            success=run["success"],
            error=run["error"],
            log=_tail(run["log"], 40),
            scores=scores(course, job["assignment"], job["student"]),
        )
    else:
        result.update(success=False, error=f"unknown job {op!r}")
    result["seconds"] = round(time.monotonic() - start, 3)
    return result


def main(root: str) -> None:
    def prepare():
        from grader.nbg import Course

        course = Course(Path(root))
        import nbgrader.converters  # noqa: F401  (pay the import before saying ready)

        return course

    def failure(error: Exception) -> dict:
        return {"success": False, "error": f"{type(error).__name__}: {error}"}

    protocol.serve(prepare, handle, failure)


if __name__ == "__main__":
    main(sys.argv[1])
