"""An instructor's whole term, end to end, on a class of eight and two assignments.

ana solved everything (and also handed in the second assignment), ben handed in the blank
release, cid did half, dan's file is corrupt, eli's two files are misnamed (each could be
either assignment: reported, never graded), fay wrote her own solution and resubmitted late,
hana handed in ana's code with renamed variables and reordered lines, gus (on the roster)
submitted nothing. The steps, in the order of a term:

1. ``grade --assignment 00_fixture`` of the class zip (the second assignment's notebook is
   there too, and must not be graded as the first);
2. hand grading through nbgrader's gradebook API (what the formgrader writes);
3. fay's late resubmission graded alone (``--student fay``), merged into the class reports;
4. a dry run of regrading the original zip, then the regrade itself: hand grades survive,
   fay's late copy is not replaced by her older zipped one;
5. feedback (refused while answers are ungraded), export, and the class view.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import warnings
import zipfile
from pathlib import Path

import fixture_course as fc
import nbformat
import pytest

from grader.books import gradebook
from grader.course import notebooks as nbs
from grader.course import release as pipeline
from grader.intake import files as intake
from grader.reporting import export

pytestmark = [pytest.mark.slow, fc.needs_sandbox]

SECOND = "00_second"
DUE = dt.datetime(2026, 3, 2, 23, 59, tzinfo=dt.UTC)
ZIP_TIME = (2026, 3, 1, 12, 0, 0)  # every zip entry: the day before the deadline (UTC)
LATE = DUE + dt.timedelta(hours=30)
ROSTER = ["ana", "ben", "cid", "dan", "eli", "fay", "gus", "hana"]

FAY = {
    "sigmoid": "def sigmoid(z):\n    return np.exp(-np.logaddexp(0.0, -np.asarray(z, float)))\n",
    "count_tokens": (
        "def count_tokens(tokens):\n    from collections import Counter\n\n"
        "    return dict(Counter(tokens))\n"
    ),
    "relu": "def relu(z):\n    return np.where(z > 0, z, 0.0)\n",
    "explain": "The gradient is tiny far from zero.",
}
HANA = {  # ana's (the model) code, renamed and reordered
    "sigmoid": (
        "def sigmoid(z):\n    # my own work\n    arr = np.asarray(z,\n      dtype=float)\n"
        "    return 1.0 / (1.0 + np.exp(-arr))\n"
    ),
    "count_tokens": (
        "def count_tokens(tokens):\n    tally = {}\n    for word in tokens:\n"
        "        tally[word] = tally.get(word, 0) + 1\n    return tally\n"
    ),
    "relu": "def relu(z):\n    return np.maximum(z, 0.0)\n",
    "explain": "Saturation: the gradient vanishes for large |z|.",
}


def _add_second_assignment(root: Path) -> None:
    folder = root / "solutions" / SECOND
    folder.mkdir(parents=True)
    (folder / "second.ipynb").write_text(nbformat.writes(fc.source_notebook()) + "\n")


def _write_term(root: Path) -> None:
    (root / "grader" / "roster.csv").write_text(
        "student_id,name,canvas_id\n"
        + "".join(f"{s},{s.title()},{100 + i}\n" for i, s in enumerate(ROSTER))
    )
    (root / "grader" / "term.toml").write_text(
        'timezone = "UTC"\nroster = "roster.csv"\n\n[due]\n'
        f"00_fixture = {DUE.strftime('%Y-%m-%dT%H:%M:%SZ')}\n\n"
        "[penalty]\nper_day = 0.1\n"
    )


def _class_zip(root: Path, path: Path) -> Path:
    src = nbs.read(root / "solutions" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb")
    rel = nbs.read(fc.release_path(root))
    solved = pipeline.solved_copy(src, rel)
    half = fc.replace_solutions(rel, {"sigmoid": fc.SIGMOID_SOLUTION})
    files = {
        "ana/00_fixture/fixture.ipynb": nbs.dumps(solved),
        "ana/00_second/second.ipynb": nbs.dumps(solved),  # not graded with --assignment
        "ben/00_fixture/fixture.ipynb": nbs.dumps(rel),
        "cid/00_fixture/fixture.ipynb": nbs.dumps(half),
        "dan/00_fixture/fixture.ipynb": '{"cells": [ this is not json',
        "eli/notes.ipynb": nbs.dumps(solved),  # which assignment? two such files: cannot tell
        "eli/draft.ipynb": nbs.dumps(solved),
        "fay/00_fixture/fixture.ipynb": nbs.dumps(fc.replace_solutions(rel, FAY)),
        "hana/00_fixture/fixture.ipynb": nbs.dumps(fc.replace_solutions(rel, HANA)),
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIME), text)
    return path


def _options(lines, **kw):
    from grader.grade import Options

    return Options(jobs=2, timeout=120, cell_timeout=3, memory_mb=2048, progress=lines.append, **kw)


def _gradebook(root):
    from grader.course.nbgrader_api import Course

    warnings.simplefilter("ignore")
    return Course(root).gradebook()


def _csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    from grader.grade import grade_class
    from grader.preview import preview
    from grader.reporting import feedback

    root = fc.make_course(tmp_path_factory.mktemp("term") / "course")
    _add_second_assignment(root)
    _write_term(root)
    state: dict = {"root": root}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBGRADER_DB_URL", "sqlite:///" + str(root / "grader" / "gradebook.db"))
        assert not pipeline.release(root)
        archive = _class_zip(root, tmp_path_factory.mktemp("zip") / "submissions.zip")
        reports = root / "grader" / "reports"

        # 1. Grade the first assignment only.
        lines: list[str] = []
        results, _ = grade_class(root, archive, _options(lines, assignments=[fc.ASSIGNMENT]))
        state["first"] = {(r.student, r.assignment): r for r in results}
        state["first_progress"] = list(lines)
        state["first_grades"] = _csv(reports / "grades.csv")
        state["feedback_refused"] = feedback.generate(root, [fc.ASSIGNMENT])

        # 2. Hand grading, as the formgrader does it.
        gb = _gradebook(root)
        try:
            for student, explain, task in (("ana", 1.0, 0.5), ("fay", 0.5, 1.0), ("hana", 1, 1)):
                for gid, score in (("explain", explain), ("task_saturation", task)):
                    grade = gb.find_grade(gid, fc.NOTEBOOK, fc.ASSIGNMENT, student)
                    grade.manual_score, grade.needs_manual_grade = score, False
            gb.find_comment("explain", fc.NOTEBOOK, fc.ASSIGNMENT, "ana").manual_comment = "Clear."
            for student in ("ben",):  # ben's blank answer: 0 by hand; cid stays pending
                grade = gb.find_grade("task_saturation", fc.NOTEBOOK, fc.ASSIGNMENT, student)
                grade.manual_score, grade.needs_manual_grade = 0.0, False
            gb.db.commit()
        finally:
            gb.close()

        # 3. fay resubmits late, with a new written answer; graded alone.
        late = tmp_path_factory.mktemp("late")
        rel = nbs.read(fc.release_path(root))
        fay2 = fc.replace_solutions(rel, {**FAY, "explain": "Revised: sigmoid saturates."})
        folder = late / "fay" / fc.ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{fc.NOTEBOOK}.ipynb").write_text(nbs.dumps(fay2))
        (folder / "timestamp.txt").write_text(LATE.strftime(intake.TIMESTAMP_FORMAT))
        lines = []
        results, _ = grade_class(
            root, late, _options(lines, assignments=[fc.ASSIGNMENT], students=["fay"])
        )
        state["late"] = {(r.student, r.assignment): r for r in results}
        state["late_grades"] = _csv(reports / "grades.csv")

        # 4. Preview, then regrade the original zip.
        state["scores_before_dry_run"] = gradebook.all_scores(root)
        state["dry_run"], _ = preview(root, archive, _options([], assignments=[fc.ASSIGNMENT]))
        state["scores_after_dry_run"] = gradebook.all_scores(root)
        lines = []
        results, _ = grade_class(root, archive, _options(lines, assignments=[fc.ASSIGNMENT]))
        state["regrade"] = {(r.student, r.assignment): r for r in results}
        state["scores"] = gradebook.all_scores(root)
        gb = _gradebook(root)
        try:
            state["ana_comment"] = gb.find_comment(
                "explain", fc.NOTEBOOK, fc.ASSIGNMENT, "ana"
            ).manual_comment
            state["needs_manual"] = {
                s: gb.find_grade("explain", fc.NOTEBOOK, fc.ASSIGNMENT, s).needs_manual_grade
                for s in ("ana", "fay")
            }
        finally:
            gb.close()
        state["fay_staged"] = (
            root / "grader" / "submitted" / "fay" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb"
        ).read_text()
        state["report_md"] = (reports / "report.md").read_text()

        # 5. Export.
        _paths, rows = export.export(root)
        state["export"] = {(r.student, r.assignment): r for r in rows}
        with open(reports / "canvas.csv", newline="") as f:
            state["canvas"] = list(csv.reader(f))
        yield state
    shutil.rmtree(root / "grader" / "autograded", ignore_errors=True)


def test_assignment_filter_never_grades_another_assignments_notebook(term):
    assert {a for _s, a in term["first"]} == {fc.ASSIGNMENT}
    submitted = term["root"] / "grader" / "submitted" / "ana"
    assert sorted(p.name for p in submitted.iterdir()) == [fc.ASSIGNMENT]
    assert not (submitted / fc.ASSIGNMENT / "second.ipynb").exists()
    assert any("skipped 1 notebook(s) of 00_second" in line for line in term["first_progress"])
    assert not any("unknown assignment folder" in line for line in term["first_progress"])
    assert term["first"][("ana", fc.ASSIGNMENT)].score == 7.0  # the automatic part


def test_written_answers_are_pending_until_graded_by_hand(term):
    rows = {r["student"]: r for r in term["first_grades"]}
    assert rows["ana"]["status"] == "pending hand grading"
    assert "grade by hand" in rows["ana"]["reason"]
    assert any("not graded by hand yet: ana 00_fixture" in p for p in term["feedback_refused"])
    assert "refusing to write feedback" in term["feedback_refused"][-1]


def test_misnamed_and_corrupt_files_are_reported_for_the_student(term):
    # eli's two files could each be 00_fixture or 00_second: reported, and no grade touched.
    eli = term["first"][("eli", fc.ASSIGNMENT)]
    assert eli.status == "no submission"
    assert "2 file(s) could not be placed" in eli.reason
    attention = term["report_md"].split("### Needs attention", 1)[1].split("###", 1)[0]
    assert "**eli** (files that could not be placed; no grade was changed)" in attention
    assert "misnamed file 'notes.ipynb'" in attention
    dan = term["first"][("dan", fc.ASSIGNMENT)]
    assert dan.status == "not graded"
    assert "not a notebook" in dan.reason


def test_grading_one_student_merges_into_the_class_reports(term):
    students = {r["student"] for r in term["late_grades"]}
    assert {"ana", "ben", "cid", "dan", "eli", "fay", "hana"} <= students
    assert term["late"].keys() == {("fay", fc.ASSIGNMENT)}
    notes = " ".join(n for _name, n in term["late"][("fay", fc.ASSIGNMENT)].notes)
    assert "explain: the answer changed since it was graded by hand" in notes


def test_dry_run_changes_nothing_and_says_what_would_change(term):
    assert term["scores_after_dry_run"] == term["scores_before_dry_run"]
    text = "\n".join(term["dry_run"])
    assert text.startswith("dry run: nothing was written")
    assert "ana:\n  00_fixture: total unchanged" in text
    assert "older copy" in text  # fay's zipped copy would be ignored


def test_hand_grades_survive_the_regrade(term):
    scores = term["scores"]
    assert scores[("ana", fc.ASSIGNMENT, fc.NOTEBOOK, "explain")][0] == 1.0
    assert scores[("ana", fc.ASSIGNMENT, fc.NOTEBOOK, "task_saturation")][0] == 0.5
    assert term["ana_comment"] == "Clear."
    assert term["needs_manual"] == {"ana": False, "fay": True}  # fay's answer changed
    ana = term["regrade"][("ana", fc.ASSIGNMENT)]
    assert (ana.status, ana.score) == ("graded", 8.5)


def test_a_late_resubmission_never_loses_to_an_older_copy(term):
    assert "Revised: sigmoid saturates." in term["fay_staged"]
    notes = " ".join(n for _name, n in term["regrade"][("fay", fc.ASSIGNMENT)].notes)
    assert "older copy" in notes


def test_the_export_has_a_status_for_everyone_and_no_silent_zero(term):
    rows = term["export"]
    status = {s: rows[(s, fc.ASSIGNMENT)].status for s in ROSTER}
    assert status == {
        "ana": "graded",
        "ben": "graded",
        "cid": "pending hand grading",
        "dan": "not graded",
        "eli": "no submission",  # two misnamed files: reported, never a grade
        "fay": "pending hand grading",  # her changed answer must be graded again
        "gus": "no submission",
        "hana": "graded",
    }
    assert rows[("ana", fc.ASSIGNMENT)].final == 8.5
    assert rows[("dan", fc.ASSIGNMENT)].final is None
    assert "could not be placed" in rows[("eli", fc.ASSIGNMENT)].reason
    fay = rows[("fay", fc.ASSIGNMENT)]
    assert fay.late.status == "late"
    assert fay.late.days == 2
    canvas = term["canvas"]
    assert len(canvas) == 1 + len(ROSTER)  # one row per student
    column = canvas[0].index(fc.ASSIGNMENT)
    by_id = {row[2]: row for row in canvas[1:]}
    assert by_id["ana"][column] == "8.5"
    assert by_id["dan"][column] == ""  # could not be graded: empty, never 0
    assert by_id["gus"][column] == ""
    assert by_id["ana"][canvas[0].index(SECOND)] == ""  # never graded in this term


def test_the_class_view_flags_the_planted_copy_only(term):
    text = term["report_md"]
    assert "## Class view" in text
    assert "### Needs attention" in text
    flags = text.split("### Similarity flags", 1)[1].split("\n## ", 1)[0]
    assert "ana and hana are 100% alike" in flags
    assert "fay" not in flags
    assert "cid" not in flags


def test_a_roster_student_who_sent_nothing_is_listed_as_no_submission(term):
    rows = {r["student"]: r for r in term["first_grades"]}
    assert rows["gus"]["status"] == "no submission"
