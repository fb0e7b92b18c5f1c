"""A small stand-in course for testing the grading machinery: one assignment, ``00_fixture``,
with three autograded exercises (sigmoid has a reference in ``utils`` that it must not call;
relu's test deliberately skips ``guarded_call``; sigmoid's prints a line when it passes), a
written answer and a task with a mark scheme. Built from Python so no fixture notebook sits in
the repository.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
import pytest

from grader.verdicts import sandbox

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "00_fixture"
NOTEBOOK = "fixture"

# Grading needs bubblewrap; without it every test that grades skips with the reason (and CI,
# which sets SEQ_REQUIRE_SANDBOX, fails instead).
SANDBOX_REASON = sandbox.probe()
if SANDBOX_REASON and os.environ.get("SEQ_REQUIRE_SANDBOX"):
    raise RuntimeError(f"SEQ_REQUIRE_SANDBOX is set but {SANDBOX_REASON}")
needs_sandbox = pytest.mark.skipif(
    SANDBOX_REASON is not None, reason=f"grading needs the sandbox: {SANDBOX_REASON}"
)

IMPORTS = "import numpy as np\nfrom utils import activations, checks"

SIGMOID_SOLUTION = '''def sigmoid(z):
    """The logistic function, element-wise."""
    ### BEGIN SOLUTION
    z_array = np.asarray(z, dtype=float)
    return 1.0 / (1.0 + np.exp(-z_array))
    ### END SOLUTION'''

SIGMOID_TEST = '''"""sigmoid is 1 / (1 + exp(-z)) and does not call utils.activations.sigmoid."""
z = np.linspace(-3.0, 3.0, 7)
got = checks.guarded_call(sigmoid, z, forbid=[activations.sigmoid])
checks.check_close("sigmoid(z)", got, 1.0 / (1.0 + np.exp(-z)))
### BEGIN HIDDEN TESTS
hidden_rng = np.random.default_rng(11)
z_hidden = hidden_rng.normal(size=(3, 4)) * 4
got_hidden = checks.guarded_call(sigmoid, z_hidden, forbid=[activations.sigmoid])
checks.check_close("sigmoid on another input", got_hidden, 1.0 / (1.0 + np.exp(-z_hidden)))
### END HIDDEN TESTS
print("sigmoid: all checks passed")'''

COUNT_SOLUTION = '''def count_tokens(tokens):
    """How often each token occurs, as a dict."""
    ### BEGIN SOLUTION
    counts = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    return counts
    ### END SOLUTION'''

COUNT_TEST = '''"""count_tokens counts every token."""
got = checks.guarded_call(count_tokens, ["a", "b", "a"])
checks.check_equal("count_tokens(['a', 'b', 'a'])", got, {"a": 2, "b": 1})
### BEGIN HIDDEN TESTS
got_hidden = checks.guarded_call(count_tokens, ["x", "y", "y", "z", "y"])
checks.check_equal("count_tokens on another list", got_hidden, {"x": 1, "y": 3, "z": 1})
### END HIDDEN TESTS'''

RELU_SOLUTION = '''def relu(z):
    """max(z, 0), element-wise."""
    ### BEGIN SOLUTION
    return np.maximum(z, 0.0)
    ### END SOLUTION'''

# Deliberately without guarded_call: the grader's own integrity check must still catch
# tampering done while relu runs.
RELU_TEST = '''"""relu keeps positive entries and zeroes the others."""
z = np.array([-2.0, -0.5, 0.0, 1.5])
got = relu(z)
assert np.allclose(got, [0.0, 0.0, 0.0, 1.5]), "relu is wrong"
### BEGIN HIDDEN TESTS
got_hidden = relu(np.array([[3.0, -1.0]]))
assert np.allclose(got_hidden, [[3.0, 0.0]]), "relu is wrong on a 2-D input"
### END HIDDEN TESTS'''

ANSWER = "Saturation: for large |z| the gradient vanishes.\n"
TASK = """Explain where sigmoid saturates.
=== BEGIN MARK SCHEME ===
Full marks for naming saturation beyond four in absolute value.
=== END MARK SCHEME ==="""


def _meta(gid, *, grade=False, solution=False, locked=False, task=False, points=None):
    meta = {
        "grade": grade,
        "grade_id": gid,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": task,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook() -> nbformat.NotebookNode:
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell("# Fixture assignment\n\nThree small exercises."),
        v4.new_code_cell(IMPORTS, metadata=_meta("imports", locked=True)),
        v4.new_markdown_cell("## Exercise 1 — sigmoid (2 points)"),
        v4.new_code_cell(SIGMOID_SOLUTION, metadata=_meta("sigmoid", solution=True)),
        v4.new_code_cell(
            SIGMOID_TEST, metadata=_meta("test_sigmoid", grade=True, locked=True, points=2)
        ),
        v4.new_markdown_cell("## Exercise 2 — count_tokens (3 points)"),
        v4.new_code_cell(COUNT_SOLUTION, metadata=_meta("count_tokens", solution=True)),
        v4.new_code_cell(
            COUNT_TEST, metadata=_meta("test_count_tokens", grade=True, locked=True, points=3)
        ),
        v4.new_markdown_cell("## Exercise 3 — relu (2 points)"),
        v4.new_code_cell(RELU_SOLUTION, metadata=_meta("relu", solution=True)),
        v4.new_code_cell(RELU_TEST, metadata=_meta("test_relu", grade=True, locked=True, points=2)),
        v4.new_markdown_cell(
            ANSWER, metadata=_meta("explain", grade=True, solution=True, points=1)
        ),
        v4.new_markdown_cell(
            TASK, metadata=_meta("task_saturation", task=True, locked=True, points=1)
        ),
        v4.new_code_cell("print(sigmoid(0.0), count_tokens(['a']), relu(-1.0))"),
    ]
    for index, cell in enumerate(cells):
        cell["id"] = f"fixture-{index:02d}"
    nb = v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        },
        "language_info": {"name": "python"},
    }
    return nb


def make_course(target: Path, cell_timeout: int = 5) -> Path:
    """A course at ``target`` with the repo's nbgrader config and the fixture assignment
    (sources only; call ``grader.course.release.release`` to generate the release)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    config = (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
    config += f"\nc.Execute.timeout = {cell_timeout}  # fixture course: fail fast\n"
    (target / "nbgrader_config.py").write_text(config, encoding="utf-8")
    folder = target / "solutions" / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(source_notebook()) + "\n"
    (folder / f"{NOTEBOOK}.ipynb").write_text(text, encoding="utf-8")
    (target / "notebooks").mkdir(exist_ok=True)
    (target / "grader").mkdir(exist_ok=True)
    return target


def replace_solutions(release_nb, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of the release with the given solution cells' sources replaced."""
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def release_path(course: Path) -> Path:
    """The released fixture notebook of ``course``."""
    return course / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
