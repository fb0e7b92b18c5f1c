"""Course pipeline checks, for every assignment in solutions/ (the same checks as
``python -m grader check``).

- the sources are normalised and notebooks/ is exactly what they generate (byte for byte);
- no solution line, hidden test or mark scheme reaches notebooks/;
- autograde round trip in a throw-away copy of the course: the solution earns full marks on
  every test cell and the untouched release earns zero, read back from the gradebook.

nbgrader's validator says the same as the round trip (every solution passes all its tests,
every release none) by running every notebook once more, top to bottom: ``python -m grader
check`` runs it; here it is tested on the fixture course (tests/grading/test_units.py).

All nbgrader work runs in this process through ``grader`` (one import of nbgrader).
"""

from __future__ import annotations

import pytest

from grader import ROOT, check
from grader.course import release as pipeline

# Each check returns a list of problems; drift also reports sources that are not normalised.
CHECKS = {
    "release_regenerates_byte_for_byte": lambda course: pipeline.drift(ROOT, course),
    "release_leaks_nothing": lambda course: pipeline.leaks(ROOT),
}


@pytest.fixture(scope="module")
def course():
    from grader.course.nbgrader_api import Course

    return Course(ROOT)


def test_solutions_hold_assignments():
    """Every other check passes vacuously on an empty (or moved) solutions/ folder."""
    assert pipeline.source_notebooks(ROOT), f"no assignment in {pipeline.source_dir(ROOT)}"


@pytest.mark.parametrize("check", list(CHECKS))
def test_pipeline(course, check):
    problems = CHECKS[check](course)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_autograde_round_trip():
    problems, _scores = check.roundtrip(ROOT)
    assert not problems, "\n".join(problems)
