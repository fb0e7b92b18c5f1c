"""Grading in progress, recorded in the gradebook: what a killed run leaves, and how the next
run completes it.

Before a grading run lets nbgrader write anything, it records for each submission it is about
to grade a ``grading`` record (:mod:`grader.books.store`): who grades it (the Slurm job and task, or
the host and process) and the submission's hand grades as they were before the run. The run
writes all its results in one transaction at its end, then removes its records. So a run that
is cancelled, killed or fails leaves

- the grader's results of its students as they were (an earlier run's, or none): every
  student is fully graded by the run or untouched by it;
- nbgrader's tables of the submissions it had begun half-written: while a ``grading`` record
  stands, the reports show that submission as "not graded" with who was grading it, never a
  half-written score;
- the hand grades before the run in its records: the next run of those students restores
  them from there (nbgrader's copy may already be overwritten), so none is lost.

Grading the students again (``python -m grader slurm --retry-failed``, or ``grade`` with the
same ``--shard``) replaces the half-written state and removes the records.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time

from grader.books.hand_policy import HandGrade
from grader.books.store import Store

KIND = "grading"


def who() -> str:
    """This run, for a person: the Slurm array task, the Slurm job, or host and process."""
    job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if job and task:
        return f"Slurm job {job} task {task}"
    if os.environ.get("SLURM_JOB_ID"):
        return f"Slurm job {os.environ['SLURM_JOB_ID']}"
    return f"{socket.gethostname()} process {os.getpid()}"


def begin(db_url: str, hand: dict) -> dict:
    """Record that the submissions ``hand`` (``(student, assignment) -> hand grades``) are
    being graded; return the hand grades to restore after grading: those an interrupted
    earlier run recorded win over what nbgrader holds now."""

    with Store(db_url) as store:
        earlier = store.all(KIND)
        use = {}
        rows = []
        for key, grades in hand.items():
            kept = earlier.get(key)
            if kept is not None:
                grades = [HandGrade(**g) for g in kept["hand"]]
            use[key] = grades
            data = {
                "by": who(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                "hand": [dataclasses.asdict(g) for g in grades],
            }
            rows.append((key[0], key[1], data))
        store.put_many(KIND, rows)
    return use


def end(store, keys) -> None:
    """The results of ``keys`` are written (``store``: an open :class:`grader.books.store.Store`):
    their records go, in one transaction."""
    t = store.table
    with store.engine.begin() as conn:
        for student, assignment in keys:
            conn.execute(
                t.delete().where(t.c.kind == KIND, t.c.student == student, t.c.key == assignment)
            )


def why(data: dict) -> str:
    """The report's reason for a submission with a ``grading`` record ``data``."""
    return (
        f"grading begun by {data['by']} at {data['since']} has not finished (still running, "
        "or cancelled, killed or failed): grade it again"
    )
