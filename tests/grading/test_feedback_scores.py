"""One score, one maximum, everywhere a student or the LMS sees it (issue 24, second pass).

A class of three through the README's commands (``grade``, ``import-hand-grades``,
``export``, ``feedback``): ana on time, ben 30 hours late (two started days at 10 % of the
maximum each), cid late too but with an extension. The maximum is the one nbgrader counts
(autograded tests, written answers *and* tasks: 9 in the fixture course, where the tests and
written answer alone make 8), and it is the same in the feedback's summary, nbgrader's own
header of the feedback, ``grades.csv``, ``report.md`` and ``export.csv``. The late penalty is
a fraction of that maximum, so ben's final score (the top of his feedback, with the penalty's
reason) is the number in ``export.csv`` and ``canvas.csv``.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import re
from pathlib import Path

import fixture_course as fc
import pytest

from grader.__main__ import main
from grader.course import notebooks as nbs
from grader.course import release
from grader.intake import files as intake
from grader.verdicts import score_policy as policy

pytestmark = [pytest.mark.slow, fc.needs_sandbox]

DUE = dt.datetime(2026, 3, 2, 23, 59, tzinfo=dt.UTC)
SUBMITTED = {
    "ana": DUE - dt.timedelta(hours=5),
    "ben": DUE + dt.timedelta(hours=30),  # two started days late: -20 % of the maximum
    "cid": DUE + dt.timedelta(hours=30),  # the same, inside cid's extension
}
HAND = {  # (explain, task_saturation) graded by hand
    "ana": ("1", "1"),
    "ben": ("0.5", "1"),
    "cid": ("1", "0"),
}
MAXIMUM = 9  # 2 + 3 + 2 (tests) + 1 (written answer) + 1 (task)


def _csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _course(target: Path) -> Path:
    root = fc.make_course(target)
    (root / "grader" / "roster.csv").write_text(
        "student_id,name,canvas_id\nana,Ana,101\nben,Ben,102\ncid,Cid,103\n"
    )
    (root / "grader" / "term.toml").write_text(
        'timezone = "UTC"\nroster = "roster.csv"\n\n'
        f"[due]\n{fc.ASSIGNMENT} = {DUE.strftime('%Y-%m-%dT%H:%M:%SZ')}\n\n"
        f"[extensions.cid]\n{fc.ASSIGNMENT} = "
        f"{(DUE + dt.timedelta(days=3)).strftime('%Y-%m-%dT%H:%M:%SZ')}\n\n"
        "[penalty]\nper_day = 0.1\n"
    )
    assert not release.release(root)
    return root


def _submissions(root: Path, folder: Path) -> Path:
    """nbgrader's submitted/ layout, each with the timestamp.txt the exchange writes."""
    src = nbs.read(root / "solutions" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb")
    solved = release.solved_copy(src, nbs.read(fc.release_path(root)))
    for student, when in SUBMITTED.items():
        where = folder / student / fc.ASSIGNMENT
        where.mkdir(parents=True)
        (where / f"{fc.NOTEBOOK}.ipynb").write_text(nbs.dumps(solved))
        (where / "timestamp.txt").write_text(when.strftime(intake.TIMESTAMP_FORMAT))
    return folder


def test_feedback_shows_the_penalised_score_and_every_report_the_same_maximum(
    tmp_path, monkeypatch, capsys
):
    root = tmp_path / "course"
    monkeypatch.setenv("NBGRADER_DB_URL", "sqlite:///" + str(root / "grader" / "gradebook.db"))
    root = _course(root)
    source = nbs.read(root / "solutions" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb")
    assert policy.max_score(source) == MAXIMUM
    assert sum(float(nbs.nbgrader_meta(c)["points"]) for c in source.cells if nbs.is_grade(c)) == 8

    folder = _submissions(root, tmp_path / "class")
    argv = ["--root", str(root)]
    assert main([*argv, "grade", str(folder), "--jobs", "2", "--cell-timeout", "3"]) == 0
    hand = tmp_path / "hand.csv"
    with open(hand, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "cell", "points", "comment"])
        for student, (explain, task) in HAND.items():
            w.writerow([student, fc.ASSIGNMENT, "explain", explain, ""])
            w.writerow([student, fc.ASSIGNMENT, "task_saturation", task, ""])
    assert main([*argv, "import-hand-grades", str(hand)]) == 0
    assert main([*argv, "export"]) == 0
    assert main([*argv, "feedback"]) == 0, capsys.readouterr()
    capsys.readouterr()

    reports = root / "grader" / "reports"
    export = {r["student"]: r for r in _csv(reports / "export.csv")}
    grades = {r["student"]: r for r in _csv(reports / "grades.csv")}
    with open(reports / "canvas.csv", newline="", encoding="utf-8") as f:
        canvas_rows = list(csv.reader(f))
    column = canvas_rows[0].index(fc.ASSIGNMENT)
    canvas = {row[2]: row[column] for row in canvas_rows[1:]}
    report_md = (reports / "report.md").read_text()

    # ben: 7 automatic + 1.5 by hand = 8.5, less 20 % of 9 = 1.8: 6.7 (with 8 it would be 6.9).
    ben = export["ben"]
    assert (ben["status"], ben["score"], ben["penalty"], ben["final_score"]) == (
        "graded",
        "8.5",
        "1.8",
        "6.7",
    )
    assert ben["late"].startswith("late: late by 30.0 h (2 started day(s)): -20% of the maximum")
    assert canvas == {"ana": "9", "ben": "6.7", "cid": "8"}
    assert {s: r["final_score"] for s, r in export.items()} == canvas
    assert export["cid"]["late"].startswith("on time")  # the extension
    assert not export["ana"]["penalty"]
    assert not export["cid"]["penalty"]

    # One maximum everywhere.
    for student in SUBMITTED:
        assert export[student]["max_score"] == str(MAXIMUM)
        assert grades[student]["max_score"] == str(MAXIMUM)
        assert grades[student]["status"] == "graded"
        assert f"- **{student}** {fc.ASSIGNMENT}: {export[student]['score']} / {MAXIMUM}\n" in (
            report_md
        )
    assert f"/ {MAXIMUM} |" in report_md  # the class view's mean over the maximum

    feedback = root / "grader" / "feedback"
    for student in SUBMITTED:
        page = (feedback / student / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.html").read_text()
        top = page[page.index('id="seq-summary"') : page.index("Fixture assignment")]
        final = export[student]["final_score"]
        assert f"<h2>Your score: {final} / {MAXIMUM}</h2>" in top, top
        # nbgrader's own header says the same: the score after the penalty, same maximum.
        header = re.search(rf"{fc.NOTEBOOK} \(Score: ([0-9.]+) / ([0-9.]+)\)", page)
        assert header, page[:3000]
        assert float(header[1]) == float(final)
        assert float(header[2]) == MAXIMUM
        if student == "ben":
            assert f"Late submission penalty (Score: -{ben['penalty']})" in page
            reason = ben["late"].removeprefix("late: ")
            assert (
                f"<p>{ben['score']} before the late penalty of {ben['penalty']}: "
                f"{html.escape(reason)}.</p>"
            ) in top
        else:
            assert "late penalty" not in top
