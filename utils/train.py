"""A small training loop with progress display, gradient clipping and a NaN/Inf guard.

Usage (with the fast kernels of ``utils.kernels.rnn``; ``utils.rnn`` gives the same numbers,
slower)::

    from utils.kernels.rnn import rnn_model_backward, rnn_model_forward

    def step_fn(parameters, step):
        x, y, mask = next(batches)
        loss, _, cache = rnn_model_forward(x, a0, parameters, y, mask)
        return loss, rnn_model_backward(cache)

    history = train(step_fn, parameters, Adam(lr=1e-2), n_steps=500, clip_norm=5.0)
    plt.plot(history["loss"])

The loop stops with :class:`NonFiniteError` (a ``FloatingPointError``) as soon as the loss, a
gradient or an updated parameter contains NaN or Inf, naming the step and the array, instead
of silently training on garbage.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping

import numpy as np

from utils._validate import iter_arrays
from utils.optim import clip_by_global_norm, clip_by_value, global_norm, parameter_gradients

__all__ = ["NonFiniteError", "train"]


class NonFiniteError(FloatingPointError):
    """Training produced NaN or Inf; the message names the step and the array."""


def _first_non_finite(tree: Mapping) -> tuple[str, np.ndarray] | None:
    for path, container, key in iter_arrays(tree):
        value = np.asarray(container[key])
        if not np.all(np.isfinite(value)):
            return path, value
    return None


def _describe(value: np.ndarray) -> str:
    n_nan, n_inf = int(np.isnan(value).sum()), int(np.isinf(value).sum())
    return f"{n_nan} NaN and {n_inf} Inf among {value.size} entries"


def train(
    step_fn: Callable[[dict, int], tuple[float, Mapping]],
    parameters: dict,
    optimizer,
    n_steps: int,
    *,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    print_every: int = 100,
    single_line: bool = False,
    smoothing: float = 0.9,
    file=None,
) -> dict[str, list[float]]:
    """Run ``n_steps`` of gradient descent.

    Arguments:
    - step_fn: ``step_fn(parameters, step) -> (loss, grads)`` for one batch; ``grads`` holds
      ``"d" + name`` for every parameter (extra entries such as ``dx`` are ignored).
    - parameters: the dict of arrays to train; updated in place by ``optimizer``.
    - optimizer: an object with ``step(parameters, grads)`` (``utils.optim.SGD/Adagrad/Adam``).
    - n_steps: number of steps.
    - clip_norm: if set, clip the parameter gradients by global norm to this value.
    - clip_value: if set, clip every gradient entry into [-clip_value, clip_value].
    - print_every: print progress every this many steps (and at the last); 0 = silent.
    - single_line: overwrite one progress line (``\\r``) instead of printing a line each time.
    - smoothing: factor of the exponentially smoothed loss shown in the progress line.
    - file: where progress goes (default ``sys.stdout``).

    Returns a history dict of lists, one entry per step: ``loss``, ``smoothed_loss`` and
    ``grad_norm`` (global norm of the parameter gradients before clipping).

    Raises :class:`NonFiniteError` naming the step and the loss, gradient or parameter that
    became NaN/Inf.
    """
    out = sys.stdout if file is None else file
    history: dict[str, list[float]] = {"loss": [], "smoothed_loss": [], "grad_norm": []}
    smoothed = None
    start = time.perf_counter()
    for step in range(1, n_steps + 1):
        # Overflow is reported by the guard below, with the step and the array, rather than
        # as a bare RuntimeWarning from deep inside NumPy.
        with np.errstate(over="ignore", invalid="ignore"):
            loss, grads = step_fn(parameters, step)
        loss = float(loss)
        if not np.isfinite(loss):
            raise NonFiniteError(
                f"step {step}: the loss is {loss}; the model diverged. "
                "Try a smaller learning rate or gradient clipping (clip_norm=...)."
            )
        grads = parameter_gradients(grads, parameters)
        bad = _first_non_finite(grads)
        if bad is not None:
            raise NonFiniteError(
                f"step {step}: gradient {bad[0]} is not finite ({_describe(bad[1])}); "
                f"loss was {loss:.6g}. Try a smaller learning rate or clip_norm=..."
            )
        norm = global_norm(grads)  # before any clipping
        if clip_norm:
            grads, _ = clip_by_global_norm(grads, clip_norm)
        if clip_value is not None:
            grads, _ = clip_by_value(grads, clip_value)
        with np.errstate(over="ignore", invalid="ignore"):
            optimizer.step(parameters, grads)
        bad = _first_non_finite(parameters)
        if bad is not None:
            raise NonFiniteError(
                f"step {step}: parameter {bad[0]} became non-finite after the update "
                f"({_describe(bad[1])}); loss was {loss:.6g}."
            )

        smoothed = loss if smoothed is None else smoothing * smoothed + (1 - smoothing) * loss
        history["loss"].append(loss)
        history["smoothed_loss"].append(smoothed)
        history["grad_norm"].append(norm)
        if print_every and (step % print_every == 0 or step == n_steps):
            elapsed = time.perf_counter() - start
            line = (
                f"step {step:>{len(str(n_steps))}}/{n_steps}  loss {loss:.4f}  "
                f"smoothed {smoothed:.4f}  |grad| {norm:.3g}  {elapsed:.1f} s"
            )
            end = "\n" if not single_line or step == n_steps else ""
            print(("\r" if single_line else "") + line, end=end, file=out, flush=True)
    return history
