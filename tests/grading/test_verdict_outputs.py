"""The outputs nbgrader records for a test cell, from the re-grade's verdict: nbgrader scores an
error output 0 and anything else full points, so these decide the gradebook."""

from __future__ import annotations

import fixture_course as fc
import pytest
from nbgrader.utils import determine_grade

from grader.books.autograde import RecordVerdicts, verdict_outputs
from grader.course import notebooks as nbs


def test_a_passed_test_shows_what_it_printed_and_no_error():
    outputs = verdict_outputs({"passed": True, "error": None, "output": "all checks passed\n"})
    assert [(o.output_type, o.text) for o in outputs] == [("stream", "all checks passed\n")]
    assert verdict_outputs({"passed": True, "error": None}) == []


@pytest.mark.parametrize(
    ("verdict", "problem", "ename", "evalue"),
    [
        ({"passed": False, "error": "AssertionError: relu is wrong"}, None, "AssertionError",
         "relu is wrong"),
        ({"passed": False, "error": "timed out after 3 s (an infinite loop?)"}, None,
         "TestFailed", "timed out after 3 s (an infinite loop?)"),
        ({"passed": False, "error": None}, None, "TestFailed", "failed"),
        ({"passed": "yes"}, None, "TestFailed", "no verdict from the re-grade"),
        (None, None, "TestFailed", "no verdict from the re-grade"),
        ({"passed": True}, "not graded: protocol violation", "TestFailed",
         "not graded: protocol violation"),
    ],
)  # fmt: skip
def test_a_failed_or_missing_verdict_is_an_error_with_its_message(verdict, problem, ename, evalue):
    errors = [o for o in verdict_outputs(verdict, problem) if o.output_type == "error"]
    assert [(o.ename, o.evalue) for o in errors] == [(ename, evalue)]


def test_nbgrader_scores_exactly_the_verdicts():
    nb = fc.source_notebook()
    verdicts = {
        "fixture": {
            "error": None,
            "tests": [
                {"grade_id": "test_sigmoid", "passed": True, "error": None, "output": "ok\n"},
                {"grade_id": "test_count_tokens", "passed": False, "error": "AssertionError: no"},
            ],  # test_relu has no verdict: it fails
        }
    }
    done, _ = RecordVerdicts(verdicts=verdicts).preprocess(
        nb, {"nbgrader": {"notebook": "fixture"}}
    )
    scores = {
        nbs.grade_id(c): determine_grade(c)[0] for c in done.cells if nbs.is_autograded_test(c)
    }
    assert scores == {"test_sigmoid": 2.0, "test_count_tokens": 0.0, "test_relu": 0.0}
    assert not [c for c in done.cells if nbs.is_solution(c) and c.get("outputs")]
