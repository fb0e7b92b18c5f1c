"""Grade a whole class with one command: ``python -m grader grade SUBMISSIONS``.

:func:`grade_class` is the run, and reads as the list of its stages, each a function or object
of its stage package with explicit inputs and outputs:

1. *the course*, trusted (:class:`Course`): every source, test and line of grading code read
   and hashed once (:mod:`grader.verdicts.trusted_sources`); the services run from a copy of
   those bytes, and any change on disk during grading aborts the run;
2. *intake* (:func:`grader.intake.batch.take`): every submitted file read, refused with the
   reason or repaired, and staged in ``grader/submitted/`` (with ``--shard K/N``, only the
   K-th of N slices of the students);
3. *the books opened* (:meth:`grader.books.record.Books.open`): hand grades kept, the run
   journalled;
4. *verdicts* (:func:`grader.verdicts.jobs.run`): each notebook run once, its test cells in
   the trusted grader, the student's code in a sandbox, and nbgrader told each verdict;
5. *the books closed* (:meth:`grader.books.record.Books.close`): final scores
   (:mod:`grader.verdicts.score_policy`), hand grades restored or flagged; a submission that
   cannot be graded has its old grades removed, so a failure never leaves a stale one;
6. *reports* (:func:`grader.reporting.rebuild.rebuild`), rebuilt from the gradebook.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.books.record import Books
from grader.course import notebooks as nbs
from grader.course.layout import CourseLayout
from grader.intake import batch as intake
from grader.intake import term as term_mod
from grader.intake.term import Term
from grader.options import Options
from grader.reporting import rebuild, report_files
from grader.verdicts import jobs, sandbox
from grader.verdicts import score_policy as policy
from grader.verdicts.score_policy import Status, SubmissionResult
from grader.verdicts.trusted_sources import TrustedSources


@dataclass
class Course:
    """What one run knows of the course, read once from the trusted bytes."""

    layout: CourseLayout
    sources: TrustedSources
    expected: dict[str, list[str]]  # every assignment -> its notebooks
    source_nbs: dict  # (assignment, notebook) -> source notebook
    term: Term

    @classmethod
    def trusted(cls, root: Path, options: Options) -> Course:
        """The course at ``root``, checked against ``options`` (ValueError: why not)."""
        layout = CourseLayout.of(root, options.reports)
        if options.sandbox:
            why = sandbox.probe()
            if why:
                raise sandbox.SandboxUnavailable(
                    f"cannot grade safely: {why} (or pass --no-sandbox to grade unsandboxed)"
                )
        sources = TrustedSources(layout)
        # Every assignment, so that a notebook of another one is recognised (and skipped).
        expected = {
            a: [p.stem for p in nbs.notebook_files(layout.source / a)]
            for a in nbs.assignments(layout.source)
        }
        unknown = sorted(set(options.assignments or []) - set(expected))
        if unknown:
            raise ValueError(f"--assignment {unknown}: not an assignment (have {sorted(expected)})")
        for student in options.students or []:
            problem = term_mod.student_id_problem(student)
            if problem:
                raise ValueError(f"--student: {problem}")
        term = term_mod.require_valid_term(layout.submitted.parent / "term.toml", list(expected))
        source_nbs = {
            (a, n): nbformat.reads(sources.text(layout.source / a / f"{n}.ipynb"), as_version=4)
            for a, names in expected.items()
            for n in names
        }
        return cls(layout, sources, expected, source_nbs, term)

    def max_score(self, assignment: str) -> float:
        return sum(
            policy.max_score(self.source_nbs[(assignment, n)]) for n in self.expected[assignment]
        )


@dataclass(frozen=True)
class Run:
    """How a run went: where its reports are, how long it took, what could not be placed."""

    reports: Path
    timing: dict
    unplaced: int
    scratch: Path  # its temporary folder (removed): the services ran from a copy in it


def grade_class(
    root: Path, submissions: Path, options: Options | None = None
) -> tuple[list[SubmissionResult], Run]:
    """Grade the class and write the reports. Before anything can change the gradebook the
    previous run's reports are removed (``report.md`` says a run is in progress); a run that
    fails says so in ``report.md``, so no report is ever older than the gradebook."""
    options = options or Options()
    say = options.progress or _silent
    course = Course.trusted(root, options)
    reports = course.layout.reports
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    report_files.begin_run(reports, started)
    try:
        t0 = time.monotonic()
        _clear_logs(reports / "logs", options, say)
        with tempfile.TemporaryDirectory(prefix="seqgrade-") as tmp:
            scratch = Path(tmp)
            batch = _intake(course, Path(submissions), options, scratch / "lms", say)
            books = Books(
                course.layout, course.expected, course.source_nbs, course.max_score, options.sandbox
            )
            results = books.open(batch)
            say(_grading_line(batch, results, options))
            verdicts = _verdicts(course, batch, options, scratch / "services", say, t0)
            books.close(results, verdicts)
            course.sources.verify()
            elapsed = time.monotonic() - t0
            books.add_missing(results, batch.taken.assignments, course.term.roster, batch.keep)
        shard = f"{options.shard[0]}/{options.shard[1]}"
        timing = _timing(elapsed, len(batch.notebooks), results.values(), options, shard)
        books.record(results, batch, shard, timing)
        final = rebuild.rebuild(course.layout.root, options.reports, options.shard, timing=timing)
    except BaseException as error:
        report_files.failed_run(reports, started, error)
        raise
    run = Run(reports, timing, batch.unplaced, scratch)
    return [r for r in final if (r.student, r.assignment) in results], run


def _silent(_text: str) -> None:
    pass


def _intake(course: Course, submissions: Path, options: Options, scratch: Path, say):
    scratch.mkdir()
    return intake.take(
        course.layout,
        course.expected,
        course.term,
        submissions,
        scratch,
        assignments=options.assignments,
        students=options.students,
        shard=options.shard,
        replace=options.replace,
        say=say,
    )


def _verdicts(course: Course, batch: intake.Batch, options: Options, staging: Path, say, t0):
    staging.mkdir()
    limits = jobs.Limits(
        options.jobs, options.timeout, options.cell_timeout, options.memory_mb, options.sandbox
    )
    return jobs.run(
        course.sources,
        course.layout.root,
        course.layout.reports / "logs",
        course.source_nbs,
        batch.notebooks,
        batch.submissions,
        limits,
        staging,
        say,
        t0,
    )


def _clear_logs(logs: Path, options: Options, say) -> None:
    logs.parent.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    if not options.sandbox:
        say(
            "WARNING: grading WITHOUT the sandbox (--no-sandbox): student code can "
            "read and change the course's files"
        )


def _grading_line(batch: intake.Batch, results: dict, options: Options) -> str:
    shard = options.shard
    return (
        f"grading {len(batch.submissions)} submissions ({len(batch.notebooks)} notebooks) of "
        f"{len({s for s, _ in results})} students with {options.jobs} workers"
        + (f", shard {shard[0]}/{shard[1]}" if shard != (1, 1) else "")
    )


def _timing(elapsed: float, notebooks: int, results, options: Options, shard: str) -> dict:
    students = {r.student for r in results if r.status != Status.NO_SUBMISSION}
    return {
        "seconds": round(elapsed, 1),
        "notebooks": notebooks,
        "students": len(students),
        "seconds_per_notebook": round(elapsed / max(1, notebooks), 2),
        "seconds_per_student": round(elapsed / max(1, len(students)), 2),
        "jobs": options.jobs,
        "sandboxed": options.sandbox,
        "shard": shard,
    }
