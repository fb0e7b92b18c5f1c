"""The JupyterHub round trip over a local exchange folder: release, fetch and submit (as the
student), collect, grade, hand grade, feedback, release_feedback, fetch_feedback."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import warnings
from pathlib import Path

import fixture_course as fc
import pytest

from grader.books.hand_grades import MODEL_ANSWER_TAG
from grader.course import notebooks as nbs
from grader.course import release as pipeline

pytestmark = [pytest.mark.slow, fc.needs_sandbox]


# nbgrader's exchange takes the student id from the account that submits: this machine's user.
STUDENT = pwd.getpwuid(os.getuid()).pw_name


def _nbgrader(args, cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{out}"
    return out


def test_feedback_goes_back_through_the_exchange(tmp_path, monkeypatch):
    from grader.course.nbgrader_api import Course
    from grader.grade import Options, grade_class
    from grader.reporting import feedback

    root = fc.make_course(tmp_path / "course")
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    with open(root / "nbgrader_config.py", "a", encoding="utf-8") as f:
        f.write(f"\nc.Exchange.root = {str(exchange)!r}  # the hub's shared exchange\n")
    monkeypatch.setenv("NBGRADER_DB_URL", "sqlite:///" + str(root / "grader" / "gradebook.db"))
    assert not pipeline.release(root)
    a = fc.ASSIGNMENT
    student_args = ["--course=seqmodels", f"--Exchange.root={exchange}"]

    _nbgrader(["release_assignment", a], root)
    home = tmp_path / "home"
    home.mkdir()
    _nbgrader(["fetch_assignment", a, *student_args], home)
    fetched = home / a / f"{fc.NOTEBOOK}.ipynb"
    src = nbs.read(root / "solutions" / a / f"{fc.NOTEBOOK}.ipynb")
    fetched.write_text(nbs.dumps(pipeline.solved_copy(src, nbs.read(fetched))), encoding="utf-8")
    _nbgrader(["submit", a, *student_args], home)
    _nbgrader(["collect", a], root)
    collected = root / "grader" / "submitted" / STUDENT / a
    assert (collected / "submission_secret.txt").exists()

    results, _ = grade_class(
        root, root / "grader" / "submitted", Options(jobs=1, timeout=120, cell_timeout=3)
    )
    assert [(r.student, r.status) for r in results] == [(STUDENT, "pending hand grading")]
    for name in ("submission_secret.txt", "timestamp.txt"):  # kept through grading
        assert (collected / name).exists(), name
    # What the formgrader shows: the model answer and rubric right after each written answer.
    graded_nb = nbs.read(root / "grader" / "autograded" / STUDENT / a / f"{fc.NOTEBOOK}.ipynb")
    after = {
        nbs.grade_id(graded_nb.cells[i - 1]): cell.source
        for i, cell in enumerate(graded_nb.cells)
        if MODEL_ANSWER_TAG in cell.metadata.get("tags", [])
    }
    assert sorted(after) == ["explain", "task_saturation"]
    assert "Full marks for naming saturation" in after["task_saturation"]
    warnings.simplefilter("ignore")
    gb = Course(root).gradebook()
    try:
        for gid in ("explain", "task_saturation"):
            grade = gb.find_grade(gid, fc.NOTEBOOK, a, STUDENT)
            grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    finally:
        gb.close()
    assert feedback.generate(root, [a]) == []
    _nbgrader(["release_feedback", a], root)
    _nbgrader(["fetch_feedback", a, *student_args], home)
    pages = list((home / a / "feedback").glob(f"*/{fc.NOTEBOOK}.html"))
    assert len(pages) == 1
    html = pages[0].read_text(encoding="utf-8")
    assert "Score: 9.0 / 9.0" in html or "9.0 / 9.0" in html
    assert "For graders only" not in html  # the model answers stay with the graders
    assert "BEGIN HIDDEN TESTS" not in html
