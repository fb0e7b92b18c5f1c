"""The term as data: due dates, per-student extensions, the late penalty and the roster.

An instructor keeps them in ``grader/term.toml`` (git-ignored with the rest of ``grader/``'s
data, because it names students), next to the roster ``grader/roster.csv``::

    timezone = "Europe/Berlin"   # for due dates without an offset and for zip entry times
    roster = "roster.csv"        # relative to this file

    [due]
    01_notation = 2026-03-02T23:59:00

    [extensions.alice]           # one table per student who has an extension
    01_notation = 2026-03-05T23:59:00

    [penalty]
    per_day = 0.10               # fraction of the maximum score lost per started day late
    max = 1.0                    # the most that can be lost (1.0: down to zero)
    grace_minutes = 15           # submissions this late are on time

The roster is a CSV with a ``student_id`` column and optionally ``name``, ``email``,
``section``, ``canvas_id`` and ``moodle_id`` (used to map LMS download names, see
:mod:`grader.reporting.export`). Everything below is a pure function of these data; nothing is read
at import time.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from grader.course.layout import STUDENT_ID_RE, STUDENT_ID_RULE

# The one student id rule (README, "Submissions"; intake, the roster and the term file use it).
# Lowercase, so that "Alice" and "alice" cannot become two students of nbgrader (ids are
# case-sensitive there, file systems sometimes not). "_" is allowed: a flat file name
# ``STUDENT_NOTEBOOK.ipynb`` is read from its end, the known notebook name.
ROSTER_COLUMNS = ("student_id", "name", "email", "section", "canvas_id", "moodle_id")


def student_id_problem(student: str) -> str | None:
    """Why ``student`` is not a valid student id (None if it is), with the fix when obvious."""
    if STUDENT_ID_RE.match(student):
        return None
    hint = re.sub(r"[^a-z0-9._@-]+", "-", student.lower()).strip("-._@")
    suggestion = f"; rename it to {hint!r}" if hint and STUDENT_ID_RE.match(hint) else ""
    return f"{student!r} is not a valid student id ({STUDENT_ID_RULE}){suggestion}"


@dataclass(frozen=True)
class Penalty:
    per_day: float = 0.0  # fraction of the maximum per started day late
    max: float = 1.0  # cap on the fraction lost
    grace_minutes: float = 0.0

    def __post_init__(self):
        if not 0 <= self.per_day <= 1 or not 0 <= self.max <= 1 or self.grace_minutes < 0:
            raise ValueError(
                f"penalty: per_day and max must be fractions in [0, 1] and grace_minutes >= 0, "
                f"got per_day={self.per_day}, max={self.max}, grace_minutes={self.grace_minutes}"
            )


@dataclass(frozen=True)
class Student:
    student_id: str
    name: str = ""
    email: str = ""
    section: str = ""
    canvas_id: str = ""
    moodle_id: str = ""


@dataclass
class Term:
    timezone: dt.tzinfo = dt.UTC
    due: dict[str, dt.datetime] = field(default_factory=dict)
    extensions: dict[str, dict[str, dt.datetime]] = field(default_factory=dict)
    penalty: Penalty = field(default_factory=Penalty)
    roster: list[Student] | None = None  # None: no roster file


# --------------------------------------------------------------------------------------------
# Reading the term file and the roster
# --------------------------------------------------------------------------------------------


def _aware(value, tz: dt.tzinfo, where: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not a date and time") from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(23, 59, 59))  # a bare date: end of that day
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{where}: {value!r} is not a date and time")
    return value if value.tzinfo else value.replace(tzinfo=tz)


def load_roster(path: Path) -> list[Student]:
    """The roster CSV; a clear error for a missing column, a bad or a repeated id."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        if "student_id" not in header:
            raise ValueError(f"{path}: needs a 'student_id' column (has {header})")
        students, seen = [], set()
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            sid = row["student_id"]
            if not sid:
                continue
            problem = student_id_problem(sid)
            if problem:
                raise ValueError(f"{path}:{line}: {problem}")
            if sid in seen:
                raise ValueError(f"{path}:{line}: student {sid!r} is listed twice")
            seen.add(sid)
            students.append(Student(**{k: row.get(k, "") for k in ROSTER_COLUMNS}))
    return students


def load_term(path: Path) -> Term:
    """The term file (a missing file is an empty term: no deadlines, no roster)."""
    path = Path(path)
    if not path.exists():
        return Term()
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: {error}") from None
    unknown = set(data) - {"timezone", "due", "extensions", "penalty", "roster"}
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {sorted(unknown)}")
    try:
        tz = ZoneInfo(data.get("timezone", "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{path}: unknown timezone {data.get('timezone')!r}") from None
    due = {a: _aware(v, tz, f"{path}: due.{a}") for a, v in data.get("due", {}).items()}
    extensions = {}
    for student, dates in data.get("extensions", {}).items():
        problem = student_id_problem(student)
        if problem:
            raise ValueError(f"{path}: extensions: {problem}")
        extensions[student] = {
            a: _aware(v, tz, f"{path}: extensions.{student}.{a}") for a, v in dates.items()
        }
    try:
        penalty = Penalty(**data.get("penalty", {}))
    except TypeError as error:
        raise ValueError(f"{path}: penalty: {error}") from None
    roster = None
    if "roster" in data:
        roster_path = path.parent / data["roster"]
        if not roster_path.exists():
            raise ValueError(f"{path}: roster {roster_path} does not exist")
        roster = load_roster(roster_path)
    return Term(tz, due, extensions, penalty, roster)


# --------------------------------------------------------------------------------------------
# Submission times
# --------------------------------------------------------------------------------------------


def parse_timestamp(text: str) -> dt.datetime | None:
    """A time from nbgrader's ``timestamp.txt`` (``2026-03-02 22:58:01.123456 UTC``), in UTC.

    None when the text is not a time (the caller reports "submission time unknown").
    """
    import dateutil.parser
    import dateutil.tz

    text = text.strip()
    if not text:
        return None
    parts = text.split(" ")
    try:
        if len(parts) == 3:
            zone = dateutil.tz.gettz(parts[2]) or (dt.UTC if parts[2] == "UTC" else None)
            if zone is None:
                return None
            value = dateutil.parser.parse(" ".join(parts[:2])).replace(tzinfo=zone)
        else:
            value = dateutil.parser.parse(text)
    except (ValueError, OverflowError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def zip_entry_time(info: zipfile.ZipInfo, tz: dt.tzinfo) -> dt.datetime:
    """A zip entry's modification time (zip stores local time without a zone: ``tz``'s)."""
    return dt.datetime(*info.date_time, tzinfo=tz).astimezone(dt.UTC)


# --------------------------------------------------------------------------------------------
# Deadlines and the penalty
# --------------------------------------------------------------------------------------------


def deadline(term: Term, student: str, assignment: str) -> dt.datetime | None:
    """The student's deadline: their extension if they have one, else the due date."""
    return term.extensions.get(student, {}).get(assignment) or term.due.get(assignment)


@dataclass(frozen=True)
class Lateness:
    status: str  # "on time" | "late" | "no deadline" | "time unknown"
    late_by: dt.timedelta = dt.timedelta(0)
    days: int = 0  # started days late (after the grace period)
    fraction: float = 0.0  # of the maximum score lost
    reason: str = ""


def lateness(submitted: dt.datetime | None, due: dt.datetime | None, penalty: Penalty) -> Lateness:
    """Whether a submission is late and the fraction of the maximum it loses."""
    if due is None:
        return Lateness("no deadline")
    if submitted is None:
        return Lateness("time unknown", reason="the submission time is unknown; not marked late")
    late_by = submitted - due
    grace = dt.timedelta(minutes=penalty.grace_minutes)
    if late_by <= grace:
        return Lateness("on time", late_by=max(late_by, dt.timedelta(0)))
    days = math.ceil((late_by - grace) / dt.timedelta(days=1))
    fraction = min(penalty.max, days * penalty.per_day)
    hours = late_by.total_seconds() / 3600
    reason = f"late by {hours:.1f} h ({days} started day(s))"
    if fraction:
        reason += f": -{fraction:.0%} of the maximum"
    return Lateness("late", late_by, days, fraction, reason)


def _utc(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def time_doubt(
    claimed: dt.datetime | None,
    received: dt.datetime | None,
    due: dt.datetime | None,
    penalty: Penalty,
) -> str | None:
    """Why a submission's claimed time (``timestamp.txt`` or a zip entry's time, both written
    on the student's side) cannot be taken as it is, given the time the submission reached the
    instructor's side (``received``: the zip's or the collected files' time on the grading
    machine, which the student cannot set); None when nothing is in doubt.

    The received time is only an upper bound of the real one (a class is collected after it
    submitted), so a claim *before* it is plausible: it is in doubt only when it makes the
    difference between on time and late (flagged for a person). A claim *after* it (beyond
    the grace period) is impossible; the received time is then used.
    """
    if claimed is None or received is None:
        return None
    grace = dt.timedelta(minutes=penalty.grace_minutes)
    if claimed > received + grace:
        return (
            f"submission time: it claims {_utc(claimed)}, after it reached the grader "
            f"({_utc(received)}); the received time is used"
        )
    if due is not None and received > due + grace >= claimed:
        return (
            f"submission time unverified: it claims {_utc(claimed)} (on time) but reached the "
            f"grader only at {_utc(received)}, after the deadline {_utc(due)}; the claim comes "
            "from the student's side (timestamp.txt or zip entry): check whether it was late"
        )
    return None


def apply_penalty(score: float | None, max_score: float, late: Lateness) -> float | None:
    """The score after the late penalty (never below 0; None stays None: not graded)."""
    if score is None:
        return None
    return max(0.0, score - late.fraction * max_score)


# --------------------------------------------------------------------------------------------
# Checking the term file against the roster and the course
# --------------------------------------------------------------------------------------------


_HEADER_RE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")
_INLINE_KEY_RE = re.compile(r"[{,]\s*([A-Za-z0-9_\-\"']+)\s*=")


def _key_parts(text: str) -> list[str]:
    return [part.strip().strip("\"'") for part in text.split(".")]


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line (1-based) where each table and key of a TOML file is first written, as dotted
    paths: ``("extensions", "zoe")`` for ``[extensions.zoe]``, ``("due", "04_x")`` for a key
    under ``[due]`` (dotted keys and inline tables too). For error messages only."""
    lines: dict[tuple[str, ...], int] = {}
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER_RE.match(line)
        if header:
            table = _key_parts(header.group(1))
            for depth in range(1, len(table) + 1):
                lines.setdefault(tuple(table[:depth]), number)
            continue
        key = _KEY_RE.match(line)
        if not key:
            continue
        path = [*table, *_key_parts(key.group(1))]
        for depth in range(1, len(path) + 1):
            lines.setdefault(tuple(path[:depth]), number)
        rest = line[key.end() :]
        for inner in _INLINE_KEY_RE.finditer(rest):
            lines.setdefault((*path, inner.group(1).strip("\"'")), number)
    return lines


def _nearest(name: str, valid: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.4)
    if close:
        return f"; did you mean {close[0]!r}?"
    shown = ", ".join(repr(v) for v in sorted(valid)[:8])
    return f" (valid: {shown}{', ...' if len(valid) > 8 else ''})" if valid else ""


def check_term(path: Path, assignments: list[str]) -> list[str]:
    """Every mistake in the term file that would otherwise pass silently: a student in
    ``[extensions]`` who is not on the roster, an assignment in ``[due]`` or
    ``[extensions]`` that the course does not have. One line each, naming the file's line
    and the nearest valid name. (A file that cannot be read at all raises ValueError.)"""
    path = Path(path)
    if not path.exists():
        return []
    term = load_term(path)  # bad dates, zones, ids, roster: ValueError, naming the line
    where = key_lines(path.read_text(encoding="utf-8"))
    problems = []

    def at(*keys: str) -> str:
        line = where.get(tuple(keys))
        return f"{path}:{line}" if line else str(path)

    for assignment in term.due:
        if assignment not in assignments:
            problems.append(
                f"{at('due', assignment)}: [due] {assignment!r} is not an assignment of the "
                f"course{_nearest(assignment, assignments)}"
            )
    roster = [s.student_id for s in term.roster] if term.roster is not None else None
    for student, dates in term.extensions.items():
        if roster is None:
            problems.append(
                f"{at('extensions', student)}: [extensions.{student}]: no roster to check the "
                'student against (set roster = "roster.csv" in the term file)'
            )
        elif student not in roster:
            problems.append(
                f"{at('extensions', student)}: [extensions.{student}]: {student!r} is not on "
                f"the roster{_nearest(student, roster)}"
            )
        for assignment in dates:
            if assignment not in assignments:
                problems.append(
                    f"{at('extensions', student, assignment)}: [extensions.{student}] "
                    f"{assignment!r} is not an assignment of the course"
                    f"{_nearest(assignment, assignments)}"
                )
    return problems


def require_valid_term(path: Path, assignments: list[str]) -> Term:
    """The term file, or ValueError listing every problem :func:`check_term` finds (what
    ``grade`` and ``export`` do before anything else)."""
    problems = check_term(path, assignments)
    if problems:
        raise ValueError(
            "\n".join(problems) + f"\n{len(problems)} problem(s) in {path}: fix them first "
            "(python -m grader check-term lists them)"
        )
    return load_term(path)
