"""Issue 21's five attacks on the grader's own surfaces, each a real submission graded with
the README's command (grade_class) beside an honest student:

1. a message that forges lines in report.md: the lines do not appear, the honest row is intact;
2. a 1,500-term sum at top level: the run finishes and the reports are this run's;
3. a notebook symlinked to the instructor's solution: refused by name, nothing copied;
4. a forged reply of 40,000 hash-colliding keys: refused by the decoder's budget at once;
5. a late submission with a forged timestamp.txt: flagged in the needs-attention list.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import time
import zipfile
from pathlib import Path

import fixture_course as fc
import pytest
from attacks import FORGED_TIMESTAMP, SURFACE_ATTACKS, SYMLINKED_NOTEBOOK

from grader.course import notebooks as nbs
from grader.course import release
from grader.intake import files as intake
from grader.verdicts import sandbox

pytestmark = pytest.mark.slow
REASON = sandbox.probe()
if REASON and os.environ.get("SEQ_REQUIRE_SANDBOX"):
    raise RuntimeError(f"SEQ_REQUIRE_SANDBOX is set but {REASON}")
if REASON:
    pytestmark = [pytestmark, pytest.mark.skip(reason=f"grading needs the sandbox: {REASON}")]

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DUE = NOW + dt.timedelta(days=1)  # the first collection is on time, the second is late
CELL_TIMEOUT = 5


def _options(lines, **kw):
    from grader.grade import Options

    return Options(
        jobs=2, timeout=120, cell_timeout=CELL_TIMEOUT, memory_mb=2048, progress=lines.append, **kw
    )


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from grader.grade import grade_class

    tmp = tmp_path_factory.mktemp("surfaces")
    root = fc.make_course(tmp / "course")
    (root / "grader" / "term.toml").write_text(
        f'timezone = "UTC"\n\n[due]\n{fc.ASSIGNMENT} = {DUE.strftime("%Y-%m-%dT%H:%M:%SZ")}\n\n'
        "[penalty]\nper_day = 0.1\ngrace_minutes = 15\n"
    )
    state: dict = {"root": root}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBGRADER_DB_URL", "sqlite:///" + str(root / "grader" / "gradebook.db"))
        assert not release.release(root)
        src = nbs.read(root / "solutions" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb")
        rel = nbs.read(fc.release_path(root))
        solved = release.solved_copy(src, rel)

        def notebook(student: str, answers=None) -> Path:
            nb = fc.replace_solutions(solved, answers or {})
            path = folder / student / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb"
            _write(path, nbs.dumps(nb))
            return path

        # The first collection: a folder, as nbgrader collect or an exchange leaves it.
        folder = root / "collected"
        notebook("honest")
        for student in ("attack1_forged_markdown", "attack2_deep_expression"):
            notebook(student, {"sigmoid": SURFACE_ATTACKS[student]})
        notebook("attack4_hash_collision", {"sigmoid": SURFACE_ATTACKS["attack4_hash_collision"]})
        linked = folder / "attack3_symlinked_notebook" / fc.ASSIGNMENT
        linked.mkdir(parents=True)
        os.symlink(Path("..") / SYMLINKED_NOTEBOOK, linked / f"{fc.NOTEBOOK}.ipynb")
        os.symlink(root / "nbgrader_config.py", linked / "submission_secret.txt")
        assert "BEGIN HIDDEN TESTS" in (linked / f"{fc.NOTEBOOK}.ipynb").read_text()

        # Reports of an earlier run, which must never be read as this run's.
        reports = root / "grader" / "reports"
        _write(reports / "grades.csv", "student,assignment,score\nhonest,00_fixture,OLD\n")
        _write(reports / "report.md", "# Grading report\n\nOLD REPORT\n")

        # A run that fails (before any student is graded) leaves no report of the old run.
        def broken_intake(*_a, **_k):
            raise RuntimeError("the submissions disk went away")

        mp.setattr(intake, "intake", broken_intake)
        with pytest.raises(RuntimeError):
            grade_class(root, folder, _options([]))
        mp.undo()
        mp.setenv("NBGRADER_DB_URL", "sqlite:///" + str(root / "grader" / "gradebook.db"))
        state["failed_files"] = sorted(p.name for p in reports.iterdir() if p.is_file())
        state["failed_report"] = (reports / "report.md").read_text()

        lines: list[str] = []
        start = time.monotonic()
        results, grader = grade_class(root, folder, _options(lines))
        state["seconds"] = time.monotonic() - start
        state["results"] = {r.student: r for r in results}
        state["report_md"] = (reports / "report.md").read_text()
        state["grades"] = _csv(reports / "grades.csv")
        state["progress"] = lines
        state["grader"] = grader

        # The second collection, downloaded two days after the deadline: one late submission
        # with a timestamp.txt that claims it was handed in long before.
        late_dir = tmp / "late"
        folder = late_dir / "submitted"
        notebook("attack5_forged_timestamp")
        _write(
            folder / "attack5_forged_timestamp" / fc.ASSIGNMENT / "timestamp.txt", FORGED_TIMESTAMP
        )
        archive = Path(shutil.make_archive(str(late_dir / "late"), "zip", folder))
        received = (DUE + dt.timedelta(days=2)).timestamp()
        os.utime(archive, (received, received))
        with zipfile.ZipFile(archive) as zf:
            assert "attack5_forged_timestamp/00_fixture/timestamp.txt" in zf.namelist()
        results, _ = grade_class(
            root, archive, _options(lines, students=["attack5_forged_timestamp"])
        )
        state["late"] = {r.student: r for r in results}
        state["late_report_md"] = (reports / "report.md").read_text()
        state["late_grades"] = _csv(reports / "grades.csv")
        yield state


def _honest_intact(rows_or_result):
    result = rows_or_result
    assert (result.status, result.score) == ("pending hand grading", 7), (
        result.status,
        result.reason,
    )


def test_the_honest_student_keeps_full_marks(graded):
    _honest_intact(graded["results"]["honest"])
    grades = {row["student"]: row for row in graded["late_grades"]}
    assert grades["honest"]["score"] == "7"  # still there after the late student's run


def test_1_forged_markdown_lines_do_not_appear(graded):
    result = graded["results"]["attack1_forged_markdown"]
    assert result.score == 5  # only its sigmoid test fails
    text = graded["report_md"]
    top_level = [line for line in text.splitlines() if line.startswith("- **")]
    for line in top_level:
        assert "999" not in line, line
        assert "forged reason" not in line, line
        assert re.match(r"- \*\*[a-z0-9_]+\*\* 00_fixture: ", line), line
    honest = [line for line in text.splitlines() if line.startswith("- **honest**")]
    assert honest == [  # needs attention, then Students: the honest row as it should be
        "- **honest** 00_fixture: 2 answer(s) still to grade by hand",
        "- **honest** 00_fixture: 7 / 9 so far, PENDING HAND GRADING: 2 answer(s) still to "
        "grade by hand",
    ]
    # The message is shown, as inert text inside the attacker's own line.
    mine = [line for line in text.splitlines() if "oops" in line]
    assert mine
    assert all(line.startswith("    - ") and "\\*\\*honest\\*\\*" in line for line in mine)
    assert "\n- **zed**" not in text
    grades = {row["student"]: row for row in graded["grades"]}
    assert set(grades) == {
        "honest",
        "attack1_forged_markdown",
        "attack2_deep_expression",
        "attack3_symlinked_notebook",
        "attack4_hash_collision",
    }


def test_2_a_deep_expression_neither_stops_the_run_nor_leaves_stale_reports(graded):
    # A run that failed removed the old reports and said so.
    assert graded["failed_files"] == ["report.md"]
    assert "RUN FAILED" in graded["failed_report"]
    assert "the submissions disk went away" in graded["failed_report"]
    assert "OLD" not in graded["failed_report"]
    # The deep expression is graded, the run wrote this run's reports, with a line about it.
    result = graded["results"]["attack2_deep_expression"]
    assert (result.status, result.score) == ("pending hand grading", 7)
    assert "OLD" not in graded["report_md"]
    assert all(row["score"] != "OLD" for row in graded["grades"])
    assert (
        "similarity: 00_fixture attack2_deep_expression answer cell sigmoid holds code nested "
        "more than 100 levels deep; that part was not compared" in graded["report_md"]
    )


def test_3_a_symlinked_notebook_is_refused_by_name(graded):
    result = graded["results"]["attack3_symlinked_notebook"]
    assert result.status == "not graded"
    assert "fixture.ipynb refused: a symbolic link" in result.reason
    text = graded["report_md"]
    assert "attack3_symlinked_notebook/00_fixture/fixture.ipynb: refused (a symbolic link" in text
    assert "attack3_symlinked_notebook/00_fixture/submission_secret.txt: refused" in text
    staged = graded["root"] / "grader" / "submitted" / "attack3_symlinked_notebook"
    texts = " ".join(p.read_text() for p in staged.rglob("*") if p.is_file())
    assert "BEGIN HIDDEN TESTS" not in texts
    assert "z_hidden" not in texts
    assert not list(staged.rglob("submission_secret.txt"))


def test_4_a_hash_collision_reply_is_refused_at_once(graded):
    result = graded["results"]["attack4_hash_collision"]
    said = " | ".join([result.reason, *(c.reason for c in result.cells)])
    said += " | " + " | ".join(note for _nb, note in result.notes)
    assert "over budget: the integer key 2305843009213693951 is outside" in said, said
    # Refused within the cell's budget: the whole run (five students, two workers) took far
    # less than the 30 s that decoding the reply used to take alone.
    assert graded["seconds"] < 30 + 60, graded["seconds"]


def test_4_the_hash_collision_fails_only_its_own_test(graded):
    result = graded["results"]["attack4_hash_collision"]
    assert (result.status, result.score) == ("pending hand grading", 5)


def test_5_a_forged_timestamp_is_flagged(graded):
    result = graded["late"]["attack5_forged_timestamp"]
    assert result.status == "pending hand grading"
    text = graded["late_report_md"]
    attention = text.split("### Needs attention", 1)[1].split("###", 1)[0]
    line = next(x for x in attention.splitlines() if "attack5_forged_timestamp" in x)
    assert "submission time unverified: it claims 2024-12-31 12:00 UTC (on time)" in line
    assert (
        "honest" not in attention
        or "unverified" not in attention.split("honest", 1)[1].split("\n")[0]
    )
    staged = graded["root"] / "grader" / "submitted" / "attack5_forged_timestamp" / fc.ASSIGNMENT
    received = (staged / intake.RECEIVED_FILE).read_text()
    assert received.startswith((DUE + dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M"))
