"""Gradient checking: compare analytic gradients with centred finite differences.

For a scalar function f of a dict of arrays, the numeric derivative of entry i of array W is

    n_i = (f(W_i + eps) - f(W_i - eps)) / (2 eps)            (centred difference, error O(eps^2))

and it is compared with the analytic value a_i through the robust relative error

    rel_i = |a_i - n_i| / max(floor, |a_i| + |n_i|)

which is scale-free for ordinary entries and does not blow up where both are ~0.

With ``order=4`` the numeric derivative is the fourth-order centred stencil
(f(W_i - 2 eps) - 8 f(W_i - eps) + 8 f(W_i + eps) - f(W_i + 2 eps)) / (12 eps), error O(eps^4),
which allows a larger step (default 1e-3) and so suffers ~100x less rounding noise: useful when
some true gradients are as small as 1e-5. Avoid it across kinks (relu), where a larger step is
more likely to cross the kink.

Usage (``f`` takes the parameter dict and returns a float; ``grads`` holds ``"d" + name``)::

    def f(p):
        a, cache = rnn_layer_forward(x, a0, p)
        return np.sum(a * weights)        # any fixed random projection to a scalar

    assert_gradients_close(f, parameters, grads)   # raises AssertionError on failure
    report = gradient_check(f, parameters, grads)  # or inspect report.worst, print(report)

The checker perturbs float64 *copies*, so the caller's arrays are never modified. Nested dicts
(``{"forward": {...}, "backward": {...}}``) work too; entries are then named ``"forward.Waa"``.
Inputs such as ``x`` or ``a0`` are checked the same way: put them in the dict passed to ``f``.

Large checks: ``max_entries=k`` checks at most k entries of each array (a fixed random
sample, so the result is reproducible) and, for each array, the derivative along one random
direction v, (f(W + eps v) - f(W - eps v)) / (2 eps) against sum(grad * v): a wrong entry
anywhere in the array moves that sum, so nothing escapes the check, at 2-4 evaluations of f
per array instead of 2-4 per entry. The report lists the direction as index ``"direction"``.

Pass threshold: in float64 with ``eps = 1e-5``, a correct layer gives a worst relative error
around 1e-9 .. 1e-7; the course's tests require <= 1e-6.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from utils._validate import gradient_for, iter_arrays

__all__ = [
    "GradcheckEntry",
    "GradcheckReport",
    "assert_gradients_close",
    "directional_derivatives",
    "gradient_check",
    "numerical_gradients",
    "relative_error",
]

DEFAULT_EPS = 1e-5
DEFAULT_EPS_ORDER4 = 1e-3
# Centred stencils: numeric derivative = sum(weight * f(W_i + shift * eps)) / eps.
STENCILS = {
    2: ((-1, -1 / 2), (1, 1 / 2)),
    4: ((-2, 1 / 12), (-1, -8 / 12), (1, 8 / 12), (2, -1 / 12)),
}
DEFAULT_THRESHOLD = 1e-6
DEFAULT_FLOOR = 1e-8


def relative_error(analytic, numeric, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """Element-wise |a - n| / max(floor, |a| + |n|)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    return np.abs(a - n) / np.maximum(floor, np.abs(a) + np.abs(n))


def _float64_copy(tree: Mapping) -> dict:
    """Deep copy of a parameter tree with every array leaf converted to float64."""
    tree = copy.deepcopy(dict(tree))
    for _, container, key in iter_arrays(tree):
        container[key] = np.array(container[key], dtype=np.float64)
    return tree


def _setup(parameters: Mapping, eps: float | None, names: list[str] | None, order: int):
    """(float64 working copy, step, the (path, container, key) of every array to check)."""
    if order not in STENCILS:
        raise ValueError(f"order must be 2 or 4, got {order}")
    if eps is None:
        eps = DEFAULT_EPS if order == 2 else DEFAULT_EPS_ORDER4
    work = _float64_copy(parameters)
    arrays = list(iter_arrays(work))
    paths = [path for path, _, _ in arrays]
    if names is not None and not set(names) <= set(paths):
        # a misspelt name would otherwise check nothing and pass
        raise ValueError(f"names {sorted(set(names) - set(paths))} are not in parameters {paths}")
    return work, eps, [a for a in arrays if names is None or a[0] in names]


def _stencil(f, work, move, eps: float, order: int) -> float:
    """The centred finite difference of ``f(work)`` while ``move(d)`` shifts one thing (an
    entry, or a whole array along a direction) by ``d`` from where it started."""
    total = 0.0
    for shift, weight in STENCILS[order]:
        move(shift * eps)
        total += weight * float(f(work))
    return total / eps


def _sample(shape: tuple, max_entries: int | None) -> list[tuple]:
    """Every index of ``shape``, or a fixed random sample of ``max_entries`` of them."""
    size = int(np.prod(shape))
    if max_entries is None or size <= max_entries:
        return list(np.ndindex(shape))
    flat = np.random.default_rng(size).choice(size, max_entries, replace=False)
    return [tuple(int(i) for i in np.unravel_index(k, shape)) for k in np.sort(flat)]


def numerical_gradients(
    f: Callable[[dict], float],
    parameters: Mapping,
    eps: float | None = None,
    names: list[str] | None = None,
    order: int = 2,
    max_entries: int | None = None,
) -> dict[str, np.ndarray]:
    """Centred finite-difference gradient of ``f`` for every entry of every array.

    Returns a flat dict ``{path: numeric gradient}`` with dotted paths for nested dicts.
    ``names`` restricts the check to some paths (each must exist); ``order`` is 2 (default
    step 1e-5) or 4 (default step 1e-3); ``max_entries`` differentiates at most that many
    entries per array (a fixed sample; the others are NaN). ``parameters`` is not modified.
    """
    work, eps, arrays = _setup(parameters, eps, names, order)
    numeric = {}
    for path, container, key in arrays:
        array = container[key]
        grad = np.full_like(array, np.nan)
        for index in _sample(array.shape, max_entries):
            original = array[index]

            def move(d, array=array, index=index, original=original):
                array[index] = original + d

            grad[index] = _stencil(f, work, move, eps, order)
            array[index] = original  # restore before the next entry
        numeric[path] = grad
    return numeric


def directional_derivatives(
    f: Callable[[dict], float],
    parameters: Mapping,
    eps: float | None = None,
    names: list[str] | None = None,
    order: int = 2,
) -> dict[str, tuple[np.ndarray, float]]:
    """``{path: (v, numeric derivative of f along v)}`` for one fixed random direction v of
    each array (the other arrays held still). ``parameters`` is not modified."""
    work, eps, arrays = _setup(parameters, eps, names, order)
    out = {}
    for path, container, key in arrays:
        original = container[key]
        v = np.random.default_rng(original.size).standard_normal(original.shape)

        def move(d, container=container, key=key, original=original, v=v):
            container[key] = original + d * v

        out[path] = (v, _stencil(f, work, move, eps, order))
        container[key] = original
    return out


@dataclass(frozen=True)
class GradcheckEntry:
    """One checked entry: where it is, both gradients and their relative error."""

    name: str
    index: tuple | str  # "direction": the derivative along a random direction
    analytic: float
    numeric: float
    rel_error: float


@dataclass
class GradcheckReport:
    """Result of :func:`gradient_check`.

    Attributes:
    - worst: the largest relative error over all entries checked (0.0 if none).
    - threshold: the pass threshold the report is judged against.
    - per_parameter: ``{name: worst relative error for that array}``.
    - worst_entries: the ``n_worst`` entries with the largest errors, worst first.
    """

    worst: float
    threshold: float
    per_parameter: dict[str, float] = field(default_factory=dict)
    worst_entries: list[GradcheckEntry] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.worst <= self.threshold)

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"gradient check {verdict}: worst relative error {self.worst:.3e} "
            f"(threshold {self.threshold:.0e})",
            "per parameter: "
            + ", ".join(f"{name} {err:.1e}" for name, err in self.per_parameter.items()),
            f"{'parameter':<14} {'index':<14} {'analytic':>14} {'numeric':>14} {'rel error':>10}",
        ]
        for e in self.worst_entries:
            lines.append(
                f"{e.name:<14} {e.index!s:<14} {e.analytic:>14.6e} {e.numeric:>14.6e} "
                f"{e.rel_error:>10.2e}"
            )
        return "\n".join(lines)


def gradient_check(
    f: Callable[[dict], float],
    parameters: Mapping,
    grads: Mapping,
    *,
    eps: float | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    floor: float = DEFAULT_FLOOR,
    names: list[str] | None = None,
    n_worst: int = 5,
    order: int = 2,
    max_entries: int | None = None,
) -> GradcheckReport:
    """Compare ``grads`` with finite differences of ``f`` and return a :class:`GradcheckReport`.

    Arguments:
    - f: function of a parameter dict (same structure as ``parameters``) returning a scalar.
    - parameters: dict (possibly nested) of arrays at which to check.
    - grads: analytic gradients, ``grads["d" + name]`` for each array ``name`` (nested dicts
      mirror ``parameters``). Extra entries are ignored.
    - eps: finite-difference step (default 1e-5, or 1e-3 with order=4).
    - threshold: pass level. floor: denominator floor.
    - order: 2 (classic centred difference) or 4 (fourth-order centred stencil).
    - names: only check these (dotted) names. n_worst: entries listed in the report.
    - max_entries: check at most this many entries per array (a fixed random sample) and the
      derivative along one random direction of each array (see the module docstring).
    """
    numeric = numerical_gradients(
        f, parameters, eps=eps, names=names, order=order, max_entries=max_entries
    )
    along = {}
    if max_entries is not None:
        along = directional_derivatives(f, parameters, eps=eps, names=names, order=order)
    per_parameter: dict[str, float] = {}
    entries: list[GradcheckEntry] = []
    for path, num in numeric.items():
        ana = np.asarray(gradient_for(grads, path), dtype=np.float64)
        if ana.shape != num.shape:
            raise ValueError(
                f"the gradient of {path} has shape {ana.shape}, but {path} has shape {num.shape}"
            )
        rel = np.nan_to_num(relative_error(ana, num, floor), nan=-1.0)  # -1: not sampled
        for flat in np.argsort(rel, axis=None)[::-1][:n_worst]:
            index = tuple(int(i) for i in np.unravel_index(flat, rel.shape))
            if rel[index] >= 0:
                entries.append(
                    GradcheckEntry(
                        path, index, float(ana[index]), float(num[index]), float(rel[index])
                    )
                )
        worst = float(rel.max()) if rel.size else 0.0
        if path in along:
            v, slope = along[path]
            analytic = float(np.sum(ana * v))
            err = float(relative_error(analytic, slope, floor))
            entries.append(GradcheckEntry(path, "direction", analytic, slope, err))
            worst = max(worst, err)
        per_parameter[path] = max(worst, 0.0)
    entries.sort(key=lambda e: e.rel_error, reverse=True)
    worst = max(per_parameter.values(), default=0.0)
    return GradcheckReport(worst, threshold, per_parameter, entries[:n_worst])


def assert_gradients_close(
    f: Callable[[dict], float],
    parameters: Mapping,
    grads: Mapping,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    eps: float | None = None,
    floor: float = DEFAULT_FLOOR,
    names: list[str] | None = None,
    n_worst: int = 5,
    order: int = 2,
    max_entries: int | None = None,
) -> GradcheckReport:
    """Like :func:`gradient_check`, but raise ``AssertionError`` (with the report) on failure.

    Returns the report when the check passes, so it can still be printed.
    """
    report = gradient_check(
        f,
        parameters,
        grads,
        eps=eps,
        threshold=threshold,
        floor=floor,
        names=names,
        n_worst=n_worst,
        order=order,
        max_entries=max_entries,
    )
    if not report.passed:
        raise AssertionError(str(report))
    return report
