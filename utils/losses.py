"""Cross-entropy losses for sequence outputs, in nats, summed over time, with a padding mask.

For predictions y_hat (n_y, m, T) and targets y, the loss of sequence i is

    L_i = - sum_t mask[i, t] * log y_hat[y_i<t>, i, t]            (nats)

and the returned loss is ``mean_i L_i`` (``reduction="per_sequence"``, the default: the loss of
one sequence, independent of batch size) or ``sum_i L_i`` (``reduction="sum"``).

Targets are either integer class labels ``(m, T)`` or one-hot / probability vectors
``(n_y, m, T)``. The mask is ``(m, T)`` (or ``(1, m, T)``) of 0/1; a 0 marks a padded step that
contributes nothing. To report nats per symbol, divide the summed loss by ``mask.sum()``.

Functions:

- ``cross_entropy(y_hat, y, mask=None)``: loss from probabilities (the lecture's form).
- ``softmax_cross_entropy(logits, y, mask=None)``: fused, numerically stable
  ``(loss, dlogits)`` used for training; ``dlogits = (softmax(logits) - onehot(y)) * mask / m``.
"""

from __future__ import annotations

import numpy as np

from utils._validate import check_sequence
from utils.activations import log_softmax

__all__ = ["cross_entropy", "softmax_cross_entropy"]

REDUCTIONS = ("per_sequence", "sum")


def _targets_one_hot(y, n_y, m, T, dtype):
    """Return targets as (n_y, m, T) float, from integer labels (m, T) or one-hot (n_y, m, T)."""
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer):
        if y.shape != (m, T):
            raise ValueError(f"integer labels y must have shape (m, T) = {(m, T)}, got {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= n_y):
            raise ValueError(
                f"labels y must lie in [0, n_y) = [0, {n_y}), got {y.min()}..{y.max()}"
            )
        one_hot = np.zeros((n_y, m, T), dtype=dtype)
        np.put_along_axis(one_hot, y[None], 1.0, axis=0)
        return one_hot
    if y.shape != (n_y, m, T):
        raise ValueError(
            f"y must have shape (n_y, m, T) = {(n_y, m, T)} (one-hot) or (m, T) = {(m, T)} "
            f"(integer labels), got {y.shape}"
        )
    return y.astype(dtype, copy=False)


def _mask_array(mask, m, T, dtype):
    """Return the mask as (m, T) float (all ones if None)."""
    if mask is None:
        return np.ones((m, T), dtype=dtype)
    mask = np.asarray(mask)
    if mask.shape == (1, m, T):
        mask = mask[0]
    if mask.shape != (m, T):
        raise ValueError(f"mask must have shape (m, T) = {(m, T)}, got {mask.shape}")
    return mask.astype(dtype, copy=False)


def _scale(reduction, m):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return 1.0 / m if reduction == "per_sequence" else 1.0


def cross_entropy(y_hat, y, mask=None, reduction="per_sequence"):
    """Cross-entropy of predicted probabilities y_hat (n_y, m, T), in nats summed over time.

    Probabilities are floored at the smallest positive float before the log, so a zero
    probability gives a large finite loss instead of ``inf``.
    """
    y_hat = check_sequence("y_hat", y_hat)
    n_y, m, T = y_hat.shape
    target = _targets_one_hot(y, n_y, m, T, y_hat.dtype)
    weights = _mask_array(mask, m, T, y_hat.dtype)
    log_p = np.log(np.maximum(y_hat, np.finfo(y_hat.dtype).tiny))
    per_step = -(target * log_p).sum(axis=0)  # (m, T): loss at each step of each sequence
    return float((per_step * weights).sum() * _scale(reduction, m))


def softmax_cross_entropy(logits, y, mask=None, reduction="per_sequence"):
    """Softmax over axis 0 followed by cross-entropy, fused for stability.

    Arguments:
    - logits: (n_y, m, T) pre-softmax scores z<t> = Wya a<t> + by.
    - y: integer labels (m, T) or one-hot (n_y, m, T).
    - mask: optional (m, T) of 0/1.
    - reduction: "per_sequence" (sum over time, mean over batch) or "sum".

    Returns:
    - loss: float, in nats.
    - dlogits: (n_y, m, T), dL/dlogits = (softmax(logits) - y) * mask * scale.
    """
    logits = check_sequence("logits", logits)
    n_y, m, T = logits.shape
    target = _targets_one_hot(y, n_y, m, T, logits.dtype)
    weights = _mask_array(mask, m, T, logits.dtype)
    scale = _scale(reduction, m)

    log_p = log_softmax(logits)  # finite even for logits of +-1000
    per_step = -(target * log_p).sum(axis=0)  # (m, T): loss at each step of each sequence
    loss = float((per_step * weights).sum() * scale)
    # d(-sum_k y_k log softmax(z)_k)/dz = softmax(z) * sum_k y_k - y  (= softmax(z) - y, one-hot)
    dlogits = np.exp(log_p) * target.sum(axis=0) - target
    dlogits *= weights * scale  # padded steps contribute nothing
    return loss, dlogits
