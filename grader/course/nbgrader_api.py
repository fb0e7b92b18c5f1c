"""Thin wrappers around nbgrader's Python API, loaded once per process.

``import nbgrader.apps`` costs about 5 s, so every command does all its nbgrader work in one
process through these helpers instead of calling the ``nbgrader`` CLI repeatedly. The course's
own ``nbgrader_config.py`` (at the course root) is loaded, then ``overrides`` are applied, e.g.
``{"CourseDirectory": {"release_directory": "build/release-check"}}``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from pathlib import Path

from grader.course.layout import load_config


def ensure_tools_on_path() -> None:
    """nbgrader shells out to ``alembic``; make the interpreter's ``bin/`` visible."""
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path


class Course:
    """nbgrader objects for one course root (one instance per process is enough)."""

    def __init__(self, root: Path, overrides: dict | None = None):
        ensure_tools_on_path()
        from nbgrader.coursedir import CourseDirectory

        self.root = Path(root).resolve()
        self.config = load_config(self.root, overrides)
        self.coursedir = CourseDirectory(config=self.config)

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    def path(self, directory: str) -> Path:
        return self.root / getattr(self.coursedir, f"{directory}_directory")

    def gradebook(self):
        from nbgrader.api import Gradebook

        return Gradebook(self.db_url, self.coursedir.course_id)

    def run(self, converter_cls, extra: dict | None = None, **attrs) -> dict:
        """Run one nbgrader converter; return {success, log, error}."""
        from traitlets.config import Config

        config = self.config
        if extra:
            config = Config(self.config)
            config.merge(Config(extra))
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=config)
        for key in ("assignment_id", "student_id", "notebook_id"):
            if key in attrs:
                setattr(coursedir, key, attrs.pop(key))
        app = converter_cls(coursedir=coursedir, config=config)
        for key, value in attrs.items():
            setattr(app, key, value)
        buffer = io.StringIO()
        handler = logging.StreamHandler(buffer)
        handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        app.log.addHandler(handler)
        result = {"success": True, "error": ""}
        try:
            with contextlib.redirect_stdout(sys.stderr):
                app.start()
        except BaseException as error:  # nbgrader raises NbGraderException and friends
            if isinstance(error, KeyboardInterrupt):
                raise
            result = {"success": False, "error": f"{type(error).__name__}: {error}"}
        finally:
            app.log.removeHandler(handler)
        result["log"] = buffer.getvalue()
        return result

    def generate_assignment(self, assignment: str, release_dir: Path | None = None, db=True):
        from nbgrader.converters import GenerateAssignment

        extra: dict = {}
        if release_dir is not None:
            extra["CourseDirectory"] = {"release_directory": str(release_dir)}
        if not db:
            extra["SaveCells"] = {"enabled": False}
            extra["GenerateAssignment"] = {"no_database": True}
        return self.run(
            GenerateAssignment,
            extra,
            assignment_id=assignment,
            force=True,
            create_assignment=True,
        )

    def generate_feedback(self, assignment: str, student: str | None = None) -> dict:
        from nbgrader.converters import GenerateFeedback

        attrs = {"assignment_id": assignment, "force": True}
        if student is not None:
            attrs["student_id"] = student
        return self.run(GenerateFeedback, {"HTMLExporter": {"template_name": "feedback"}}, **attrs)

    def validate(self, path: Path, invert: bool = False) -> dict:
        """nbgrader's validator (the CLI always exits 0, so CI uses this)."""
        from nbgrader.validator import Validator

        validator = Validator(config=self.config)
        validator.invert = invert
        validator.ignore_checksums = not invert
        with contextlib.redirect_stdout(sys.stderr):
            return validator.validate(str(path))
