"""``python -m grader import-hand-grades FILE.csv``: hand grades without a browser.

The CSV has a header and one row per graded cell::

    student,assignment,cell,points,comment
    ana,04_language_model,answer_perplexity,2,Clear and correct.
    ben,04_language_model,answer_perplexity,0.5,

``cell`` is the cell's grade id (the formgrader shows it; ``report.csv`` lists them); an
optional ``notebook`` column is needed only when two notebooks of an assignment share a grade
id. ``points`` may be empty to set only the comment. Each row sets the cell's hand score (as
the formgrader does) and clears its "needs manual grade" mark; a comment replaces the cell's
comment. Every row is checked before any is written (the submission and the cell exist, the
points are a number from 0 to the cell's maximum): one bad row and nothing is written, and
each problem names its line. The class reports are rebuilt afterwards.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from grader.books import gradebook

REQUIRED = ("student", "assignment", "cell", "points")


@dataclass(frozen=True)
class HandRow:
    line: int
    student: str
    assignment: str
    notebook: str
    cell: str
    points: float | None
    comment: str | None


def read_rows(path: Path) -> tuple[list[dict], list[str]]:
    """The CSV's rows (with their line numbers under ``"_line"``) and problems with its shape."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [(h or "").strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            return [], [f"{path}: needs the columns {', '.join(REQUIRED)} (missing {missing})"]
        rows = []
        for line, row in enumerate(reader, start=2):
            clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
            if any(clean.values()):
                clean["_line"] = line
                rows.append(clean)
    return rows, []


def plan(gb, path: Path, rows: list[dict]) -> tuple[list[HandRow], list[str]]:
    """Check every row against the gradebook; (rows to apply, problems)."""
    from nbgrader.api import MissingEntry

    todo, problems = [], []
    for row in rows:
        where = f"{path}:{row['_line']}"
        student, assignment, cell = row["student"], row["assignment"], row["cell"]
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            problems.append(f"{where}: {student} has no graded submission of {assignment!r}")
            continue
        matches = [
            (nb.name, g)
            for nb in submission.notebooks
            for g in nb.grades
            if g.name == cell and (not row.get("notebook") or nb.name == row["notebook"])
        ]
        if not matches:
            names = sorted({g.name for nb in submission.notebooks for g in nb.grades})
            problems.append(
                f"{where}: {assignment} has no graded cell {cell!r} (cells: {', '.join(names)})"
            )
            continue
        if len(matches) > 1:
            problems.append(
                f"{where}: {cell!r} is in several notebooks of {assignment}; add a notebook column"
            )
            continue
        notebook, grade = matches[0]
        points = None
        if row["points"]:
            try:
                points = float(row["points"])
            except ValueError:
                problems.append(f"{where}: points {row['points']!r} is not a number")
                continue
            top = float(grade.max_score or 0.0)
            if not math.isfinite(points) or not 0 <= points <= top:
                problems.append(f"{where}: points {points:g} is not between 0 and {top:g}")
                continue
        comment = row.get("comment") if "comment" in row else None
        if points is None and not comment:
            problems.append(f"{where}: neither points nor a comment")
            continue
        todo.append(HandRow(row["_line"], student, assignment, notebook, cell, points, comment))
    return todo, problems


def import_csv(root: Path, path: Path) -> tuple[list[str], list[str]]:
    """Record the hand grades of ``path`` in the gradebook; (one line per cell set, problems).
    Nothing is written when there is any problem."""
    from nbgrader.api import MissingEntry

    rows, problems = read_rows(Path(path))
    if problems:
        return [], problems
    done = []
    with gradebook.opened(root) as gb:
        todo, problems = plan(gb, Path(path), rows)
        if problems:
            gb.db.rollback()
            return [], problems
        for row in todo:
            grade = gb.find_grade(row.cell, row.notebook, row.assignment, row.student)
            if row.points is not None:
                grade.manual_score = row.points
            grade.needs_manual_grade = False
            text = f"{row.student} {row.assignment} {row.notebook}/{row.cell}"
            if row.points is not None:
                text += f": {row.points:g}/{float(grade.max_score or 0):g}"
            if row.comment:
                try:
                    gb.find_comment(
                        row.cell, row.notebook, row.assignment, row.student
                    ).manual_comment = row.comment
                    text += " (comment)"
                except MissingEntry:
                    text += " (no comment box for this cell: comment not recorded)"
            done.append(text)
    return done, []
