"""Hand grades across a regrade, newer-submission-wins, and the dry-run diff (pure logic)."""

from __future__ import annotations

import datetime as dt

import pytest

from grader import preview
from grader.books import hand_policy as hg
from grader.intake import files as intake

ANSWER = "(a) a<t> depends on x<1..t> only.\n(b) tagging 'bank'.\n"


def _grade(gid, answer=ANSWER, score=2.0, comment=""):
    return hg.HandGrade("rnn_forward", gid, answer, score, comment)


def test_unchanged_answers_keep_their_grade_and_changed_ones_are_flagged():
    old = [
        _grade("written_a", score=2.0, comment="good"),
        _grade("written_b", answer="old text", score=1.5),
        _grade("written_c", score=1.0),
        hg.HandGrade("rnn_forward", "written_d", "never graded"),  # nbgrader's empty row
    ]
    new = {
        ("rnn_forward", "written_a"): ANSWER.rstrip() + "   \n\n",  # whitespace only
        ("rnn_forward", "written_b"): "a new, longer answer",
        ("rnn_forward", "written_d"): "now answered",
    }
    plan = hg.plan_regrade(old, new)
    assert [g.grade_id for g in plan.keep] == ["written_a"]
    assert [g.grade_id for g in plan.changed] == ["written_b"]
    assert [g.grade_id for g in plan.orphaned] == ["written_c"]
    assert [g.grade_id for g in plan.restore()] == ["written_a", "written_b"]
    notes = plan.notes()
    assert "written_b: the answer changed" in notes[0]
    assert "1.5 points" in notes[0]
    assert "written_c" in notes[1]
    assert "missing" in notes[1]


def test_a_comment_alone_is_a_hand_grade():
    plan = hg.plan_regrade(
        [_grade("w", score=None, comment="see me")], {("rnn_forward", "w"): ANSWER}
    )
    assert [g.comment for g in plan.keep] == ["see me"]


def test_an_edit_inside_the_answer_is_a_change():
    assert hg.same_answer("x = 1\ny = 2\n", "x = 1\ny = 2")
    assert not hg.same_answer("x = 1\ny = 2", "x = 1\ny = 3")
    assert not hg.same_answer("x = 1\n\ny = 2", "x = 1\ny = 2")  # inner lines count


T0 = dt.datetime(2026, 3, 2, 22, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=5)


@pytest.mark.parametrize(
    ("existing", "incoming", "take", "report", "words"),
    [
        (T0, T1, True, False, "newer submission"),
        (T1, T0, False, True, "older copy"),  # the late resubmission is never lost
        (T0, T0, True, False, "same submission time"),  # the same submission, again
        (None, T1, True, True, "no submission time"),
        (T0, None, False, True, "no submission time"),
        (None, None, False, True, "unknown for both"),
    ],
)
def test_the_newer_submission_wins(existing, incoming, take, report, words):
    pick = intake.pick_submission(existing, incoming)
    assert (pick.take_incoming, pick.report) == (take, report)
    assert words in pick.reason


def test_a_first_submission_is_taken():
    assert intake.pick_submission(None, None, existing_present=False).take_incoming


def test_dry_run_lists_only_the_scores_that_change():
    old = {("nb", "t1"): 1.0, ("nb", "t2"): 2.0, ("nb", "w"): None, ("nb", "gone"): 1.0}
    new = {("nb", "t1"): 1.0, ("nb", "t2"): 0.0, ("nb", "w"): 2.0, ("nb", "extra"): 0.5}
    assert preview.score_changes(old, new) == [
        "nb extra: new, 0.5",
        "nb gone: 1 -> no longer graded",
        "nb t2: 2 -> 0",
        "nb w: ungraded -> 2",
    ]
    assert preview.score_changes(old, old) == []
    assert preview.total_change(3.0, 3.5) == "total 3 -> 3.5"
    assert preview.total_change(3.0, 3.0) == "total unchanged (3)"
