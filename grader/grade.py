"""Grade a whole class with one command: ``python -m grader grade SUBMISSIONS``.

1. *Trust*: every source, test and line of grading code is read and hashed
   (:mod:`grader.trusted_sources`); the services run from a copy of those bytes and any change
   on disk during grading aborts the run.
2. *Intake* (:mod:`grader.intake`): find every submitted notebook, refuse what is not a
   notebook (with the reason), repair edited metadata, and lay the class out in
   ``grader/submitted/`` (with ``--shard K/N``, only the K-th of N slices of the students).
3. *Re-grade* (:mod:`grader.regrade`), the one run of each notebook: ``--jobs`` services, each
   serving one student at a time, run every test cell in the trusted process with the
   student's functions behind a proxy into that student's sandbox (:mod:`grader.sandbox`);
   verdicts on plain data only.
4. *Autograde*: an nbgrader worker (:mod:`grader.nbgrader_worker`) records each submission's
   verdicts in nbgrader's gradebook and autograded notebooks (:mod:`grader.verdict_outputs`;
   nbgrader runs no kernel and no student code).
5. *Score* (:mod:`grader.score_policy`), written back to the gradebook
   (:mod:`grader.gradebook`) so export and feedback agree, and *reports*
   (:mod:`grader.reports`). A submission that cannot be graded has its old grades removed, so
   a failure never leaves a stale one.

The jobs run on the services through :class:`grader.scheduler.Scheduler`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader import (
    classreport,
    gradebook,
    handgrading,
    journal,
    lms,
    reports,
    sandbox,
    store,
)
from grader import intake as intake_mod
from grader import notebooks as nbs
from grader import score_policy as policy
from grader import term as term_mod
from grader.layout import CourseLayout
from grader.scheduler import JobSpec, Scheduler
from grader.score_policy import SubmissionResult
from grader.trusted_sources import TrustedSources
from grader.worker_protocol import Service


@dataclass
class Options:
    jobs: int = 2  # re-grade services (one student's sandbox each) running at once
    timeout: float = 600.0  # seconds for nbgrader to record one submission
    cell_timeout: float = 20.0  # seconds per test cell in the re-grade
    memory_mb: int = 4096  # address-space limit per process (sandboxes included)
    assignments: list[str] | None = None  # grade only these
    students: list[str] | None = None  # grade only these (merged into the class reports)
    replace: bool = False  # let an older copy replace a newer staged submission
    progress: Callable[[str], None] | None = None
    reports: Path | None = None  # default: grader/reports next to grader/submitted
    sandbox: bool = True  # False only with an explicit --no-sandbox
    shard: tuple[int, int] = (1, 1)  # grade the K-th of N slices of the students


def in_shard(student: str, shard: tuple[int, int]) -> bool:
    """Whether ``student`` is in slice K of N (a stable hash: every machine agrees)."""
    k, n = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % n == k - 1


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


class ClassGrader:
    def __init__(self, root: Path, options: Options):
        self.options = options
        self.layout = CourseLayout.of(root, options.reports)
        self.root = self.layout.root
        self.submitted_dir = self.layout.submitted
        self.reports = self.layout.reports
        if options.sandbox:
            why = sandbox.probe()
            if why:
                raise sandbox.SandboxUnavailable(
                    f"cannot grade safely: {why} (or pass --no-sandbox to grade unsandboxed)"
                )
        self.sources = TrustedSources(self.layout)
        # Every assignment, so that a notebook of another one is recognised (and skipped).
        self.expected = {
            a: [p.stem for p in nbs.notebook_files(self.layout.source / a)]
            for a in nbs.assignments(self.layout.source)
        }
        unknown = sorted(set(options.assignments or []) - set(self.expected))
        if unknown:
            raise ValueError(
                f"--assignment {unknown}: not an assignment (have {sorted(self.expected)})"
            )
        self.selected = set(options.assignments) if options.assignments else None
        for student in options.students or []:
            problem = term_mod.student_id_problem(student)
            if problem:
                raise ValueError(f"--student: {problem}")
        self.term = term_mod.require_valid_term(
            self.layout.submitted.parent / "term.toml", list(self.expected)
        )
        self.hand: dict = {}  # (student, assignment) -> hand grades before this run
        self.backups: dict = {}  # (student, assignment) -> hand grades saved before removal
        self.flags: list = []
        self.refused: list[str] = []  # files refused before intake (links, devices, ...)
        self._lms_tmp: tempfile.TemporaryDirectory | None = None
        self.source_nbs = {
            (a, n): nbformat.reads(
                self.sources.text(self.layout.source / a / f"{n}.ipynb"), as_version=4
            )
            for a, names in self.expected.items()
            for n in names
        }

    def say(self, text: str) -> None:
        if self.options.progress:
            self.options.progress(text)

    # -- services --------------------------------------------------------------------------

    def _service(self, name: str, module: str, args: list[str], memory_mb: int, log: str):
        env = dict(os.environ, PYTHONPATH=str(self.code))
        return Service(
            name,
            [sys.executable, "-P", "-m", module, *args],
            self.code,
            memory_mb,
            self.reports / "logs" / log,
            env=env,
            before_start=self.sources.verify,
        )

    def _worker(self) -> Service:
        return self._service(
            "nbgrader worker",
            "grader.nbgrader_worker",
            [str(self.root)],
            self.options.memory_mb,
            "nbgrader-worker.log",
        )

    def _regrader(self, index: int) -> Service:
        # Its sandboxes set their own memory limit; the trusted test code runs under this one.
        flags = [] if self.options.sandbox else ["--no-sandbox"]
        return self._service(
            f"re-grade {index}",
            "grader.regrade",
            [str(self.lib), str(self.root), *flags],
            self.options.memory_mb,
            f"regrade-{index}.log",
        )

    # -- main ------------------------------------------------------------------------------

    def _keep_originals(self, submissions: Path) -> Path:
        """Intake rewrites ``submitted_dir`` with repaired copies. When the submissions *are*
        that folder (e.g. after ``nbgrader collect``), copy them first to
        ``grader/received/<time>/`` and read from there, so no original is ever lost."""
        source = submissions.resolve()
        if not (source == self.submitted_dir or source.is_relative_to(self.submitted_dir)):
            return submissions
        kept = self.layout.received / time.strftime("%Y%m%d-%H%M%S")
        # Regular files only: a link, device or FIFO is refused here by name (never followed).
        self.refused += intake_mod.copy_tree(source, kept)
        self.say(f"originals copied to {kept} (grading rewrites {self.submitted_dir})")
        return kept

    def run(self, submissions: Path) -> list[SubmissionResult]:
        """Grade the class and write the reports. Before anything can change the gradebook
        the previous run's reports are removed (``report.md`` says a run is in progress); a
        run that fails says so in ``report.md``, so no report is ever older than the
        gradebook."""
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        reports.begin_run(self.reports, started)
        try:
            return self._run(submissions)
        except BaseException as error:
            reports.failed_run(self.reports, started, error)
            raise
        finally:
            if self._lms_tmp is not None:
                self._lms_tmp.cleanup()

    def _run(self, submissions: Path) -> list[SubmissionResult]:
        t0 = time.monotonic()
        self.reports.mkdir(parents=True, exist_ok=True)
        for old in (self.reports / "logs").glob("*.log"):
            old.unlink()
        if not self.options.sandbox:
            self.say(
                "WARNING: grading WITHOUT the sandbox (--no-sandbox): student code can "
                "read and change the course's files"
            )
        self.refused = []
        self.label = Path(submissions).name  # the same download graded again: same records
        submissions = self._keep_originals(Path(submissions))
        lms_tmp = self._lms_tmp = tempfile.TemporaryDirectory(prefix="lms-")
        submissions = self._from_lms(Path(submissions), Path(lms_tmp.name))
        shard = self.options.shard
        only = set(self.options.students or [])

        def keep(student: str) -> bool:
            return (shard == (1, 1) or in_shard(student, shard)) and (not only or student in only)

        taken = intake_mod.intake(
            submissions,
            self.submitted_dir,
            self.layout.release,
            self.expected,
            keep_student=keep if (shard != (1, 1) or only) else None,
            selected=self.selected,
            tz=self.term.timezone,
            replace=self.options.replace,
            term=self.term,
        )
        taken.problems[:0] = self.refused
        for problem in taken.problems:
            self.say(f"intake: {problem}")
        self.taken, self.keep = taken, keep
        results: dict[tuple[str, str], SubmissionResult] = {}
        ng_jobs, clean_jobs = [], []
        self.staged: dict[tuple[str, str, str], Path | None] = {}
        for (student, assignment), notebooks in sorted(taken.submissions.items()):
            res = SubmissionResult(student, assignment, self._max(assignment))
            results[(student, assignment)] = res
            for name, entry in notebooks.items():
                res.notes += [(name, note) for note in entry.notes]
                if entry.error:
                    res.notes.append((name, f"not graded: {entry.error}"))
                else:
                    clean_jobs.append((student, assignment, name))
                    self.staged[(student, assignment, name)] = entry.staged
            if any(entry.staged for entry in notebooks.values()):
                ng_jobs.append((student, assignment))
            else:
                res.status = "not graded"
                res.reason = "; ".join(e.error for e in notebooks.values() if e.error)
        self.problems = taken.problems
        self.n_notebooks = len(clean_jobs)
        self.say(
            f"grading {len(ng_jobs)} submissions ({len(clean_jobs)} notebooks) of "
            f"{len({s for s, _ in results})} students with {self.options.jobs} workers"
            + (f", shard {shard[0]}/{shard[1]}" if shard != (1, 1) else "")
        )
        # Hand grades and comments, with the answers they were given for, before nbgrader
        # overwrites the autograded notebooks (restored in _hand_grades).
        # A submission that cannot be graded never removes an earlier grade of its
        # assignment (the earlier submission stays staged and graded; the report says so).
        self.keep_earlier: dict[tuple[str, str], str] = {}
        with gradebook.opened(self.root) as gb:
            for student, assignment in results:
                self.hand[(student, assignment)] = handgrading.snapshot(
                    gb, self.layout.autograded, student, assignment
                )
                res = results[(student, assignment)]
                if res.status == "not graded" and (
                    gradebook.submission_scores(gb, assignment, student)
                    or (student, assignment) in taken.ungradable_newer
                ):
                    self.keep_earlier[(student, assignment)] = res.reason
        # Recorded before nbgrader writes anything, removed with the results (grader.journal):
        # a killed run loses no hand grade and its half-graded submissions say so.
        self.hand = journal.begin(gradebook.db_url(self.root), self.hand)
        with tempfile.TemporaryDirectory(prefix="seqgrade-") as staging:
            self.staging = Path(staging)  # the services' code and the sandbox's files
            self.code, self.lib = self.sources.stage(self.staging)
            ng_results, clean_results = self._schedule(ng_jobs, clean_jobs, t0)
        self._merge(results, ng_results, clean_results)
        self._hand_grades(results)
        self.sources.verify()
        self.elapsed = time.monotonic() - t0
        self._add_missing(results, taken.assignments)
        lms_tmp.cleanup()
        self.timing = self._timing([r for r in results.values()])
        self._record(results)
        final = classreport.rebuild(self.root, self.options.reports, shard, timing=self.timing)
        return [r for r in final if (r.student, r.assignment) in results]

    def _record(self, results) -> None:
        """Keep what this run found in the gradebook's database (:mod:`grader.store`), from
        which every report is rebuilt."""
        rows = []
        with store.Store(gradebook.db_url(self.root)) as st:
            for key, res in sorted(results.items()):
                student, assignment = key
                if res.status == "no submission":
                    continue
                if key in self.keep_earlier:
                    old = st.get("result", student, assignment)
                    if old is None:  # graded before this grader kept records: from nbgrader
                        old = self._record_from_gradebook(student, assignment)
                        if old is None:
                            continue
                    earlier = store.result_from(old)
                    earlier.notes = [n for n in earlier.notes if not n[1].startswith("newer copy")]
                    earlier.notes.append(
                        (
                            "",
                            f"newer copy not graded ({self.keep_earlier[key]}); this grade is "
                            "of the earlier submission, which stays",
                        )
                    )
                    rows.append((student, assignment, {**old, "result": _asdict(earlier)}))
                    continue
                rows.append((student, assignment, store.result_data(res, *self._stored_files(key))))
            st.put_many("result", rows)
            journal.end(st, results)
            label = self.label
            for student, key in st.all("unplaced"):
                if key == label and self.keep(student):
                    st.delete("unplaced", student, label)
            st.put_many("unplaced", [(s, label, lines) for s, lines in self.taken.unplaced.items()])
            st.put("problems", "", label, self.problems)
            shard = self.options.shard
            st.put("timing", "", f"{shard[0]}/{shard[1]}", self.timing)

    def _record_from_gradebook(self, student: str, assignment: str) -> dict | None:
        from grader.export import read_gradebook

        graded = read_gradebook(gradebook.db_url(self.root), [assignment]).get(
            (student, assignment)
        )
        if graded is None or not graded.cells:
            return None
        result = classreport._from_gradebook(student, assignment, self._max(assignment), graded)
        return store.result_data(result)

    def _stored_files(self, key) -> tuple[dict, dict]:
        """The answer cells (for similarity) and the times of a staged submission."""
        student, assignment = key
        folder = self.submitted_dir / student / assignment
        answers = {}
        for name in self.expected[assignment]:
            staged = folder / f"{name}.ipynb"
            if staged.exists():
                for cell in nbs.read(staged).cells:
                    if nbs.is_solution(cell) and cell.cell_type == "code":
                        answers[nbs.grade_id(cell)] = cell.source
        times: dict = {"sandboxed": self.options.sandbox}
        for name, file in (("submitted", "timestamp.txt"), ("received", "received.txt")):
            if (folder / file).exists():
                times[name] = (folder / file).read_text(encoding="utf-8", errors="replace")
        return answers, times

    def _max(self, assignment: str) -> float:
        return sum(
            policy.max_score(self.source_nbs[(assignment, n)]) for n in self.expected[assignment]
        )

    def _timing(self, final) -> dict:
        students = {r.student for r in final if r.status != "no submission"}
        return {
            "seconds": round(self.elapsed, 1),
            "notebooks": self.n_notebooks,
            "students": len(students),
            "seconds_per_notebook": round(self.elapsed / max(1, self.n_notebooks), 2),
            "seconds_per_student": round(self.elapsed / max(1, len(students)), 2),
            "jobs": self.options.jobs,
            "sandboxed": self.options.sandbox,
            "shard": f"{self.options.shard[0]}/{self.options.shard[1]}",
        }

    def _generate(self, worker: Service, assignments: list[str]) -> None:
        """Put each assignment's source into the gradebook (retried: other shards may be
        doing the same at the same moment)."""
        for assignment in assignments:
            for attempt in range(3):
                out = worker.call({"op": "generate", "assignment": assignment}, timeout=300)
                if out and out.get("success"):
                    break
                time.sleep(1 + attempt)
            else:
                why = (out or {}).get("error") or "timed out"
                raise RuntimeError(
                    f"cannot put {assignment} into the gradebook: {why}\n"
                    + str((out or {}).get("log", ""))
                )

    def _schedule(self, ng_jobs, clean_jobs, t0):
        opts = self.options
        if not ng_jobs and not clean_jobs:
            return {}, {}
        students = {student for student, _a, _n in clean_jobs}
        worker = self._worker()
        regraders = [self._regrader(i) for i in range(max(1, min(opts.jobs, len(students))))]
        try:
            for service in [*regraders, worker]:
                service.start()
            self._generate(worker, sorted({a for _, a in ng_jobs}))

            def autograde_spec(key, regraded):
                student, assignment = key
                verdicts = {
                    name: {"error": out.get("error"), "tests": out.get("tests", [])}
                    for name, out in regraded.items()
                }
                job = {
                    "op": "autograde",
                    "assignment": assignment,
                    "student": student,
                    "verdicts": verdicts,
                }
                return JobSpec(job, opts.timeout)

            def regrade_spec(key):
                student, assignment, name = key
                source = self.source_nbs[(assignment, name)]
                n_tests = len(policy.autograded_tests(source))
                staged = self.staged[key]
                job = {
                    "source": nbs.dumps(source),
                    "student": str(staged) if staged else None,
                    "timeout": opts.cell_timeout,
                    "memory_mb": opts.memory_mb,
                    "owner": student,  # one sandbox per student, never shared
                }
                return JobSpec(job, n_tests * (opts.cell_timeout + 5) + 60)

            def progress(key, out, state):
                status = "ok"
                if not out.get("success"):
                    status = "FAILED: " + policy.nbgrader_failure_reason(out)
                regraded = [v for k, v in scheduler.regraded.items() if k[:2] == key]
                tests = [t for v in regraded for t in v.get("tests", [])]
                seconds = sum(t.get("seconds", 0) for t in tests)
                passed = sum(1 for t in tests if t.get("passed") is True)
                self.say(
                    f"[{state['finished']}/{len(ng_jobs)}] {key[0]} {key[1]}: {passed} of "
                    f"{len(tests)} tests passed ({seconds:.1f} s), nbgrader {status} "
                    f"({time.monotonic() - t0:.0f} s elapsed)"
                )

            scheduler = Scheduler(
                [worker],
                regraders,
                ng_jobs,
                clean_jobs,
                autograde_spec,
                regrade_spec,
                after_job=self.sources.verify,
                progress=progress,
            )
            return scheduler.run()
        finally:
            for service in [worker, *regraders]:
                service.close()
            sandbox.remove_orphan_groups()  # the services were killed: their sandboxes' cgroups

    def _merge(self, results, ng_results, clean_results) -> None:
        with gradebook.opened(self.root) as gb:
            for key, res in results.items():
                student, assignment = key
                out = ng_results.get(key)
                if out is None:
                    if res.status == "not graded" and key not in self.keep_earlier:
                        self._forget(gb, assignment, student)  # no stale grade stays
                    continue
                if not out.get("success"):
                    res.status, res.reason = "not graded", policy.nbgrader_failure_reason(out)
                    self._forget(gb, assignment, student)
                    continue
                scores = out.get("scores", {})
                cells = []
                try:
                    for name in self.expected[assignment]:
                        clean = clean_results.get((student, assignment, name))
                        if clean is None:
                            continue  # refused at intake, noted there
                        res.notes += [
                            (name, f"clean re-grade: {n}") for n in clean.get("notes", [])
                        ]
                        cells += policy.notebook_verdicts(
                            name, self.source_nbs[(assignment, name)], scores.get(name, {}), clean
                        )
                except policy.NotGraded as why:
                    res.status, res.reason = "not graded", str(why)
                    self._forget(gb, assignment, student)
                    continue
                for cell in cells:
                    auto = (scores.get(cell.notebook, {}).get(cell.grade_id) or [None])[0]
                    if cell.status != "manual" and auto is not None and cell.final != auto:
                        gradebook.set_auto_score(
                            gb, assignment, student, cell.notebook, cell.grade_id, cell.final
                        )
                res.cells = cells
                res.score = policy.total(cells)

    def _forget(self, gb, assignment: str, student: str) -> None:
        """Remove a submission's grades and autograded copy (nothing stale may remain). Its
        hand grades are saved first (grader/reports/hand-grades/), so none is ever lost."""
        saved = handgrading.backup(
            self.reports / "hand-grades", student, assignment, self.hand.get((student, assignment))
        )
        if saved is not None:
            self.backups[(student, assignment)] = saved
        shutil.rmtree(self.layout.autograded / student / assignment, ignore_errors=True)
        shutil.rmtree(self.layout.feedback / student / assignment, ignore_errors=True)
        gradebook.remove_submission(gb, assignment, student)

    def _hand_grades(self, results) -> None:
        """Restore hand grades after the regrade, mark cells still to grade by hand, and show
        graders the model answers beside the answers."""
        with gradebook.opened(self.root) as gb:
            for key, res in results.items():
                student, assignment = key
                if key in self.backups:
                    res.notes.append(
                        (
                            "",
                            f"hand grades saved to {self.backups[key]} before the submission "
                            "was removed from the gradebook",
                        )
                    )
                if res.status != "graded":
                    continue
                old = self.hand.get(key) or []
                if old:
                    plan = handgrading.restore(gb, self.layout.autograded, student, assignment, old)
                    res.notes += [("", note) for note in plan.notes()]
                    if plan.keep:
                        res.notes.append(
                            ("", f"{len(plan.keep)} hand grade(s) kept (answer unchanged)")
                        )
                pending = handgrading.mark_manual_cells(gb, assignment, student, res.cells)
                res.score = policy.total(res.cells)
                if pending:
                    res.status = "pending hand grading"
                    res.reason = f"{pending} answer(s) still to grade by hand"
                for name in self.expected[assignment]:
                    path = self.layout.autograded / student / assignment / f"{name}.ipynb"
                    if path.exists():
                        nb = nbs.read(path)
                        if handgrading.add_model_answers(nb, self.source_nbs[(assignment, name)]):
                            path.write_text(nbs.dumps(nb), encoding="utf-8")

    def _from_lms(self, submissions: Path, tmp: Path) -> Path:
        """A Canvas or Moodle download (file names with LMS user ids) mapped to student ids
        through the roster; anything else is returned unchanged."""
        if not self.term.roster:
            return submissions
        folder, refused = submissions, []
        if submissions.is_file() and zipfile.is_zipfile(submissions):
            folder = tmp / "unzipped"
            refused = intake_mod.extract(submissions, folder, self.term.timezone)
        if not folder.is_dir() or not lms.looks_like_download(folder):
            return submissions
        self.refused += [f"{submissions.name}: {line}" for line in refused]
        copied, problems = lms.map_downloads(folder, tmp / "mapped", self.term.roster)
        for problem in problems:
            self.say(f"lms: {problem}")
        self.refused += [p for p in problems if ": refused (" in p]
        self.say(f"lms: {copied} file(s) of a Canvas/Moodle download mapped to student ids")
        return tmp / "mapped"

    def _add_missing(self, results, assignments) -> None:
        """A student who submitted something, but not an assignment others submitted; and
        every roster student, for every assignment graded."""
        students = {s for s, _ in results}
        only = set(self.options.students or [])
        students |= {
            s.student_id
            for s in self.term.roster or []
            if (not only or s.student_id in only)
            and (self.options.shard == (1, 1) or in_shard(s.student_id, self.options.shard))
        }
        for student in students:
            for assignment in assignments:
                if (student, assignment) not in results:
                    results[(student, assignment)] = SubmissionResult(
                        student,
                        assignment,
                        self._max(assignment),
                        "no submission",
                        "nothing was submitted for this assignment",
                    )


def _asdict(result) -> dict:
    import dataclasses

    return dataclasses.asdict(result)


def grade_class(root: Path, submissions: Path, options: Options | None = None):
    options = options or Options()
    grader = ClassGrader(root, options)
    results = grader.run(submissions)
    return results, grader
