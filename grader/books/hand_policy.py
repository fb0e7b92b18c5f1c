"""No hand grade is ever lost: what a regrade keeps, and what it flags.

Pure logic on plain data; :mod:`grader.books.hand_grades` reads the gradebook and the notebooks,
calls it and writes back only what it decides.

- :func:`plan_regrade`: a hand grade (score, comment) *survives* a regrade when the answer cell
  it grades is unchanged (same text once trailing spaces and blank lines at the ends are
  ignored); when the answer changed it is kept too, but *flagged* for a person to look at
  again; when the answer cell is gone the grade is flagged as orphaned. Nothing is dropped
  silently.
"""

from __future__ import annotations

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
