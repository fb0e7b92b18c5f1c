"""Feedback that returns nothing secret: an nbconvert preprocessor and the feedback command.

nbgrader's feedback shows the autograded notebook, which has the hidden tests put back. The
course config (``nbgrader_config.py``) removes them with ``ClearHiddenTests`` and
``ClearMarkScheme``, but the traceback of a failed hidden test still prints the failing hidden
lines. :class:`StripGradeCellTracebacks` reduces every error in a test cell to
``ErrorName: message``, so only the check's own message (written to reveal no hidden value)
reaches the student.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from grader import notebooks as nbs


class StripGradeCellTracebacks(Preprocessor):
    """In every nbgrader test cell, reduce each error to one ``ename: evalue`` line and replace
    stderr output by a placeholder."""

    enabled = Bool(True, help="Strip tracebacks from test cells").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and nbs.is_grade(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [
                        f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                    ]
                elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["text"] = "(error output hidden in feedback)\n"
        return cell, resources


def generate(root: Path, assignments: list[str] | None = None) -> list[str]:
    """Generate feedback for every autograded submission; return problems (failures and
    leaks of hidden tests or mark schemes)."""
    from grader import pipeline
    from grader.nbgrader_api import Course

    course = Course(root)
    problems = []
    sources = pipeline.source_notebooks(root)
    autograded = course.path("autograded")
    for assignment in assignments or sorted(sources):
        if not any(autograded.glob(f"*/{assignment}")):
            continue
        result = course.generate_feedback(assignment)
        if not result["success"]:
            problems.append(f"{assignment}: generate_feedback failed: {result['error']}")
    problems += pipeline.leaks(root, course.path("feedback"), kinds={"hidden test", "mark scheme"})
    return sorted(set(problems))
