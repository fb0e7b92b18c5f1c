"""Fixtures for the grading tests: a throw-away fixture course with its own gradebook."""

from __future__ import annotations

from pathlib import Path

import fixture_course as fc
import pytest

# No fixture notebooks live here, but keep nbval away from anything a test leaves behind.
collect_ignore_glob = ["*.ipynb"]


@pytest.fixture(scope="session")
def fixture_course(tmp_path_factory) -> Path:
    """The fixture course, released, with an SQLite gradebook inside it.

    ``NBGRADER_DB_URL`` is pointed at that gradebook for the whole session, so nothing here
    can reach the course's real gradebook (or a PostgreSQL one configured by the caller).
    """
    from grader.course import release

    root = fc.make_course(tmp_path_factory.mktemp("course") / "course")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBGRADER_DB_URL", "sqlite:///" + str(root / "grader" / "gradebook.db"))
        problems = release.release(root)
        assert not problems, problems
        yield root
