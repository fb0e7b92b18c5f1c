"""Hints shared by every notebook's checks, so that the same bug gets the same words everywhere.

A check module imports the text for a bug that more than one notebook can meet (a scan in the
wrong direction, a softmax over the wrong axis, an argument changed in place) from here instead
of writing its own. Each is a constant with the wording most notebooks need and, where a
notebook must name its own loop or array, a function that fills in those names.

- :func:`scan_left_to_right` / :data:`SCAN_LEFT_TO_RIGHT`: a backward pass (or any right-to-left
  recursion) run from t = 0 upwards.
- :data:`SOFTMAX_AXIS` / :func:`columns_sum_to_one`: probabilities normalised over the batch or
  time instead of the classes (axis 0), and a result whose columns do not sum to 1 at all.
- :func:`changed_in_place` / :func:`copy_advice`: an argument the function changed instead of
  building new arrays; ``advice`` names what to do for that argument when a notebook knows
  better than the generic advice by type (e.g. a dict of initial states is not an optimiser's
  parameters).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SCAN_LEFT_TO_RIGHT",
    "SOFTMAX_AXIS",
    "changed_in_place",
    "columns_sum_to_one",
    "copy_advice",
    "scan_left_to_right",
]


def scan_left_to_right(
    what: str = "backpropagation through time",
    start: str = "the last step",
    loop: str = "for t in reversed(range(T_x))",
) -> str:
    """The scan ran t = 0, 1, ... where it must run from the end: ``what`` starts at ``start``
    (a notebook with layers or another loop variable names its own ``loop``)."""
    return f"the scan goes left to right: {what} starts at {start}, {loop}"


SCAN_LEFT_TO_RIGHT = scan_left_to_right()

SOFTMAX_AXIS = (
    "softmax over the wrong axis: each column (one example) must sum to 1, i.e. normalise over "
    "axis 0"
)


def columns_sum_to_one(name: str = "y_hat[:, i, t]") -> str:
    """A probability output whose columns do not sum to 1 (no softmax, or the wrong axis)."""
    return f"each {name} must sum to 1: softmax over axis 0 (the classes)"


def copy_advice(value: Any) -> str:
    """What to do instead of changing ``value`` in place, by its type."""
    if isinstance(value, list | tuple) and any(isinstance(v, list | dict) for v in value):
        return (
            "a shallow copy (list(x), x.copy(), x[:]) still shares the inner lists, so build "
            "new lists instead of changing the given ones (or use copy.deepcopy)"
        )
    if isinstance(value, dict):
        return (
            "build a new dict ({**d, key: value}) with new arrays (W - lr * dW, not W -= ...) "
            "instead of assigning into the given one or into its arrays"
        )
    if isinstance(value, list):
        return "build a new list (e.g. sorted(x), x + [y]) instead of changing the given one"
    return "compute new arrays instead (no +=, *= or slice assignment on an argument)"


def changed_in_place(label: str, name: str, value: Any, advice: str | None = None) -> str:
    """The message for ``label`` (a call) having changed its argument ``name`` (whose value
    before the call was ``value``); ``advice`` replaces the advice by type."""
    return f"{label} changed its argument {name} in place; {advice or copy_advice(value)}"
