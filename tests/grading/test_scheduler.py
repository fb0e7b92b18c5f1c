"""The scheduler on real services (tiny ones speaking the grading protocol): every student's
notebooks stay on one re-grade service, an autograde job waits for all of its re-grades and
carries them, and a service that dies costs only the job it was running."""

from __future__ import annotations

import os
import sys

from grader import ROOT
from grader.verdicts.scheduler import JobSpec, Scheduler
from grader.verdicts.services import Service

REGRADE = """import os
from grader.verdicts import services
def handle(state, job):
    if job["owner"] == "crasher" and job["name"] == "nb2":
        os._exit(3)
    return {"tests": [], "notes": [], "error": None, "pid": os.getpid(), "name": job["name"]}
services.serve(lambda: None, handle, lambda error: {"error": str(error)})
"""

AUTOGRADE = """from grader.verdicts import services
def handle(state, job):
    return {"success": True, "verdicts": job["verdicts"]}
services.serve(lambda: None, handle, lambda error: {"success": False})
"""


def _service(name: str, code: str, tmp_path) -> Service:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    service = Service(name, [sys.executable, "-c", code], ROOT, 0, tmp_path / f"{name}.log", env)
    service.start()
    return service


def test_students_stay_on_one_service_and_autograde_waits_for_every_regrade(tmp_path):
    students = ["ana", "ben", "cid", "crasher", "dan"]
    submissions = [(s, a) for s in students for a in ("a1", "a2")]
    notebooks = [(s, a, n) for s, a in submissions for n in ("nb1", "nb2", "nb3")]
    regraders = [_service(f"re-grade {i}", REGRADE, tmp_path) for i in range(2)]
    worker = _service("nbgrader worker", AUTOGRADE, tmp_path)
    seen_when_sent = {}

    def autograde_spec(key, regraded):
        seen_when_sent[key] = sorted(regraded)
        return JobSpec({"verdicts": regraded}, 30)

    def regrade_spec(key):
        return JobSpec({"owner": key[0], "name": key[2]}, 30)

    try:
        scheduler = Scheduler(
            [worker], regraders, submissions, notebooks, autograde_spec, regrade_spec
        )
        autograded, regraded = scheduler.run()
    finally:
        for service in [worker, *regraders]:
            service.close()
    assert set(regraded) == set(notebooks)
    assert set(autograded) == set(submissions)
    for key in submissions:  # sent only once all three notebooks were re-graded, with them
        assert seen_when_sent[key] == ["nb1", "nb2", "nb3"]
        assert autograded[key]["verdicts"] == {k[2]: v for k, v in regraded.items() if k[:2] == key}
    pids = {}
    for (student, _a, _n), out in regraded.items():
        if student != "crasher":
            pids.setdefault(student, set()).add(out["pid"])
    assert all(len(found) == 1 for found in pids.values()), pids  # one sandbox per student
    # both services were used (three processes: the crashed one was restarted)
    assert len(set().union(*pids.values())) >= 2
    # the crash is that job's failure only; the restarted service went on
    for assignment in ("a1", "a2"):
        assert "died" in regraded[("crasher", assignment, "nb2")]["error"]
        assert regraded[("crasher", assignment, "nb3")]["error"] is None
