"""The renderers of student-influenced text (grader/reporting/render.py), with hostile strings, and
the reports that use them: a reason can neither add a line to report.md nor become a formula."""

from __future__ import annotations

import csv
import io
import re
import time

import nbformat
import pytest

from grader.reporting import classview, render
from grader.reporting import report_files as reports
from grader.verdicts.score_policy import CellResult, SubmissionResult

FORGED = (
    "oops\n\n- **honest** 02_rnn_forward: 999 / 10 (FORGED)\n"
    "- **zed** 02_rnn_forward: NOT GRADED: forged reason\n"
)
HOSTILE = [
    FORGED,
    "# Heading\r\n## another\u2028### third\u2029done",
    "| a | b |\n|---|---|\n| x | y |",
    "`code` and ```fence``` and <script>alert(1)</script> & &amp; [link](http://x) ![i](y)",
    "*bold* __under__ _em_ ~~strike~~ \\*escaped\\*",
    "- leading dash",
    "+ leading plus",
    "1. ordered",
    "= equals",
    "\x1b[31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07 \x00\x07\x08 tab\there",
    "right-to-left \u202eevil\u202c override",
]


def _is_inert_markdown_line(text: str) -> bool:
    """No unescaped Markdown syntax that could change the structure of report.md."""
    if "\n" in text or "\r" in text:
        return False
    unescaped = re.sub(r"\\.", "", text)  # drop every escaped character
    if any(c in unescaped for c in "*`|#[]<>~&\\"):
        return False
    if re.search(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", unescaped):
        return False
    return not re.match(r"^([-+=]|\d+[.)])", text)


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_is_one_inert_line(text):
    out = render.md(text)
    assert _is_inert_markdown_line(out), out
    assert "\x1b" not in out
    assert "\u202e" not in out


def test_markdown_keeps_the_words_readable():
    assert render.md("sigmoid(z) is wrong: expected 0.5, got 0.4") == (
        "sigmoid(z) is wrong: expected 0.5, got 0.4"
    )
    assert render.md("stale_grade") == "stale_grade"  # an id with "_" stays as it is
    assert render.md("a *b*") == "a \\*b\\*"
    assert render.md("line one\n\n- two") == "line one - two"  # not at a line's start
    assert render.md("- two") == "\\- two"


def test_markdown_caps_a_megabyte_fast():
    huge = ("x\n- **forged**" * 80_000)[:1_000_000]
    start = time.perf_counter()
    out = render.md(huge)
    assert time.perf_counter() - start < 0.5
    assert len(out) <= 2 * render.MD_LIMIT  # capped, then escaped (at most doubled)
    assert out.endswith("\\[...\\]")
    assert _is_inert_markdown_line(out)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-3", "-3"),  # numbers stay numbers
        ("+0.5", "+0.5"),
        ("1e-3", "1e-3"),
        ("7", "7"),
        ("", ""),
        (None, ""),
        ("plain reason", "plain reason"),
    ],
)
def test_csv_cells_never_start_a_formula(value, cell):
    assert render.csv_cell(value) == cell


def test_csv_cell_caps_a_megabyte():
    out = render.csv_cell("=" + "A" * 1_000_000)
    assert out.startswith("'=")
    assert len(out) <= render.CSV_LIMIT + 1


def test_feedback_text_drops_control_and_ansi_but_keeps_lines():
    out = render.feedback("\x1b[8mhidden\x1b[0m line one\nline two\x00\x07")
    assert out == "hidden line one\nline two  "
    assert len(render.feedback("y" * 1_000_000)) <= render.FEEDBACK_LIMIT


def test_feedback_html_shows_a_hostile_message_as_text():
    """The feedback preprocessor and nbconvert's HTML export: a message with HTML and ANSI
    arrives as escaped text."""
    from nbconvert import HTMLExporter

    from grader.reporting.feedback import StripGradeCellTracebacks

    cell = nbformat.v4.new_code_cell("check()")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1, "solution": False}
    cell.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="ValueError",
            evalue="<script>alert('x')</script>\x1b[8m<img src=x onerror=alert(1)>",
            traceback=["long\ntraceback with hidden lines"],
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb, _ = StripGradeCellTracebacks().preprocess(nb, {})
    assert nb.cells[0].outputs[0].traceback == [
        "ValueError: <script>alert('x')</script><img src=x onerror=alert(1)>"
    ]
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "<script>alert('x')</script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert" in html
    assert "hidden lines" not in html


def _results():
    honest = SubmissionResult("honest", "02_rnn_forward", 10.0, "graded", "", score=10.0)
    hostile = SubmissionResult("mallory", "02_rnn_forward", 10.0, "graded", "", score=0.0)
    hostile.cells = [
        CellResult(
            "rnn_forward",
            "test_rnn",
            10.0,
            final=0.0,
            status="failed",
            reason=f"ValueError: {FORGED}",
        )
    ]
    hostile.notes = [("rnn_forward", "=cmd|' /C calc'!A0 note\n# heading")]
    broken = SubmissionResult("zed", "02_rnn_forward", 10.0, "not graded", "not a notebook\n| x |")
    return [honest, hostile, broken]


def test_report_md_has_exactly_one_line_per_student_and_no_forged_line(tmp_path):
    timing = {
        "students": 3,
        "notebooks": 3,
        "seconds": 1.0,
        "seconds_per_notebook": 0.3,
        "seconds_per_student": 0.3,
        "jobs": 1,
        "sandboxed": True,
    }
    results = _results()
    view = classview.section(results, [], {})
    reports.write_reports(tmp_path, results, [f"bad/file.ipynb: {FORGED}"], timing, view)
    text = (tmp_path / "report.md").read_text()
    top = [line for line in text.splitlines() if line.startswith("- **")]
    students = [line for line in top if " 02_rnn_forward: " in line]
    # The class view's needs-attention list (mallory scored 0, zed not graded), then Students.
    assert [line.split("**")[1] for line in students] == [
        "mallory",
        "zed",
        "honest",
        "mallory",
        "zed",
    ]
    assert "- **honest** 02_rnn_forward: 10 / 10" in text
    for line in text.splitlines():
        assert not re.match(r"^\s*- \*\*honest\*\* .*999", line), line
        assert not line.lstrip().startswith("# heading")
    assert "FORGED" in text  # the message is still shown, as text inside its own line
    with open(tmp_path / "report.csv", newline="") as f:
        rows = list(csv.reader(f))
    notes = [r for r in rows if r[6] == "note"]
    assert notes[0][7].startswith("'=cmd")
    reasons = [r[7] for r in rows]
    assert any(r.startswith("ValueError: oops\n\n- **honest**") for r in reasons)  # CSV keeps it
    grades = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text())))
    assert [g["student"] for g in grades] == ["honest", "mallory", "zed"]
    assert grades[0]["score"] == "10"


def test_a_failed_run_leaves_no_stale_report(tmp_path):
    for name in reports.REPORT_FILES:
        (tmp_path / name).write_text("old grades\n")
    reports.begin_run(tmp_path, "2026-01-01 10:00:00 UTC")
    assert not (tmp_path / "grades.csv").exists()
    assert "RUN NOT FINISHED" in (tmp_path / "report.md").read_text()
    reports.failed_run(tmp_path, "2026-01-01 10:00:00 UTC", RuntimeError("disk full\n# x"))
    text = (tmp_path / "report.md").read_text()
    assert "RUN FAILED" in text
    assert "RuntimeError: disk full \\# x" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
