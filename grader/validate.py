"""The grader's verdict before submitting: ``python -m grader.validate NOTEBOOK [...]``.

This is the check behind the Validate button of the student-mode JupyterLab, and the same
check from a terminal. It grades a notebook exactly as ``python -m grader grade`` does
(:func:`grader.verdicts.runner.grade_notebook`: the same plan, the same run of the student's cells,
the same test code, the same messages), with the tests the student can see:

- the test cells come from the *released* notebook (``.course/release/`` in the student
  bundle) or, in the course repository, from ``solutions/`` (then hidden tests run too), so an
  edited or deleted test cell changes nothing, as at grading; found by the notebook's folder
  (``NN_slug``) and file name, or given with ``--source``;
- the student's cells run in the bubblewrap sandbox where it works (Linux with ``bwrap``),
  otherwise unsandboxed (macOS, Windows, or ``--no-sandbox``): it is the student's own code.

Messages are printed in full (nbgrader's own validator cuts lines at 90 characters). The
exit status is 0 when every test passes, 1 when one fails, 2 when the notebook cannot be
checked. ``--json`` prints the result as JSON (what the Validate button shows).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from grader.course import notebooks as nbs
from grader.verdicts import runner
from grader.verdicts.sandbox import STUDENT_SIDE_MODULES, Sandbox, probe

RELEASE_COPY = Path(".course") / "release"  # in the student bundle: the notebooks as released
UNANSWERED = "YOUR ANSWER HERE"


def find_source(notebook: Path) -> Path | None:
    """The notebook the tests come from: ``solutions/`` (course repository) or the bundle's
    release copy, in the nearest folder above ``notebook`` that has one."""
    notebook = notebook.resolve()
    for root in notebook.parents:
        for base in (root / "solutions", root / RELEASE_COPY):
            candidate = base / notebook.parent.name / notebook.name
            if candidate.is_file() and candidate.resolve() != notebook:
                return candidate
    return None


def _stage_lib(folder: Path) -> Path:
    """What the student's side imports (the course package, three grader modules), copied:
    the sandbox mounts it read-only and never sees the rest of the folder it came from."""
    import utils

    lib = folder / "lib"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(Path(utils.__file__).parent, lib / "utils", ignore=ignore)
    for name in STUDENT_SIDE_MODULES:
        (lib / "grader" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(__file__).parent / name, lib / "grader" / name)
    return lib


def unanswered(student_nb) -> list[str]:
    """Written answers (hand-graded markdown cells) still holding the placeholder."""
    return [
        nbs.grade_id(cell)
        for cell in student_nb.cells
        if cell.cell_type == "markdown"
        and nbs.is_solution(cell)
        and (UNANSWERED in cell.source or not cell.source.strip())
    ]


def check(
    notebook: Path,
    source: Path | None = None,
    sandboxed: bool | None = None,
    timeout: float = 20.0,
    memory_mb: int = 4096,
) -> dict:
    """``{"notebook", "source", "sandboxed", "tests": [{grade_id, passed, error, ...}],
    "notes", "unanswered", "error"}``: the grader's verdict on ``notebook``."""
    source = source or find_source(notebook)
    result = {"notebook": str(notebook), "source": str(source) if source else None}
    result.update(tests=[], notes=[], unanswered=[], error=None)
    if sandboxed is None:
        sandboxed = probe() is None
    result["sandboxed"] = sandboxed
    try:
        student_nb = nbs.read(notebook)
    except Exception as error:
        result["error"] = f"cannot read {notebook}: {error}"
        return result
    if source is None:
        result["error"] = (
            f"cannot find the released copy of {notebook.parent.name}/{notebook.name} (keep "
            "the notebook in its folder of the course, or give it with --source)"
        )
        return result
    source_nb = nbformat.read(source, as_version=nbs.NB_VERSION)
    result["unanswered"] = unanswered(student_nb)
    with tempfile.TemporaryDirectory(prefix="seq-validate-") as tmp:
        sandbox = Sandbox(lib=_stage_lib(Path(tmp)), enabled=sandboxed)
        session = runner.student_session(sandbox, memory_mb)
        try:
            graded = runner.grade_notebook(source_nb, student_nb, session, timeout)
        finally:
            session.close()
    result.update(tests=graded["tests"], notes=graded["notes"], error=graded["error"])
    return result


def render(result: dict) -> str:
    """The verdict as text, one block per test cell, messages never cut."""
    lines = []
    where = "in the sandbox" if result["sandboxed"] else "without a sandbox"
    lines.append(f"{result['notebook']}: the grader's check ({where})")
    if result["error"]:
        return "\n".join([*lines, f"NOT CHECKED: {result['error']}"])
    for test in result["tests"]:
        if test["passed"]:
            lines.append(f"  PASS  {test['grade_id']}")
        else:
            lines.append(f"  FAIL  {test['grade_id']}: {test['error']}")
    for note in result["notes"]:
        lines.append(f"  NOTE  {note}")
    for gid in result["unanswered"]:
        lines.append(f"  TO DO {gid}: a written answer, graded by hand, is still empty")
    passed = sum(t["passed"] for t in result["tests"])
    lines.append(f"{passed} of {len(result['tests'])} test cells pass")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.validate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("notebooks", nargs="+", type=Path, help="the notebooks to check")
    parser.add_argument("--source", type=Path, help="the released notebook with the tests")
    parser.add_argument("--no-sandbox", action="store_true", help="do not use bubblewrap")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per cell")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    status = 0
    for notebook in args.notebooks:
        result = check(notebook, args.source, False if args.no_sandbox else None, args.timeout)
        print(json.dumps(result) if args.json else render(result))
        if result["error"]:
            status = 2
        elif not all(t["passed"] for t in result["tests"]) and status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
