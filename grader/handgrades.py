"""No grade is ever lost: what a regrade keeps, what it flags, and which copy of a submission wins.

Pure logic on plain data; :mod:`grader.grade` reads the gradebook and the notebooks, calls these
functions and writes back only what they decide.

- :func:`plan_regrade`: a hand grade (score, comment) *survives* a regrade when the answer cell
  it grades is unchanged (same text once trailing spaces and blank lines at the ends are
  ignored); when the answer changed it is kept too, but *flagged* for a person to look at
  again; when the answer cell is gone the grade is flagged as orphaned. Nothing is dropped
  silently.
- :func:`pick_submission`: a newer submission replaces an older one, never the reverse; unknown
  times are reported, and the copy already graded is kept.
- :func:`score_changes`: the dry-run diff of one student (which scores would change).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HandGrade:
    """A grade given by a person to one cell, with the answer it was given for."""

    notebook: str
    grade_id: str
    answer: str  # the answer cell's text when it was graded
    manual_score: float | None = None
    comment: str = ""
    extra_credit: float | None = None
    pending: bool = False  # still marked "needs manual grade" before the regrade

    @property
    def key(self) -> tuple[str, str]:
        return self.notebook, self.grade_id

    @property
    def given(self) -> bool:
        """True when a person actually graded or commented (not just nbgrader's empty row)."""
        return self.manual_score is not None or bool(self.comment) or bool(self.extra_credit)


@dataclass
class RegradePlan:
    keep: list[HandGrade] = field(default_factory=list)  # answer unchanged: put back as is
    changed: list[HandGrade] = field(default_factory=list)  # kept, and flagged to look again
    orphaned: list[HandGrade] = field(default_factory=list)  # the answer cell is gone

    def restore(self) -> list[HandGrade]:
        """The grades to write back after the regrade (changed answers keep their old grade
        until a person re-grades them; the flag says so)."""
        return self.keep + self.changed

    def notes(self) -> list[str]:
        out = [
            f"{g.notebook} {g.grade_id}: the answer changed since it was graded by hand "
            f"({_score(g)}); the old hand grade is kept — grade it again"
            for g in self.changed
        ]
        out += [
            f"{g.notebook} {g.grade_id}: graded by hand ({_score(g)}) but the answer cell is "
            "missing from the new submission; the grade is reported, not restored"
            for g in self.orphaned
        ]
        return out


def _score(g: HandGrade) -> str:
    text = "no score" if g.manual_score is None else f"{g.manual_score:g} points"
    return text + (", with a comment" if g.comment else "")


def same_answer(old: str, new: str) -> bool:
    """Whether two versions of an answer are the same for grading purposes."""

    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    return norm(old) == norm(new)


def plan_regrade(old: list[HandGrade], new_answers: dict[tuple[str, str], str]) -> RegradePlan:
    """What happens to each hand grade when a submission is graded again.

    ``old``: the hand grades before the regrade (with the answers they were given for);
    ``new_answers``: ``(notebook, grade_id) -> answer text`` in the submission being graded.
    """
    plan = RegradePlan()
    for grade in old:
        if not grade.given:
            continue
        if grade.key not in new_answers:
            plan.orphaned.append(grade)
        elif same_answer(grade.answer, new_answers[grade.key]):
            plan.keep.append(grade)
        else:
            plan.changed.append(grade)
    return plan


# --------------------------------------------------------------------------------------------
# Which copy of a submission wins
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    take_incoming: bool
    reason: str
    report: bool = False  # True: a person should look (tie or unknown time)


def _when(t: dt.datetime | None) -> str:
    return "unknown time" if t is None else t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def pick_submission(
    existing: dt.datetime | None, incoming: dt.datetime | None, existing_present: bool = True
) -> Pick:
    """Whether the incoming copy of a submission replaces the one already graded.

    The newer copy wins. Equal times: the same submission, graded again. Unknown times: an
    incoming copy with a time replaces one without (and says so); an incoming copy without a
    time never replaces a graded one.
    """
    if not existing_present:
        return Pick(True, "first submission")
    if existing is None and incoming is None:
        return Pick(
            False,
            "submission times unknown for both copies; the graded copy is kept "
            "(check which copy is newer and grade it alone)",
            report=True,
        )
    if incoming is None:
        return Pick(
            False,
            f"the new copy has no submission time; the graded copy ({_when(existing)}) is kept",
            report=True,
        )
    if existing is None:
        return Pick(
            True,
            f"the graded copy has no submission time; replaced by the copy of {_when(incoming)}",
            report=True,
        )
    if incoming > existing:
        return Pick(True, f"newer submission ({_when(incoming)}) replaces {_when(existing)}")
    if incoming == existing:  # the same submission (e.g. collected again): grade it again
        return Pick(True, f"same submission time ({_when(existing)}); graded again")
    return Pick(
        False,
        f"older copy ({_when(incoming)}) ignored; the graded submission of {_when(existing)} "
        "is newer",
        report=True,
    )


# --------------------------------------------------------------------------------------------
# Dry run
# --------------------------------------------------------------------------------------------


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
