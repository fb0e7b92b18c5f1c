"""One export to trust: ``python -m grader export``.

It first rebuilds the class reports from the gradebook (:mod:`grader.reporting.rebuild`), then reads
the gradebook *after* hand grading, together with what grading found out
(``grader/reports/grades.csv``: "could not be graded, and why"), the term file (deadlines,
extensions, penalty) and the roster, and writes into ``grader/reports/``:

- ``export.csv``: one row per student and assignment with ``status`` (``graded``,
  ``pending hand grading``, ``not graded``, ``no submission``), the reason, the automatic and
  hand-graded points, lateness, the penalty and the final score. A submission that could not be
  graded has an *empty* score and its reason, never a 0;
- ``canvas.csv``: one row per student (the roster's order), one column per assignment, in the
  shape of Canvas's gradebook import; only final scores appear, every other cell is empty and
  explained in ``export.csv``.

:func:`build_rows` is the pure core; :func:`export` does the I/O (the gradebook read by
:func:`grader.books.gradebook.read_gradebook`).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from grader.books import store
from grader.books.gradebook import Graded, read_gradebook
from grader.course import notebooks as nbs
from grader.course.layout import load_config
from grader.intake import lms
from grader.intake import term as term_mod
from grader.reporting import rebuild
from grader.reporting.render import csv_row, one_line
from grader.verdicts import score_policy as policy
from grader.verdicts.score_policy import Status

STATUSES = tuple(Status)  # in the order the summary lists them
EXPORT_HEADER = [
    "student",
    "assignment",
    "status",
    "final_score",
    "max_score",
    "score",
    "auto_score",
    "hand_score",
    "pending_cells",
    "submitted",
    "late",
    "penalty",
    "reason",
]


@dataclass(frozen=True)
class Outcome:
    """What grading reported for a submission (grades.csv)."""

    status: str
    reason: str = ""


@dataclass
class Row:
    student: str
    assignment: str
    status: str
    max_score: float
    score: float | None = None  # before the penalty
    auto_score: float | None = None
    hand_score: float | None = None
    pending: list[str] = field(default_factory=list)
    submitted: dt.datetime | None = None
    late: term_mod.Lateness = field(default_factory=lambda: term_mod.Lateness("no deadline"))
    penalty: float = 0.0  # points
    final: float | None = None
    reason: str = ""

    def as_csv(self) -> list[str]:
        late = self.late.status + (f": {self.late.reason}" if self.late.reason else "")
        return [
            self.student,
            self.assignment,
            self.status,
            _fmt(self.final),
            _fmt(self.max_score),
            _fmt(self.score),
            _fmt(self.auto_score),
            _fmt(self.hand_score),
            " ".join(self.pending),
            self.submitted.strftime("%Y-%m-%d %H:%M:%S UTC") if self.submitted else "",
            late,
            _fmt(self.penalty) if self.penalty else "",
            self.reason,
        ]


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{round(x, 4):g}"


def build_rows(
    assignments: dict[str, float],
    students: list[str],
    gradebook: dict[tuple[str, str], Graded],
    outcomes: dict[tuple[str, str], Outcome],
    term: term_mod.Term,
    times: dict[tuple[str, str], dt.datetime | None] | None = None,
    received: dict[tuple[str, str], dt.datetime | None] | None = None,
) -> list[Row]:
    """One row per student and assignment.

    ``assignments``: id -> maximum score; ``students``: everyone to list (roster and anyone
    else who appears); ``gradebook``: what nbgrader holds; ``outcomes``: grading's verdicts
    (a "not graded" verdict wins over whatever the gradebook still holds); ``times``:
    submission times when the gradebook has none; ``received``: when each submission reached
    the instructor's side (a claimed time it puts in doubt is said in the reason).
    """
    times, received = times or {}, received or {}
    rows = []
    for student in students:
        for assignment, max_score in assignments.items():
            key = (student, assignment)
            graded, outcome = gradebook.get(key), outcomes.get(key)
            row = Row(student, assignment, Status.NO_SUBMISSION, max_score)
            row.submitted = (graded.timestamp if graded else None) or times.get(key)
            if outcome is not None and outcome.status == Status.NOT_GRADED:
                row.status, row.reason = Status.NOT_GRADED, outcome.reason or outcome.status
            elif graded is not None and graded.cells:
                row.score = sum(c.score for c in graded.cells)
                row.auto_score = sum(c.score for c in graded.cells if not c.by_hand)
                hand = [c for c in graded.cells if c.by_hand]
                row.hand_score = sum(c.score for c in hand) if hand else None
                row.pending = [f"{c.notebook}/{c.grade_id}" for c in graded.pending]
                if row.pending:
                    row.status = Status.PENDING
                    row.reason = f"{len(row.pending)} answer(s) still to grade by hand"
                else:
                    row.status = Status.GRADED
                if outcome is not None and outcome.reason and outcome.status == Status.GRADED:
                    # grading's own notes on a graded submission (the gradebook decides pending)
                    row.reason = "; ".join(filter(None, [row.reason, outcome.reason]))
            else:
                row.reason = (outcome.reason if outcome else "") or "nothing was submitted"
            if row.status == Status.NO_SUBMISSION:
                rows.append(row)
                continue
            due = term_mod.deadline(term, student, assignment)
            row.late = term_mod.lateness(row.submitted, due, term.penalty)
            doubt = term_mod.time_doubt(row.submitted, received.get(key), due, term.penalty)
            if doubt:
                row.reason = "; ".join(filter(None, [row.reason, doubt]))
            if row.status == Status.GRADED:
                row.final = term_mod.apply_penalty(row.score, max_score, row.late)
                row.penalty = (row.score or 0.0) - (row.final or 0.0)
            rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# I/O
# --------------------------------------------------------------------------------------------


def read_outcomes(grades_csv: Path) -> dict[tuple[str, str], Outcome]:
    """Grading's verdicts from ``grades.csv`` (empty if grading has not run)."""
    if not Path(grades_csv).exists():
        return {}
    with open(grades_csv, newline="", encoding="utf-8") as f:
        return {
            (r["student"], r["assignment"]): Outcome(r["status"], r.get("reason", ""))
            for r in csv.DictReader(f)
        }


def write_tables(folder: Path, rows: list[Row], roster, assignments: list[str]) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    export_csv, canvas_csv = folder / "export.csv", folder / "canvas.csv"
    with open(export_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(EXPORT_HEADER)
        for row in rows:
            w.writerow(csv_row(row.as_csv()))
    cells = {(r.student, r.assignment): _fmt(r.final) for r in rows if r.status == Status.GRADED}
    table = lms.canvas_rows(roster, [r.student for r in rows], assignments, cells)
    with open(canvas_csv, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(csv_row(row) for row in table)
    return [export_csv, canvas_csv]


def summary(rows: list[Row]) -> list[str]:
    """What an instructor must know before uploading: every row that is not a final grade."""
    lines = []
    for status in STATUSES[1:]:
        these = [r for r in rows if r.status == status]
        if these:
            lines.append(f"{len(these)} {status}:")
            lines += [f"  {r.student} {r.assignment}: {one_line(r.reason)}" for r in these]
    late = [r for r in rows if r.late.status == "late"]
    if late:
        lines.append(f"{len(late)} late:")
        lines += [f"  {r.student} {r.assignment}: {r.late.reason}" for r in late]
    return lines


def _max_scores(source_dir: Path) -> dict[str, float]:
    """``assignment -> maximum``: :func:`grader.verdicts.score_policy.max_score` of its notebooks
    (tasks included, as nbgrader counts them)."""

    return {
        assignment: sum(
            policy.max_score(nbs.read(path)) for path in nbs.notebook_files(source_dir / assignment)
        )
        for assignment in nbs.assignments(source_dir)
    }


def submission_times(
    submitted_dir: Path, name: str = "timestamp.txt"
) -> dict[tuple[str, str], dt.datetime | None]:
    """``timestamp.txt`` (or ``name``: the grader's ``received.txt``) of every
    ``submitted/STUDENT/ASSIGNMENT/`` (None: unreadable)."""
    times = {}
    for path in sorted(Path(submitted_dir).glob(f"*/*/{name}")):
        times[(path.parent.parent.name, path.parent.name)] = term_mod.parse_timestamp(
            path.read_text(encoding="utf-8", errors="replace")
        )
    return times


def export(root: Path, reports: Path | None = None, term_file: Path | None = None):
    """Write ``export.csv`` and ``canvas.csv``; return (paths, rows)."""

    # The term file checked before anything is written (a typo there must not pass silently).
    source = load_config(Path(root).resolve()).CourseDirectory.get("source_directory", "source")
    maxima = _max_scores(Path(root).resolve() / source)
    term_mod.require_valid_term(term_file or Path(root) / "grader" / "term.toml", list(maxima))
    # The class reports first, from the gradebook: grades.csv is then as current as it is.
    rebuild.rebuild(root, reports)
    rows_, term, maxima = _rows(root, reports, term_file)
    reports = Path(reports or Path(root).resolve() / "grader" / "reports")
    return write_tables(reports, rows_, term.roster, list(maxima)), rows_


def rows(root: Path, reports: Path | None = None, term_file: Path | None = None) -> list[Row]:
    """The rows :func:`export` writes (from the reports as they are), without writing."""
    return _rows(root, reports, term_file)[0]


def _rows(root: Path, reports: Path | None, term_file: Path | None):
    root = Path(root).resolve()
    cd = load_config(root).CourseDirectory
    reports = Path(reports or root / "grader" / "reports")
    maxima = _max_scores(root / cd.get("source_directory", "source"))
    term = term_mod.require_valid_term(term_file or root / "grader" / "term.toml", list(maxima))

    gradebook = read_gradebook(cd.db_url, list(maxima))
    outcomes = read_outcomes(reports / "grades.csv")
    submitted = root / cd.get("submitted_directory", "submitted")
    times = submission_times(submitted)
    received = submission_times(submitted, "received.txt")
    with store.Store(cd.db_url) as st:  # what grading recorded (every shard's, too)
        for key, data in st.all("result").items():
            recorded = data.get("times", {})
            for name, table in (("submitted", times), ("received", received)):
                if recorded.get(name):
                    table.setdefault(key, term_mod.parse_timestamp(recorded[name]))
    roster_ids = [s.student_id for s in term.roster or []]
    others = sorted(({s for s, _ in gradebook} | {s for s, _ in outcomes}) - set(roster_ids))
    built = build_rows(maxima, roster_ids + others, gradebook, outcomes, term, times, received)
    return built, term, maxima
