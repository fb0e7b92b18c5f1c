"""``grade --dry-run``: what a regrade would change, per student, without changing anything.

The course (sources, release, nbgrader's submitted and autograded folders and, for SQLite, the
gradebook itself) is copied to a scratch folder and graded there exactly as a real run would
(hand grades restored, newer submissions kept); then every cell's score in the copy is compared
with the real gradebook. Nothing in the course is written. With a PostgreSQL gradebook the
copy starts from an empty gradebook, so hand-graded cells show as ungraded (the preview says
so).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

from grader.books import gradebook
from grader.course.layout import CourseLayout
from grader.grade import grade_class


def _sqlite_path(url: str) -> Path | None:
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


@contextlib.contextmanager
def _env(name: str, value: str):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def preview(root: Path, submissions: Path, options, copy_dirs=None) -> tuple[list[str], list]:
    """(lines to print, the results the regrade would report).

    ``copy_dirs``: the course folders to copy (default: sources, release, submitted and
    autograded); ``options``: the grading options (``reports`` is redirected into the copy).
    """
    root = Path(root).resolve()
    db_url = gradebook.db_url(root)
    before = gradebook.all_scores(root)
    lines = []
    with tempfile.TemporaryDirectory(prefix="grade-dry-run-") as tmp:
        copy = Path(tmp) / "course"
        copy.mkdir()
        shutil.copy2(root / "nbgrader_config.py", copy / "nbgrader_config.py")
        if copy_dirs is None:
            layout = CourseLayout.of(root)
            copy_dirs = [layout.source, layout.release, layout.submitted, layout.autograded]
            copy_dirs += [layout.submitted.parent / n for n in ("term.toml", "roster.csv")]
        for path in copy_dirs:
            path = Path(path)
            target = copy / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                shutil.copytree(path, target, symlinks=True)
            elif path.exists():
                shutil.copy2(path, target)
        (copy / "grader").mkdir(exist_ok=True)
        db = copy / "grader" / "gradebook.db"
        source_db = _sqlite_path(db_url)
        if source_db is not None and source_db.exists():
            shutil.copy2(source_db, db)
        else:
            lines.append(
                "note: the gradebook is not SQLite; the preview starts from an empty gradebook, "
                "so hand-graded cells show as ungraded"
            )
        opts = dataclasses.replace(options, reports=copy / "grader" / "reports")
        with _env("NBGRADER_DB_URL", f"sqlite:///{db}"):
            results, _run = grade_class(copy, Path(submissions).resolve(), opts)
            after = gradebook.all_scores(copy)
    lines += diff_lines(before, after, results)
    return lines, results


def diff_lines(before: dict, after: dict, results) -> list[str]:
    """Per student: the cells whose score would change, and each submission's notes."""
    by_student: dict[str, list[str]] = defaultdict(list)
    graded = {(r.student, r.assignment) for r in results}
    for student, assignment in sorted(graded):
        old = {
            (k[2], k[3]): v[0] for k, v in before.items() if k[0] == student and k[1] == assignment
        }
        new = {
            (k[2], k[3]): v[0] for k, v in after.items() if k[0] == student and k[1] == assignment
        }
        changes = score_changes(old, new)
        total = total_change(
            sum(v or 0 for v in old.values()) if old else None,
            sum(v or 0 for v in new.values()) if new else None,
        )
        by_student[student].append(f"  {assignment}: {total}")
        by_student[student] += [f"    {line}" for line in changes]
    for r in results:
        for _name, note in r.notes:
            if any(w in note for w in ("older copy", "answer changed", "graded by hand")):
                by_student[r.student].append(f"    {r.assignment}: {note}")
    lines = ["dry run: nothing was written; a regrade would give"]
    for student in sorted(by_student):
        lines.append(f"{student}:")
        lines += by_student[student]
    return lines


def _fmt(x: float | None) -> str:
    return "ungraded" if x is None else f"{x:g}"


def score_changes(
    old: dict[tuple[str, str], float | None], new: dict[tuple[str, str], float | None]
) -> list[str]:
    """Per cell ``(notebook, grade_id)``: the scores a regrade would change, one line each."""
    lines = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if key not in old:
            lines.append(f"{key[0]} {key[1]}: new, {_fmt(after)}")
        elif key not in new:
            lines.append(f"{key[0]} {key[1]}: {_fmt(before)} -> no longer graded")
        elif before != after:
            lines.append(f"{key[0]} {key[1]}: {_fmt(before)} -> {_fmt(after)}")
    return lines


def total_change(old_total: float | None, new_total: float | None) -> str:
    if old_total == new_total:
        return f"total unchanged ({_fmt(old_total)})"
    return f"total {_fmt(old_total)} -> {_fmt(new_total)}"
