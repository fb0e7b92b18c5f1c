"""``python -m grader report``: every report rebuilt from the gradebook, the one truth.

``grades.csv``, ``report.csv``, ``report.md`` (with the class view) and ``timing.json`` are
made from the gradebook's database alone: nbgrader's tables (scores, hand grades, comments,
``needs_manual_grade``) and the grader's records beside them (:mod:`grader.store`: each
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

from grader import classview, journal, reports, similarity
from grader import gradebook as gradebook_mod
from grader import notebooks as nbs
from grader import score_policy as policy
from grader import term as term_mod
from grader.layout import CourseLayout
from grader.render import md
from grader.score_policy import CellResult, SubmissionResult
from grader.store import Store, result_from


def _in_shard(student: str, shard: tuple[int, int]) -> bool:
    from grader.grade import in_shard

    return shard == (1, 1) or in_shard(student, shard)


def _overlay(result: SubmissionResult, graded) -> SubmissionResult:
    """``result`` (what grading found) with the gradebook's scores: hand grades, scores a
    person overrode, and which answers are still to grade by hand."""
    if result.status not in ("graded", "pending hand grading"):
        return result
    if graded is None or not graded.cells:
        result.status = "not graded"
        result.reason = "no longer in the gradebook (removed since it was graded)"
        result.score = None
        return result
    cells = {(c.notebook, c.grade_id): c for c in graded.cells}
    pending = 0
    for cell in result.cells:
        g = cells.get((cell.notebook, cell.grade_id))
        if g is None:
            continue
        if cell.status in ("manual", "pending"):
            if g.needs_manual_grade:
                cell.status, cell.final, cell.reason = "pending", None, "pending hand grading"
                pending += 1
            else:
                cell.status, cell.final = "manual", g.score
                cell.reason = "graded by hand" if g.by_hand else "unanswered (scored 0)"
        elif g.by_hand and g.score != cell.final:
            cell.reason = "; ".join(
                filter(None, [cell.reason, f"score set by hand to {g.score:g}"])
            )
            cell.final = g.score
    result.score = policy.total(result.cells)
    if pending:
        result.status = "pending hand grading"
        result.reason = f"{pending} answer(s) still to grade by hand"
    else:
        result.status = "graded"
        if result.reason.endswith("still to grade by hand"):
            result.reason = ""
    return result


def _from_gradebook(student: str, assignment: str, max_score: float, graded) -> SubmissionResult:
    """A submission nbgrader holds that no grading run of this grader recorded (plain
    ``nbgrader autograde``, or the record was lost): its gradebook scores, said so."""
    result = SubmissionResult(student, assignment, max_score)
    for g in graded.cells:
        if g.needs_manual_grade:
            status, final, reason = "pending", None, "pending hand grading"
        elif g.by_hand or g.auto_score is None:
            status, final, reason = "manual", g.score, "graded by hand"
        else:
            status = "passed" if g.score >= g.max_score else "failed"
            final, reason = g.score, ""
        result.cells.append(
            CellResult(g.notebook, g.grade_id, g.max_score, final=final, status=status)
        )
        result.cells[-1].reason = reason
    result.notes.append(("", "in the gradebook without a grading record of this grader"))
    return _overlay(result, graded)


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
    students = len({r.student for r in results if r.status != "no submission"})
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
    from grader.export import read_gradebook

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
        begun = store.all(journal.KIND)  # grading begun and not finished (grader.journal)
        timings = store.all("timing")
    graded = read_gradebook(db_url, list(expected))

    results: dict[tuple[str, str], SubmissionResult] = {}
    stored: dict[tuple[str, str], dict] = {}
    for (student, assignment), data in records.items():
        if assignment not in expected or not _in_shard(student, shard):
            continue
        stored[(student, assignment)] = data
        results[(student, assignment)] = _overlay(
            result_from(data), graded.get((student, assignment))
        )
    for (student, assignment), sub in graded.items():
        if (student, assignment) not in results and sub.cells and _in_shard(student, shard):
            results[(student, assignment)] = _from_gradebook(
                student, assignment, maxima[assignment], sub
            )
    for (student, assignment), data in begun.items():
        if assignment in expected and _in_shard(student, shard):  # never a half-written score
            results[(student, assignment)] = SubmissionResult(
                student, assignment, maxima[assignment], "not graded", journal.why(data)
            )
    unplaced: dict[str, list[str]] = {}
    for (student, label), lines in sorted(unplaced_records.items()):
        if _in_shard(student, shard):
            unplaced.setdefault(student, []).extend(f"{label}: {line}" for line in lines)
    # Everyone on the roster (and everyone with a misplaced file) for every assignment that
    # someone submitted: "no submission", with the misplaced files named.
    seen = sorted({a for _s, a in results})
    students = {s for s, _ in results} | set(unplaced)
    students |= {s.student_id for s in term.roster or [] if _in_shard(s.student_id, shard)}
    for student in students:
        for assignment in seen:
            if (student, assignment) not in results:
                reason = "nothing was submitted for this assignment"
                if unplaced.get(student):
                    reason += f"; {len(unplaced[student])} file(s) could not be placed"
                results[(student, assignment)] = SubmissionResult(
                    student, assignment, maxima[assignment], "no submission", reason
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
                if a == assignment and results[(student, a)].status != "not graded"
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
        if r.status != "no submission" and due is not None and submitted is not None:
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
