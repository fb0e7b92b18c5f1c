"""Intake takes regular files only, and submission times come from the instructor's side
(issue 21): links, devices, FIFOs and hard links are refused by name on folders, zips and
copies of collections; a claimed time that matters is checked against the received time."""

from __future__ import annotations

import datetime as dt
import os
import stat
import zipfile

import pytest
from test_intake_term import EXPECTED, _nb, _put, _stamp, released_course

from grader.books.gradebook import CellGrade, Graded
from grader.intake import files as intake
from grader.intake import term as t
from grader.reporting import export

SECRET = "x = 'the instructor solution'"


@pytest.fixture
def course(tmp_path):
    """The released course, with an instructor's solution and config beside it."""
    private = tmp_path / "solutions" / "01_a"
    private.mkdir(parents=True)
    (private / "alpha.ipynb").write_text(_nb(SECRET))
    (tmp_path / "nbgrader_config.py").write_text("c.secret = 'instructor only'\n")
    return released_course(tmp_path)


def _staged_text(submitted):
    return " ".join(p.read_text() for p in submitted.rglob("*") if p.is_file())


def test_links_devices_fifos_and_hard_links_are_refused_by_name(course):
    tmp, release, submitted = course
    src = tmp / "in"
    _put(src, "honest/01_a/alpha.ipynb", _nb("x = 1"))
    folder = src / "alice" / "01_a"
    folder.mkdir(parents=True)
    os.symlink("../../../solutions/01_a/alpha.ipynb", folder / "alpha.ipynb")
    os.symlink(tmp / "nbgrader_config.py", folder / "submission_secret.txt")
    os.symlink(tmp / "solutions" / "01_a", src / "bob")  # a linked student folder
    os.mkfifo(src / "carl_alpha.ipynb")
    _put(src, "dora/01_a/alpha.ipynb", _nb(SECRET))
    os.link(src / "dora/01_a/alpha.ipynb", tmp / "elsewhere.ipynb")  # a second name
    taken = intake.intake(src, submitted, release, EXPECTED)
    problems = "\n".join(taken.problems)
    assert "alice/01_a/alpha.ipynb: refused (a symbolic link" in problems
    assert "alice/01_a/submission_secret.txt: refused (a symbolic link" in problems
    assert "bob: refused (a symbolic link" in problems
    assert "carl_alpha.ipynb: refused (a FIFO (named pipe)" in problems
    assert "dora/01_a/alpha.ipynb: refused (a hard link (one file with 2 names)" in problems
    alice = taken.submissions[("alice", "01_a")]["alpha"]
    assert alice.staged is None
    assert "alpha.ipynb refused: a symbolic link" in alice.error
    assert taken.submissions[("honest", "01_a")]["alpha"].staged is not None
    staged = _staged_text(submitted)
    assert "instructor solution" not in staged
    assert "instructor only" not in staged
    assert sorted(p.name for p in submitted.iterdir()) == ["honest"]


def test_a_copy_of_the_source_notebook_is_refused_whatever_the_route(course):
    """nbgrader collect follows links in the exchange, so a linked solution can arrive as a
    regular file: it still holds the source's markers."""
    tmp, release, submitted = course
    src = tmp / "in"
    _put(
        src,
        "eve/01_a/alpha.ipynb",
        _nb("x = 1\n### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS"),
    )
    taken = intake.intake(src, submitted, release, EXPECTED)
    error = taken.submissions[("eve", "01_a")]["alpha"].error
    assert "holds the instructor's source notebook" in error


def test_zip_links_and_escaping_entries_are_refused_by_name(course):
    tmp, release, submitted = course
    archive = tmp / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("honest/01_a/alpha.ipynb", _nb("x = 1"))
        link = zipfile.ZipInfo("alice/01_a/alpha.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "../../../solutions/01_a/alpha.ipynb")
        zf.writestr("../escape/01_a/alpha.ipynb", _nb("x = 2"))
        zf.writestr("/abs/01_a/alpha.ipynb", _nb("x = 3"))
    taken = intake.intake(archive, submitted, release, EXPECTED)
    problems = "\n".join(taken.problems)
    assert "class.zip: alice/01_a/alpha.ipynb: refused (a symbolic link" in problems
    assert "class.zip: ../escape/01_a/alpha.ipynb: refused (a path with '..'" in problems
    assert "class.zip: /abs/01_a/alpha.ipynb: refused (an absolute path)" in problems
    assert ("alice", "01_a") not in taken.submissions
    assert taken.submissions[("honest", "01_a")]["alpha"].staged is not None


def test_copying_a_collection_keeps_regular_files_and_refuses_the_rest(course):
    tmp, _release, _submitted = course
    src = tmp / "collected"
    _put(src, "ana/01_a/alpha.ipynb", _nb("x = 1"))
    _put(src, "ana/01_a/.hidden", "kept")
    os.symlink(tmp / "nbgrader_config.py", src / "ana" / "01_a" / "submission_secret.txt")
    os.mkfifo(src / "ana" / "pipe")
    refused = intake.copy_tree(src, tmp / "kept")
    assert sorted(refused) == [
        "ana/01_a/submission_secret.txt: refused (a symbolic link; only regular files are "
        "taken (submit the file itself))",
        "ana/pipe: refused (a FIFO (named pipe), not a regular file)",
    ]
    kept = sorted(str(p.relative_to(tmp / "kept")) for p in (tmp / "kept").rglob("*"))
    assert kept == ["ana", "ana/01_a", "ana/01_a/.hidden", "ana/01_a/alpha.ipynb"]


def test_read_regular_never_follows_a_link_on_the_way(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.txt").write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(tmp_path / "real", root / "linked")
    with pytest.raises(intake.RefusedFile, match="not a plain folder"):
        intake.read_regular(root, root / "linked" / "f.txt", 100)
    (root / "big").write_bytes(b"x" * 101)
    with pytest.raises(intake.RefusedFile, match="too large"):
        intake.read_regular(root, root / "big", 100)


DUE = dt.datetime(2026, 3, 2, 23, 59, tzinfo=dt.UTC)
TERM = t.Term(due={"01_a": DUE}, penalty=t.Penalty(per_day=0.1, grace_minutes=15))


def _zip_at(path, received, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 3, 2, 12, 0, 0)), text)
    os.utime(path, (received.timestamp(), received.timestamp()))
    return path


def test_a_forged_timestamp_that_makes_late_work_on_time_is_flagged(course):
    tmp, release, submitted = course
    forged = "2024-12-31 12:00:00 UTC"
    late_zip = _zip_at(
        tmp / "late.zip",
        DUE + dt.timedelta(days=2),
        {"mallory/01_a/alpha.ipynb": _nb("x = 1"), "mallory/01_a/timestamp.txt": forged},
    )
    taken = intake.intake(late_zip, submitted, release, EXPECTED, tz=dt.UTC, term=TERM)
    notes = taken.submissions[("mallory", "01_a")]["alpha"].notes
    assert any(
        n.startswith(
            "submission time unverified: it claims 2024-12-31 12:00 UTC (on time) but "
            "reached the grader only at 2026-03-04 23:59 UTC, after the deadline"
        )
        for n in notes
    ), notes
    received = (submitted / "mallory" / "01_a" / intake.RECEIVED_FILE).read_text()
    assert t.parse_timestamp(received) == DUE + dt.timedelta(days=2)
    # export.csv says it too, in the reason of the row
    rows = export.build_rows(
        {"01_a": 1.0},
        ["mallory"],
        {("mallory", "01_a"): Graded([CellGrade("alpha", "c", 1.0, 1.0)])},
        {},
        TERM,
        export.submission_times(submitted),
        export.submission_times(submitted, intake.RECEIVED_FILE),
    )
    assert rows[0].late.status == "on time"
    assert "submission time unverified" in rows[0].reason


def test_an_honest_claim_downloaded_in_time_is_not_flagged(course):
    tmp, release, submitted = course
    on_time = _zip_at(
        tmp / "class.zip",
        DUE + dt.timedelta(minutes=5),
        {"ana/01_a/alpha.ipynb": _nb("x = 1"), "ana/01_a/timestamp.txt": _stamp(DUE)},
    )
    taken = intake.intake(on_time, submitted, release, EXPECTED, tz=dt.UTC, term=TERM)
    assert taken.submissions[("ana", "01_a")]["alpha"].notes == []


def test_a_claim_after_it_was_received_is_replaced_by_the_received_time(course):
    tmp, release, submitted = course
    received = DUE - dt.timedelta(days=1)
    archive = _zip_at(
        tmp / "class.zip",
        received,
        {"ana/01_a/alpha.ipynb": _nb("x = 1"), "ana/01_a/timestamp.txt": "2030-01-01 00:00:00"},
    )
    taken = intake.intake(archive, submitted, release, EXPECTED, tz=dt.UTC, term=TERM)
    assert any(
        "after it reached the grader" in n
        for n in taken.submissions[("ana", "01_a")]["alpha"].notes
    )
    stamp = (submitted / "ana" / "01_a" / "timestamp.txt").read_text()
    assert t.parse_timestamp(stamp) == received
