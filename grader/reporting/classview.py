"""The class view at the top of ``report.md``: how the class did, and what needs a person.

- per assignment: how many were graded, mean and median of the graded scores;
- per test cell: the pass rate across the graded submissions (a test nobody passes is more
  likely a problem with the exercise than with the class);
- *needs attention*: submissions not graded (and why), zeros, misnamed or skipped files, late
  work, answers still to grade by hand, hand grades whose answer changed;
- similarity flags (:mod:`grader.reporting.similarity`), for a person to judge.

Pure: works on the grading results (objects with the attributes of
:class:`grader.verdicts.score_policy.SubmissionResult`) and plain data.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from grader.reporting.render import md
from grader.verdicts.score_policy import Status


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{round(x, 2):g}"


def assignment_stats(results) -> list[str]:
    by_assignment = defaultdict(list)
    for r in results:
        by_assignment[r.assignment].append(r)
    lines = [
        "| assignment | submissions | graded | pending hand grading | not graded | mean | median |",
        "|---|---|---|---|---|---|---|",
    ]
    for assignment, rows in sorted(by_assignment.items()):
        scores = [r.score for r in rows if r.score is not None and r.status != Status.NOT_GRADED]
        submitted = [r for r in rows if r.status != Status.NO_SUBMISSION]
        lines.append(
            f"| {md(assignment)} | {len(submitted)} | "
            f"{sum(r.status == 'graded' for r in rows)} | "
            f"{sum(r.status == 'pending hand grading' for r in rows)} | "
            f"{sum(r.status == 'not graded' for r in rows)} | "
            f"{_fmt(statistics.mean(scores)) if scores else ''} / {_fmt(rows[0].max_score)} | "
            f"{_fmt(statistics.median(scores)) if scores else ''} |"
        )
    return lines


def pass_rates(results) -> list[str]:
    """``assignment notebook cell: passed/graded (rate)`` for every automatically graded test."""
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        if r.status == Status.NOT_GRADED:
            continue
        for c in r.cells:
            if c.status in ("passed", "failed"):
                entry = counts[(r.assignment, c.notebook, c.grade_id)]
                entry[0] += c.status == "passed"
                entry[1] += 1
    lines = ["| assignment | notebook | test | passed | rate |", "|---|---|---|---|---|"]
    for (assignment, notebook, gid), (passed, total) in sorted(counts.items()):
        lines.append(
            f"| {md(assignment)} | {md(notebook)} | {md(gid)} | {passed}/{total} | "
            f"{passed / total:.0%} |"
        )
    return lines


def needs_attention(results, late: dict | None = None) -> list[str]:
    """One line per submission a person should look at, with why."""
    late = late or {}
    lines = []
    for r in sorted(results, key=lambda r: (r.student, r.assignment)):
        why = []
        if r.status == Status.NOT_GRADED:
            why.append(f"not graded: {r.reason}")
        elif r.status == Status.PENDING:
            why.append(r.reason or "answers to grade by hand")
        if r.status != Status.NOT_GRADED and r.score == 0 and r.status != Status.NO_SUBMISSION:
            why.append("scored 0")
        for _name, note in r.notes:
            lowered = note.lower()
            if any(
                word in lowered
                for word in (
                    "misnamed",
                    "renamed",
                    "skipped",
                    "older copy",
                    "answer changed",
                    "submission time",
                )
            ):
                why.append(note)
        if late.get((r.student, r.assignment)):
            why.append(late[(r.student, r.assignment)])
        if why:
            lines.append(f"- **{md(r.student)}** {md(r.assignment)}: " + md("; ".join(why)))
    return lines


def section(
    results, flags=(), late: dict | None = None, failures=(), unplaced: dict | None = None
) -> list[str]:
    """The class-view section of ``report.md``; ``failures``: optional analyses that could not
    be done (each becomes a line, the report is written all the same); ``unplaced``: per
    student, the files that could not be placed (never a grade, always a person's job)."""
    lines = ["## Class view", "", *assignment_stats(results), ""]
    rates = pass_rates(results)
    if len(rates) > 2:
        lines += ["### Pass rate per test", "", *rates, ""]
    attention = needs_attention(results, late)
    for student, files in sorted((unplaced or {}).items()):
        attention.append(
            f"- **{md(student)}** (files that could not be placed; no grade was changed): "
            + md("; ".join(files))
        )
    lines += ["### Needs attention", ""] + (attention or ["(nothing)"]) + [""]
    lines += ["### Similarity flags (for a person to judge; never a penalty)", ""]
    lines += [f"- {md(flag.describe())}" for flag in flags] or ["(none)"]
    if failures:
        lines += ["", "### Analyses that could not be done", ""]
        lines += [f"- {md(text)}" for text in failures]
    return [*lines, ""]
