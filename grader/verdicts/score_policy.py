"""The score policy: the re-grade's verdict and nbgrader's record of it -> final score and reason.

Pure functions on plain values (no files, no gradebook), so every rule has a unit test
(``tests/grading/test_score_policy.py``):

- a test cell scores its points if and only if the re-grade (:mod:`grader.verdicts.runner`: test
  code in the trusted grader, student code in the sandbox) passed it; the reason of a failure is
  the failing check's message;
- a cell nbgrader did not record (its gradebook has no such cell), scores 0;
- cells that are not autograded tests (written answers, tasks) are graded by hand; which cells
  those are comes from the *source* notebook, never from what a result happens to lack;
- a re-grade result that names a cell the source does not have, or lacks a test the source
  has, is a protocol violation: the notebook is not graded (and nobody else is affected).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from grader.course import notebooks as nbs

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Status(StrEnum):
    """Where a submission stands: every report, the export and the feedback use these (a
    ``str``, so the stored records and the CSV files hold the words themselves)."""

    GRADED = "graded"
    PENDING = "pending hand grading"  # graded, but written answers still wait for a person
    NOT_GRADED = "not graded"  # could not be graded; the reason says why
    NO_SUBMISSION = "no submission"


@dataclass
class CellResult:
    notebook: str
    grade_id: str
    max_score: float
    nbgrader_score: float | None = None
    clean_passed: bool | None = None
    clean_error: str | None = None
    final: float | None = None
    status: str = ""  # passed | failed | manual (| pending: to grade by hand)
    reason: str = ""


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    max_score: float
    status: Status = Status.GRADED
    reason: str = ""
    score: float | None = None
    cells: list[CellResult] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (notebook, text)


class NotGraded(Exception):
    """The notebook cannot be graded; the message is the reason."""


def points(source_nb) -> dict[str, float]:
    """``grade_id -> points`` of every graded cell and task of a source notebook."""
    return {
        nbs.grade_id(c): float(nbs.nbgrader_meta(c).get("points", 0) or 0)
        for c in source_nb.cells
        if nbs.is_grade(c) or nbs.nbgrader_meta(c).get("task")
    }


def max_score(source_nb) -> float:
    """The most a notebook can score: the points of every graded cell *and* every task, as
    nbgrader counts them (its gradebook's ``max_score``, the "9.0" in its feedback). The one
    maximum every report uses (feedback, ``grades.csv``, ``report.md``, ``export.csv``, and the
    late penalty, a fraction of it, behind ``canvas.csv``)."""
    return sum(points(source_nb).values())


def autograded_tests(source_nb) -> set[str]:
    return {nbs.grade_id(c) for c in source_nb.cells if nbs.is_autograded_test(c)}


_NBGRADER_FAILURES = [
    (r"Inconsistent checksums|checksum.*inconsistent", "nbgrader found inconsistent cell metadata"),
    (r"NotJSONError|not valid JSON|Notebook does not appear to be JSON", "not a valid notebook"),
    (r"KeyError: 'grade_id'", "a test cell was duplicated or its metadata removed"),
    (r"database is locked", "the gradebook was busy (database is locked)"),
    (r"MemoryError", "ran out of memory (limit reached)"),
]


def nbgrader_failure_reason(result: dict) -> str:
    """A one-line reason for a failed nbgrader run, from its error and log."""
    log = ANSI_RE.sub("", (result.get("log") or "") + "\n" + (result.get("error") or ""))
    for pattern, reason in _NBGRADER_FAILURES:
        if re.search(pattern, log, re.IGNORECASE):
            return reason
    lines = [
        line.strip()
        for line in log.splitlines()
        if line.strip() and ("Error" in line or "error" in line) and "see the error log" not in line
    ]
    return lines[-1][:300] if lines else "nbgrader could not grade the submission"


NOT_ATTEMPTED = (
    "not attempted: the exercise still raises NotImplementedError (its # YOUR CODE HERE is "
    "not filled in)"
)
_NOT_IMPLEMENTED_RE = re.compile(r"^\s*NotImplementedError\s*:?\s*$")


def describe_error(error: str | None) -> str:
    """A failing check's message for people: an exercise left as released (it raises a bare
    ``NotImplementedError``) says it was not attempted."""
    if error and _NOT_IMPLEMENTED_RE.match(error):
        return NOT_ATTEMPTED
    return error or "failed"


def cell_verdict(
    notebook: str,
    grade_id: str,
    max_points: float,
    nbgrader_score: float | None,
    test: dict,
) -> CellResult:
    """The final score of one autograded test cell. ``test`` is the re-grade's verdict
    ``{"passed": bool, "error": str | None}``; ``nbgrader_score`` what nbgrader recorded."""
    cell = CellResult(notebook, grade_id, max_points)
    cell.nbgrader_score = nbgrader_score
    cell.clean_passed, cell.clean_error = bool(test["passed"]), test.get("error")
    if nbgrader_score is None:
        cell.final, cell.status, cell.reason = 0.0, "failed", "nbgrader did not score this cell"
    elif cell.clean_passed:
        cell.final, cell.status = float(max_points), "passed"
    else:
        cell.final, cell.status = 0.0, "failed"
        cell.reason = describe_error(cell.clean_error)
    return cell


def notebook_verdicts(
    notebook: str,
    source_nb,
    nbgrader_scores: dict[str, list],
    regrade: dict,
) -> list[CellResult]:
    """Every graded cell of one notebook; :class:`NotGraded` when the re-grade result cannot
    be trusted to describe this notebook."""
    if regrade.get("error"):
        raise NotGraded(f"{notebook}: {regrade['error']}")
    tests = autograded_tests(source_nb)
    verdicts: dict[str, dict] = {}
    for test in regrade.get("tests", []):
        gid = test.get("grade_id") if isinstance(test, dict) else None
        if gid not in tests or gid in verdicts or not isinstance(test.get("passed"), bool):
            raise NotGraded(f"{notebook}: protocol violation: unexpected verdict {gid!r:.60}")
        verdicts[gid] = test
    missing = sorted(tests - set(verdicts))
    if missing:
        raise NotGraded(f"{notebook}: protocol violation: no verdict for {', '.join(missing)}")
    cells = []
    for gid, max_points in points(source_nb).items():
        if gid not in tests:
            cells.append(
                CellResult(notebook, gid, max_points, status="manual", reason="graded by hand")
            )
            continue
        auto = (nbgrader_scores.get(gid) or [None])[0]
        cells.append(cell_verdict(notebook, gid, max_points, auto, verdicts[gid]))
    return cells


def total(cells: list[CellResult]) -> float:
    return sum(c.final for c in cells if c.final is not None)
