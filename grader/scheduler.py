"""Running the class's jobs on the grading services, with explicit state.

Two kinds of job: *autograde* (student, assignment) on the nbgrader workers and *regrade*
(student, assignment, notebook) on the re-grade services. :class:`Scheduler` keeps every
service busy while jobs are pending, collects each result under the job it belongs to, and
turns a service that dies, overruns its time budget or breaks the protocol into a failed
result *for the job it was running* (then restarts the service from the verified code). A
gradebook that is busy ("database is locked") gets one retry of the job.
"""

from __future__ import annotations

import selectors
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from grader.worker_protocol import ProtocolError, Service

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
    autograde_spec: Callable[[NgKey], JobSpec]
    regrade_spec: Callable[[CleanKey], JobSpec]
    after_job: Callable[[], None] = lambda: None  # e.g. verify the trusted sources
    progress: Callable[[NgKey, dict, dict], None] = lambda key, out, state: None

    pending_autograde: deque = field(init=False)
    pending_regrade: deque = field(init=False)
    autograded: dict[NgKey, dict] = field(init=False, default_factory=dict)
    regraded: dict[CleanKey, dict] = field(init=False, default_factory=dict)
    regrades_left: dict[NgKey, int] = field(init=False, default_factory=dict)
    retried: set = field(init=False, default_factory=set)
    finished: int = field(init=False, default=0)
    keys: dict[int, tuple] = field(init=False, default_factory=dict)  # id(service) -> job key

    def __post_init__(self):
        self.pending_autograde = deque(self.autograde_jobs)
        self.pending_regrade = deque(self.regrade_jobs)
        for student, assignment, _name in self.regrade_jobs:
            key = (student, assignment)
            self.regrades_left[key] = self.regrades_left.get(key, 0) + 1

    # -- bookkeeping ----------------------------------------------------------------------

    def _busy(self) -> list[Service]:
        return [s for s in (*self.workers, *self.regraders) if s.job is not None]

    def _dispatch(self) -> None:
        for worker in self.workers:
            if worker.job is None and self.pending_autograde:
                key = self.pending_autograde.popleft()
                self._send(worker, key, self.autograde_spec(key))
        for regrader in self.regraders:
            if regrader.job is None and self.pending_regrade:
                key = self.pending_regrade.popleft()
                self._send(regrader, key, self.regrade_spec(key))

    def _send(self, service: Service, key: tuple, spec: JobSpec) -> None:
        self.keys[id(service)] = key
        service.send(spec.message, spec.timeout)

    def _done(self, service: Service, out: dict) -> None:
        key = self.keys.pop(id(service))
        service.job = None
        if service in self.regraders:
            self.regraded[key] = out
            self.regrades_left[key[:2]] -= 1
            self._maybe_finished(key[:2])
        else:
            self.autograded[key] = out
            self._maybe_finished(key)
        self.after_job()

    def _maybe_finished(self, key: NgKey) -> None:
        if key in self.autograded and self.regrades_left.get(key, 0) == 0:
            self.finished += 1
            self.progress(key, self.autograded[key], {"finished": self.finished})

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
