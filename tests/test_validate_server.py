"""The Validate button's server side (grader.validate_server): what the dialog is given, the
check run in a subprocess with a time limit, and the unsandboxed path of a laptop without
bubblewrap. The button in a real browser is tests/browser/test_student_lab.py."""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import os
import shutil
from pathlib import Path

import pytest

from grader import ROOT
from grader import validate_server as vs

NOTEBOOK = Path("01_notation") / "notation.ipynb"
SOURCE = ROOT / "solutions" / NOTEBOOK
LONG = "AssertionError: " + "x" * 150 + " <b>not bold</b> & the hint at the very end"


def _run(coroutine):
    """Run ``coroutine`` on a loop of its own, in a thread: another test of the session may
    leave this thread's event loop running, where asyncio.run refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _result(tests, notes=(), unanswered=(), error=None, source=str(SOURCE)):
    return {
        "notebook": "n.ipynb",
        "source": source,
        "sandboxed": False,
        "tests": [{"grade_id": g, "passed": ok, "error": e} for g, ok, e in tests],
        "notes": list(notes),
        "unanswered": list(unanswered),
        "error": error,
    }


def test_every_test_passing_is_success_and_carries_the_result():
    result = _result([("test_char_tokenize", True, None), ("test_encode", True, None)])
    answer = vs.button_answer(result)
    assert answer["success"] is True
    assert "failed" not in answer["value"]  # nbgrader's dialog: "Success! ... passes all"
    assert answer["value"]["grader"] == result


def test_a_failing_test_cell_is_listed_with_its_message_whole_and_escaped():
    result = _result([("test_char_tokenize", False, LONG), ("test_encode", True, None)])
    answer = vs.button_answer(result)
    (entry,) = answer["value"]["failed"]
    assert entry["source"].startswith("test cell test_char_tokenize\n")
    assert "ex.check_char_tokenize(char_tokenize)" in entry["source"]
    assert "seed=3141" not in entry["source"]  # the hidden test of solutions/ is not shown
    assert "HIDDEN" not in entry["source"]
    assert f"The grader says: {LONG}" in entry["raw_error"]
    # The dialog sets ``error`` as HTML: the message is escaped, whole, and wraps.
    assert html.escape(f"The grader says: {LONG}") in entry["error"]
    assert "<b>" not in entry["error"]
    assert "white-space: pre-wrap" in entry["error"]
    # The last entry ends with the verdict of every test cell.
    assert "1 of 2 test cells pass" in entry["raw_error"]
    assert "PASS  test_encode" in entry["raw_error"]
    assert "FAIL  test_char_tokenize" in entry["raw_error"]


def test_notes_and_empty_written_answers_are_listed_even_when_every_test_passes():
    note = "your cell helpers raised ZeroDivisionError at line 3 when grading; definitions kept"
    result = _result([("test_encode", True, None)], notes=[note], unanswered=["why_rnn"])
    failed = vs.button_answer(result)["value"]["failed"]
    assert [e["source"] for e in failed] == ["when grading", "written answer why_rnn"]
    assert failed[0]["raw_error"] == note
    assert "still empty" in failed[1]["raw_error"]
    assert "1 of 1 test cells pass" in failed[1]["raw_error"]


def test_a_notebook_that_cannot_be_checked_says_why():
    answer = vs.button_answer(_result([], error="cannot find the released copy"))
    assert answer == {
        "success": False,
        "value": "The grader cannot check this notebook: cannot find the released copy",
    }


def test_a_served_copy_finds_its_tests_in_the_course(tmp_path):
    copy = tmp_path / "notebooks" / NOTEBOOK
    copy.parent.mkdir(parents=True)
    shutil.copy2(ROOT / "notebooks" / NOTEBOOK, copy)
    assert vs.released_copy(copy) == SOURCE
    assert vs.released_copy(copy, course=tmp_path) is None
    (tmp_path / ".course" / "release" / NOTEBOOK.parent).mkdir(parents=True)
    shutil.copy2(ROOT / "notebooks" / NOTEBOOK, tmp_path / ".course" / "release" / NOTEBOOK)
    assert vs.released_copy(copy, course=tmp_path) == tmp_path / ".course/release" / NOTEBOOK


def test_the_check_runs_unsandboxed_without_bubblewrap(tmp_path, monkeypatch):
    """A laptop without bwrap (no bwrap on PATH): the same check, without a sandbox."""
    copy = tmp_path / "notebooks" / NOTEBOOK
    copy.parent.mkdir(parents=True)
    shutil.copy2(ROOT / "notebooks" / NOTEBOOK, copy)
    # Every command of PATH but bwrap, as on a machine where bubblewrap is not installed.
    shadow = tmp_path / "bin"
    shadow.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        for program in Path(folder).glob("*") if Path(folder).is_dir() else ():
            if program.name != "bwrap" and not (shadow / program.name).exists():
                (shadow / program.name).symlink_to(program)
    monkeypatch.setenv("PATH", str(shadow))
    assert vs.validate.probe() is not None  # no sandbox here now
    result = _run(vs.run_check(copy, vs.released_copy(copy), timeout=300))
    assert result["error"] is None, result
    assert result["sandboxed"] is False
    assert len(result["tests"]) == 5
    assert all("NotImplementedError" in t["error"] for t in result["tests"])
    answer = vs.button_answer(result)
    assert len(answer["value"]["failed"]) == 5 + 1  # five test cells, one written answer


@pytest.mark.parametrize("limit", [0.3])
def test_a_check_past_its_time_limit_is_stopped_and_said(tmp_path, limit):
    copy = tmp_path / "notebooks" / NOTEBOOK
    copy.parent.mkdir(parents=True)
    shutil.copy2(ROOT / "notebooks" / NOTEBOOK, copy)
    result = _run(vs.run_check(copy, SOURCE, timeout=limit))
    assert result == {"error": f"the check did not finish within {limit:g} s"}
    answer = vs.button_answer(result)
    assert answer["success"] is False
    assert "did not finish within" in answer["value"]
