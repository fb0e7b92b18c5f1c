"""The score policy as pure functions: the re-grade's verdict + nbgrader's record -> final."""

from __future__ import annotations

import fixture_course as fc
import pytest

from grader.verdicts import score_policy as policy

SOURCE = fc.source_notebook()
TESTS = {"test_sigmoid": 2.0, "test_count_tokens": 3.0, "test_relu": 2.0}


def _verdicts(**overrides):
    tests = [{"grade_id": gid, "passed": True, "error": None} for gid in TESTS]
    for test in tests:
        test.update(overrides.get(test["grade_id"], {}))
    return {"tests": tests, "notes": [], "error": None}


def _scores(**overrides):
    return {gid: [overrides.get(gid, pts), pts, True] for gid, pts in TESTS.items()}


@pytest.mark.parametrize(
    ("auto", "passed", "final", "status", "reason"),
    [
        (2.0, True, 2.0, "passed", ""),
        (0.0, False, 0.0, "failed", "x"),  # the failing check's message is the reason
        # nbgrader recorded something else: the verdict decides (and is written back)
        (0.0, True, 2.0, "passed", ""),
        (2.0, False, 0.0, "failed", "x"),
        (None, True, 0.0, "failed", "nbgrader did not score this cell"),
    ],
)
def test_cell_verdict(auto, passed, final, status, reason):
    cell = policy.cell_verdict(
        "fixture", "test_sigmoid", 2.0, auto, {"passed": passed, "error": "x"}
    )
    assert (cell.final, cell.status, cell.reason) == (final, status, reason)


def test_a_failure_without_a_message_still_says_failed():
    cell = policy.cell_verdict("nb", "t", 1.0, 0.0, {"passed": False, "error": None})
    assert (cell.final, cell.reason) == (0.0, "failed")


def test_notebook_verdicts_score_tests_and_leave_written_answers_to_hand_grading():
    cells = policy.notebook_verdicts(
        "fixture", SOURCE, _scores(), _verdicts(test_relu={"passed": False, "error": "no"})
    )
    by_id = {c.grade_id: c for c in cells}
    assert {g: by_id[g].final for g in TESTS} == {
        "test_sigmoid": 2.0,
        "test_count_tokens": 3.0,
        "test_relu": 0.0,
    }
    assert (by_id["test_relu"].status, by_id["test_relu"].reason) == ("failed", "no")
    assert by_id["explain"].status == by_id["task_saturation"].status == "manual"
    assert policy.total(cells) == 5.0


@pytest.mark.parametrize(
    ("regrade", "words"),
    [
        ({"tests": [], "error": "protocol violation: a line that is not JSON"}, "not JSON"),
        (
            {"tests": [*_verdicts()["tests"], {"grade_id": "explain", "passed": True}]},
            "unexpected verdict 'explain'",
        ),
        (
            {"tests": [*_verdicts()["tests"], {"grade_id": "test_relu", "passed": True}]},
            "unexpected verdict 'test_relu'",
        ),
        ({"tests": _verdicts()["tests"][:2]}, "no verdict for test_relu"),
        (
            {"tests": [{"grade_id": "test_sigmoid", "passed": "yes"}, *_verdicts()["tests"][1:]]},
            "unexpected verdict",
        ),
    ],
)
def test_a_result_that_does_not_describe_the_notebook_is_not_graded(regrade, words):
    with pytest.raises(policy.NotGraded) as info:
        policy.notebook_verdicts("fixture", SOURCE, _scores(), regrade)
    assert words in str(info.value)


def test_nbgrader_failure_reasons():
    assert "inconsistent cell metadata" in policy.nbgrader_failure_reason(
        {"error": "Inconsistent checksums for cell test_relu"}
    )
    assert policy.nbgrader_failure_reason({"log": "[ERROR] ValueError: bad\n"}) == (
        "[ERROR] ValueError: bad"
    )
    assert policy.nbgrader_failure_reason({}) == "nbgrader could not grade the submission"
