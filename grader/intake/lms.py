"""Learning-management systems: their download file names, and the grade table they import.

*Downloads.* Canvas's "Download Submissions" zip names every file
``lastfirst_12345_67890_notation.ipynb`` (``lastfirst_LATE_12345_…`` when late; a
resubmission may end ``notation-1.ipynb``), where 12345 is the Canvas user id. Moodle's
"Download all submissions" uses a folder per student, ``Full Name_12345_assignsubmission_file_``
(or that prefix on each file), where 12345 is Moodle's participant id. :func:`map_downloads`
copies such a download into the grader's layout ``STUDENT/NOTEBOOK.ipynb``, looking the ids up
in the roster's ``canvas_id`` / ``moodle_id`` columns; a file whose id is not on the roster is
reported, never guessed.

*Grades.* :func:`canvas_rows` is a one-row-per-student table in the shape of Canvas's gradebook
CSV (``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per assignment).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from grader.intake.files import MAX_ZIP_BYTES, RefusedFile, read_regular, regular_files
from grader.intake.term import Student

CANVAS_RE = re.compile(r"^(?P<name>[^_/]+?)(?:_LATE)?_(?P<uid>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
MOODLE_RE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_\w+?_(?P<file>.*)$")
RESUBMISSION_RE = re.compile(r"^(?P<stem>.+?)-\d+$")  # Canvas: notation-1.ipynb
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def parse_download_name(name: str) -> tuple[str, str, str] | None:
    """``(system, lms id, original file name)`` for a Canvas or Moodle download name."""
    match = MOODLE_RE.match(name)
    if match:
        return "moodle", match["uid"], match["file"]
    match = CANVAS_RE.match(name)
    if match:
        file = match["file"]
        stem, dot, suffix = file.rpartition(".")
        again = RESUBMISSION_RE.match(stem) if dot else None
        if again:
            file = f"{again['stem']}.{suffix}"
        return "canvas", match["uid"], file
    return None


def map_downloads(folder: Path, out: Path, roster: list[Student]) -> tuple[int, list[str]]:
    """Copy an LMS download under ``folder`` to ``out/STUDENT/FILE``; (files copied, problems).

    Files that are not LMS download names are left alone (and reported), so a folder already
    in the grader's layout is not changed by mistake.
    """
    folder, out = Path(folder), Path(out)
    by_id = {
        "canvas": {s.canvas_id: s.student_id for s in roster if s.canvas_id},
        "moodle": {s.moodle_id: s.student_id for s in roster if s.moodle_id},
    }

    files, problems = regular_files(folder)  # regular files only, never through a link
    copied = 0
    for path in files:
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
            continue
        # Moodle: the id is on the student's folder, or on the file itself.
        parsed = None
        if len(rel.parts) >= 2:
            parsed = parse_download_name(rel.parts[0])
            if parsed:
                parsed = (parsed[0], parsed[1], str(Path(*rel.parts[1:])))
        parsed = parsed or parse_download_name(path.name)
        if parsed is None:
            problems.append(f"{rel}: not a Canvas or Moodle download name; left out")
            continue
        system, uid, original = parsed
        student = by_id[system].get(uid)
        if student is None:
            problems.append(
                f"{rel}: {system} id {uid} is not in the roster's {system}_id column; left out"
            )
            continue
        target = out / student / Path(original).name
        st = os.lstat(path)
        if target.exists():
            problems.append(f"{rel}: a second file {target.name} for {student}; the newest wins")
            if target.stat().st_mtime >= st.st_mtime:
                continue
        try:
            data = read_regular(folder, path, MAX_ZIP_BYTES)
        except RefusedFile as why:
            problems.append(f"{rel}: refused ({why})")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        copied += 1
    return copied, problems


def looks_like_download(folder: Path) -> bool:
    """Whether most files under ``folder`` carry Canvas or Moodle download names."""

    names = [p for p in regular_files(folder)[0] if p.suffix == ".ipynb"]
    hits = 0
    for p in names:
        rel = p.relative_to(folder)
        if parse_download_name(p.name) or (
            len(rel.parts) >= 2 and parse_download_name(rel.parts[0])
        ):
            hits += 1
    return bool(names) and hits * 2 > len(names)


def canvas_rows(
    roster: list[Student] | None,
    students: list[str],
    assignments: list[str],
    cells: dict[tuple[str, str], str],
) -> list[list[str]]:
    """Canvas-style table: header + one row per student (roster order, then the others).

    ``cells[(student, assignment)]`` is what goes in the column: a number, or empty for "no
    grade" (never a 0 that was not earned).
    """
    known = {s.student_id: s for s in roster or []}
    order = [s.student_id for s in roster or []] + sorted(set(students) - set(known))
    rows = [CANVAS_HEADER + list(assignments)]
    for sid in order:
        s = known.get(sid, Student(sid))
        rows.append(
            [s.name or sid, s.canvas_id, sid, s.email, s.section]
            + [cells.get((sid, a), "") for a in assignments]
        )
    return rows
