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


class StripGradeCellTracebacks(Preprocessor):
    """Replace the traceback of every error output in an nbgrader test cell by one line."""

    enabled = Bool(True, help="Strip tracebacks from test cells").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
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
    from grader import notebooks as nbs
    from grader import pipeline
    from grader.nbg import Course

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
    feedback = course.path("feedback")
    source_nbs = [nbs.read(p) for paths in sources.values() for p in paths]
    for path in sorted(feedback.rglob("*.html")) if feedback.exists() else []:
        for source in source_nbs:
            problems += nbs.leaks_in_file(path, source, kinds={"hidden test", "mark scheme"})
    return sorted(set(problems))
