"""Deadlines, extensions, the late penalty, submission times and the roster (pure functions)."""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest

from grader.intake import term as t

UTC = dt.UTC


def _term_file(tmp_path, text, roster=None):
    if roster is not None:
        (tmp_path / "roster.csv").write_text(roster, encoding="utf-8")
    path = tmp_path / "term.toml"
    path.write_text(text, encoding="utf-8")
    return path


TERM = """
timezone = "Europe/Berlin"
roster = "roster.csv"

[due]
01_notation = 2026-03-02T23:59:00
02_rnn_forward = 2026-03-09T23:59:00Z

[extensions.bea]
01_notation = 2026-03-05T23:59:00

[penalty]
per_day = 0.1
max = 0.5
grace_minutes = 15
"""
ROSTER = "student_id,name,canvas_id\nana,Ana A,101\nbea,Bea B,102\ncid,Cid C,\n"


def test_the_term_file_gives_deadlines_extensions_penalty_and_roster(tmp_path):
    term = t.load_term(_term_file(tmp_path, TERM, ROSTER))
    berlin = dt.datetime(2026, 3, 2, 23, 59, tzinfo=term.timezone)
    assert t.deadline(term, "ana", "01_notation") == berlin
    assert t.deadline(term, "ana", "01_notation").astimezone(UTC).hour == 22  # UTC+1 in March
    assert t.deadline(term, "bea", "01_notation").day == 5  # her extension
    assert t.deadline(term, "bea", "02_rnn_forward") == dt.datetime(2026, 3, 9, 23, 59, tzinfo=UTC)
    assert t.deadline(term, "ana", "03_bptt") is None
    assert term.penalty == t.Penalty(0.1, 0.5, 15)
    assert [s.student_id for s in term.roster] == ["ana", "bea", "cid"]
    assert term.roster[1].canvas_id == "102"


def test_no_term_file_is_an_empty_term(tmp_path):
    term = t.load_term(tmp_path / "missing.toml")
    assert term.due == {}
    assert term.roster is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezone = 'Mars/Olympus'", "unknown timezone"),
        ("[due]\n01_notation = 'soon'", "not a date and time"),
        ("[penalty]\nper_day = 2", r"fractions in \[0, 1\]"),
        ("[penalty]\nper_hour = 0.1", "penalty"),
        ("deadline = 1", "unknown setting"),
        ("[extensions.Bea]\n01_notation = 2026-03-05", "not a valid student id"),
        ("roster = 'nobody.csv'", "does not exist"),
        ("[due\n", "term.toml"),
    ],
)
def test_a_bad_term_file_says_what_is_wrong(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        t.load_term(_term_file(tmp_path, text))


@pytest.mark.parametrize(
    ("roster", "message"),
    [
        ("name\nAna\n", "needs a 'student_id' column"),
        ("student_id\nana\nana\n", "listed twice"),
        ("student_id\nAna A\n", "'Ana A' is not a valid student id.*rename it to 'ana-a'"),
    ],
)
def test_a_bad_roster_names_the_line(tmp_path, roster, message):
    (tmp_path / "r.csv").write_text(roster, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        t.load_roster(tmp_path / "r.csv")


@pytest.mark.parametrize("good", ["ana", "s12345", "ana.b@uni.edu", "x-1", "ana_b"])
def test_valid_student_ids(good):
    assert t.student_id_problem(good) is None


@pytest.mark.parametrize("bad", ["Ana", "ANA_B", "_ana", "ana b", "", "ana/b", ".ana"])
def test_invalid_student_ids_are_refused_with_the_rule(bad):
    assert t.STUDENT_ID_RULE in t.student_id_problem(bad)


def test_nbgrader_timestamps_and_zip_times():
    got = t.parse_timestamp("2026-03-02 22:58:01.123456 UTC\n")
    assert got == dt.datetime(2026, 3, 2, 22, 58, 1, 123456, tzinfo=UTC)
    assert t.parse_timestamp("2026-03-02T23:58:01+01:00") == dt.datetime(
        2026, 3, 2, 22, 58, 1, tzinfo=UTC
    )
    assert t.parse_timestamp("") is None
    assert t.parse_timestamp("yesterday-ish") is None
    info = zipfile.ZipInfo("ana/notation.ipynb", date_time=(2026, 3, 2, 23, 30, 0))
    term = t.Term(timezone=t.ZoneInfo("Europe/Berlin"))
    assert t.zip_entry_time(info, term.timezone) == dt.datetime(2026, 3, 2, 22, 30, tzinfo=UTC)


DUE = dt.datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
PENALTY = t.Penalty(per_day=0.1, max=0.5, grace_minutes=15)


@pytest.mark.parametrize(
    ("after", "status", "days", "fraction"),
    [
        (dt.timedelta(hours=-3), "on time", 0, 0.0),
        (dt.timedelta(minutes=15), "on time", 0, 0.0),  # inside the grace period
        (dt.timedelta(minutes=16), "late", 1, 0.1),  # a started day counts
        (dt.timedelta(days=1, minutes=15), "late", 1, 0.1),
        (dt.timedelta(days=1, minutes=16), "late", 2, 0.2),
        (dt.timedelta(days=30), "late", 30, 0.5),  # capped
    ],
)
def test_lateness_and_penalty(after, status, days, fraction):
    late = t.lateness(DUE + after, DUE, PENALTY)
    assert (late.status, late.days) == (status, days)
    assert late.fraction == pytest.approx(fraction)
    assert t.apply_penalty(8.0, 10.0, late) == pytest.approx(max(0.0, 8.0 - 10.0 * fraction))
    if status == "late":
        assert "late by" in late.reason


def test_unknown_times_and_missing_deadlines_are_never_late():
    assert t.lateness(None, DUE, PENALTY).status == "time unknown"
    assert t.lateness(DUE, None, PENALTY).status == "no deadline"
    late = t.lateness(DUE + dt.timedelta(days=3), DUE, t.Penalty(per_day=0.5))
    assert t.apply_penalty(3.0, 10.0, late) == 0.0  # never below zero
    assert t.apply_penalty(None, 10.0, late) is None  # not graded stays not graded
