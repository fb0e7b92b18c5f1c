"""Feedback that returns nothing secret: an nbconvert preprocessor and the feedback command.

nbgrader's feedback shows the autograded notebook, which has the hidden tests put back. The
course config (``nbgrader_config.py``) removes them with ``ClearHiddenTests`` and
``ClearMarkScheme``, but the traceback of a failed hidden test still prints the failing hidden
lines. :class:`StripGradeCellTracebacks` reduces every error in a test cell to
``ErrorName: message`` (as plain text: :func:`grader.reporting.render.feedback`), so only the
check's own message (written to reveal no hidden value) reaches the student.
:class:`StripModelAnswers` removes the model answers and rubrics that
:func:`grader.books.hand_grades.add_model_answers` shows graders in the autograded notebooks.

:func:`generate` refuses while any answer is still to be graded by hand (feedback would show
"Score: 0.0" for it), unless ``force`` is given, and then says loudly what is ungraded.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from grader.books.gradebook import read_gradebook
from grader.books.hand_grades import MODEL_ANSWER_TAG
from grader.course import notebooks as nbs
from grader.course import release
from grader.course.layout import CourseLayout
from grader.course.nbgrader_api import Course
from grader.reporting import export
from grader.reporting.feedback_view import StudentView, notice_page, offline
from grader.reporting.render import feedback as feedback_text
from grader.verdicts.score_policy import NOT_ATTEMPTED, Status


class StripGradeCellTracebacks(Preprocessor):
    """In every nbgrader test cell, reduce each error to one ``ename: evalue`` line and replace
    stderr output by a placeholder."""

    enabled = Bool(True, help="Strip tracebacks from test cells").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and nbs.is_grade(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    # What the student's code raised can hold anything: it is shown as text
                    # (nbconvert escapes it for HTML), without control or ANSI sequences.
                    ename = feedback_text(output.get("ename", "Error"), 200)
                    evalue = feedback_text(output.get("evalue", ""))
                    if ename == "NotImplementedError" and not evalue.strip():
                        evalue = NOT_ATTEMPTED
                    output["ename"], output["evalue"] = ename, evalue
                    output["traceback"] = [f"{ename}: {evalue}"]
                elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["text"] = "(error output hidden in feedback)\n"
        return cell, resources


class StripModelAnswers(Preprocessor):
    """Remove the graders' model-answer cells (tagged ``grader-model-answer``)."""

    enabled = Bool(True, help="Remove model answers shown to graders").tag(config=True)

    def preprocess(self, nb, resources):
        nb.cells = [
            c for c in nb.cells if MODEL_ANSWER_TAG not in c.get("metadata", {}).get("tags", [])
        ]
        return nb, resources


def ungraded(db_url: str, assignments: list[str]) -> list[str]:
    """``"student assignment: notebook/cell, ..."`` for every submission with answers that
    still need grading by hand."""

    lines = []
    for (student, assignment), graded in sorted(read_gradebook(db_url, assignments).items()):
        if graded.pending:
            cells = ", ".join(f"{c.notebook}/{c.grade_id}" for c in graded.pending)
            lines.append(f"{student} {assignment}: {cells}")
    return lines


def generate(
    root: Path,
    assignments: list[str] | None = None,
    force: bool = False,
    warn=print,
) -> list[str]:
    """Generate feedback for every autograded submission; return problems (failures, leaks
    of hidden tests or mark schemes, and answers not yet graded by hand unless ``force``)."""

    course = Course(root)
    problems = []
    sources = release.source_notebooks(root)
    autograded = course.path("autograded")
    todo = [a for a in assignments or sorted(sources) if any(autograded.glob(f"*/{a}"))]
    pending = ungraded(course.db_url, todo)
    if pending and not force:
        return [f"not graded by hand yet: {line}" for line in pending] + [
            f"refusing to write feedback while {len(pending)} submission(s) have answers to "
            "grade by hand (python -m grader grade-by-hand); --force writes it anyway, showing "
            "those answers as 0"
        ]
    for line in pending:
        warn(f"WARNING: feedback shows 0 for answers not graded by hand yet: {line}")

    StudentView.summaries = summaries(root)
    for assignment in todo:
        result = course.generate_feedback(assignment)
        if not result["success"]:
            problems.append(f"{assignment}: generate_feedback failed: {result['error']}")
    feedback_dir = course.path("feedback")
    for page in feedback_dir.glob("*/*/*.html"):
        page.write_text(offline(page.read_text(encoding="utf-8")), encoding="utf-8")
    notices(root, feedback_dir, assignments)
    problems += release.leaks(root, feedback_dir, kinds={"hidden test", "mark scheme"})
    return sorted(set(problems))


def summaries(root: Path) -> dict:
    """``(student, assignment) -> what the top of the feedback says``: the final score after
    any late penalty, its reason, and whether answers are still to grade by hand (the rows of
    ``export``, so feedback and the LMS agree)."""

    out = {}
    for row in export.rows(root):
        out[(row.student, row.assignment)] = {
            "final": row.final if row.final is not None else row.score,
            "max": row.max_score,
            "score": row.score,
            "penalty": row.penalty,
            "late": row.late.reason,
            "pending": bool(row.pending),
        }
    return out


NOT_GRADED_PAGE = "NOT-GRADED.html"


def notices(root: Path, feedback_dir: Path, assignments: list[str] | None = None) -> list[Path]:
    """A page ``feedback/STUDENT/ASSIGNMENT/NOT-GRADED.html`` for every submission that could
    not be graded (from the class reports): why, and what to do."""

    layout = CourseLayout.of(root)
    written = []
    for (student, assignment), outcome in export.read_outcomes(
        layout.reports / "grades.csv"
    ).items():
        if outcome.status != Status.NOT_GRADED or (assignments and assignment not in assignments):
            continue
        names = ", ".join(p.name for p in nbs.notebook_files(layout.release / assignment))
        todo = (
            f"open your notebook ({names}) in JupyterLab, run Kernel > Restart Kernel and Run "
            "All Cells..., check that it saves without errors and keeps its name, and hand it "
            "in again; if the reason above is unclear, ask your instructor."
        )
        folder = feedback_dir / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        page = folder / NOT_GRADED_PAGE
        page.write_text(notice_page(student, assignment, outcome.reason, todo), encoding="utf-8")
        written.append(page)
    return written
