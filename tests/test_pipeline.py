"""Course pipeline checks, for every assignment in solutions/ (DESIGN.md section 5.3).

- the sources are normalised and notebooks/ is exactly what they generate (byte for byte);
- no solution line, hidden test or mark scheme reaches notebooks/;
- nbgrader's validator: every solution passes all its tests, every release passes none;
- autograde round trip in a throw-away copy of the course: the solution earns full marks on
  every test cell and the untouched release earns zero, read back from the gradebook.

All nbgrader work runs in this process through ``grader`` (one import of nbgrader).
"""

from __future__ import annotations

import pytest

from grader import ROOT, pipeline

ASSIGNMENTS = sorted(pipeline.source_notebooks(ROOT))
pytestmark = pytest.mark.skipif(not ASSIGNMENTS, reason="no assignment in solutions/ yet")


def _show(problems: list[str]) -> str:
    return "\n".join(problems)


@pytest.fixture(scope="module")
def course():
    from grader.nbg import Course

    return Course(ROOT)


def test_sources_are_normalised():
    problems = pipeline.not_normalized(ROOT)
    assert not problems, _show(problems)


def test_release_regenerates_byte_for_byte(course):
    problems = pipeline.drift(ROOT, course)
    assert not problems, _show(problems)


def test_release_leaks_nothing():
    problems = pipeline.leaks(ROOT)
    assert not problems, _show(problems)


def test_solutions_pass_and_releases_earn_zero(course):
    problems = pipeline.validate(ROOT, course)
    assert not problems, _show(problems)


@pytest.mark.slow
def test_autograde_round_trip():
    problems, scores = pipeline.roundtrip(ROOT)
    assert not problems, _show(problems)
    graded = {key[1] for key in scores}
    assert graded == set(ASSIGNMENTS)
