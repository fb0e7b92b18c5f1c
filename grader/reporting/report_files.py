"""The reports of a grading run, in ``grader/reports/`` (or ``--reports``).

- ``grades.csv``: one row per student and assignment (score, maximum, status, reason);
- ``report.csv``: one row per test cell (final score, nbgrader's score, the re-grade's verdict,
  the reason) and one per note (repairs, ignored code);
- ``report.md``: the same, readable; ``timing.json``: how long it took.

Every report says how the class was graded (sandboxed, or not, with ``--no-sandbox``).
Text a submission can influence is rendered (:mod:`grader.reporting.render`), never concatenated. A
run removes the previous run's reports before it changes the gradebook (:func:`begin_run`), and a
run that fails says so in ``report.md`` (:func:`failed_run`), so no report is ever stale.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from grader.reporting.render import csv_row, md, one_line
from grader.verdicts.score_policy import Status, SubmissionResult, describe_error


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


REPORT_FILES = ("grades.csv", "report.csv", "report.md", "timing.json")


def _write(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a reader never sees half a report)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _csv_text(rows: list[list]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    for row in rows:
        w.writerow(csv_row(row))
    return out.getvalue()


def _only_report_md(folder: Path, text: str) -> None:
    """Remove every report of ``folder`` and write ``text`` as its ``report.md``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in REPORT_FILES:
        (folder / name).unlink(missing_ok=True)
    _write(folder / "report.md", text)


def begin_run(folder: Path, started: str) -> None:
    """Before a run touches the gradebook: the previous run's reports go, and ``report.md``
    says that a run is in progress, so nobody reads old grades as the new ones (the
    gradebook is about to change). A run that ends normally replaces it with its reports; one
    that fails replaces it with :func:`failed_run`."""
    _only_report_md(
        folder,
        "# Grading report: RUN NOT FINISHED\n\n"
        f"A grading run started at {started} and has not finished (or was killed). The "
        "previous run's reports were removed because the gradebook may already hold some of "
        "the new grades; grade again to get reports.\n",
    )


def failed_run(folder: Path, started: str, error: BaseException) -> None:
    """The run that :func:`begin_run` announced failed: ``report.md`` says so and why."""
    _only_report_md(
        folder,
        "# Grading report: RUN FAILED\n\n"
        f"The grading run started at {started} failed: {md(f'{type(error).__name__}: {error}')}"
        "\n\nNo reports were written and the previous run's reports were removed: the "
        "gradebook may hold some of this run's grades. Fix the cause and grade again.\n",
    )


def write_reports(
    folder: Path,
    results: list[SubmissionResult],
    problems: list[str],
    timing: dict,
    class_view: list[str] | None = None,
    gradebook: str = "",
    sandboxed: dict | None = None,
):
    """Write the run's reports. Every piece of text a submission can influence goes through
    :mod:`grader.reporting.render` (Markdown in ``report.md``, formula-safe cells in the CSVs);
    ``class_view`` is the already rendered class-view section of ``report.md``; ``gradebook``
    says which gradebook the reports come from; ``sandboxed`` whether each submission was
    graded in the sandbox (default: as ``timing`` says for all)."""
    folder.mkdir(parents=True, exist_ok=True)
    sandboxed = sandboxed or {}

    def sandbox_cell(r) -> str:
        if r.status == Status.NO_SUBMISSION:
            return ""
        ok = sandboxed.get((r.student, r.assignment), timing["sandboxed"])
        return "yes" if ok else "NO (--no-sandbox)"

    grades = [["student", "assignment", "score", "max_score", "status", "reason", "sandboxed"]]
    for r in results:
        grades.append(
            [r.student, r.assignment, _fmt(r.score), _fmt(r.max_score), r.status, r.reason]
            + [sandbox_cell(r)]
        )
    cells = [
        [
            "student",
            "assignment",
            "notebook",
            "cell",
            "score",
            "max_score",
            "status",
            "reason",
            "nbgrader_score",
            "clean_regrade",
        ]
    ]
    for r in results:
        if r.status != Status.GRADED:
            cells.append(
                [r.student, r.assignment, "", "", "", _fmt(r.max_score), r.status, r.reason]
                + ["", ""]
            )
        for c in r.cells:
            clean = (
                ""
                if c.clean_passed is None
                else ("passed" if c.clean_passed else f"failed: {describe_error(c.clean_error)}")
            )
            cells.append(
                [
                    r.student,
                    r.assignment,
                    c.notebook,
                    c.grade_id,
                    _fmt(c.final),
                    _fmt(c.max_score),
                    c.status,
                    c.reason,
                    _fmt(c.nbgrader_score),
                    clean,
                ]
            )
        for name, note in r.notes:
            cells.append([r.student, r.assignment, name, "", "", "", "note", note, "", ""])
    lines = [
        "# Grading report",
        "",
        f"{timing['students']} students, {timing['notebooks']} notebooks in {timing['seconds']} s "
        f"({timing['seconds_per_notebook']} s per notebook, {timing['seconds_per_student']} s per "
        f"student, {timing['jobs']} workers).",
        "",
        _sandbox_line(timing),
        "",
        *(
            [f"Built from the {gradebook} (`python -m grader report` rebuilds it).", ""]
            if gradebook
            else []
        ),
        *(class_view or []),
    ]
    if problems:
        lines += ["## Files that could not be placed", ""] + [f"- {md(p)}" for p in problems] + [""]
    lines += ["## Students", ""]
    for r in results:
        head = f"- **{md(r.student)}** {md(r.assignment)}: "
        if r.status == Status.GRADED:
            lines.append(head + f"{_fmt(r.score)} / {_fmt(r.max_score)}")
        elif r.status == Status.PENDING:
            lines.append(
                head + f"{_fmt(r.score)} / {_fmt(r.max_score)} so far, PENDING HAND GRADING: "
                f"{md(r.reason)}"
            )
        else:
            lines.append(head + f"{md(r.status.upper())}: {md(r.reason)}")
        for c in r.cells:
            if c.status not in ("passed", "manual"):
                lines.append(
                    f"    - {md(c.notebook)} {md(c.grade_id)}: {_fmt(c.final)}/"
                    f"{_fmt(c.max_score)} {md(c.status)}: {md(c.reason)}"
                )
        for name, note in r.notes:
            lines.append(f"    - {md(name) or '(submission)'}: {md(note)}")
    _write(folder / "grades.csv", _csv_text(grades))
    _write(folder / "report.csv", _csv_text(cells))
    _write(folder / "timing.json", json.dumps(timing, indent=1) + "\n")
    _write(folder / "report.md", "\n".join(lines) + "\n")


def _sandbox_line(timing: dict) -> str:
    if timing["sandboxed"]:
        return "Student code ran only in the bubblewrap sandbox; verdicts were computed outside it."
    return (
        "**WARNING: this class was graded WITHOUT the sandbox (--no-sandbox)**: student code "
        "could read and change files of the course and of other students."
    )


def summary(results: list[SubmissionResult], timing: dict, unplaced: int = 0) -> str:
    """What a run did, counted the way an instructor reads it: every submission that got a
    score is graded, those with answers still to grade by hand among them."""
    pending = [r for r in results if r.status == Status.PENDING]
    graded = [r for r in results if r.status == Status.GRADED] + pending
    failed = [r for r in results if r.status == Status.NOT_GRADED]
    missing = sum(r.status == Status.NO_SUBMISSION for r in results)
    counts = f"{len(graded)} graded"
    if pending:
        counts += f" ({len(pending)} pending hand grading)"
    counts += f", {len(failed)} not graded, {missing} no submission"
    if unplaced:
        counts += f", {unplaced} file(s) that could not be placed"
    text = [
        counts,
        f"{timing['seconds']} s: {timing['seconds_per_notebook']} s per notebook, "
        f"{timing['seconds_per_student']} s per student",
    ]
    if not timing["sandboxed"]:
        text.append("WARNING: graded without the sandbox (--no-sandbox)")
    for r in failed:
        text.append(f"  not graded: {one_line(r.student)} {r.assignment}: {one_line(r.reason)}")
    return "\n".join(text)
