"""The verdicts stage of a grading run: every staged notebook run once, and nbgrader told.

``jobs`` re-grade services (:mod:`grader.verdicts.runner`, one student's sandbox each) run
every test cell in a trusted process, the student's code in the sandbox; one nbgrader worker
(:mod:`grader.books.nbgrader_worker`) records each submission's verdicts in the gradebook as
soon as its notebooks are done. Both are long-lived services started from a copy of the
trusted bytes (:meth:`grader.verdicts.trusted_sources.TrustedSources.stage`) and fed by the
:class:`grader.verdicts.scheduler.Scheduler`; any change of a trusted file on disk aborts the
run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.course import notebooks as nbs
from grader.verdicts import sandbox
from grader.verdicts import score_policy as policy
from grader.verdicts.scheduler import JobSpec, Scheduler
from grader.verdicts.services import Service
from grader.verdicts.trusted_sources import TrustedSources


@dataclass(frozen=True)
class Limits:
    jobs: int  # re-grade services running at once
    timeout: float  # seconds for nbgrader to record one submission
    cell_timeout: float  # seconds per test cell
    memory_mb: int  # per process, sandboxes included
    sandbox: bool  # False only with an explicit --no-sandbox


@dataclass
class Verdicts:
    """What the stage found: per submission nbgrader's record of it (``success``, ``scores``,
    or why it failed), and per notebook the re-grade's verdicts (``tests``, ``notes``)."""

    recorded: dict[tuple[str, str], dict]
    regraded: dict[tuple[str, str, str], dict]


def run(
    sources: TrustedSources,
    root: Path,
    logs: Path,
    source_nbs: dict,
    notebooks: dict[tuple[str, str, str], Path | None],
    submissions: list[tuple[str, str]],
    limits: Limits,
    staging: Path,
    say: Callable[[str], None],
    started: float,
) -> Verdicts:
    """Run the ``notebooks`` (key -> staged copy) of the course at ``root`` and record the
    ``submissions`` with nbgrader; the services run from ``staging`` (an empty folder) and log
    into ``logs``; progress lines count from ``started`` (a :func:`time.monotonic` time)."""
    if not submissions and not notebooks:
        return Verdicts({}, {})
    code, lib = sources.stage(staging)  # the services' code and the sandbox's files

    def service(name: str, module: str, args: list[str], log: str) -> Service:
        return Service(
            name,
            [sys.executable, "-P", "-m", module, *args],
            code,
            limits.memory_mb,  # the sandboxes set their own limit
            logs / log,
            env=dict(os.environ, PYTHONPATH=str(code)),
            before_start=sources.verify,
        )

    flags = [] if limits.sandbox else ["--no-sandbox"]
    students = {student for student, _a, _n in notebooks}
    worker = service(
        "nbgrader worker", "grader.books.nbgrader_worker", [str(root)], "nbgrader-worker.log"
    )
    runners = [
        service(
            f"re-grade {i}",
            "grader.verdicts.runner",
            [str(lib), str(root), *flags],
            f"regrade-{i}.log",
        )
        for i in range(max(1, min(limits.jobs, len(students))))
    ]
    try:
        for each in [*runners, worker]:
            each.start()
        _generate(worker, sorted({a for _, a in submissions}))

        def record_spec(key, regraded):
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
            return JobSpec(job, limits.timeout)

        def run_spec(key):
            student, assignment, name = key
            source = source_nbs[(assignment, name)]
            n_tests = len(policy.autograded_tests(source))
            staged = notebooks[key]
            job = {
                "source": nbs.dumps(source),
                "student": str(staged) if staged else None,
                "timeout": limits.cell_timeout,
                "memory_mb": limits.memory_mb,
                "owner": student,  # one sandbox per student, never shared
            }
            return JobSpec(job, n_tests * (limits.cell_timeout + 5) + 60)

        def progress(key, out, state):
            status = "ok"
            if not out.get("success"):
                status = "FAILED: " + policy.nbgrader_failure_reason(out)
            regraded = [v for k, v in scheduler.regraded.items() if k[:2] == key]
            tests = [t for v in regraded for t in v.get("tests", [])]
            seconds = sum(t.get("seconds", 0) for t in tests)
            passed = sum(1 for t in tests if t.get("passed") is True)
            say(
                f"[{state['finished']}/{len(submissions)}] {key[0]} {key[1]}: {passed} of "
                f"{len(tests)} tests passed ({seconds:.1f} s), nbgrader {status} "
                f"({time.monotonic() - started:.0f} s elapsed)"
            )

        scheduler = Scheduler(
            [worker],
            runners,
            submissions,
            list(notebooks),
            record_spec,
            run_spec,
            after_job=sources.verify,
            progress=progress,
        )
        return Verdicts(*scheduler.run())
    finally:
        for each in [worker, *runners]:
            each.close()
        sandbox.remove_orphan_groups()  # the services were killed: their sandboxes' cgroups


def _generate(worker: Service, assignments: list[str]) -> None:
    """Put each assignment's source into the gradebook (retried: other shards may be doing the
    same at the same moment)."""
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
