"""Every read and write of nbgrader's gradebook (SQLite or PostgreSQL) that the grader does.

``NBGRADER_DB_URL`` (or the course's ``nbgrader_config.py``) says which database; nbgrader's
own ``Gradebook`` API does the work. nbgrader's SQLAlchemy use emits warnings, which are
silenced here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.layout import load_config
from grader.course.nbgrader_api import Course


@contextlib.contextmanager
def opened(root: Path, course=None) -> Iterator:
    """The course's gradebook, committed and closed on exit."""

    course = course or Course(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's SQLAlchemy use warns (SAWarning)
        gb = course.gradebook()
        try:
            yield gb
            gb.db.commit()
        finally:
            gb.close()


def db_url(root: Path) -> str:
    """The gradebook the course's configuration points at (``NBGRADER_DB_URL`` or the
    SQLite default of ``nbgrader_config.py``), read without importing nbgrader."""

    return str(load_config(root).CourseDirectory.db_url)


def describe(url: str) -> str:
    """Which gradebook ``url`` is, for a person (a password is never shown)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return "gradebook: an unreadable database URL (check NBGRADER_DB_URL)"
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"gradebook: SQLite {parsed.database}"
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    who = f" as {parsed.username}" if parsed.username else ""
    name = "PostgreSQL" if backend == "postgresql" else backend
    return f"gradebook: {name} database {parsed.database!r} on {where}{who}"


def remove_submission(gb, assignment: str, student: str) -> None:
    """Forget every grade of (assignment, student); nothing if there is none."""
    from nbgrader.api import MissingEntry

    with contextlib.suppress(MissingEntry):
        gb.remove_submission(assignment, student)


def submission_scores(gb, assignment: str, student: str) -> dict:
    """``{notebook: {grade_id: [auto_score, max_score, is_auto]}}`` of one submission."""
    from nbgrader.api import MissingEntry

    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        return {}
    return {
        notebook.name: {
            grade.name: [grade.auto_score, grade.max_score, grade.auto_score is not None]
            for grade in notebook.grades
        }
        for notebook in submission.notebooks
    }


def set_auto_score(gb, assignment: str, student: str, notebook: str, grade_id: str, score):
    """Write the final score of one autograded cell (what export and feedback then show)."""
    gb.find_grade(grade_id, notebook, assignment, student).auto_score = score


def all_scores(root: Path) -> dict:
    """``(student, assignment, notebook, cell) -> (score, max_score, autograded)`` for every
    grade in the course's gradebook."""
    out = {}
    with opened(root) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        key = (submission.student.id, assignment.name, notebook.name, grade.name)
                        out[key] = (grade.score, grade.max_score, grade.auto_score is not None)
    return out


@dataclass(frozen=True)
class CellGrade:
    notebook: str
    grade_id: str
    max_score: float
    auto_score: float | None = None
    manual_score: float | None = None
    needs_manual_grade: bool = False
    extra_credit: float | None = None

    @property
    def by_hand(self) -> bool:
        """Scored by a person (written answers, or an automatic score a person overrode)."""
        return self.manual_score is not None

    @property
    def score(self) -> float:
        base = self.manual_score if self.manual_score is not None else (self.auto_score or 0.0)
        return float(base) + float(self.extra_credit or 0.0)


@dataclass
class Graded:
    """One submission in the gradebook."""

    cells: list[CellGrade] = field(default_factory=list)
    timestamp: dt.datetime | None = None

    @property
    def pending(self) -> list[CellGrade]:
        return [c for c in self.cells if c.needs_manual_grade]


def read_gradebook(db_url: str, assignments: list[str]) -> dict[tuple[str, str], Graded]:
    """Every submission of ``assignments`` in the gradebook, cell by cell."""
    from nbgrader.api import Gradebook, MissingEntry

    found: dict[tuple[str, str], Graded] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's SQLAlchemy use warns (SAWarning)
        gb = Gradebook(db_url)
        try:
            for assignment in assignments:
                try:
                    submissions = gb.find_assignment(assignment).submissions
                except MissingEntry:
                    continue
                for sub in submissions:
                    stamp = sub.timestamp
                    if stamp is not None and stamp.tzinfo is None:
                        stamp = stamp.replace(tzinfo=dt.UTC)  # nbgrader stores naive UTC
                    graded = Graded(timestamp=stamp)
                    for nb in sub.notebooks:
                        for g in nb.grades:
                            graded.cells.append(
                                CellGrade(
                                    nb.name,
                                    g.name,
                                    float(g.max_score or 0.0),
                                    g.auto_score,
                                    g.manual_score,
                                    bool(g.needs_manual_grade),
                                    g.extra_credit,
                                )
                            )
                    found[(sub.student.id, assignment)] = graded
        finally:
            gb.close()
    return found
