"""Optimisers (SGD, Adagrad, Adam) that update parameter dicts, and gradient clipping.

Every optimiser has one method, ``step(parameters, grads)``: for each array ``W`` in
``parameters`` (nested dicts allowed) it reads ``grads["dW"]`` and updates ``W`` *in place*,
keeping its dtype. Entries of ``grads`` that are not parameter gradients (``dx``, ``da0``, ...)
are ignored; ``grads`` itself is never modified. Optimiser state (velocities, squared-gradient
sums) is kept per parameter name inside the optimiser object.

Clipping returns ``(clipped, norm)``: a new gradient dict (the input is never modified) and
the global norm of the gradients *before* clipping (to plot, or to watch for explosions):

- ``clip_by_value(grads, max_value)``: every entry into [-max_value, max_value] (min-char-rnn).
- ``clip_by_global_norm(grads, max_norm)``: rescale all arrays together so that the norm of all
  entries concatenated is at most ``max_norm`` (keeps the direction; d2l uses max_norm = 1).

Both act on every array in the dict they get; to leave out ``dx``/``da0``, pass
``parameter_gradients(grads, parameters)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from utils._validate import gradient_for, iter_arrays

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "clip_by_global_norm",
    "clip_by_value",
    "global_norm",
    "parameter_gradients",
]


def parameter_gradients(grads: Mapping, parameters: Mapping) -> dict:
    """The part of ``grads`` that belongs to ``parameters`` (same nesting, ``"d" + name`` keys)."""
    selected: dict = {}
    for path, _, _ in iter_arrays(parameters):
        *branches, leaf = path.split(".")
        node = selected
        for branch in branches:
            node = node.setdefault(branch, {})
        node["d" + leaf] = gradient_for(grads, path)
    return selected


def _map_arrays(tree: Mapping, fn) -> dict:
    """A new tree with ``fn`` applied to every array leaf."""
    return {k: _map_arrays(v, fn) if isinstance(v, Mapping) else fn(v) for k, v in tree.items()}


def global_norm(grads: Mapping) -> float:
    """sqrt(sum of squares of every entry of every array in ``grads``)."""
    total = 0.0
    for _, container, key in iter_arrays(grads):
        g = np.asarray(container[key], dtype=np.float64)
        total += float(np.vdot(g, g))
    return float(np.sqrt(total))


def clip_by_value(grads: Mapping, max_value: float) -> tuple[dict, float]:
    """Clip every entry of ``grads`` into [-max_value, max_value].

    Returns ``(clipped, norm)``: a new dict and the global norm *before* clipping.
    """
    if not max_value > 0:
        raise ValueError(f"max_value must be positive, got {max_value}")
    clipped = _map_arrays(grads, lambda g: np.clip(g, -max_value, max_value))
    return clipped, global_norm(grads)


def clip_by_global_norm(grads: Mapping, max_norm: float) -> tuple[dict, float]:
    """Rescale ``grads`` so that their global norm is at most ``max_norm``.

    Returns ``(clipped, norm)`` where ``norm`` is the global norm *before* clipping (useful to
    plot). If the norm is already small enough the arrays are returned as copies, unscaled.
    A non-finite norm is returned as is, with the gradients unscaled, so that the caller's
    NaN/Inf guard can report it.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    norm = global_norm(grads)
    scale = max_norm / norm if np.isfinite(norm) and norm > max_norm else 1.0
    return _map_arrays(grads, lambda g: g * np.asarray(scale, dtype=g.dtype)), norm


class _Optimizer:
    """Shared loop: call ``_update(name, W, dW)`` for every parameter."""

    def step(self, parameters: Mapping, grads: Mapping) -> None:
        """Update every array in ``parameters`` in place from ``grads["d" + name]``."""
        for path, container, key in iter_arrays(parameters):
            W = container[key]
            dW = np.asarray(gradient_for(grads, path))
            if dW.shape != W.shape:
                raise ValueError(
                    f"the gradient of {path} has shape {dW.shape}, but {path} has shape {W.shape}"
                )
            self._update(path, W, dW.astype(W.dtype, copy=False))

    def _update(self, name: str, W: np.ndarray, dW: np.ndarray) -> None:
        raise NotImplementedError


class SGD(_Optimizer):
    """Stochastic gradient descent, optionally with momentum.

    v = momentum * v - lr * dW;  W += v            (momentum = 0: W -= lr * dW)
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0):
        self.lr, self.momentum = lr, momentum
        self.velocity: dict[str, np.ndarray] = {}

    def _update(self, name, W, dW):
        if self.momentum == 0.0:
            W -= self.lr * dW
            return
        v = self.velocity.setdefault(name, np.zeros_like(W))
        v *= self.momentum
        v -= self.lr * dW
        W += v


class Adagrad(_Optimizer):
    """Adagrad: per-entry step size lr / sqrt(sum of past squared gradients).

    G += dW**2;  W -= lr * dW / (sqrt(G) + eps)
    """

    def __init__(self, lr: float = 0.1, eps: float = 1e-8):
        self.lr, self.eps = lr, eps
        self.sum_squares: dict[str, np.ndarray] = {}

    def _update(self, name, W, dW):
        G = self.sum_squares.setdefault(name, np.zeros_like(W))
        G += dW * dW
        W -= self.lr * dW / (np.sqrt(G) + self.eps)


class Adam(_Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015).

    m = b1 m + (1 - b1) dW;  v = b2 v + (1 - b2) dW**2
    W -= lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.t: dict[str, int] = {}

    def _update(self, name, W, dW):
        m = self.m.setdefault(name, np.zeros_like(W))
        v = self.v.setdefault(name, np.zeros_like(W))
        t = self.t[name] = self.t.get(name, 0) + 1
        m *= self.beta1
        m += (1 - self.beta1) * dW  # first moment: running mean of gradients
        v *= self.beta2
        v += (1 - self.beta2) * dW * dW  # second moment: running mean of squares
        m_hat = m / (1 - self.beta1**t)  # bias correction (m, v start at 0)
        v_hat = v / (1 - self.beta2**t)
        W -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
