"""A Canvas download graded directly: file names with Canvas user ids become student ids."""

from __future__ import annotations

import zipfile

import fixture_course as fc

from grader.course import release


def test_a_canvas_download_is_mapped_through_the_roster(tmp_path, monkeypatch):
    from grader.intake import term
    from grader.intake.batch import _from_lms

    root = fc.make_course(tmp_path / "course")
    monkeypatch.setenv("NBGRADER_DB_URL", "sqlite:///" + str(root / "grader" / "gradebook.db"))
    assert not release.release(root)
    (root / "grader" / "roster.csv").write_text("student_id,canvas_id\nana,101\nben,102\n")
    (root / "grader" / "term.toml").write_text('roster = "roster.csv"\n')
    archive = tmp_path / "submissions.zip"
    text = fc.release_path(root).read_text()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("anaana_101_5551_fixture.ipynb", text)
        zf.writestr("benben_LATE_102_5552_fixture-1.ipynb", text)
        zf.writestr("zedzed_999_5553_fixture.ipynb", text)
    lines: list[str] = []
    course_term = term.require_valid_term(root / "grader" / "term.toml", [fc.ASSIGNMENT])
    refused: list[str] = []
    mapped = _from_lms(archive, tmp_path / "work", course_term, refused, lines.append)
    assert sorted(p.relative_to(mapped).as_posix() for p in mapped.rglob("*.ipynb")) == [
        "ana/fixture.ipynb",
        "ben/fixture.ipynb",
    ]
    assert any("canvas id 999 is not in the roster" in line for line in lines)
    # A download in the grader's own layout is left alone.
    plain = tmp_path / "plain"
    (plain / "ana").mkdir(parents=True)
    (plain / "ana" / "fixture.ipynb").write_text(text)
    assert _from_lms(plain, tmp_path / "work2", course_term, refused, lines.append) == plain
