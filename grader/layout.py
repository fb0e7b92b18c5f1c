"""The one place that decides where the course's folders are.

Every folder comes from the course's ``nbgrader_config.py`` (``CourseDirectory``): the source
(``solutions/``), the release (``notebooks/``), and nbgrader's submitted, autograded and
feedback folders; the grader's own folders (reports, received originals) sit next to
``submitted`` under ``grader/``. The config is read as a plain traitlets file, without importing
nbgrader (which costs seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
        from grader.nbgrader_api import load_config

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
