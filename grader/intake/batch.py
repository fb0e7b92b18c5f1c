"""The intake stage of a grading run: the class's submissions, as they arrived, become a
:class:`Batch`, the notebooks to run and the submissions to record.

A submissions folder *inside* ``grader/submitted/`` (e.g. after ``nbgrader collect``) is copied
first to ``grader/received/<time>/``, since intake rewrites ``submitted/`` with repaired copies;
a Canvas or Moodle download is mapped to student ids through the roster (:mod:`.lms`); then
every file is read, placed and staged by :func:`grader.intake.files.intake`.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.layout import CourseLayout
from grader.intake import files, lms
from grader.intake.shards import in_shard
from grader.intake.term import Term


@dataclass
class Batch:
    """What one grading run takes: the placed submissions, and the work they make."""

    label: str  # the submissions' name: the same download graded again keeps its records
    taken: files.Intake
    keep: Callable[[str], bool]  # whether a student is in this run (shard, --student)
    # (student, assignment, notebook) -> the staged copy to run, for every gradable notebook
    notebooks: dict[tuple[str, str, str], Path | None] = field(default_factory=dict)
    # (student, assignment) with something staged: what nbgrader records
    submissions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def unplaced(self) -> int:
        """How many files of the class could not be placed (reported, never a grade)."""
        return sum(len(lines) for lines in self.taken.unplaced.values())


def take(
    layout: CourseLayout,
    expected: dict[str, list[str]],
    term: Term,
    submissions: Path,
    scratch: Path,
    *,
    assignments: list[str] | None,
    students: list[str] | None,
    shard: tuple[int, int],
    replace: bool,
    say: Callable[[str], None],
) -> Batch:
    """Read ``submissions`` (a folder, a zip, an LMS download) into ``layout.submitted``, for
    the ``assignments`` (default: all) of ``students`` (default: all) in ``shard``; ``scratch``
    is a folder for the unpacked download, valid while the batch is read."""
    only = set(students or [])

    def keep(student: str) -> bool:
        return in_shard(student, shard) and (not only or student in only)

    label = Path(submissions).name
    refused: list[str] = []
    submissions = _keep_originals(layout, Path(submissions), refused, say)
    submissions = _from_lms(submissions, scratch, term, refused, say)
    taken = files.intake(
        submissions,
        layout.submitted,
        layout.release,
        expected,
        keep_student=keep if (shard != (1, 1) or only) else None,
        selected=set(assignments) if assignments else None,
        tz=term.timezone,
        replace=replace,
        term=term,
    )
    taken.problems[:0] = refused
    for problem in taken.problems:
        say(f"intake: {problem}")
    batch = Batch(label, taken, keep)
    for (student, assignment), notebooks in sorted(taken.submissions.items()):
        for name, entry in notebooks.items():
            if not entry.error:
                batch.notebooks[(student, assignment, name)] = entry.staged
        if any(entry.staged for entry in notebooks.values()):
            batch.submissions.append((student, assignment))
    return batch


def _keep_originals(layout: CourseLayout, submissions: Path, refused: list, say) -> Path:
    """Intake rewrites ``layout.submitted`` with repaired copies. When the submissions *are*
    that folder (e.g. after ``nbgrader collect``), copy them first to
    ``grader/received/<time>/`` and read from there, so no original is ever lost."""
    source = submissions.resolve()
    if not (source == layout.submitted or source.is_relative_to(layout.submitted)):
        return submissions
    kept = layout.received / time.strftime("%Y%m%d-%H%M%S")
    # Regular files only: a link, device or FIFO is refused here by name (never followed).
    refused += files.copy_tree(source, kept)
    say(f"originals copied to {kept} (grading rewrites {layout.submitted})")
    return kept


def _from_lms(submissions: Path, tmp: Path, term: Term, refused: list, say) -> Path:
    """A Canvas or Moodle download (file names with LMS user ids) mapped to student ids
    through the roster; anything else is returned unchanged."""
    if not term.roster:
        return submissions
    folder, unzip_refused = submissions, []
    if submissions.is_file() and zipfile.is_zipfile(submissions):
        folder = tmp / "unzipped"
        unzip_refused = files.extract(submissions, folder, term.timezone)
    if not folder.is_dir() or not lms.looks_like_download(folder):
        return submissions
    refused += [f"{submissions.name}: {line}" for line in unzip_refused]
    copied, problems = lms.map_downloads(folder, tmp / "mapped", term.roster)
    for problem in problems:
        say(f"lms: {problem}")
    refused += [p for p in problems if ": refused (" in p]
    say(f"lms: {copied} file(s) of a Canvas/Moodle download mapped to student ids")
    return tmp / "mapped"
