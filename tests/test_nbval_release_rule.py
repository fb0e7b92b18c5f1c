"""The nbval rule for released notebooks (conftest.py) lets an unfinished graded cell raise
NotImplementedError and fails every other error."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def _notebook(cells):
    nb = nbformat.v4.new_notebook()
    for i, (source, nbgrader) in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source, id=f"c{i}")
        if nbgrader:
            cell.metadata["nbgrader"] = {
                "grade": nbgrader == "test",
                "solution": nbgrader == "solution",
                "locked": nbgrader == "test",
                "grade_id": f"g{i}",
                "schema_version": 3,
                **({"points": 1} if nbgrader == "test" else {}),
            }
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def test_release_rule(tmp_path):
    release = tmp_path / "notebooks" / "99_demo"
    release.mkdir(parents=True)
    cells = [
        ("x = 1", None),
        ("def f():\n    raise NotImplementedError()", "solution"),
        ("f()", "test"),  # allowed: the unfinished exercise
        ("raise ValueError('broken test')", "test"),  # not allowed: another error
        ("raise NotImplementedError", None),  # not allowed: an ordinary cell
    ]
    nbformat.write(_notebook(cells), release / "demo.ipynb")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "conftest",
            "--nbval",
            "--nbval-current-env",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            str(release),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outcome = dict(
        (cell, status)
        for status, cell in re.findall(r"^(PASSED|FAILED) \S+::(Cell \d+)", result.stdout, re.M)
    )
    assert outcome == {
        "Cell 0": "PASSED",
        "Cell 1": "PASSED",
        "Cell 2": "PASSED",
        "Cell 3": "FAILED",
        "Cell 4": "FAILED",
    }, result.stdout[-3000:]
