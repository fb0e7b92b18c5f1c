"""The reports of a grading run, in ``grader/reports/`` (or ``--reports``).

- ``grades.csv``: one row per student and assignment (score, maximum, status, reason);
- ``report.csv``: one row per test cell (final score, nbgrader's score, the re-grade's verdict,
  the reason) and one per note (repairs, ignored code);
- ``report.md``: the same, readable; ``timing.json``: how long it took.

Every report says how the class was graded (sandboxed, or not, with ``--no-sandbox``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from grader.score_policy import SubmissionResult


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def write_reports(folder: Path, results: list[SubmissionResult], problems: list[str], timing: dict):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "score", "max_score", "status", "reason", "sandboxed"])
        sandboxed = "yes" if timing["sandboxed"] else "NO (--no-sandbox)"
        for r in results:
            w.writerow(
                [
                    r.student,
                    r.assignment,
                    _fmt(r.score),
                    _fmt(r.max_score),
                    r.status,
                    r.reason,
                    sandboxed,
                ]
            )
    with open(folder / "report.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
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
        )
        for r in results:
            if r.status != "graded":
                w.writerow(
                    [
                        r.student,
                        r.assignment,
                        "",
                        "",
                        "",
                        _fmt(r.max_score),
                        r.status,
                        r.reason,
                        "",
                        "",
                    ]
                )
            for c in r.cells:
                clean = (
                    ""
                    if c.clean_passed is None
                    else ("passed" if c.clean_passed else f"failed: {c.clean_error}")
                )
                w.writerow(
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
                w.writerow([r.student, r.assignment, name, "", "", "", "note", note, "", ""])
    (folder / "timing.json").write_text(json.dumps(timing, indent=1) + "\n", encoding="utf-8")
    lines = [
        "# Grading report",
        "",
        f"{timing['students']} students, {timing['notebooks']} notebooks in {timing['seconds']} s "
        f"({timing['seconds_per_notebook']} s per notebook, {timing['seconds_per_student']} s per "
        f"student, {timing['jobs']} workers).",
        "",
        _sandbox_line(timing),
        "",
    ]
    if problems:
        lines += ["## Files that could not be placed", ""] + [f"- {p}" for p in problems] + [""]
    lines += ["## Students", ""]
    for r in results:
        head = f"- **{r.student}** {r.assignment}: "
        if r.status == "graded":
            lines.append(head + f"{_fmt(r.score)} / {_fmt(r.max_score)}")
        else:
            lines.append(head + f"{r.status.upper()}: {r.reason}")
        for c in r.cells:
            if c.status not in ("passed", "manual"):
                lines.append(
                    f"    - {c.notebook} {c.grade_id}: {_fmt(c.final)}/{_fmt(c.max_score)} "
                    f"{c.status}: {c.reason}"
                )
        for name, note in r.notes:
            lines.append(f"    - {name}: {note}")
    (folder / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sandbox_line(timing: dict) -> str:
    if timing["sandboxed"]:
        return "Student code ran only in the bubblewrap sandbox; verdicts were computed outside it."
    return (
        "**WARNING: this class was graded WITHOUT the sandbox (--no-sandbox)**: student code "
        "could read and change files of the course and of other students."
    )


def summary(results: list[SubmissionResult], timing: dict) -> str:
    graded = [r for r in results if r.status == "graded"]
    failed = [r for r in results if r.status == "not graded"]
    text = [
        f"graded {len(graded)} submissions, {len(failed)} could not be graded, "
        f"{sum(r.status == 'no submission' for r in results)} missing",
        f"{timing['seconds']} s: {timing['seconds_per_notebook']} s per notebook, "
        f"{timing['seconds_per_student']} s per student",
    ]
    if not timing["sandboxed"]:
        text.append("WARNING: graded without the sandbox (--no-sandbox)")
    for r in failed:
        text.append(f"  not graded: {r.student} {r.assignment}: {r.reason}")
    return "\n".join(text)
