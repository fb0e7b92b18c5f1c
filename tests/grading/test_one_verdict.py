"""One verdict: a notebook graded with the README's command gets, test cell by test cell, the
verdict the student's own check (``python -m grader.validate``, the Validate button) gave.

A bank of submissions of the real course, written in the styles students use (tables of
activations, lambdas, computed constants, classes, helper cells, decorators, magics, global
counters, imports inside functions, slow top-level code) and a few wrong ones (a transposed
weight, a syntax error, a failing top-level line, a clip returning the caller's arrays), is
graded with ``python -m grader grade`` in a copy of the course; every correct one must score
full marks, and for every submission the grader's pass/fail per test cell must equal the
check's, with the check's message in the grader's report.
"""

from __future__ import annotations

import copy
import csv
import os
import subprocess
import sys

import fixture_course as fc
import nbformat
import pytest

from grader import ROOT, validate
from grader.course import notebooks as nbs
from grader.course import release as pipeline

pytestmark = [pytest.mark.slow, fc.needs_sandbox]

RNN = "02_rnn_forward"
CLIP = "05_vanishing_gradients"
CELL_TIMEOUT = 4.0

# The activation chosen from a table: the example, which used to score 0 of 13.
TABLE_CELL = """ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}

def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    p = parameters
    z = p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"]
    a_next = ACTIVATIONS[activation](z)
    yt_pred = softmax(p["Wya"] @ a_next + p["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, parameters, activation)
"""

LAMBDA_CELL = """tanh, relu = np.tanh, lambda z: np.maximum(z, 0.0)
ZERO = np.zeros(1)[0]  # a constant computed with NumPy

def _pre(p, xt, a_prev, floor=np.float64(0.0)):
    return np.dot(p["Waa"], a_prev) + np.dot(p["Wax"], xt) + p["ba"] + floor

def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    g = {"tanh": tanh, "relu": relu}[activation]
    a_next = g(_pre(parameters, xt, a_prev)) + ZERO
    yt_pred = softmax(np.dot(parameters["Wya"], a_next) + parameters["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, parameters, activation)
"""

LOOP_TABLE_CELL = """ACT = {}
for _name, _f in [("tanh", np.tanh), ("relu", lambda z: np.maximum(z, 0))]:
    ACT[_name] = _f

def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    z = parameters["Waa"] @ a_prev + parameters["Wax"] @ xt + parameters["ba"]
    a_next = ACT[activation](z)
    return a_next, softmax(parameters["Wya"] @ a_next + parameters["by"]), (
        a_next, a_prev, xt, parameters, activation)
"""

CLASS_CELL = """class Cell:
    acts = dict(tanh=np.tanh, relu=lambda z: np.maximum(z, 0))
    one = float(np.sqrt(1.0))  # a computed class attribute

    def __init__(self, parameters):
        self.p = parameters

    def step(self, xt, a_prev, activation):
        z = self.p["Waa"] @ a_prev + self.p["Wax"] @ xt + self.p["ba"]
        return self.acts[activation](z) * self.one

def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    a_next = Cell(parameters).step(xt, a_prev, activation)
    yt_pred = softmax(parameters["Wya"] @ a_next + parameters["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, parameters, activation)
"""

HELPER_CELL = """%matplotlib inline
import functools

@functools.lru_cache(maxsize=None)
def activation_of(name):
    return {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[name]

def pre_activation(parameters, xt, a_prev):
    return parameters["Waa"] @ a_prev + parameters["Wax"] @ xt + parameters["ba"]

print("helpers ready")
"""

USES_HELPERS_CELL = """def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    a_next = activation_of(activation)(pre_activation(parameters, xt, a_prev))
    yt_pred = softmax(parameters["Wya"] @ a_next + parameters["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, parameters, activation)
"""

COUNTER_CELL = """CALLS = 0

def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    global CALLS
    import numpy
    CALLS += 1
    z = numpy.matmul(parameters["Waa"], a_prev) + parameters["Wax"] @ xt + parameters["ba"]
    a_next = numpy.tanh(z) if activation == "tanh" else numpy.maximum(z, 0)
    return a_next, softmax(parameters["Wya"] @ a_next + parameters["by"]), (
        a_next, a_prev, xt, parameters, activation)
"""

DECORATED_FORWARD = """import functools

def checked(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)
    return wrapper

@checked
def rnn_forward(x, a0, parameters, activation="tanh"):
    n_a, n_y = parameters["Waa"].shape[0], parameters["Wya"].shape[0]
    a_t, states, outputs, cells = a0, [], [], []
    for t in range(x.shape[2]):
        a_t, y_t, c = rnn_cell_forward(x[:, :, t], a_t, parameters, activation)
        states.append(a_t); outputs.append(y_t); cells.append(c)
    return np.stack(states, axis=2), np.stack(outputs, axis=2), (cells, x)
"""

SLOW_TOP_LEVEL = """def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    z = parameters["Waa"] @ a_prev + parameters["Wax"] @ xt + parameters["ba"]
    a_next = np.tanh(z) if activation == "tanh" else np.maximum(z, 0)
    return a_next, softmax(parameters["Wya"] @ a_next + parameters["by"]), (
        a_next, a_prev, xt, parameters, activation)

while True:  # an experiment left running at the top of the cell
    pass
"""

TRANSPOSED = TABLE_CELL.replace('p["Waa"] @ a_prev', 'p["Waa"].T @ a_prev')
SYNTAX_ERROR = "def rnn_forward(x, a0, parameters, activation='tanh'):\n    return (x,\n"
FAILING_TOP_LINE = "undefined_helper()\n" + TABLE_CELL
CALLER_ARRAYS = """def clip_by_global_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    if total <= max_norm:
        return dict(grads), total  # the caller's own arrays
    return {k: g * (max_norm / total) for k, g in grads.items()}, total
"""

# student -> (assignment, {answer cell: code}, [(before grade id, added code cell)], expected)
# expected: None for full marks, else {test cell: words of its message} for the cells the
# mistake fails first (later exercises that use the wrong function fail too, as in the kernel)
BANK = {
    "table": (RNN, {"rnn_cell_forward": TABLE_CELL}, [], None),
    "lambdas_and_constants": (RNN, {"rnn_cell_forward": LAMBDA_CELL}, [], None),
    "table_filled_in_a_loop": (RNN, {"rnn_cell_forward": LOOP_TABLE_CELL}, [], None),
    "class_with_computed_attribute": (RNN, {"rnn_cell_forward": CLASS_CELL}, [], None),
    "helper_cell_added": (
        RNN,
        {"rnn_cell_forward": USES_HELPERS_CELL},
        [("rnn_cell_forward", HELPER_CELL)],
        None,
    ),
    "global_counter_import_inside": (RNN, {"rnn_cell_forward": COUNTER_CELL}, [], None),
    "functools_decorators": (
        RNN,
        {"rnn_cell_forward": TABLE_CELL, "rnn_forward": DECORATED_FORWARD},
        [],
        None,
    ),
    "slow_top_level_code": (RNN, {"rnn_cell_forward": SLOW_TOP_LEVEL}, [], None),
    "wrong_transposed_weight": (
        RNN,
        {"rnn_cell_forward": TRANSPOSED},
        [],
        {"test_rnn_cell_forward": "a_next from rnn_cell_forward"},
    ),
    "wrong_syntax_error": (
        RNN,
        {"rnn_forward": SYNTAX_ERROR},
        [],
        {"test_rnn_forward": "your cell rnn_forward raised an error when grading, line 2"},
    ),
    "wrong_failing_top_line": (
        RNN,
        {"rnn_cell_forward": FAILING_TOP_LINE},
        [],
        {"test_rnn_cell_forward": "line 1: NameError: name 'undefined_helper' is not defined"},
    ),
    "wrong_returns_caller_arrays": (
        CLIP,
        {"clip_by_global_norm": CALLER_ARRAYS},
        [],
        {"test_clip_by_global_norm": "is the caller's array"},
    ),
}


def _notebook(source_nb, release_nb, answers: dict, added: list) -> nbformat.NotebookNode:
    nb = pipeline.solved_copy(source_nb, release_nb)
    for cell in nb.cells:
        if nbs.grade_id(cell) in answers:
            cell.source = answers[nbs.grade_id(cell)]
    for before, code in added:
        index = next(i for i, c in enumerate(nb.cells) if nbs.grade_id(c) == before)
        cell = nbformat.v4.new_code_cell(code)
        cell["id"] = f"added-{index}"
        nb.cells.insert(index, cell)
    return copy.deepcopy(nb)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """The bank graded with ``python -m grader grade``, and checked with grader.validate."""
    tmp = tmp_path_factory.mktemp("one-verdict")
    course = pipeline.copy_course(ROOT, tmp / "course")
    assert not pipeline.generate(course, pipeline.release_dir(course), db=False)
    submissions, checks = tmp / "submitted", {}
    for student, (assignment, answers, added, _expected) in BANK.items():
        (path,) = pipeline.source_notebooks(course)[assignment]
        release = pipeline.release_dir(course) / assignment / path.name
        nb = _notebook(nbs.read(path), nbs.read(release), answers, added)
        out = submissions / student / assignment / path.name
        out.parent.mkdir(parents=True)
        out.write_text(nbs.dumps(nb), encoding="utf-8")
        checks[student] = {
            "solutions": validate.check(out, source=path, timeout=CELL_TIMEOUT),
            "release": validate.check(out, source=release, timeout=CELL_TIMEOUT),
        }
    env = {**os.environ, "NBGRADER_DB_URL": f"sqlite:///{course / 'grader' / 'gradebook.db'}"}
    command = [sys.executable, "-m", "grader", "--root", str(course), "grade", str(submissions)]
    command += ["--cell-timeout", str(CELL_TIMEOUT)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(course / "grader" / "reports" / "report.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["cell"].startswith("test_")]
    graded: dict = {}
    for row in rows:
        passed = float(row["score"] or 0) == float(row["max_score"])
        graded.setdefault(row["student"], {})[row["cell"]] = (passed, row["reason"])
    return {"checks": checks, "graded": graded}


@pytest.mark.parametrize("student", sorted(BANK))
def test_the_grader_gives_the_verdict_the_check_gave(bank, student):
    expected = BANK[student][3]
    graded = bank["graded"][student]
    for where, check in bank["checks"][student].items():
        assert check["error"] is None, (where, check["error"])
        said = {t["grade_id"]: (t["passed"], t["error"] or "") for t in check["tests"]}
        assert {k: v[0] for k, v in said.items()} == {
            k: v[0] for k, v in graded.items() if k in said
        }, (where, said, graded)
        for cell, (passed, message) in said.items():
            if not passed:  # the same message, in the instructor's report too
                assert message[:200] in graded[cell][1], (where, cell, message, graded[cell])
    if expected is None:
        assert all(passed for passed, _ in graded.values()), graded
    else:
        failing = {cell for cell, (passed, _) in graded.items() if not passed}
        assert set(expected) <= failing, graded
        for cell, words in expected.items():
            assert words in graded[cell][1], graded[cell]


def test_a_slow_cell_is_named_and_keeps_its_definitions(bank):
    check = bank["checks"]["slow_top_level_code"]["release"]
    assert any(
        "your cell rnn_cell_forward ran for more than 4 s when grading" in n
        and "kept only its definitions" in n
        for n in check["notes"]
    ), check["notes"]


def test_the_bank_has_every_style():
    assert len(BANK) >= 12
    assert sum(expected is None for *_rest, expected in BANK.values()) >= 8
