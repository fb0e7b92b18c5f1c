"""What a grading run is told: the options of ``python -m grader grade`` (and of each Slurm
task), their defaults stated here once. Light to import: the commands' help reads it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


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
