"""Hand grading as a first-class step: the formgrader command, model answers beside written
answers for graders only, and feedback that waits for hand grading."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import fixture_course as fc
import nbformat
import pytest

from grader import ROOT
from grader.books import hand_grades
from grader.course import notebooks as nbs
from grader.reporting.feedback import StripModelAnswers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@pytest.mark.slow
def test_grade_by_hand_opens_the_formgrader_on_the_course(fixture_course, tmp_path):
    port, token = _free_port(), secrets.token_hex(8)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        # An instructor who ran `make lab` before: the student mode must not leak in.
        "JUPYTER_CONFIG_PATH": str(ROOT / ".jupyter" / "student"),
    }
    command = [
        sys.executable,
        "-m",
        "grader",
        "--root",
        str(fixture_course),
        "grade-by-hand",
        f"--port={port}",
        "--",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]
    log = tmp_path / "lab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                if _get(f"{base}/api/status", token)[0] == 200:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the formgrader's JupyterLab did not start:\n" + log.read_text())
        status, _body = _get(f"{base}/formgrader", token)
        assert status == 200
        status, body = _get(f"{base}/formgrader/api/assignments", token)
        assert status == 200
        assert fc.ASSIGNMENT in [a["name"] for a in json.loads(body)]  # this course's gradebook
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_model_answers_are_shown_beside_hand_graded_cells_and_never_in_feedback():
    source = fc.source_notebook()
    release = nbformat.from_dict(json.loads(nbformat.writes(source)))  # any copy will do
    added = hand_grades.add_model_answers(release, source)
    assert added == 2  # the written answer and the task
    tagged = [
        i
        for i, c in enumerate(release.cells)
        if hand_grades.MODEL_ANSWER_TAG in c.metadata.get("tags", [])
    ]
    before = [nbs.grade_id(release.cells[i - 1]) for i in tagged]
    assert before == ["explain", "task_saturation"]
    task_note = release.cells[tagged[1]].source
    assert "Full marks for naming saturation" in task_note  # the rubric (mark scheme)
    assert "BEGIN MARK SCHEME" not in task_note
    assert "(1 points)" in task_note
    # Running it again replaces, never repeats.
    assert hand_grades.add_model_answers(release, source) == 2
    assert len(release.cells) == len(source.cells) + 2
    stripped, _ = StripModelAnswers().preprocess(release, {})
    assert len(stripped.cells) == len(source.cells)
    assert all("For graders only" not in c.source for c in stripped.cells)


def test_the_feedback_config_strips_model_answers():
    text = (ROOT / "nbgrader_config.py").read_text()
    assert '"grader.reporting.feedback.StripModelAnswers"' in text


def _notebook(answers: dict[str, str]):
    v4 = nbformat.v4
    cells = []
    for gid, text in answers.items():
        meta = {"nbgrader": {"grade_id": gid, "grade": True, "solution": True, "points": 2}}
        cells.append(v4.new_markdown_cell(text, metadata=meta))
    return v4.new_notebook(cells=cells)


def _write(tmp_path, answers):
    folder = tmp_path / "autograded" / "ana" / "a1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nb.ipynb").write_text(nbformat.writes(_notebook(answers)), encoding="utf-8")


def test_hand_grades_survive_a_regrade_in_the_gradebook(tmp_path, monkeypatch):
    import warnings

    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}")
    warnings.simplefilter("ignore")
    from nbgrader.api import Gradebook

    gb = Gradebook(f"sqlite:///{tmp_path / 'gb.db'}")
    try:
        gb.add_assignment("a1")
        gb.add_notebook("nb", "a1")
        for gid in ("same", "edited", "ungraded"):
            gb.add_grade_cell(gid, "nb", "a1", max_score=2, cell_type="markdown")
            gb.add_solution_cell(gid, "nb", "a1")
        gb.add_student("ana")
        gb.add_submission("a1", "ana")
        _write(tmp_path, {"same": "A good answer.", "edited": "First try.", "ungraded": "..."})
        # A person grades two answers and comments on one.
        gb.find_grade("same", "nb", "a1", "ana").manual_score = 2.0
        gb.find_grade("same", "nb", "a1", "ana").needs_manual_grade = False
        gb.find_comment("same", "nb", "a1", "ana").manual_comment = "Clear."
        gb.find_grade("edited", "nb", "a1", "ana").manual_score = 1.5
        gb.find_grade("edited", "nb", "a1", "ana").needs_manual_grade = False
        gb.db.commit()

        old = hand_grades.snapshot(gb, tmp_path / "autograded", "ana", "a1")
        assert sorted(g.grade_id for g in old) == ["edited", "same"]
        # The regrade: nbgrader's autograde marks hand-graded cells for review again and the
        # student changed one answer.
        for gid in ("same", "edited"):
            gb.find_grade(gid, "nb", "a1", "ana").needs_manual_grade = True
        gb.db.commit()
        _write(tmp_path, {"same": "A good answer.\n", "edited": "Second try.", "ungraded": "..."})
        plan = hand_grades.restore(gb, tmp_path / "autograded", "ana", "a1", old)

        same = gb.find_grade("same", "nb", "a1", "ana")
        edited = gb.find_grade("edited", "nb", "a1", "ana")
        assert (same.manual_score, same.needs_manual_grade) == (2.0, False)
        assert gb.find_comment("same", "nb", "a1", "ana").manual_comment == "Clear."
        assert (edited.manual_score, edited.needs_manual_grade) == (1.5, True)  # look again
        assert [g.grade_id for g in plan.changed] == ["edited"]
        assert "edited: the answer changed" in plan.notes()[0]
        saved = hand_grades.backup(tmp_path / "backup", "ana", "a1", old)
        assert json.loads(saved.read_text())[0]["manual_score"] in (1.5, 2.0)
        assert hand_grades.backup(tmp_path / "backup", "ana", "a1", []) is None
    finally:
        gb.close()
