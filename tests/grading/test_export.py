"""The export's statuses, the Canvas-style table and LMS download names (no gradebook needed)."""

from __future__ import annotations

import csv
import datetime as dt
import os

import pytest

from grader.books.gradebook import CellGrade, Graded
from grader.intake import lms
from grader.intake import term as t
from grader.reporting import export

UTC = dt.UTC
DUE = dt.datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
ROSTER = [
    t.Student("ana", "Ana A", canvas_id="101"),
    t.Student("bea", "Bea B", canvas_id="102", moodle_id="7"),
    t.Student("cid", "Cid C"),
    t.Student("dan", "Dan D"),
    t.Student("eli", "Eli E"),
    t.Student("fay", "Fay F"),
]
TERM = t.Term(due={"01_notation": DUE}, penalty=t.Penalty(per_day=0.1), roster=ROSTER)


def _cells(written_score, needs_manual):
    return [
        CellGrade("notation", "test_a", 3.0, auto_score=3.0),
        CellGrade("notation", "test_b", 2.0, auto_score=0.0),
        CellGrade(
            "notation", "written", 2.0, manual_score=written_score, needs_manual_grade=needs_manual
        ),
    ]


def _rows():
    gradebook = {
        ("ana", "01_notation"): Graded(_cells(1.5, False), DUE - dt.timedelta(hours=1)),
        ("bea", "01_notation"): Graded(_cells(None, True), DUE),
        ("dan", "01_notation"): Graded(_cells(2.0, False), None),  # stale: not graded now
        ("fay", "01_notation"): Graded(_cells(2.0, False), DUE + dt.timedelta(hours=30)),
    }
    outcomes = {
        ("ana", "01_notation"): export.Outcome("graded"),
        ("cid", "01_notation"): export.Outcome(
            "not graded", "notation.ipynb: not a notebook (invalid JSON at line 1)"
        ),
        ("dan", "01_notation"): export.Outcome(
            "not graded", "misnamed file: 'notes.ipynb' (expected notation.ipynb)"
        ),
    }
    students = [s.student_id for s in ROSTER]
    return export.build_rows({"01_notation": 7.0}, students, gradebook, outcomes, TERM)


def test_every_status_has_its_reason_and_no_silent_zero():
    rows = {r.student: r for r in _rows()}
    assert (rows["ana"].status, rows["ana"].final) == ("graded", 4.5)
    assert rows["ana"].hand_score == 1.5
    assert rows["ana"].auto_score == 3.0
    assert rows["bea"].status == "pending hand grading"
    assert rows["bea"].final is None
    assert rows["bea"].pending == ["notation/written"]
    assert rows["cid"].status == "not graded"
    assert "invalid JSON" in rows["cid"].reason
    assert rows["cid"].final is None
    assert rows["cid"].score is None
    # A stale gradebook entry never passes for a grade when grading said "not graded".
    assert rows["dan"].status == "not graded"
    assert rows["dan"].final is None
    assert "misnamed" in rows["dan"].reason
    assert rows["eli"].status == "no submission"
    assert rows["eli"].final is None
    assert rows["fay"].late.status == "late"
    assert rows["fay"].late.days == 2
    assert rows["fay"].final == pytest.approx(5.0 - 0.2 * 7.0)
    assert rows["fay"].penalty == pytest.approx(1.4)


def test_the_tables_written(tmp_path):
    rows = _rows()
    paths = export.write_tables(tmp_path, rows, ROSTER, ["01_notation"])
    assert [p.name for p in paths] == ["export.csv", "canvas.csv"]
    with open(tmp_path / "export.csv", newline="") as f:
        table = list(csv.DictReader(f))
    by_student = {r["student"]: r for r in table}
    assert by_student["cid"]["final_score"] == ""
    assert by_student["cid"]["status"] == "not graded"
    assert by_student["fay"]["late"].startswith("late: late by 30.0 h")
    with open(tmp_path / "canvas.csv", newline="") as f:
        canvas = list(csv.reader(f))
    assert canvas[0] == [*lms.CANVAS_HEADER, "01_notation"]
    assert [r[2] for r in canvas[1:]] == ["ana", "bea", "cid", "dan", "eli", "fay"]  # one row each
    assert [r[-1] for r in canvas[1:]] == ["4.5", "", "", "", "", "3.6"]
    assert canvas[1][:2] == ["Ana A", "101"]
    lines = export.summary(rows)
    assert "1 pending hand grading:" in lines
    assert "2 not graded:" in lines
    assert "1 no submission:" in lines
    assert "1 late:" in lines


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("aaronana_101_5551_notation.ipynb", ("canvas", "101", "notation.ipynb")),
        ("bbea_LATE_102_5552_notation-1.ipynb", ("canvas", "102", "notation.ipynb")),
        ("Bea B_7_assignsubmission_file_notation.ipynb", ("moodle", "7", "notation.ipynb")),
        ("Bea B_7_assignsubmission_file_", ("moodle", "7", "")),
        ("notation.ipynb", None),
        ("ana_notation.ipynb", None),
    ],
)
def test_lms_download_names(name, expected):
    assert lms.parse_download_name(name) == expected


def test_lms_downloads_are_mapped_to_student_ids(tmp_path):
    src = tmp_path / "download"
    (src / "Bea B_7_assignsubmission_file_").mkdir(parents=True)
    (src / "Bea B_7_assignsubmission_file_" / "notation.ipynb").write_text("{}")
    (src / "aaronana_101_5551_notation.ipynb").write_text("old")
    newer = src / "aaronana_LATE_101_5560_notation-1.ipynb"
    newer.write_text("new")
    os.utime(src / "aaronana_101_5551_notation.ipynb", (1_000_000, 1_000_000))
    (src / "zed_999_1_notation.ipynb").write_text("{}")
    out = tmp_path / "mapped"
    assert lms.looks_like_download(src)
    copied, problems = lms.map_downloads(src, out, ROSTER)
    assert (out / "ana" / "notation.ipynb").read_text() == "new"  # the resubmission wins
    assert (out / "bea" / "notation.ipynb").exists()
    assert copied == 3
    assert any("canvas id 999 is not in the roster" in p for p in problems)
    assert any("second file" in p for p in problems)
    assert not lms.looks_like_download(out)
