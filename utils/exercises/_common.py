"""Helpers shared by the exercise checks of the vanilla-RNN assignments (02 and 03).

Random non-zero parameters, sizes that make every transposition visible, dtype-aware
tolerances, calling student code (tamper-checked, no mutation, shape errors explained), and
comparisons whose message names the known mistake a wrong result reproduces.
"""

from __future__ import annotations

import copy

import numpy as np

from utils.checks import check_close, guarded_call, same_value


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


def tolerances(*arrays) -> dict:
    """float32 anywhere (inputs or result) gets float32 tolerances."""
    if any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in arrays):
        return {"rtol": 2e-4, "atol": 2e-5}
    return {"rtol": 1e-6, "atol": 1e-9}


def shapes_text(shapes: dict) -> str:
    return ", ".join(f"{k} {tuple(v)}" for k, v in shapes.items())


def call(func, label: str, args: dict, shapes: dict, forbid=()):
    """Call ``func(*args.values())`` through ``guarded_call``; fail if it changed an argument
    in place (naming it), and turn shape errors of matrix products into a message about
    transposed weights and time indices."""
    before = copy.deepcopy(args)
    try:
        result = guarded_call(func, *args.values(), forbid=forbid, name=label.split("(")[0])
    except ValueError as error:
        text = str(error)
        if any(word in text for word in ("matmul", "shapes", "aligned", "broadcast")):
            raise AssertionError(
                f"{label} raised ValueError: {text}. The shapes were {shapes_text(shapes)}: "
                "is a weight transposed, or a product written in the wrong order? "
                "(W @ v with W of shape (rows, len(v)))"
            ) from error
        raise
    except IndexError as error:
        raise AssertionError(
            f"{label} raised IndexError: {error}. Off-by-one in the time loop? The time steps "
            "are x[:, :, 0] .. x[:, :, T_x - 1] (range(T_x))."
        ) from error
    for name, old in before.items():
        if not same_value(old, args[name]):
            raise AssertionError(
                f"{label} changed its argument {name} in place; compute new arrays instead "
                "(no +=, *= or slice assignment on an argument)"
            )
    return result


def first_match(got, variants: list[tuple[str, np.ndarray]], tol: dict) -> str | None:
    """The hint of the first wrong variant that ``got`` reproduces."""
    for hint, value in variants:
        if (
            isinstance(got, np.ndarray)
            and got.shape == value.shape
            and np.all(np.isfinite(got))
            and np.allclose(got, value, rtol=tol["rtol"], atol=tol["atol"])
        ):
            return hint
    return None


def compare(name, got, expected, variants, tol, names=None, hint=None):
    """check_close with a hint naming the known mistake that ``got`` reproduces, if any."""
    if isinstance(got, np.ndarray):
        if got.shape == expected.shape:
            if not np.allclose(got, expected, **tol):
                hint = first_match(got, variants, tol) or hint
        else:
            known = first_match(got, variants, tol)
            if known:
                raise AssertionError(
                    f"{name} has shape {got.shape}, expected {names or ''} "
                    f"{expected.shape}: {known}"
                )
    check_close(name, got, expected, names=names, hint=hint, **tol)


def shape_ok(got, expected) -> bool:
    return isinstance(got, np.ndarray) and got.shape == expected.shape


def unpack(label: str, result, names: tuple[str, ...]):
    if not isinstance(result, tuple) or len(result) != len(names):
        raise AssertionError(
            f"{label} should return a tuple ({', '.join(names)}), got {result!r:.100}"
        )
    return result
