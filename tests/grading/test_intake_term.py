"""Intake across a term: --assignment never grades another assignment's notebook, a file is
placed the same way with or without it, misnamed files stay the student's problem (and touch
no assignment), nbgrader's files are kept, and an older copy never replaces
a newer submission."""

from __future__ import annotations

import datetime as dt
import zipfile

import nbformat
import pytest

from grader.intake import files as intake
from grader.intake import term as t

EXPECTED = {"01_a": ["alpha"], "02_b": ["beta"]}
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=1)


def _nb(answer: str) -> str:
    meta = {
        "nbgrader": {
            "grade_id": "answer",
            "solution": True,
            "grade": False,
            "locked": False,
            "schema_version": 3,
            "task": False,
        }
    }
    cell = nbformat.v4.new_code_cell(answer, metadata=meta)
    cell["id"] = "answer"
    return nbformat.writes(nbformat.v4.new_notebook(cells=[cell]))


def released_course(tmp_path):
    """(folder, its release of EXPECTED, where intake stages submissions)."""
    release = tmp_path / "release"
    for assignment, (name,) in EXPECTED.items():
        (release / assignment).mkdir(parents=True)
        (release / assignment / f"{name}.ipynb").write_text(_nb("# YOUR CODE HERE"))
    return tmp_path, release, tmp_path / "submitted"


@pytest.fixture
def course(tmp_path):
    return released_course(tmp_path)


def _put(folder, rel, text):
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _stamp(when):
    return when.strftime(intake.TIMESTAMP_FORMAT)


def test_only_the_selected_assignment_is_graded(course):
    tmp, release, submitted = course
    src = tmp / "in"
    _put(src, "ana/alpha.ipynb", _nb("x = 1"))
    _put(src, "ana/beta.ipynb", _nb("y = 2"))  # another assignment's notebook
    _put(src, "ben/02_b/beta.ipynb", _nb("y = 3"))
    _put(src, "cid_beta.ipynb", _nb("y = 4"))
    taken = intake.intake(src, submitted, release, EXPECTED, selected={"01_a"})
    assert sorted(taken.submissions) == [("ana", "01_a")]
    assert not (submitted / "ana" / "02_b").exists()
    assert not (submitted / "ana" / "01_a" / "beta.ipynb").exists()
    assert not (submitted / "ben").exists()
    skipped = [p for p in taken.problems if p.startswith("skipped")]
    assert skipped == [
        "skipped 3 notebook(s) of 02_b (not graded in this run: --assignment 01_a): "
        "ana/beta.ipynb, ben/02_b/beta.ipynb, cid_beta.ipynb"
    ]
    assert not any("unknown assignment" in p for p in taken.problems)


def _nb_ids(*grade_ids: str) -> str:
    """A notebook whose answer cells carry these grade ids (what identifies it)."""
    cells = []
    for gid in grade_ids:
        meta = {"nbgrader": {"grade_id": gid, "solution": True, "grade": False, "locked": False}}
        cell = nbformat.v4.new_code_cell(f"# {gid}", metadata=meta)
        cell["id"] = gid
        cells.append(cell)
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells))


@pytest.mark.parametrize("selected", [None, {"01_a"}, {"02_b"}])
def test_a_renamed_notebook_is_placed_the_same_way_whatever_is_selected(course, selected):
    tmp, release, submitted = course
    src = tmp / "in"
    _put(src, "ana/alpha (1).ipynb", _nb("x = 1"))
    taken = intake.intake(src, submitted, release, EXPECTED, selected=selected)
    if selected == {"02_b"}:  # recognised as 01_a's: skipped, never graded as 02_b
        assert taken.submissions == {}
        assert any("skipped 1 notebook(s) of 01_a" in p for p in taken.problems)
    else:
        assert list(taken.submissions) == [("ana", "01_a")]
        assert any("renamed notebook, recognised by its name" in p for p in taken.problems)
    assert taken.unplaced == {}


@pytest.mark.parametrize("selected", [None, {"04_lm"}, {"07_lstm"}])
def test_a_misnamed_notebook_is_recognised_by_its_cells(tmp_path, selected):
    """Issue 24's "LM homework final.ipynb": neither its name nor --assignment decides."""
    release, expected = tmp_path / "release", {"04_lm": ["lm"], "07_lstm": ["lstm"]}
    for assignment, (name,) in expected.items():
        (release / assignment).mkdir(parents=True)
        ids = ("ppl", "sample") if name == "lm" else ("lstm_forward", "lstm_backward")
        (release / assignment / f"{name}.ipynb").write_text(_nb_ids(*ids))
    src = tmp_path / "in"
    _put(src, "eve/LM homework final.ipynb", _nb_ids("ppl", "sample"))
    taken = intake.intake(src, tmp_path / "submitted", release, expected, selected=selected)
    assert taken.unplaced == {}
    if selected == {"07_lstm"}:  # 04's notebook: skipped, and 07 is not touched
        assert taken.submissions == {}
        assert any("skipped 1 notebook(s) of 04_lm" in p for p in taken.problems)
    else:
        assert list(taken.submissions) == [("eve", "04_lm")]
        entry = taken.submissions[("eve", "04_lm")]["lm"]
        assert entry.staged == tmp_path / "submitted" / "eve" / "04_lm" / "lm.ipynb"
        assert any("recognised by its cells" in p for p in taken.problems)


def test_a_misnamed_file_is_the_students_problem_and_no_assignments(course):
    tmp, release, submitted = course
    src = tmp / "in"
    _put(src, "eli/notes.ipynb", _nb("x = 1"))  # which assignment? cannot tell
    for selected in (None, {"01_a"}):
        taken = intake.intake(src, submitted, release, EXPECTED, selected=selected)
        assert taken.submissions == {}  # no assignment of eli's is touched
        assert len(taken.unplaced["eli"]) == 1
        assert taken.unplaced["eli"][0].startswith("misnamed file 'notes.ipynb'")
        assert "alpha.ipynb, beta.ipynb" in taken.unplaced["eli"][0]
    # One odd name in an assignment's own folder is still graded, and noted.
    _put(src, "gus/01_a/my work.ipynb", _nb("x = 2"))
    taken = intake.intake(src, submitted, release, EXPECTED)
    assert taken.submissions[("gus", "01_a")]["alpha"].staged is not None
    assert any("gus/01_a/my work.ipynb: graded as 01_a/alpha.ipynb" in p for p in taken.problems)
    # A misnamed copy beside the correctly named notebook is reported, never graded.
    _put(src, "hal/alpha.ipynb", _nb("x = 3"))
    _put(src, "hal/alpha final.ipynb", _nb("x = 4"))
    taken = intake.intake(src, submitted, release, EXPECTED)
    assert "x = 3" in (submitted / "hal" / "01_a" / "alpha.ipynb").read_text()
    assert "also handed in under its own name" in taken.unplaced["hal"][0]


def test_a_newer_copy_that_cannot_be_graded_leaves_the_staged_one(course):
    tmp, release, submitted = course
    first = tmp / "first"
    _put(first, "ivy/01_a/alpha.ipynb", _nb("x = 'good'"))
    _put(first, "ivy/01_a/timestamp.txt", _stamp(T0))
    intake.intake(first, submitted, release, EXPECTED)
    broken = tmp / "broken"
    _put(broken, "ivy/01_a/alpha.ipynb", '{"cells": [ not json')
    _put(broken, "ivy/01_a/timestamp.txt", _stamp(T1))
    taken = intake.intake(broken, submitted, release, EXPECTED)
    assert "x = 'good'" in (submitted / "ivy" / "01_a" / "alpha.ipynb").read_text()
    assert "not a notebook" in taken.ungradable_newer[("ivy", "01_a")]


def test_nbgrader_files_and_times_are_kept(course, tmp_path):
    _tmp, release, submitted = course
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("ana/01_a/alpha.ipynb", date_time=(2026, 3, 2, 11, 0, 0))
        zf.writestr(info, _nb("x = 1"))
        zf.writestr("ana/01_a/submission_secret.txt", "s3cret")
        zf.writestr("ben/01_a/alpha.ipynb", _nb("x = 2"))
        zf.writestr("ben/01_a/timestamp.txt", _stamp(T0))
    intake.intake(archive, submitted, release, EXPECTED, tz=t.ZoneInfo("Europe/Berlin"))
    ana = submitted / "ana" / "01_a"
    assert (ana / "submission_secret.txt").read_text() == "s3cret"  # release_feedback needs it
    # No timestamp.txt in the zip: the entry's time (Berlin, UTC+1) becomes the submission time.
    assert t.parse_timestamp((ana / "timestamp.txt").read_text()) == T0
    assert (submitted / "ben" / "01_a" / "timestamp.txt").read_text() == _stamp(T0)
    assert not any("submission_secret" in p for p in intake.locate(submitted, EXPECTED)[2])


def test_an_older_copy_never_replaces_a_newer_submission(course):
    tmp, release, submitted = course
    late = tmp / "late"
    _put(late, "fay/01_a/alpha.ipynb", _nb("x = 'late and better'"))
    _put(late, "fay/01_a/timestamp.txt", _stamp(T1))
    intake.intake(late, submitted, release, EXPECTED)
    old = tmp / "old"
    _put(old, "fay/01_a/alpha.ipynb", _nb("x = 'first try'"))
    _put(old, "fay/01_a/timestamp.txt", _stamp(T0))
    taken = intake.intake(old, submitted, release, EXPECTED)
    staged = submitted / "fay" / "01_a"
    assert "late and better" in (staged / "alpha.ipynb").read_text()
    assert t.parse_timestamp((staged / "timestamp.txt").read_text()) == T1
    entry = taken.submissions[("fay", "01_a")]["alpha"]
    assert entry.staged == staged / "alpha.ipynb"  # the newer copy is what gets graded
    assert "older copy" in entry.notes[0]
    assert taken.kept == [("fay", "01_a")]
    # The same submission again (e.g. collected twice) is simply graded again...
    again = intake.intake(late, submitted, release, EXPECTED)
    assert again.kept == []
    # ...and replacing with an older copy takes an explicit replace=True.
    intake.intake(old, submitted, release, EXPECTED, replace=True)
    assert "first try" in (staged / "alpha.ipynb").read_text()
