"""Issue 24's term, second pass, through the README's commands (``python -m grader ...``).

1. Two Canvas downloads (one per assignment) graded without ``--assignment``, in either
   order, one with a stray file and a misnamed notebook: the misnamed notebook is graded as
   the assignment its cells belong to, the stray file is reported for its student, and no
   grade of the other download moves.
2. ``check-term``: a student in ``[extensions]`` not on the roster, a misspelt assignment in
   ``[due]`` or ``[extensions]``: errors naming the line and the nearest valid name, and
   ``grade`` and ``export`` refuse to start.
3. The gradebook is the one truth: hand grades show in the reports at once (``report``), a
   ``--student`` run keeps the rest of the class's flags and notes, hand grades imported from a
   CSV clear "needs manual grade", and every command says which gradebook it uses.
"""

from __future__ import annotations

import copy
import csv
import warnings
import zipfile
from pathlib import Path

import fixture_course as fc
import nbformat
import pytest

from grader.__main__ import main
from grader.books import gradebook
from grader.course import notebooks as nbs
from grader.course import release

SECOND, SECOND_NB = "00_second", "second"
ROSTER = {"ana": 101, "ben": 102, "cid": 103}
ZIP_TIME = (2026, 3, 1, 12, 0, 0)


def _second_source() -> nbformat.NotebookNode:
    """The fixture assignment again, with its own grade ids (so its cells tell it apart)."""
    nb = copy.deepcopy(fc.source_notebook())
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta:
            meta["grade_id"] = meta["grade_id"] + "_2"
    return nb


def _course(target: Path) -> Path:
    root = fc.make_course(target)
    folder = root / "solutions" / SECOND
    folder.mkdir(parents=True)
    (folder / f"{SECOND_NB}.ipynb").write_text(nbformat.writes(_second_source()) + "\n")
    (root / "grader" / "roster.csv").write_text(
        "student_id,name,canvas_id\n" + "".join(f"{s},{s.title()},{i}\n" for s, i in ROSTER.items())
    )
    (root / "grader" / "term.toml").write_text('timezone = "UTC"\nroster = "roster.csv"\n')
    assert not release.release(root)
    return root


def _solved(root: Path, assignment: str, name: str) -> nbformat.NotebookNode:
    src = nbs.read(root / "solutions" / assignment / f"{name}.ipynb")
    return release.solved_copy(src, nbs.read(root / "notebooks" / assignment / f"{name}.ipynb"))


def _canvas_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIME), text)
    return path


def _downloads(root: Path, folder: Path) -> tuple[Path, Path]:
    """Canvas's "Download Submissions" of each assignment (lastfirst_UID_SUB_file)."""
    first = _solved(root, fc.ASSIGNMENT, fc.NOTEBOOK)
    second = _solved(root, SECOND, SECOND_NB)
    release2 = nbs.read(root / "notebooks" / SECOND / f"{SECOND_NB}.ipynb")
    half2 = fc.replace_solutions(release2, {"sigmoid_2": fc.SIGMOID_SOLUTION})
    stray = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('scratch')")])
    fixture_zip = _canvas_zip(
        folder / "fixture-download.zip",
        {
            "anaana_101_9001_fixture.ipynb": nbs.dumps(first),
            # ben named his file after nothing the course knows: its cells say 00_fixture
            "benben_102_9002_LM homework final.ipynb": nbs.dumps(first),
            "cidcid_103_9003_scratch.ipynb": nbs.dumps(stray),  # the stray file
        },
    )
    second_zip = _canvas_zip(
        folder / "second-download.zip",
        {
            "anaana_101_9101_second.ipynb": nbs.dumps(second),
            "benben_102_9102_second.ipynb": nbs.dumps(half2),
            "cidcid_103_9103_second.ipynb": nbs.dumps(second),
        },
    )
    return fixture_zip, second_zip


def _grade(root: Path, archive: Path, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(
        ["--root", str(root), "grade", str(archive), "--jobs", "2", "--cell-timeout", "3", *extra]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


def _scores(root: Path) -> dict:
    return {k: v[0] for k, v in gradebook.all_scores(root).items()}


def _csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def db(tmp_path, monkeypatch):
    def use(root: Path) -> None:
        monkeypatch.setenv("NBGRADER_DB_URL", "sqlite:///" + str(root / "grader" / "gradebook.db"))

    return use


@fc.needs_sandbox
@pytest.mark.slow
@pytest.mark.parametrize("order", ["fixture first", "second first"])
def test_two_downloads_in_either_order_and_a_stray_file_move_no_other_grade(
    tmp_path, db, capsys, order
):
    root = tmp_path / "course"
    db(root)
    root = _course(root)
    fixture_zip, second_zip = _downloads(root, tmp_path)
    runs = [fixture_zip, second_zip] if order == "fixture first" else [second_zip, fixture_zip]

    code, _out, err = _grade(root, runs[0], capsys)
    assert code == 0, err
    after_first = _scores(root)
    code, _out, err = _grade(root, runs[1], capsys)
    assert code == 0, err
    after_both = _scores(root)

    # Nothing the first download graded moved when the second was graded.
    first_assignment = fc.ASSIGNMENT if runs[0] == fixture_zip else SECOND
    for key, score in after_first.items():
        if key[1] == first_assignment:
            assert after_both[key] == score, key
    # ben's misnamed notebook was graded as 00_fixture (its cells), like ana's solved one.
    total = {}
    for (student, assignment, _nb, _cell), score in after_both.items():
        total[(student, assignment)] = total.get((student, assignment), 0) + (score or 0)
    assert total[("ben", fc.ASSIGNMENT)] == total[("ana", fc.ASSIGNMENT)] == 7
    assert total[("cid", SECOND)] == 7
    assert total[("ben", SECOND)] == 2
    # cid's stray file touched no grade: cid has no 00_fixture submission, and 00_second stays.
    assert not any(k[:2] == ("cid", fc.ASSIGNMENT) for k in after_both)
    grades = {(r["student"], r["assignment"]): r for r in _csv(root / "grader/reports/grades.csv")}
    assert grades[("cid", fc.ASSIGNMENT)]["status"] == "no submission"
    assert "1 file(s) could not be placed" in grades[("cid", fc.ASSIGNMENT)]["reason"]
    assert grades[("cid", SECOND)]["status"] == "pending hand grading"
    report = (root / "grader/reports/report.md").read_text()
    assert "**cid** (files that could not be placed; no grade was changed)" in report
    assert "misnamed file 'scratch.ipynb'" in report
    assert "ben/LM homework final.ipynb: graded as 00_fixture/fixture.ipynb" in report
    assert "gradebook: SQLite" in err  # every command says which gradebook it uses


def test_check_term_names_the_line_and_the_nearest_valid_name(tmp_path, capsys):
    root = fc.make_course(tmp_path / "course")
    (root / "solutions" / "04_language_model").mkdir()
    (root / "solutions" / "04_language_model" / "lm.ipynb").write_text(
        nbformat.writes(fc.source_notebook())
    )
    (root / "grader" / "roster.csv").write_text("student_id\nzoey\nana\n")
    term = root / "grader" / "term.toml"
    term.write_text(
        'timezone = "UTC"\n'  # 1
        'roster = "roster.csv"\n'  # 2
        "\n"  # 3
        "[due]\n"  # 4
        "04_languag_model = 2026-03-02T23:59:00\n"  # 5
        "00_fixture = 2026-03-02T23:59:00\n"  # 6
        "\n"  # 7
        "[extensions.zoe]\n"  # 8
        "00_fixture = 2026-03-05T23:59:00\n"  # 9
        "\n"  # 10
        "[extensions.ana]\n"  # 11
        "00_fixtur = 2026-03-05T23:59:00\n"  # 12
    )
    assert main(["--root", str(root), "check-term"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{term}:5: [due] '04_languag_model' is not an assignment of the course; did you mean "
        "'04_language_model'?",
        f"{term}:8: [extensions.zoe]: 'zoe' is not on the roster; did you mean 'zoey'?",
        f"{term}:12: [extensions.ana] '00_fixtur' is not an assignment of the course; did you "
        "mean '00_fixture'?",
    ]
    # grade and export refuse before anything is read or written.
    flat = tmp_path / "flat"
    flat.mkdir()
    assert main(["--root", str(root), "grade", str(flat), "--no-sandbox"]) == 2
    err = capsys.readouterr().err
    assert f"{term}:8: [extensions.zoe]" in err
    assert "3 problem(s)" in err
    assert not (root / "grader" / "reports" / "report.md").exists()
    assert main(["--root", str(root), "export"]) == 2
    assert "'zoe' is not on the roster" in capsys.readouterr().err
    # Fixed: it says so.
    term.write_text(term.read_text().replace("zoe]", "zoey]").replace("fixtur ", "fixture "))
    term.write_text(term.read_text().replace("04_languag_model", "04_language_model"))
    assert main(["--root", str(root), "check-term"]) == 0
    assert "OK (2 due date(s), 2 student(s) with extensions, a roster of 2)" in (
        capsys.readouterr().out
    )


def _hand_grade_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "cell", "points", "comment"])
        w.writerows(rows)
    return path


@fc.needs_sandbox
@pytest.mark.slow
def test_the_gradebook_is_the_one_truth_for_every_report(tmp_path, db, capsys):
    root = tmp_path / "course"
    db(root)
    root = _course(root)
    first = _solved(root, fc.ASSIGNMENT, fc.NOTEBOOK)
    rel = nbs.read(fc.release_path(root))
    folder = tmp_path / "class"
    for student, nb in {"ana": first, "ben": first, "cid": rel}.items():  # ben copied ana
        (folder / student).mkdir(parents=True)
        (folder / student / f"{fc.NOTEBOOK}.ipynb").write_text(nbs.dumps(nb))
    (folder / "ben" / "notes.ipynb").write_text(nbs.dumps(rel))  # ben: a misplaced file too
    code, out, err = _grade(root, folder, capsys)
    assert code == 0, err
    # The summary counts every submission that got a score as graded.
    assert out.splitlines()[0] == (
        "3 graded (3 pending hand grading), 0 not graded, 0 no submission, "
        "1 file(s) that could not be placed"
    )
    reports = root / "grader" / "reports"
    before = (reports / "report.md").read_text()
    assert "ana and ben are" in before  # the similarity flag of the whole class

    # Hand grading through nbgrader's API (as the formgrader does): `report` shows it at once.
    from grader.course.nbgrader_api import Course

    warnings.simplefilter("ignore")
    gb = Course(root).gradebook()
    try:
        for gid, score in (("explain", 1.0), ("task_saturation", 0.5)):
            grade = gb.find_grade(gid, fc.NOTEBOOK, fc.ASSIGNMENT, "ana")
            grade.manual_score, grade.needs_manual_grade = score, False
        gb.db.commit()
    finally:
        gb.close()
    assert main(["--root", str(root), "report"]) == 0
    assert "gradebook: SQLite" in capsys.readouterr().err
    grades = {r["student"]: r for r in _csv(reports / "grades.csv")}
    assert (grades["ana"]["status"], grades["ana"]["score"]) == ("graded", "8.5")
    assert grades["ben"]["status"] == "pending hand grading"

    # One student regraded alone: the class's flags and notes stay in report.md.
    only = tmp_path / "only-cid"
    (only / "cid").mkdir(parents=True)
    (only / "cid" / f"{fc.NOTEBOOK}.ipynb").write_text(nbs.dumps(rel))
    code, out, err = _grade(root, only, capsys, "--student", "cid")
    assert code == 0, err
    after = (reports / "report.md").read_text()
    assert "ana and ben are" in after
    assert "misnamed file 'notes.ipynb'" in after
    assert {r["student"] for r in _csv(reports / "grades.csv")} == {"ana", "ben", "cid"}

    # Hand grades from a CSV: a bad row and nothing is written...
    bad = _hand_grade_csv(
        tmp_path / "bad.csv",
        [["ben", fc.ASSIGNMENT, "explain", "1", "ok"], ["ben", fc.ASSIGNMENT, "explian", "1", ""]],
    )
    assert main(["--root", str(root), "import-hand-grades", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: {fc.ASSIGNMENT} has no graded cell 'explian'" in err
    assert "nothing was recorded" in err
    good = _hand_grade_csv(
        tmp_path / "hand.csv",
        [
            ["ben", fc.ASSIGNMENT, "explain", "0.5", "Half right: say why it saturates."],
            ["ben", fc.ASSIGNMENT, "task_saturation", "1", ""],
        ],
    )
    assert main(["--root", str(root), "import-hand-grades", str(good)]) == 0
    out = capsys.readouterr().out
    assert "2 hand grade(s) recorded; reports rebuilt" in out
    gb = Course(root).gradebook()
    try:
        explain = gb.find_grade("explain", fc.NOTEBOOK, fc.ASSIGNMENT, "ben")
        assert (explain.manual_score, explain.needs_manual_grade) == (0.5, False)
        comment = gb.find_comment("explain", fc.NOTEBOOK, fc.ASSIGNMENT, "ben").manual_comment
        assert comment == "Half right: say why it saturates."
    finally:
        gb.close()
    grades = {r["student"]: r for r in _csv(reports / "grades.csv")}
    assert grades["ben"]["status"] == "graded"
    assert main(["--root", str(root), "export"]) == 0
    assert "gradebook: SQLite" in capsys.readouterr().err
    export = {(r["student"], r["assignment"]): r for r in _csv(reports / "export.csv")}
    assert export[("ben", fc.ASSIGNMENT)]["status"] == "graded"
    assert export[("ben", fc.ASSIGNMENT)]["hand_score"] == "1.5"
