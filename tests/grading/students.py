"""The fixture class: one student per robustness case or attack, built from the release.

Each entry maps a student id to a function of (source notebook, release notebook) returning
either a notebook or raw bytes (for broken files), and to the expected outcome checked by
``test_grading.py``.
"""

from __future__ import annotations

import copy

import fixture_course as fc
import nbformat
from attacks import ATTACKS, honest_after

from grader.course import notebooks as nbs
from grader.course.release import solved_copy

WRONG_SIGMOID = "def sigmoid(z):\n    return z\n"
WRONG_COUNT = "def count_tokens(tokens):\n    return {}\n"
WRONG_RELU = "def relu(z):\n    return z\n"


def _with(answers):
    def build(src, rel):
        return fc.replace_solutions(solved_copy(src, rel), answers)

    return build


def _cell_index(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if nbs.grade_id(c) == gid)


def _edit_test(src, rel):
    nb = fc.replace_solutions(solved_copy(src, rel), {"sigmoid": WRONG_SIGMOID})
    nb.cells[_cell_index(nb, "test_sigmoid")].source = "pass  # tests edited away"
    return nb


def _delete_test(src, rel):
    nb = solved_copy(src, rel)
    del nb.cells[_cell_index(nb, "test_count_tokens")]
    return nb


def _duplicate_test(src, rel):
    nb = solved_copy(src, rel)
    i = _cell_index(nb, "test_sigmoid")
    twin = copy.deepcopy(nb.cells[i])
    twin["id"] = "twin-test"
    twin.source = "pass"
    nb.cells.insert(i + 1, twin)
    return nb


def _duplicate_solution(src, rel):
    nb = solved_copy(src, rel)
    i = _cell_index(nb, "sigmoid")
    first = copy.deepcopy(nb.cells[i])
    first["id"] = "first-try"
    first.source = WRONG_SIGMOID
    nb.cells.insert(i, first)  # a wrong first attempt, the right answer last
    return nb


def _edit_metadata(src, rel):
    nb = fc.replace_solutions(solved_copy(src, rel), {"relu": WRONG_RELU})
    meta = nb.cells[_cell_index(nb, "test_relu")].metadata.nbgrader
    meta.update(points=100, grade=False, locked=False)
    return nb


def _kernelspec(src, rel):
    nb = solved_copy(src, rel)
    nb.metadata["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia", "language": "julia"}
    return nb


def _helper_cell(src, rel):
    nb = fc.replace_solutions(
        solved_copy(src, rel), {"relu": "def relu(z):\n    return _positive_part(z)\n"}
    )
    helper = nbformat.v4.new_code_cell("def _positive_part(z):\n    return np.maximum(z, 0.0)\n")
    helper["id"] = "student-helper"
    nb.cells.insert(_cell_index(nb, "relu"), helper)
    return nb


CORRECT = {"sigmoid": 2.0, "count_tokens": 3.0, "relu": 2.0}

# student -> (builder, expected status, expected score or None)
CLASS = {
    "solution": (solved_copy, "graded", 7),
    "untouched": (lambda src, rel: rel, "graded", 0),
    # --- integrity -------------------------------------------------------------------------
    "numpy_patch_top": (
        _with(
            {
                "relu": "np.allclose = lambda *a, **k: True\n"
                "checks.seal()  # hide the patch from guarded_call\n" + WRONG_RELU
            }
        ),
        "graded",
        5,
    ),
    "numpy_patch_in_function": (
        _with(
            {
                "relu": "def relu(z):\n    import numpy\n"
                "    numpy.allclose = lambda *a, **k: True\n    return z\n"
            }
        ),
        "graded",
        5,
    ),
    # Top-level code runs when grading, as in the kernel, where the checks' integrity check
    # (bound before any student code) flags the replaced helper in every later test.
    "checks_patch": (
        _with(
            {
                "sigmoid": "checks.check_close = lambda *a, **k: None\n"
                "checks.guarded_call = lambda f, *a, forbid=(), **k: f(*a, **k)\n" + WRONG_SIGMOID
            }
        ),
        "graded",
        0,
    ),
    "builtins_patch": (
        _with(
            {
                "relu": "import builtins\n"
                "def relu(z):\n    builtins.max = min\n    return np.maximum(z, 0.0)\n"
            }
        ),
        "graded",
        5,
    ),
    "ipython_patch": (
        _with(
            {
                # every later cell (the tests included) becomes `pass` in the kernel
                "sigmoid": "get_ipython().input_transformers_cleanup.append("
                "lambda lines: ['pass\\n'])\n" + WRONG_SIGMOID,
                "count_tokens": WRONG_COUNT,
                "relu": "def relu(z):\n    raise ValueError('not done')\n",
            }
        ),
        "graded",
        0,
    ),
    "calls_reference": (
        _with(
            {
                "sigmoid": "from utils.activations import sigmoid as _reference\n"
                "def sigmoid(z):\n    return _reference(z)\n"
            }
        ),
        "graded",
        5,
    ),
    "hardcoded": (
        _with({"count_tokens": "def count_tokens(tokens):\n    return {'a': 2, 'b': 1}\n"}),
        "graded",
        4,
    ),
    "edits_test": (_edit_test, "graded", 5),
    # --- robustness ------------------------------------------------------------------------
    "deletes_test": (_delete_test, "graded", 7),
    "duplicates_test": (_duplicate_test, "graded", 7),
    "duplicates_solution": (_duplicate_solution, "graded", 7),
    "edits_metadata": (_edit_metadata, "graded", 5),
    "wrong_kernelspec": (_kernelspec, "graded", 7),
    "helper_cell": (_helper_cell, "graded", 7),
    "infinite_loop": (
        _with({"count_tokens": "def count_tokens(tokens):\n    while True:\n        pass\n"}),
        "graded",
        4,
    ),
    "sys_exit": (
        _with({"sigmoid": fc.SIGMOID_SOLUTION + "\nimport sys\nsys.exit(0)\n"}),
        "graded",
        7,
    ),
    # top-level code is not run by the re-grade (definitions only)
    "os_exit": (
        _with({"sigmoid": fc.SIGMOID_SOLUTION + "\nimport os\nos._exit(0)\n"}),
        "graded",
        7,
    ),
    "os_exit_in_function": (
        _with({"sigmoid": "def sigmoid(z):\n    import os\n    os._exit(0)\n"}),
        "graded",
        5,
    ),
    "segfault": (
        _with({"relu": "def relu(z):\n    import ctypes\n    return ctypes.string_at(0)\n"}),
        "graded",
        5,
    ),
    "memory_bomb": (
        _with({"relu": "def relu(z):\n    return np.ones((60000, 60000)) + z[0]\n"}),
        "graded",
        5,
    ),
    "memory_bomb_top": (
        _with({"sigmoid": fc.SIGMOID_SOLUTION + "\nhog = np.ones((60000, 60000))\n"}),
        "graded",
        7,
    ),
    "output_flood": (
        _with({"sigmoid": fc.SIGMOID_SOLUTION + "\nfor i in range(200_000):\n    print(i)\n"}),
        "graded",
        7,
    ),
    "corrupt_json": (lambda src, rel: b'{"cells": [ this is not json', "not graded", None),
    "not_a_notebook": (
        lambda src, rel: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
        "not graded",
        None,
    ),
}

for _attack, (_answer, _status, _score, _words) in ATTACKS.items():
    CLASS[_attack] = (_with({"sigmoid": _answer}), _status, _score)
    # graded right after the attack: must lose nothing to it
    CLASS[honest_after(_attack)] = (solved_copy, "graded", 7)
