"""The one place that decides where the course's folders are.

Every folder comes from the course's ``nbgrader_config.py`` (``CourseDirectory``): the source
(``solutions/``), the release (``notebooks/``), and nbgrader's submitted, autograded and
feedback folders; the grader's own folders (reports, received originals) sit next to
``submitted`` under ``grader/``. The config is read as a plain traitlets file, without importing
nbgrader (which costs seconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# A student id names the student's folder under submitted/, autograded/ and feedback/ (the
# student bundle tells students the rule; intake and the term file check it).
STUDENT_ID_RULE = "lowercase letters, digits and . _ @ -, starting with a letter or digit"
STUDENT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]*$")


def load_config(root: Path, overrides: dict | None = None):
    """The course's ``nbgrader_config.py`` as a traitlets config (nbgrader is not imported),
    with ``overrides`` merged in, e.g. ``{"CourseDirectory": {"release_directory": ...}}``."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(root).resolve()
    config = Config()
    if (root / "nbgrader_config.py").exists():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    if overrides:
        config.merge(Config(overrides))
    return config


@dataclass(frozen=True)
class CourseLayout:
    root: Path
    source: Path
    release: Path
    submitted: Path
    autograded: Path
    feedback: Path
    reports: Path
    received: Path

    @classmethod
    def of(cls, root: Path, reports: Path | None = None) -> CourseLayout:
        root = Path(root).resolve()
        cd = load_config(root).CourseDirectory

        def folder(key: str, default: str) -> Path:
            return root / cd.get(f"{key}_directory", default)

        submitted = folder("submitted", "submitted")
        return cls(
            root=root,
            source=folder("source", "source"),
            release=folder("release", "release"),
            submitted=submitted,
            autograded=folder("autograded", "autograded"),
            feedback=folder("feedback", "feedback"),
            reports=Path(reports).resolve() if reports else submitted.parent / "reports",
            received=submitted.parent / "received",
        )
