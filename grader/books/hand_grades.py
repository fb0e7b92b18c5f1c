"""Hand grading around the autograder: what the grader sees, and what a regrade must keep.

- :func:`snapshot` reads, before a regrade, every hand grade and comment of a submission from
  the gradebook, with the answer it was given for (from the autograded notebook);
  :func:`restore` applies :func:`grader.books.hand_policy.plan_regrade` afterwards. nbgrader's
  autograde keeps ``manual_score`` and ``manual_comment`` but marks every hand-graded cell
  "needs manual grade" again; an unchanged answer is marked done again, a changed one stays
  marked (and is reported).
- :func:`backup` writes hand grades to a JSON file before anything removes a submission from
  the gradebook, so even that explicit step loses nothing.
- :func:`add_model_answers` puts the model answer and rubric from ``solutions/`` beside each
  hand-graded answer in the *autograded* notebook, which is what nbgrader's formgrader shows;
  the cells are tagged :data:`MODEL_ANSWER_TAG` and the feedback preprocessor
  :class:`grader.reporting.feedback.StripModelAnswers` removes them, so students never see them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat

from grader.books import hand_policy as hg
from grader.course import notebooks as nbs

MODEL_ANSWER_TAG = "grader-model-answer"


def is_hand_graded(cell) -> bool:
    """A cell a person grades: a graded answer cell (written or code) or a task."""
    meta = nbs.nbgrader_meta(cell)
    return bool((meta.get("grade") and meta.get("solution")) or meta.get("task"))


def answers_in(nb) -> dict[str, str]:
    """``grade_id -> text`` of a notebook's answer cells, plus ``"*"``: all of them together
    (what an automatic test's score depends on)."""
    answers = {nbs.grade_id(c): c.source for c in nb.cells if nbs.is_solution(c)}
    answers["*"] = "\n\n".join(answers[k] for k in sorted(answers))
    return answers


def _answer_for(cell_answers: dict[str, str], grade_id: str) -> str:
    return cell_answers.get(grade_id, cell_answers.get("*", ""))


def snapshot(gb, autograded_dir: Path, student: str, assignment: str) -> list[hg.HandGrade]:
    """The hand grades of one submission, each with the answer it was given for."""
    from nbgrader.api import MissingEntry

    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        return []
    found = []
    for notebook in submission.notebooks:
        path = Path(autograded_dir) / student / assignment / f"{notebook.name}.ipynb"
        answers = answers_in(nbs.read(path)) if path.exists() else {}
        comments = {c.name: c.manual_comment or "" for c in notebook.comments}
        names = {g.name for g in notebook.grades} | {n for n, text in comments.items() if text}
        grades = {g.name: g for g in notebook.grades}
        for name in sorted(names):
            grade = grades.get(name)
            found.append(
                hg.HandGrade(
                    notebook.name,
                    name,
                    _answer_for(answers, name),
                    grade.manual_score if grade is not None else None,
                    comments.get(name, ""),
                    grade.extra_credit if grade is not None else None,
                    bool(grade.needs_manual_grade) if grade is not None else False,
                )
            )
    return [g for g in found if g.given]


def restore(
    gb, autograded_dir: Path, student: str, assignment: str, old: list[hg.HandGrade]
) -> hg.RegradePlan:
    """After a regrade: keep what is unchanged, flag what changed (returns the plan)."""
    from nbgrader.api import MissingEntry

    new_answers: dict[tuple[str, str], str] = {}
    notebooks = {g.notebook for g in old}
    for name in notebooks:
        path = Path(autograded_dir) / student / assignment / f"{name}.ipynb"
        if not path.exists():
            continue
        answers = answers_in(nbs.read(path))
        for g in old:
            if g.notebook == name:
                new_answers[g.key] = _answer_for(answers, g.grade_id)
    plan = hg.plan_regrade(old, new_answers)
    for g in plan.restore():
        try:
            grade = gb.find_grade(g.grade_id, g.notebook, assignment, student)
        except MissingEntry:
            grade = None
        if grade is not None:
            grade.manual_score = g.manual_score
            grade.extra_credit = g.extra_credit
            if g in plan.keep:  # unchanged answer: as it was (done, if it has a score)
                unscored = grade.manual_score is None and grade.auto_score is None
                grade.needs_manual_grade = g.pending or unscored
            else:  # changed answer: a person must look again
                grade.needs_manual_grade = True
        if g.comment:
            try:
                comment = gb.find_comment(g.grade_id, g.notebook, assignment, student)
                comment.manual_comment = g.comment
            except MissingEntry:
                pass
    gb.db.commit()
    return plan


def backup(folder: Path, student: str, assignment: str, grades: list[hg.HandGrade]) -> Path | None:
    """Save hand grades before a submission is removed from the gradebook (None: none)."""
    if not grades:
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{student}-{assignment}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(
        json.dumps([g.__dict__ for g in grades], indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return path


def _without_markers(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not nbs.MARKER_RE.search(line)).strip()


def add_model_answers(nb, source_nb) -> int:
    """Insert the model answer and rubric after each hand-graded cell of ``nb`` (in place);
    returns how many were added. Existing model-answer cells are replaced, not repeated."""
    source = {nbs.grade_id(c): c for c in source_nb.cells if nbs.grade_id(c)}
    cells, added = [], 0
    for cell in nb.cells:
        if MODEL_ANSWER_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        cells.append(cell)
        gid = nbs.grade_id(cell)
        model = source.get(gid)
        if model is None or not is_hand_graded(model):
            continue
        points = nbs.nbgrader_meta(model).get("points", 0)
        fence = "```python\n{}\n```" if model.cell_type == "code" else "{}"
        text = (
            f"**For graders only — model answer and rubric for `{gid}` ({points:g} points).** "
            "Not shown to students (removed from feedback).\n\n"
            + fence.format(_without_markers(model.source))
        )
        note = nbformat.v4.new_markdown_cell(text)
        note.metadata["tags"] = [MODEL_ANSWER_TAG]
        note.metadata["deletable"] = False
        note.metadata["editable"] = False
        cells.append(note)
        added += 1
    nb.cells = cells
    return added


def formgrader_command(root: Path, port: int, lab_args: list[str] | None = None):
    """JupyterLab in instructor mode on the course root, opening nbgrader's formgrader.

    Not the student mode of ``make lab`` (which switches the formgrader off): the default
    Jupyter configuration, served from the course root so that the formgrader finds
    ``nbgrader_config.py`` and the gradebook.
    """
    jupyter = str(Path(sys.executable).parent / "jupyter")
    command = [
        jupyter,
        "lab",
        f"--ServerApp.root_dir={Path(root).resolve()}",
        "--LabApp.default_url=/formgrader",
        f"--port={port}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    return command + list(lab_args or [])


def formgrader_env() -> dict[str, str]:
    """The environment for the formgrader: the course's tools on PATH, no student-mode config."""
    env = dict(os.environ)
    env.pop("JUPYTER_CONFIG_PATH", None)  # `make lab`'s student mode hides the formgrader
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def mark_manual_cells(gb, assignment: str, student: str, cells) -> int:
    """Give the hand-graded cells of a result their state in the gradebook: the score a
    person gave ("graded by hand"), or "pending hand grading". Returns how many are pending."""
    from nbgrader.api import MissingEntry

    pending = 0
    for cell in cells:
        if cell.status not in ("manual", "pending"):
            continue
        try:
            grade = gb.find_grade(cell.grade_id, cell.notebook, assignment, student)
        except MissingEntry:
            continue
        if grade.needs_manual_grade:
            cell.status, cell.final, cell.reason = "pending", None, "pending hand grading"
            pending += 1
        else:
            cell.status, cell.final = "manual", float(grade.score or 0.0)
            by = "graded by hand" if grade.manual_score is not None else "unanswered (scored 0)"
            cell.reason = by
    return pending
