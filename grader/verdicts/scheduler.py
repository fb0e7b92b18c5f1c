"""Running the class's jobs on the grading services, with explicit state.

Two kinds of job: *regrade* (student, assignment, notebook) on the re-grade services, which
compute every verdict, then *autograde* (student, assignment) on the nbgrader worker, which
records those verdicts in nbgrader's gradebook and autograded notebooks; an autograde job is
sent only when every notebook of its submission has been re-graded, and carries their results.
A re-grade service serves one student at a time (that student's sandbox is reused for all of
their notebooks and never shared): a free service takes its student's next notebook, else the
next student nobody is serving. :class:`Scheduler` keeps every service busy while jobs are
pending, collects each result under the job it belongs to, and turns a service that dies,
overruns its time budget or breaks the protocol into a failed result *for the job it was
running* (then restarts the service from the verified code). A gradebook that is busy
("database is locked") gets one retry of the job.
"""

from __future__ import annotations

import selectors
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from grader.verdicts.services import ProtocolError, Service

NgKey = tuple[str, str]  # (student, assignment)
CleanKey = tuple[str, str, str]  # (student, assignment, notebook)


@dataclass
class JobSpec:
    """What a service is sent for one job, and how long it may take."""

    message: dict
    timeout: float


@dataclass
class Scheduler:
    workers: list[Service]
    regraders: list[Service]
    autograde_jobs: list[NgKey]
    regrade_jobs: list[CleanKey]
    # (student, assignment), {notebook: its re-grade result} -> the autograde job
    autograde_spec: Callable[[NgKey, dict[str, dict]], JobSpec]
    regrade_spec: Callable[[CleanKey], JobSpec]
    after_job: Callable[[], None] = lambda: None  # e.g. verify the trusted sources
    progress: Callable[[NgKey, dict, dict], None] = lambda key, out, state: None

    pending_autograde: deque = field(init=False, default_factory=deque)
    pending_regrade: dict[str, deque] = field(init=False, default_factory=dict)  # per student
    serving: dict[int, str] = field(init=False, default_factory=dict)  # id(regrader) -> student
    autograded: dict[NgKey, dict] = field(init=False, default_factory=dict)
    regraded: dict[CleanKey, dict] = field(init=False, default_factory=dict)
    regrades_left: dict[NgKey, int] = field(init=False, default_factory=dict)
    retried: set = field(init=False, default_factory=set)
    finished: int = field(init=False, default=0)
    keys: dict[int, tuple] = field(init=False, default_factory=dict)  # id(service) -> job key
    to_autograde: set[NgKey] = field(init=False, default_factory=set)

    def __post_init__(self):
        self.to_autograde = set(self.autograde_jobs)
        for key in self.regrade_jobs:
            self.pending_regrade.setdefault(key[0], deque()).append(key)
            self.regrades_left[key[:2]] = self.regrades_left.get(key[:2], 0) + 1
        for key in self.autograde_jobs:
            if not self.regrades_left.get(key):
                self.pending_autograde.append(key)

    # -- bookkeeping ----------------------------------------------------------------------

    def _busy(self) -> list[Service]:
        return [s for s in (*self.workers, *self.regraders) if s.job is not None]

    def _next_regrade(self, regrader: Service) -> CleanKey | None:
        """The next notebook of the student this service serves, else of a student nobody
        is serving yet."""
        student = self.serving.get(id(regrader))
        if not self.pending_regrade.get(student):
            served = set(self.serving.values()) - {student}
            student = next((s for s in self.pending_regrade if s not in served), None)
            if student is None:
                return None
            self.serving[id(regrader)] = student
        queue = self.pending_regrade[student]
        key = queue.popleft()
        if not queue:
            del self.pending_regrade[student]
        return key

    def _dispatch(self) -> None:
        for regrader in self.regraders:
            if regrader.job is None and (key := self._next_regrade(regrader)) is not None:
                self._send(regrader, key, self.regrade_spec(key))
        for worker in self.workers:
            if worker.job is None and self.pending_autograde:
                key = self.pending_autograde.popleft()
                results = {k[2]: v for k, v in self.regraded.items() if k[:2] == key}
                self._send(worker, key, self.autograde_spec(key, results))

    def _send(self, service: Service, key: tuple, spec: JobSpec) -> None:
        self.keys[id(service)] = key
        service.send(spec.message, spec.timeout)

    def _done(self, service: Service, out: dict) -> None:
        key = self.keys.pop(id(service))
        service.job = None
        if service in self.regraders:
            self.regraded[key] = out
            self.regrades_left[key[:2]] -= 1
            if self.regrades_left[key[:2]] == 0 and key[:2] in self.to_autograde:
                self.pending_autograde.append(key[:2])
        else:
            self.autograded[key] = out
            self.finished += 1
            self.progress(key, out, {"finished": self.finished})
        self.after_job()

    def _failed(self, service: Service, why: str) -> None:
        """The service could not finish its job: a failure for that job, a fresh service."""
        seconds = time.monotonic() - service.started
        service.kill()
        service.start()
        if service in self.regraders:
            self._done(service, {"tests": [], "notes": [], "error": why})
        else:
            self._done(service, {"success": False, "error": why, "seconds": seconds})

    def _received(self, service: Service) -> None:
        try:
            out = service.result()
        except ProtocolError as error:
            self._failed(service, f"protocol violation: {error}")
            return
        key = self.keys[id(service)]
        locked = "database is locked" in str(out.get("log", "")) + str(out.get("error"))
        if (
            service in self.workers
            and not out.get("success")
            and locked
            and key not in self.retried
        ):
            self.retried.add(key)
            self.keys.pop(id(service))
            service.job = None
            self.pending_autograde.append(key)
            return
        self._done(service, out)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> tuple[dict[NgKey, dict], dict[CleanKey, dict]]:
        self._dispatch()
        while busy := self._busy():
            ready = [s for s in busy if s.has_line()]
            if not ready:
                with selectors.DefaultSelector() as sel:
                    for service in busy:
                        sel.register(service.fileno(), selectors.EVENT_READ, service)
                    wait = max(0.0, min(s.deadline for s in busy) - time.monotonic())
                    for key, _ in sel.select(wait):
                        service = key.data
                        try:
                            alive = service.pump()
                        except ProtocolError as error:
                            self._failed(service, f"protocol violation: {error}")
                            continue
                        if not alive:
                            self._failed(
                                service, "the grading process died (memory limit or crash)"
                            )
                        elif service.has_line():
                            ready.append(service)
            for service in ready:
                if service.job is not None:
                    self._received(service)
            now = time.monotonic()
            for service in self._busy():
                if now >= service.deadline:
                    if service in self.regraders:
                        self._failed(service, "the re-grade timed out")
                    else:
                        self._failed(
                            service, f"timed out: took longer than {self._budget(service):g} s"
                        )
            self._dispatch()
        return self.autograded, self.regraded

    @staticmethod
    def _budget(service: Service) -> float:
        return round(service.deadline - service.started)
