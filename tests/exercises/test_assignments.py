"""Adding an assignment cannot be half done: every ``solutions/NN_slug/`` folder has its check
module (declaring exercises of assignment NN) and their test file, every check module belongs
to an assignment, and declaring an exercise is its whole registration (``EXERCISES``,
``check_<name>``, ``__all__``), with a seed pair ``(assignment, number)`` of its own."""

import dataclasses
import importlib
import pkgutil

import numpy as np
import pytest
from assignments import assignments

import utils.exercises
from utils.exercises import harness, template
from utils.exercises.harness import Exercise

NOT_ASSIGNMENTS = {"template"}  # the worked example (assignment 0), tested on its own


def _check_modules():
    """Every module of utils.exercises that declares exercises, by name."""
    modules = {}
    for info in pkgutil.iter_modules(utils.exercises.__path__):
        module = importlib.import_module(f"utils.exercises.{info.name}")
        if getattr(module, "EXERCISES", None):
            modules[info.name] = module
    return modules


def test_assignments_are_found_in_solutions():
    found = assignments()
    assert [a.number for a in found] == list(range(1, len(found) + 1)), found
    assert "01_notation" in [a.folder for a in found]


@pytest.mark.parametrize("assignment", assignments(), ids=str)
def test_every_assignment_has_its_notebooks_checks_and_their_test(assignment):
    for notebook in assignment.notebooks:
        assert notebook.is_file(), f"{assignment}: {notebook} is missing"
    module = assignment.checks()  # ImportError: utils/exercises/<slug>.py is missing
    assert module.EXERCISES, f"{module.__name__} declares no Exercise"
    wrong = [e.name for e in module.EXERCISES if e.assignment != assignment.number]
    assert not wrong, f"{module.__name__}: {wrong} do not declare assignment={assignment.number}"
    assert assignment.test_file.is_file(), f"{assignment}: {assignment.test_file} is missing"


def test_every_check_module_belongs_to_an_assignment():
    slugs = {a.slug for a in assignments()}
    orphans = sorted(set(_check_modules()) - slugs - NOT_ASSIGNMENTS)
    assert not orphans, f"check modules without a solutions/NN_<slug>/ folder: {orphans}"


def test_seed_pairs_are_unique_across_the_course():
    declared = [e for module in _check_modules().values() for e in module.EXERCISES]
    pairs = [(e.assignment, e.number) for e in declared]
    assert len(pairs) == len(set(pairs))


def test_each_module_exports_its_exercises_and_checks():
    for name, module in _check_modules().items():
        checks = {e.check_name for e in module.EXERCISES}
        assert {"EXERCISES", *checks} <= set(module.__all__), name
        for check in checks:
            assert getattr(module, check).__name__ == check, f"{name}.{check}"


# --- the registry, on a module declared here ---------------------------------------------------

SPEC = {
    f.name: getattr(template.DENSE_SOFTMAX, f.name)
    for f in dataclasses.fields(Exercise)
    if f.name not in ("name", "assignment", "number", "check_name", "module")
}


@pytest.fixture
def registry():
    """The registry's contents restored afterwards, so declarations here do not outlive the
    test (the same dicts: replacing harness attributes would trip guarded_call's tamper check)."""
    saved = [(table, dict(table)) for table in (harness._SEED_PAIRS, harness._NAMESPACES)]
    yield
    for table, contents in saved:
        table.clear()
        table.update(contents)


def _module(source: str) -> dict:
    """Run ``source`` as the module ``fake_checks`` and return its namespace."""
    namespace = {"__name__": "fake_checks", "Exercise": Exercise, "SPEC": SPEC}
    exec(source, namespace)
    return namespace


def vectorised(W, a, b):
    z = W @ a + b
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def test_a_declaration_registers_the_exercise_and_its_check(registry):
    fake = _module(
        'FIRST = Exercise(name="first", assignment=97, number=1, **SPEC)\n'
        'SECOND = Exercise(name="second", assignment=97, number=2, **SPEC)\n'
    )
    assert fake["EXERCISES"] == (fake["FIRST"], fake["SECOND"])
    assert fake["__all__"] == ["EXERCISES", "check_first", "check_second"]
    assert fake["FIRST"].module == "fake_checks"
    fake["check_first"](vectorised)
    with pytest.raises(AssertionError, match="b is missing"):
        fake["check_second"](lambda W, a, b: vectorised(W, a, 0 * b))


def test_variants_of_one_name_are_one_check_run_in_turn(registry):
    fake = _module(
        'FULL = Exercise(name="dense", assignment=97, number=1, **SPEC)\n'
        'SIMPLE = Exercise(name="dense", assignment=97, number=11, **SPEC)\n'
        'OWN = Exercise(name="dense", assignment=97, number=21, check_name="check_dense_own", '
        "**SPEC)\n"
    )
    calls = []

    def student(W, a, b):
        calls.append(1)
        return vectorised(W, a, b)

    fake["check_dense"](student)
    assert len(calls) == 2 * len(SPEC["cases"](np.random.default_rng(0), 0))
    assert fake["check_dense"].__name__ == "check_dense"
    assert "check_dense_own" in fake["__all__"]


def test_a_copy_made_with_replace_takes_the_original_place(registry):
    fake = _module('FIRST = Exercise(name="first", assignment=97, number=1, **SPEC)\n')
    bound = dataclasses.replace(fake["FIRST"], doc="bound")
    assert fake["EXERCISES"] == (bound,)
    assert fake["check_first"].__doc__ == "bound"


def test_a_taken_seed_pair_is_an_error_naming_both_exercises(registry):
    with pytest.raises(ValueError, match="takes the seed pair") as info:
        _module('OTHER = Exercise(name="other", assignment=0, number=1, **SPEC)\n')
    message = str(info.value)
    assert "exercise fake_checks.other" in message
    assert "seed pair (assignment 0, number 1)" in message
    assert "exercise utils.exercises.template.dense_softmax" in message
    assert "every exercise needs a pair of its own" in message


def test_a_pair_copied_within_a_module_is_an_error_too(registry):
    # e.g. a variant made by a factory called twice with the same number
    with pytest.raises(ValueError, match=r"fake_checks\.dense .* of exercise fake_checks\.dense"):
        _module(
            'FULL = Exercise(name="dense", assignment=97, number=1, **SPEC)\n'
            'SIMPLE = Exercise(name="dense", assignment=97, number=1, **SPEC)\n'
        )


def test_a_copy_moved_to_a_taken_pair_is_an_error(registry):
    with pytest.raises(ValueError, match="takes the seed pair"):
        dataclasses.replace(template.DENSE_SOFTMAX, name="moved", number=1, assignment=1)
    assert harness._SEED_PAIRS[(1, 1)].name == "char_tokenize"


def test_a_check_name_must_name_a_check(registry):
    with pytest.raises(ValueError, match="check_name must start with 'check_'"):
        _module('X = Exercise(name="x", assignment=97, number=1, check_name="x", **SPEC)\n')
