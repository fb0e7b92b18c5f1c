"""The autograde round trip CI runs (``python -m grader check``, with the release's drift, leak
and validation checks of :mod:`grader.course.release`): the whole grading run, stage by stage,
on a perfect student and on the untouched release."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from grader.books import gradebook
from grader.course import notebooks as nbs
from grader.course import release
from grader.grade import Options, grade_class
from grader.verdicts import sandbox
from grader.verdicts.score_policy import Status


def roundtrip(root: Path, jobs: int = 1) -> tuple[list[str], dict]:
    """In a temporary copy of the course, grade two students: ``solution`` (every answer from
    solutions/) must earn full marks on every test cell and ``untouched`` (the release as is)
    must earn zero, read back per cell from the gradebook. Returns (problems, scores)."""
    root = Path(root).resolve()
    problems: list[str] = []
    found: dict = {}
    with tempfile.TemporaryDirectory(prefix="roundtrip-") as tmp:
        course = release.copy_course(root, Path(tmp) / "course")
        problems += release.generate(course, release.release_dir(course), db=False)
        subs = Path(tmp) / "submissions"
        for assignment, paths in release.source_notebooks(course).items():
            for path in paths:
                released = nbs.read(release.release_dir(course) / assignment / path.name)
                for student, nb in (
                    ("solution", release.solved_copy(nbs.read(path), released)),
                    ("untouched", released),
                ):
                    out = subs / student / assignment / path.name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(nbs.dumps(nb), encoding="utf-8")
        saved = os.environ.get("NBGRADER_DB_URL")
        os.environ["NBGRADER_DB_URL"] = "sqlite:///" + str(course / "grader" / "gradebook.db")
        try:
            # Only the course's own notebooks are graded here: without bubblewrap they may run
            # unsandboxed (grading students' submissions never does, unless told to).
            options = Options(jobs=jobs, sandbox=sandbox.probe() is None)
            results, _ = grade_class(course, subs, options)
            found = gradebook.all_scores(course)
        finally:
            if saved is None:
                os.environ.pop("NBGRADER_DB_URL", None)
            else:
                os.environ["NBGRADER_DB_URL"] = saved
    for r in results:  # written answers wait for a person: "pending hand grading" is fine
        if r.status not in (Status.GRADED, Status.PENDING):
            problems.append(f"{r.student} {r.assignment}: {r.status}: {r.reason}")
    tests = {
        (assignment, path.stem, nbs.grade_id(cell))
        for assignment, paths in release.source_notebooks(root).items()
        for path in paths
        for cell in nbs.read(path).cells
        if nbs.is_autograded_test(cell)
    }
    for (student, assignment, notebook, cell), (score, max_score, _auto) in sorted(found.items()):
        if (assignment, notebook, cell) not in tests:
            continue  # written answers and tasks are graded by hand
        where = f"{assignment}/{notebook} {cell}"
        if student == "solution" and score != max_score:
            problems.append(f"{where}: the solution scores {score}/{max_score}")
        if student == "untouched" and score != 0:
            problems.append(
                f"{where}: the untouched release scores {score}/{max_score} (free points)"
            )
    for assignment in release.source_notebooks(root):
        for student in ("solution", "untouched"):
            if not any(k[0] == student and k[1] == assignment for k in found):
                problems.append(f"{assignment}: no grades for {student} in the gradebook")
    return problems, found
