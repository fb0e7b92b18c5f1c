"""A long-lived nbgrader process: pays nbgrader's start-up once, then keeps the books job
after job. It runs no student code: the verdicts it records come from the re-grade.

Started by :mod:`grader.grade` as ``python -P -m grader.books.nbgrader_worker ROOT`` from the
verified copy of the grader's code. Jobs (see :mod:`grader.verdicts.services`):

- ``{"op": "generate", "assignment": A}``: put the source (with hidden tests) into the
  gradebook, generating into a throw-away folder (``notebooks/`` is not touched);
- ``{"op": "autograde", "assignment": A, "student": S, "verdicts": {notebook: re-grade
  result}}``: autograde with those verdicts as the test cells' outputs
  (:mod:`grader.books.autograde`; automatic scores are replaced, hand grades kept) and
  return the per-cell scores read back from the gradebook.

The parent kills the worker when a job overruns, and starts a new one.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from grader.books import gradebook
from grader.books.autograde import autograde
from grader.course.nbgrader_api import Course
from grader.verdicts import services


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
        assignment, student = job["assignment"], job["student"]
        # No remove_submission here: nbgrader's autograde replaces every automatic score and
        # keeps hand grades and comments, which grader.grade restores or flags afterwards
        # (a submission that cannot be graded is removed there, its hand grades saved first).
        run = autograde(course, assignment, student, job.get("verdicts") or {})
        with gradebook.opened(course.root, course) as gb:
            scores = gradebook.submission_scores(gb, assignment, student)
        result.update(
            success=run["success"], error=run["error"], log=_tail(run["log"], 40), scores=scores
        )
    else:
        result.update(success=False, error=f"unknown job {op!r}")
    result["seconds"] = round(time.monotonic() - start, 3)
    return result


def main(argv: list[str]) -> None:
    root = Path(argv[0])

    def prepare():
        course = Course(root)
        import nbgrader.converters  # noqa: F401  (pay the import before saying ready)

        return course

    def failure(error: Exception) -> dict:
        return {"success": False, "error": f"{type(error).__name__}: {error}"}

    services.serve(prepare, handle, failure)


if __name__ == "__main__":
    main(sys.argv[1:])
