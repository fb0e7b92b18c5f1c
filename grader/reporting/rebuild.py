"""``python -m grader report``: every report rebuilt from the gradebook, the one truth.

``grades.csv``, ``report.csv``, ``report.md`` (with the class view) and ``timing.json`` are
made from the gradebook's database alone: nbgrader's tables (scores, hand grades, comments,
``needs_manual_grade``) and the grader's records beside them (:mod:`grader.books.store`: each
submission's verdicts and notes, answers and times, files that could not be placed). ``grade``,
``export`` and the hand-grade import call :func:`rebuild` when they finish, so

- a run with ``--student`` or ``--assignment`` drops nothing of the rest of the class (its
  flags and notes included: similarity is computed over every stored answer);
- a hand grade shows at once (a cell graded by hand is no longer "pending hand grading");
- shards that share one PostgreSQL gradebook give one class view (``report`` on any machine).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from grader.books import gradebook as gradebook_mod
from grader.books import journal
from grader.books.gradebook import read_gradebook
from grader.books.store import Store, result_from, result_from_gradebook, with_gradebook_scores
from grader.course import notebooks as nbs
from grader.course.layout import CourseLayout
from grader.intake import term as term_mod
from grader.intake.shards import in_shard
from grader.reporting import classview, similarity
from grader.reporting import report_files as reports
from grader.reporting.render import md
from grader.verdicts import score_policy as policy
from grader.verdicts.score_policy import Status, SubmissionResult


def _when(text: str | None) -> dt.datetime | None:
    return term_mod.parse_timestamp(text) if text else None


def _templates(layout: CourseLayout, assignment: str, names: list[str]) -> dict[str, str]:
    templates = {}
    for name in names:
        release = layout.release / assignment / f"{name}.ipynb"
        if release.exists():
            for cell in nbs.read(release).cells:
                if nbs.is_solution(cell) and cell.cell_type == "code":
                    templates[nbs.grade_id(cell)] = cell.source
    return templates


def _timing(timings: dict, results, shard: tuple[int, int]) -> dict:
    label = f"{shard[0]}/{shard[1]}"
    chosen = [t for (_s, key), t in timings.items() if shard == (1, 1) or key == label]
    notebooks = sum(t.get("notebooks", 0) for t in chosen)
    seconds = max((t.get("seconds", 0.0) for t in chosen), default=0.0)
    students = len({r.student for r in results if r.status != Status.NO_SUBMISSION})
    return {
        "seconds": seconds,
        "notebooks": notebooks,
        "students": students,
        "seconds_per_notebook": round(seconds / max(1, notebooks), 2),
        "seconds_per_student": round(seconds / max(1, students), 2),
        "jobs": max((t.get("jobs", 0) for t in chosen), default=0),
        "sandboxed": all(t.get("sandboxed", True) for t in chosen),
        "shard": label,
    }


def rebuild(
    root: Path,
    reports_dir: Path | None = None,
    shard: tuple[int, int] = (1, 1),
    timing: dict | None = None,
) -> list[SubmissionResult]:
    """Write every report from the gradebook; return the class's results (one per student
    and assignment). With ``shard``, only that slice of the students (what a shard's own run
    reports); ``timing`` is the run that just finished (default: the stored runs')."""

    layout = CourseLayout.of(root, reports_dir)
    db_url = gradebook_mod.db_url(layout.root)
    term = term_mod.load_term(layout.submitted.parent / "term.toml")
    expected = {
        a: [p.stem for p in nbs.notebook_files(layout.source / a)]
        for a in nbs.assignments(layout.source)
    }
    sources = {
        (a, n): nbs.read(layout.source / a / f"{n}.ipynb")
        for a, names in expected.items()
        for n in names
    }
    maxima = {
        a: sum(policy.max_score(sources[(a, n)]) for n in names) for a, names in expected.items()
    }
    with Store(db_url) as store:
        records = store.all("result")
        unplaced_records = store.all("unplaced")
        problem_records = store.all("problems")
        begun = store.all(journal.KIND)  # grading begun and not finished (grader.books.journal)
        timings = store.all("timing")
    graded = read_gradebook(db_url, list(expected))

    results: dict[tuple[str, str], SubmissionResult] = {}
    stored: dict[tuple[str, str], dict] = {}
    for (student, assignment), data in records.items():
        if assignment not in expected or not in_shard(student, shard):
            continue
        stored[(student, assignment)] = data
        results[(student, assignment)] = with_gradebook_scores(
            result_from(data), graded.get((student, assignment))
        )
    for (student, assignment), sub in graded.items():
        if (student, assignment) not in results and sub.cells and in_shard(student, shard):
            results[(student, assignment)] = result_from_gradebook(
                student, assignment, maxima[assignment], sub
            )
    for (student, assignment), data in begun.items():
        if assignment in expected and in_shard(student, shard):  # never a half-written score
            results[(student, assignment)] = SubmissionResult(
                student, assignment, maxima[assignment], Status.NOT_GRADED, journal.why(data)
            )
    unplaced: dict[str, list[str]] = {}
    for (student, label), lines in sorted(unplaced_records.items()):
        if in_shard(student, shard):
            unplaced.setdefault(student, []).extend(f"{label}: {line}" for line in lines)
    # Everyone on the roster (and everyone with a misplaced file) for every assignment that
    # someone submitted: "no submission", with the misplaced files named.
    seen = sorted({a for _s, a in results})
    students = {s for s, _ in results} | set(unplaced)
    students |= {s.student_id for s in term.roster or [] if in_shard(s.student_id, shard)}
    for student in students:
        for assignment in seen:
            if (student, assignment) not in results:
                reason = "nothing was submitted for this assignment"
                if unplaced.get(student):
                    reason += f"; {len(unplaced[student])} file(s) could not be placed"
                results[(student, assignment)] = SubmissionResult(
                    student, assignment, maxima[assignment], Status.NO_SUBMISSION, reason
                )
    final = sorted(results.values(), key=lambda r: (r.student, r.assignment))

    failures: list[str] = []
    flags = []
    try:
        utils_dir = layout.root / "utils"
        refs = similarity.reference_functions(utils_dir) if utils_dir.is_dir() else None
        for assignment in seen:
            answers = {
                student: data.get("answers", {})
                for (student, a), data in stored.items()
                if a == assignment and results[(student, a)].status != Status.NOT_GRADED
            }
            templates = _templates(layout, assignment, expected[assignment])
            flags += similarity.compare(assignment, answers, templates, refs, notes=failures)
    except Exception as error:
        flags = []
        failures.append(f"similarity flags could not be computed: {type(error).__name__}: {error}")
    late = {}
    for key, data in stored.items():
        r = results[key]
        due = term_mod.deadline(term, *key)
        submitted = _when(data.get("times", {}).get("submitted"))
        if r.status != Status.NO_SUBMISSION and due is not None and submitted is not None:
            lateness = term_mod.lateness(submitted, due, term.penalty)
            if lateness.status == "late":
                late[key] = lateness.reason
    try:
        view = classview.section(final, flags, late, failures, unplaced)
    except Exception as error:
        view = [
            "## Class view",
            "",
            "The class view could not be made: " + md(f"{type(error).__name__}: {error}"),
            "",
        ]
    if shard != (1, 1):
        view = [
            f"Shard {shard[0]}/{shard[1]}: this report shows its slice of the class; "
            "`python -m grader report` (once every shard is done) shows the whole class, "
            "with similarity across all shards.",
            "",
            *view,
        ]
    problems = []
    for (_student, label), lines in sorted(problem_records.items()):
        problems += [f"{label}: {line}" for line in lines]
    sandboxed = {key: data.get("times", {}).get("sandboxed", True) for key, data in stored.items()}
    run_timing = dict(timing) if timing else _timing(timings, final, shard)
    run_timing["sandboxed"] = run_timing.get("sandboxed", True) and all(sandboxed.values())
    reports.write_reports(
        layout.reports,
        final,
        problems,
        run_timing,
        view,
        gradebook=gradebook_mod.describe(db_url),
        sandboxed=sandboxed,
    )
    return final
