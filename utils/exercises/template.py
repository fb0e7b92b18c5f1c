"""Template for an assignment's check module (copy it to ``utils/exercises/<slug>.py``).

A worked example with one exercise, ``dense_softmax(W, a, b) -> y_hat``, the column-wise
``softmax(W a + b)``. It is a real, tested check (``tests/exercises/test_template_checks.py``),
so the recipe in README "Adding an assignment" cannot drift from the harness.

The pattern, one block per exercise:

1. ``_cases(rng, seed)``: named cases, each isolating one path (a zero input, a zero weight), then
   random ones; seed 0 gives small fixed sizes that differ (a transposition changes a shape).
2. ``_reference(case)``: the answer, from the one readable ``utils`` reference.
3. ``Mistake``\\ s: a hint and the mistaken result, derived from that reference with one thing
   switched (here: ``b`` zeroed, ``W`` transposed, softmax over the wrong axis).
4. An ``Exercise`` with the forbidden references (importable ``"module.function"`` names; the
   notebook's grading note must list exactly these). Declaring it is its whole registration: the
   module gets ``check_<name>``, ``EXERCISES`` and both in ``__all__`` (here:
   ``check_dense_softmax``); its seed pair ``(assignment, number)`` must be its own.
"""

from __future__ import annotations

import numpy as np

from utils import activations, rnn
from utils.exercises.harness import Case, Exercise, Mistake, Output


def _cases(rng: np.random.Generator, seed: int) -> list[Case]:
    n_in, n_out, m = (3, 4, 2) if seed == 0 else tuple(int(v) for v in rng.permutation(9)[:3] + 2)
    sizes = {"n_in": n_in, "n_out": n_out, "m": m}
    W = rng.uniform(0.2, 1.0, (n_out, n_in)) * rng.choice([-1, 1], (n_out, n_in))
    b = rng.uniform(0.2, 1.0, (n_out, 1))
    a = rng.standard_normal((n_in, m))
    return [
        Case("a = 0: only the bias", {"W": W, "a": np.zeros((n_in, m)), "b": b}, sizes),
        Case("b = 0: only the weights", {"W": W, "a": a, "b": np.zeros((n_out, 1))}, sizes),
        Case("random", {"W": W, "a": a, "b": b}, sizes),
        Case("float32", {"W": W.astype(np.float32), "a": a.astype(np.float32), "b": b}, sizes),
    ]


def _scores(W, a, b):
    """z = W a + b, from the reference dense layer (run on a single time step)."""
    z, _ = rnn.dense_forward(np.asarray(a, float)[:, :, None], np.asarray(W, float), b)
    return z[:, :, 0]


def _reference(case: Case):
    return activations.softmax(_scores(**case.args))


def _without_b(case: Case):
    return activations.softmax(_scores(case.args["W"], case.args["a"], 0 * case.args["b"]))


def _wrong_axis(case: Case):
    return activations.softmax(_scores(**case.args).T).T


DENSE_SOFTMAX = Exercise(
    name="dense_softmax",
    assignment=0,
    number=1,
    arguments=("W", "a", "b"),
    returns=(
        Output(
            "y_hat",
            shape="(n_out, m)",
            hint=lambda got, want, case: (
                "each column must sum to 1 (softmax over axis 0, the classes)"
                if isinstance(got, np.ndarray) and not np.allclose(got.sum(axis=0), 1, atol=1e-4)
                else None
            ),
        ),
    ),
    reference=_reference,
    cases=_cases,
    mistakes=(
        Mistake(
            "b is missing: y_hat = softmax(W a + b)",
            _without_b,
        ),
        Mistake(
            "softmax over the wrong axis: normalise each column (axis 0)",
            _wrong_axis,
        ),
    ),
    forbidden=("utils.activations.softmax", "utils.rnn.dense_forward"),
    shapes={"W": "(n_out, n_in)", "a": "(n_in, m)", "b": "(n_out, 1)", "z": "(n_out, m)"},
    doc="``dense_softmax(W, a, b)`` must return ``softmax(W a + b)`` over axis 0, (n_out, m).",
)
