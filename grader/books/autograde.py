"""nbgrader's autograde, with the re-grade's verdicts in place of a kernel.

Grading runs each notebook once: the re-grade (:mod:`grader.verdicts.runner`) runs the student's
definitions in the sandbox and every test cell in the trusted grader, which decides pass or
fail. nbgrader then only keeps the books (gradebook, autograded copies, feedback, hand
grading): :class:`RecordVerdicts` stands where nbgrader's ``Execute`` preprocessor would run
the notebook in a kernel, and gives each autograded test cell the outputs of its verdict, what
the test printed and, when it failed, an error with the failing check's message. nbgrader's
own scoring (an error output scores 0, anything else full points) then records exactly the
re-grade's verdicts, so gradebook, report and feedback agree by construction.

The student's own cells keep no outputs (nbgrader clears them, and nothing runs them here):
the autograded notebook holds their code and the verdict of every test.
"""

from __future__ import annotations

import re

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict

from grader.course import notebooks as nbs
from grader.course.nbgrader_api import Course

_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*): ")


def verdict_outputs(verdict: dict | None, problem: str | None = None) -> list:
    """A test cell's outputs: what the test printed, then an error if it did not pass.
    ``problem`` (or a missing or malformed verdict) fails the cell with that reason."""
    well_formed = isinstance(verdict, dict) and type(verdict.get("passed")) is bool
    if problem is None and not well_formed:
        problem = "no verdict from the re-grade"
    outputs = []
    printed = verdict.get("output") if isinstance(verdict, dict) else None
    if isinstance(printed, str) and printed:
        outputs.append(new_output("stream", name="stdout", text=printed))
    if problem is None and verdict["passed"]:
        return outputs
    message = problem or str(verdict.get("error") or "failed")
    found = _NAME.match(message)
    ename, evalue = (found.group(1), message[found.end() :]) if found else ("TestFailed", message)
    outputs.append(
        new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
    )
    return outputs


class RecordVerdicts(NbGraderPreprocessor):
    """Put the re-grade's verdicts into the notebook nbgrader is autograding."""

    verdicts = Dict({}, help="notebook name -> the re-grade's result for it ({tests, error})").tag(
        config=True
    )

    def preprocess(self, nb, resources):
        name = resources.get("nbgrader", {}).get("notebook", "")
        result = self.verdicts.get(name)
        problem = None
        if not isinstance(result, dict):
            problem = "this notebook was not re-graded"
        elif result.get("error"):
            problem = f"not graded: {result['error']}"
        tests = result.get("tests", []) if isinstance(result, dict) else []
        by_id = {t.get("grade_id"): t for t in tests if isinstance(t, dict)}
        for cell in nb.cells:
            if nbs.is_autograded_test(cell):
                cell.outputs = verdict_outputs(by_id.get(nbs.grade_id(cell)), problem)
        return nb, resources


def autograde(course: Course, assignment: str, student: str, verdicts: dict) -> dict:
    """nbgrader's autograde of one submission, recording the re-grade's ``verdicts``
    (notebook name -> result) with :class:`RecordVerdicts` instead of running a kernel."""
    from nbgrader.converters import Autograde

    defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    steps = [RecordVerdicts if p.__name__ == "Execute" else p for p in defaults]
    extra = {
        "Autograde": {"autograde_preprocessors": steps},
        "RecordVerdicts": {"verdicts": verdicts},
    }
    return course.run(
        Autograde,
        extra,
        assignment_id=assignment,
        student_id=student,
        force=True,
        create_student=True,
    )
