"""Grade a whole class with one command: ``python -m grader grade SUBMISSIONS``.

1. *Intake* (:mod:`grader.intake`): find every submitted notebook, refuse what is not a
   notebook (with the reason), repair edited metadata, and lay the class out in
   ``grader/submitted/``.
2. *Autograde*: ``--jobs`` long-lived nbgrader worker processes (:mod:`grader.worker`) grade one
   (student, assignment) at a time. Each worker and the kernels it starts run under an
   address-space limit; a submission that overruns its time budget gets its worker (and its
   kernels) killed and the next submission continues on a fresh worker. Old grades of a
   submission are removed before it is graded, so a failure never leaves a stale grade.
3. *Clean re-grade* (:mod:`grader.clean`): every test cell is run again, in its own forked
   process, against the student's function definitions only, with the test code taken from
   ``solutions/``. A test that passed in nbgrader but fails here scores 0; the final score is
   written back to the gradebook (so export and feedback agree) and the reason is reported.
4. *Reports*: ``grader/reports/grades.csv`` (one row per student and assignment),
   ``report.csv`` (one row per test cell, plus one per note) and ``report.md`` (readable).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader import intake as intake_mod
from grader import notebooks as nbs

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Options:
    jobs: int = 2  # nbgrader worker processes
    timeout: float = 600.0  # seconds per submitted assignment (nbgrader part)
    cell_timeout: float = 20.0  # seconds per test cell in the clean re-grade
    memory_mb: int = 4096  # address-space limit per process (kernels included)
    assignments: list[str] | None = None  # grade only these
    progress: Callable[[str], None] | None = None
    reports: Path | None = None  # default: ROOT/grader/reports


# --------------------------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (kernels run in sessions of their own)."""
    tree, todo, found = _children(), [pid], []
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    for victim in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)


class Service:
    """A child process speaking JSON lines; restarted after a kill or a crash."""

    def __init__(self, name: str, argv: list[str], cwd: Path, memory_mb: int, log: Path):
        self.name, self.argv, self.cwd, self.memory_mb, self.log_path = (
            name,
            argv,
            cwd,
            memory_mb,
            log,
        )
        self.proc: subprocess.Popen | None = None
        self.buffer = b""
        self.job: dict | None = None
        self.deadline = 0.0
        self.started = 0.0

    def _limits(self) -> None:  # runs in the child before exec
        if self.memory_mb:
            limit = self.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def start(self, timeout: float = 180.0) -> None:
        env = dict(os.environ)
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("MKL_NUM_THREADS", "1")
        env.setdefault("MPLBACKEND", "Agg")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                preexec_fn=self._limits,
            )
        self.buffer = b""
        line = self.readline(time.monotonic() + timeout)
        if line is None or not line.get("ready"):
            self.kill()
            raise RuntimeError(f"{self.name} did not start; see {self.log_path}")

    def readline(self, deadline: float) -> dict | None:
        """Block until a full line or the deadline; None on timeout or EOF."""
        assert self.proc is not None
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sel = selectors.DefaultSelector()
            sel.register(fd, selectors.EVENT_READ)
            ready = sel.select(left)
            sel.close()
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def pump(self) -> list[dict] | None:
        """Read what is available; the complete lines, or None at EOF."""
        assert self.proc is not None
        assert self.proc.stdout is not None
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        lines = []
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            lines.append(json.loads(line))
        return lines

    def send(self, job: dict, timeout: float) -> None:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.job = job
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.proc.stdin.write((json.dumps(job) + "\n").encode())
        self.proc.stdin.flush()

    def call(self, job: dict, timeout: float) -> dict | None:
        self.send(job, timeout)
        result = self.readline(self.deadline)
        self.job = None
        return result

    def kill(self) -> None:
        if self.proc is not None:
            kill_tree(self.proc.pid)
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
            self.proc = None

    def close(self) -> None:
        if self.proc is not None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
                pass
            self.kill()


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------


@dataclass
class CellResult:
    notebook: str
    grade_id: str
    max_score: float
    nbgrader_score: float | None = None
    clean_passed: bool | None = None
    clean_error: str | None = None
    nbgrader_error: str | None = None
    final: float | None = None
    status: str = ""
    reason: str = ""


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    max_score: float
    status: str = "graded"  # graded | not graded | no submission
    reason: str = ""
    score: float | None = None
    cells: list[CellResult] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (notebook, text)


def _points(source_nb) -> dict[str, float]:
    return {
        nbs.grade_id(c): float(nbs.nbgrader_meta(c).get("points", 0) or 0)
        for c in source_nb.cells
        if nbs.is_grade(c) or nbs.nbgrader_meta(c).get("task")
    }


def _nbgrader_reason(result: dict) -> str:
    """A one-line reason for a failed nbgrader run, from its error and log."""
    log = ANSI_RE.sub("", (result.get("log") or "") + "\n" + (result.get("error") or ""))
    patterns = [
        (
            r"DeadKernelError|Kernel died|kernel.*(died|restart)",
            "the kernel died (os._exit, a crash or the memory limit)",
        ),
        (
            r"Inconsistent checksums|checksum.*inconsistent",
            "nbgrader found inconsistent cell metadata",
        ),
        (
            r"NotJSONError|not valid JSON|Notebook does not appear to be JSON",
            "not a valid notebook",
        ),
        (r"KeyError: 'grade_id'", "a test cell was duplicated or its metadata removed"),
        (r"database is locked", "the gradebook was busy (database is locked)"),
        (r"MemoryError", "ran out of memory (limit reached)"),
    ]
    for pattern, reason in patterns:
        if re.search(pattern, log, re.IGNORECASE):
            return reason
    lines = [
        line.strip()
        for line in log.splitlines()
        if line.strip() and ("Error" in line or "error" in line) and "see the error log" not in line
    ]
    return lines[-1][:300] if lines else "nbgrader could not grade the submission"


def _cell_errors(autograded: Path) -> dict[str, str]:
    """``grade_id -> "Name: message"`` for test cells that raised in nbgrader's run."""
    try:
        nb = nbs.read(autograded)
    except Exception:
        return {}
    errors = {}
    for cell in nb.cells:
        if not nbs.is_autograded_test(cell):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                text = f"{output.get('ename')}: {output.get('evalue')}"
                if output.get("ename") == "CellTimeoutError":
                    text = "CellTimeoutError: the cell timed out (an infinite loop?)"
                errors[nbs.grade_id(cell)] = ANSI_RE.sub("", text)[:500]
    return errors


def _annotate(autograded: Path, overrides: dict[str, str]) -> None:
    """Show the clean re-grade's verdict in the autograded notebook (and so in feedback)."""
    if not overrides or not autograded.exists():
        return
    nb = nbs.read(autograded)
    for cell in nb.cells:
        gid = nbs.grade_id(cell)
        if gid in overrides:
            evalue = f"this test failed when re-run cleanly: {overrides[gid]}"
            cell.outputs.append(
                nbformat.v4.new_output(
                    "error",
                    ename="CleanRegradeFailed",
                    evalue=evalue,
                    traceback=[f"CleanRegradeFailed: {evalue}"],
                )
            )
    autograded.write_text(nbs.dumps(nb), encoding="utf-8")


class ClassGrader:
    def __init__(self, root: Path, options: Options):
        from grader.nbg import load_config

        self.root = Path(root).resolve()
        self.options = options
        config = load_config(self.root)
        cd = config.CourseDirectory
        self.source_dir = self.root / cd.get("source_directory", "source")
        self.release_dir = self.root / cd.get("release_directory", "release")
        self.submitted_dir = self.root / cd.get("submitted_directory", "submitted")
        self.autograded_dir = self.root / cd.get("autograded_directory", "autograded")
        self.feedback_dir = self.root / cd.get("feedback_directory", "feedback")
        self.reports = Path(options.reports or self.root / "grader" / "reports")
        self.expected = {
            a: [p.stem for p in nbs.notebook_files(self.source_dir / a)]
            for a in nbs.assignments(self.source_dir)
            if not options.assignments or a in options.assignments
        }
        self.sources = {
            (a, n): nbs.read(self.source_dir / a / f"{n}.ipynb")
            for a, names in self.expected.items()
            for n in names
        }

    def say(self, text: str) -> None:
        if self.options.progress:
            self.options.progress(text)

    # -- services --------------------------------------------------------------------------

    def _worker(self, index: int) -> Service:
        return Service(
            f"nbgrader worker {index}",
            [sys.executable, "-m", "grader.worker", str(self.root)],
            self.root,
            self.options.memory_mb,
            self.reports / "logs" / f"worker-{index}.log",
        )

    def _zygote(self) -> Service:
        return Service(
            "clean re-grade",
            [sys.executable, "-m", "grader.clean", "serve"],
            self.root,
            0,  # the per-test children set their own limits
            self.reports / "logs" / "clean.log",
        )

    # -- main ------------------------------------------------------------------------------

    def _keep_originals(self, submissions: Path) -> Path:
        """Intake rewrites ``submitted_dir`` with repaired copies. When the submissions *are*
        that folder (e.g. after ``nbgrader collect``), copy them first to
        ``grader/received/<time>/`` and read from there, so no original is ever lost."""
        source = submissions.resolve()
        if not (source == self.submitted_dir or source.is_relative_to(self.submitted_dir)):
            return submissions
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = self.submitted_dir.parent / "received" / stamp
        shutil.copytree(source, kept)
        self.say(f"originals copied to {kept} (grading rewrites {self.submitted_dir})")
        return kept

    def run(self, submissions: Path) -> list[SubmissionResult]:
        t0 = time.monotonic()
        self.reports.mkdir(parents=True, exist_ok=True)
        for old in (self.reports / "logs").glob("*.log"):
            old.unlink()
        submissions = self._keep_originals(Path(submissions))
        taken = intake_mod.intake(submissions, self.submitted_dir, self.release_dir, self.expected)
        for problem in taken.problems:
            self.say(f"intake: {problem}")
        results: dict[tuple[str, str], SubmissionResult] = {}
        ng_jobs, clean_jobs = [], []
        for (student, assignment), notebooks in sorted(taken.submissions.items()):
            res = SubmissionResult(student, assignment, self._max(assignment))
            results[(student, assignment)] = res
            for name, entry in notebooks.items():
                res.notes += [(name, note) for note in entry.notes]
                if entry.error:
                    res.notes.append((name, f"not graded: {entry.error}"))
                else:
                    clean_jobs.append((student, assignment, name, entry.staged))
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
        )
        ng_results, clean_results = self._schedule(ng_jobs, clean_jobs, results, t0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbgrader's SQLAlchemy use warns (SAWarning)
            self._merge(results, ng_results, clean_results)
        self.elapsed = time.monotonic() - t0
        self._add_missing(results)
        final = sorted(results.values(), key=lambda r: (r.student, r.assignment))
        self.timing = self._timing(final)
        write_reports(self.reports, final, self.problems, self.timing)
        return final

    def _max(self, assignment: str) -> float:
        return sum(
            sum(_points(self.sources[(assignment, n)]).values()) for n in self.expected[assignment]
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
        }

    def _schedule(self, ng_jobs, clean_jobs, results, t0):
        opts = self.options
        ng_results: dict[tuple[str, str], dict] = {}
        clean_results: dict[tuple[str, str, str], dict] = {}
        if not ng_jobs and not clean_jobs:
            return ng_results, clean_results
        workers = [self._worker(i) for i in range(max(1, min(opts.jobs, len(ng_jobs) or 1)))]
        zygote = self._zygote()
        try:
            zygote.start()
            workers[0].start()
            for assignment in sorted({a for _, a in ng_jobs}):
                out = workers[0].call({"op": "generate", "assignment": assignment}, timeout=300)
                if not out or not out.get("success"):
                    why = (out or {}).get("error") or "timed out"
                    raise RuntimeError(
                        f"cannot put {assignment} into the gradebook: {why}\n"
                        + str((out or {}).get("log", ""))
                    )
            for worker in workers[1:]:
                worker.start()
            pending_ng, pending_clean = list(ng_jobs), list(clean_jobs)
            done_count, total = 0, len(ng_jobs)
            remaining_clean: dict[tuple[str, str], int] = {}
            for s, a, _n, _p in clean_jobs:
                remaining_clean[(s, a)] = remaining_clean.get((s, a), 0) + 1

            def finished(key):
                nonlocal done_count
                if key not in ng_results or remaining_clean.get(key, 0) > 0:
                    return
                done_count += 1
                out = ng_results[key]
                status = "ok" if out.get("success") else "FAILED: " + _nbgrader_reason(out)
                self.say(
                    f"[{done_count}/{total}] {key[0]} {key[1]}: nbgrader {status} "
                    f"({out.get('seconds', 0):.1f} s; {time.monotonic() - t0:.0f} s elapsed)"
                )

            def dispatch():
                for worker in workers:
                    if worker.job is None and pending_ng:
                        student, assignment = pending_ng.pop(0)
                        job = {"op": "autograde", "assignment": assignment, "student": student}
                        job["key"] = [student, assignment]
                        worker.send(job, opts.timeout)
                if zygote.job is None and pending_clean:
                    student, assignment, name, path = pending_clean.pop(0)
                    n_tests = sum(
                        1
                        for c in self.sources[(assignment, name)].cells
                        if nbs.is_autograded_test(c)
                    )
                    zygote.send(
                        {
                            "source": str(self.source_dir / assignment / f"{name}.ipynb"),
                            "student": str(path),
                            "timeout": opts.cell_timeout,
                            "memory_mb": opts.memory_mb,
                            "key": [student, assignment, name],
                        },
                        timeout=n_tests * (opts.cell_timeout + 5) + 60,
                    )

            def on_ng(worker, out):
                key = tuple(worker.job["key"])
                worker.job = None
                ng_results[key] = out
                finished(key)

            def on_clean(out):
                key = tuple(zygote.job["key"])
                zygote.job = None
                clean_results[key] = out
                remaining_clean[key[:2]] -= 1
                finished(key[:2])

            retried: set = set()
            dispatch()
            while any(w.job for w in workers) or zygote.job:
                sel = selectors.DefaultSelector()
                services = [w for w in workers if w.job] + ([zygote] if zygote.job else [])
                for service in services:
                    if service.buffer and b"\n" in service.buffer:
                        continue
                    sel.register(service.proc.stdout.fileno(), selectors.EVENT_READ, service)
                deadline = min(s.deadline for s in services)
                ready = sel.select(max(0.0, deadline - time.monotonic())) if sel.get_map() else []
                sel.close()
                ready_services = [key.data for key, _ in ready] + [
                    s for s in services if s.buffer and b"\n" in s.buffer
                ]
                for service in ready_services:
                    if b"\n" in service.buffer:
                        line, service.buffer = service.buffer.split(b"\n", 1)
                        lines = [json.loads(line)]
                    else:
                        lines = service.pump()
                    if lines is None:  # the process died
                        job = service.job
                        service.kill()
                        service.start()
                        out = {
                            "success": False,
                            "error": "the grading process died (memory limit or crash)",
                            "seconds": time.monotonic() - service.started,
                        }
                        if service is zygote:
                            out = {"tests": [], "notes": [], "error": out["error"]}
                            service.job = job
                            on_clean(out)
                        else:
                            service.job = job
                            on_ng(service, out)
                        continue
                    for out in lines:
                        if service is zygote:
                            on_clean(out)
                        else:
                            key = tuple(service.job["key"])
                            if (
                                not out.get("success")
                                and "database is locked"
                                in str(out.get("log", "")) + str(out.get("error"))
                                and key not in retried
                            ):
                                retried.add(key)
                                pending_ng.append(key)
                                service.job = None
                                continue
                            on_ng(service, out)
                now = time.monotonic()
                for service in services:
                    if service.job is not None and now >= service.deadline:
                        job = service.job
                        service.kill()
                        service.start()
                        service.job = job
                        if service is zygote:
                            on_clean(
                                {"tests": [], "notes": [], "error": "clean re-grade timed out"}
                            )
                        else:
                            on_ng(
                                service,
                                {
                                    "success": False,
                                    "error": f"timed out: took longer than {opts.timeout:g} s",
                                    "seconds": now - service.started,
                                },
                            )
                dispatch()
        finally:
            for service in [*workers, zygote]:
                service.close()
        return ng_results, clean_results

    def _merge(self, results, ng_results, clean_results) -> None:
        from grader.nbg import Course

        course = Course(self.root)
        gb = course.gradebook()
        try:
            for key, res in results.items():
                student, assignment = key
                out = ng_results.get(key)
                if out is None:
                    if res.status == "not graded":  # refused at intake: no stale grade stays
                        self._forget(gb, assignment, student)
                    continue
                if not out.get("success"):
                    res.status, res.reason = "not graded", _nbgrader_reason(out)
                    self._forget(gb, assignment, student)
                    continue
                scores = out.get("scores", {})
                total = 0.0
                for name in self.expected[assignment]:
                    clean = clean_results.get((student, assignment, name))
                    if clean is None:
                        continue  # refused at intake, noted there
                    res.notes += [(name, f"clean re-grade: {n}") for n in clean.get("notes", [])]
                    if clean.get("error"):
                        res.status, res.reason = "not graded", f"{name}: {clean['error']}"
                        break
                    nb_scores = scores.get(name, {})
                    errors = _cell_errors(
                        self.autograded_dir / student / assignment / f"{name}.ipynb"
                    )
                    clean_by_id = {t["grade_id"]: t for t in clean["tests"]}
                    overrides = {}
                    for gid, points in _points(self.sources[(assignment, name)]).items():
                        cell = CellResult(name, gid, points)
                        auto, _max, _is_auto = nb_scores.get(gid) or [None, points, False]
                        test = clean_by_id.get(gid)
                        if test is None:  # manually graded
                            cell.status, cell.reason = "manual", "graded by hand"
                            res.cells.append(cell)
                            continue
                        cell.nbgrader_score = auto
                        cell.clean_passed = test["passed"]
                        cell.clean_error = test.get("error")
                        cell.nbgrader_error = errors.get(gid)
                        if auto is None:
                            cell.final, cell.status = 0.0, "failed"
                            cell.reason = "nbgrader did not score this cell"
                        elif test["passed"]:
                            cell.final = float(auto)
                            cell.status = "passed" if auto >= points else "failed"
                            cell.reason = (
                                "" if auto >= points else (cell.nbgrader_error or "failed")
                            )
                        else:
                            cell.final = 0.0
                            if auto > 0:
                                cell.status = "overridden"
                                cell.reason = (
                                    "passed in the notebook but failed when re-run cleanly "
                                    f"(tampering?): {test.get('error')}"
                                )
                                overrides[gid] = test.get("error") or "failed"
                            else:
                                cell.status = "failed"
                                cell.reason = cell.nbgrader_error or test.get("error") or "failed"
                                if test.get("error") and test["error"] not in cell.reason:
                                    cell.reason += f" (clean re-grade: {test['error']})"
                        if auto is not None and cell.final != auto:
                            grade = gb.find_grade(gid, name, assignment, student)
                            grade.auto_score = cell.final
                        total += cell.final
                        res.cells.append(cell)
                    _annotate(
                        self.autograded_dir / student / assignment / f"{name}.ipynb", overrides
                    )
                if res.status == "not graded":
                    self._forget(gb, assignment, student)
                    continue
                res.score = total
            gb.db.commit()
        finally:
            gb.close()

    def _forget(self, gb, assignment: str, student: str) -> None:
        """Remove a submission's grades and autograded copy (nothing stale may remain)."""
        from nbgrader.api import MissingEntry

        shutil.rmtree(self.autograded_dir / student / assignment, ignore_errors=True)
        shutil.rmtree(self.feedback_dir / student / assignment, ignore_errors=True)
        with contextlib.suppress(MissingEntry):
            gb.remove_submission(assignment, student)

    def _add_missing(self, results) -> None:
        """A student who submitted something, but not an assignment others submitted."""
        students = {s for s, _ in results}
        assignments = {a for _, a in results}
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


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def write_reports(folder: Path, results: list[SubmissionResult], problems: list[str], timing: dict):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "score", "max_score", "status", "reason"])
        for r in results:
            w.writerow(
                [r.student, r.assignment, _fmt(r.score), _fmt(r.max_score), r.status, r.reason]
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


def summary(results: list[SubmissionResult], timing: dict) -> str:
    graded = [r for r in results if r.status == "graded"]
    failed = [r for r in results if r.status == "not graded"]
    overridden = sum(1 for r in results for c in r.cells if c.status == "overridden")
    text = [
        f"graded {len(graded)} submissions, {len(failed)} could not be graded, "
        f"{sum(r.status == 'no submission' for r in results)} missing; "
        f"{overridden} test results overridden by the clean re-grade",
        f"{timing['seconds']} s: {timing['seconds_per_notebook']} s per notebook, "
        f"{timing['seconds_per_student']} s per student",
    ]
    for r in failed:
        text.append(f"  not graded: {r.student} {r.assignment}: {r.reason}")
    return "\n".join(text)


def grade_class(root: Path, submissions: Path, options: Options | None = None):
    options = options or Options()
    grader = ClassGrader(root, options)
    results = grader.run(submissions)
    return results, grader
