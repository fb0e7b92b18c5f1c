"""The class view of report.md: statistics, pass rates, needs-attention list, similarity flags."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.reporting import classview
from grader.reporting.similarity import Flag


@dataclass
class Cell:
    notebook: str
    grade_id: str
    status: str


@dataclass
class Result:
    student: str
    assignment: str
    status: str
    score: float | None
    max_score: float = 7.0
    reason: str = ""
    cells: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _cells(*statuses):
    return [Cell("nb", f"test_{i}", s) for i, s in enumerate(statuses)]


RESULTS = [
    Result("ana", "a1", "graded", 7.0, cells=_cells("passed", "passed")),
    Result("ben", "a1", "graded", 0.0, cells=_cells("failed", "failed")),
    Result(
        "cid",
        "a1",
        "pending hand grading",
        4.0,
        reason="1 answer(s) to grade by hand",
        cells=_cells("passed", "failed"),
    ),
    Result("dan", "a1", "not graded", None, reason="not a notebook (invalid JSON)"),
    Result("eli", "a1", "no submission", None, reason="nothing was submitted"),
    Result(
        "fay",
        "a1",
        "graded",
        5.0,
        cells=_cells("passed", "failed"),
        notes=[("nb", "older copy (2026-03-01 10:00 UTC) ignored; the graded submission ...")],
    ),
]


def test_statistics_count_only_what_was_graded():
    lines = classview.assignment_stats(RESULTS)
    assert lines[2] == "| a1 | 5 | 3 | 1 | 1 | 4 / 7 | 4.5 |"  # mean of 7, 0, 4, 5


def test_pass_rates_per_test():
    lines = classview.pass_rates(RESULTS)
    assert "| a1 | nb | test_0 | 3/4 | 75% |" in lines
    assert "| a1 | nb | test_1 | 1/4 | 25% |" in lines  # an override is not a pass


def test_needs_attention_names_every_reason():
    lines = classview.needs_attention(RESULTS, late={("fay", "a1"): "late by 30.0 h"})
    text = "\n".join(lines)
    assert "**ana**" not in text
    assert "**ben** a1: scored 0" in text
    assert "**cid** a1: 1 answer(s) to grade by hand" in text
    assert "**dan** a1: not graded: not a notebook" in text
    assert "**eli**" not in text  # no submission is in the export, not a grading problem
    assert "older copy" in text
    assert "late by 30.0 h" in text


def test_the_section_lists_similarity_flags_for_a_person():
    flag = Flag("a1", "ana", "hana", 1.0, 80, "answer cells sigmoid")
    text = "\n".join(classview.section(RESULTS, [flag]))
    assert "### Similarity flags (for a person to judge; never a penalty)" in text
    assert "ana and hana are 100% alike" in text
    assert "(none)" in "\n".join(classview.section(RESULTS, []))
