"""Inputs shared by the exercise checks of the vanilla-RNN assignments (02 and 03): random
non-zero parameters and sizes that make every transposition visible. (Calling the student and
comparing results is the harness's job: :mod:`utils.exercises.harness`.)
"""

from __future__ import annotations

import numpy as np


def nonzero(rng: np.random.Generator, shape: tuple, low: float = 0.2, high: float = 1.0):
    """Random entries with |value| in [low, high] and random signs: never zero."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def random_parameters(rng: np.random.Generator, n_x: int, n_a: int, n_y: int) -> dict:
    """A parameter dict in which every weight and bias is non-zero (entries 0.2..1 in size,
    recurrent and input weights scaled so tanh does not saturate)."""
    return {
        "Waa": nonzero(rng, (n_a, n_a)) / np.sqrt(n_a),
        "Wax": nonzero(rng, (n_a, n_x)) / np.sqrt(n_x),
        "ba": nonzero(rng, (n_a, 1), 0.2, 0.6),
        "Wya": nonzero(rng, (n_y, n_a)) * 2 / np.sqrt(n_a),
        "by": nonzero(rng, (n_y, 1), 0.3, 1.0),
    }


def sizes(rng: np.random.Generator, seed: int) -> tuple[int, int, int, int]:
    """(n_x, n_a, n_y, m), all different so that any transposition changes a shape."""
    if seed == 0:
        return 3, 5, 4, 2
    while True:
        n_x, n_a, n_y, m = (int(v) for v in rng.integers(2, 9, size=4))
        if len({n_x, n_a, n_y, m}) == 4:
            return n_x, n_a, n_y, m
