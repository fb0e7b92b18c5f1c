"""Activation functions and their derivatives, numerically stable at any input.

Column convention: a batch of vectors is an array whose axis 0 is the vector dimension, so
``softmax`` normalises over axis 0 for ``(n_y, m)`` and ``(n_y, m, T)`` arrays alike.

Every function returns a new array, keeps float32 inputs in float32, never emits an overflow
warning, and stays finite for inputs as large as +-1000 (and beyond).

Derivatives come in two forms:

- ``*_derivative(z)``: the derivative with respect to the pre-activation ``z``.
- ``*_backward(d_out, out)``: the backprop rule used inside layers, written in terms of the
  forward *output* that the layer already cached (``sigmoid_backward(ds, s) = ds * s * (1 - s)``).
"""

from __future__ import annotations

import numpy as np

from utils._validate import as_float_array

__all__ = [
    "log_softmax",
    "relu",
    "relu_backward",
    "relu_derivative",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_derivative",
    "softmax",
    "softmax_backward",
    "tanh",
    "tanh_backward",
    "tanh_derivative",
]


def sigmoid(z):
    """Logistic sigmoid 1 / (1 + exp(-z)), computed without overflow.

    With e = exp(-|z|), which lies in (0, 1] and never overflows:
    sigmoid(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0. Both forms keep full
    relative precision (sigmoid(-30) is accurate to the last bits, not rounded through 1 - ...),
    sigmoid(-1000) is exactly 0.0 and sigmoid(1000) exactly 1.0.
    """
    z = as_float_array("z", z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def sigmoid_derivative(z):
    """d sigmoid(z) / dz = s (1 - s) with s = sigmoid(z)."""
    s = sigmoid(z)
    return s * (1.0 - s)


def sigmoid_backward(ds, s):
    """Backprop through s = sigmoid(z): returns dz given ds = dL/ds and the output s."""
    return ds * s * (1.0 - s)


def tanh(z):
    """Hyperbolic tangent (NumPy's ``tanh`` is already stable: tanh(+-1000) = +-1)."""
    return np.tanh(as_float_array("z", z))


def tanh_derivative(z):
    """d tanh(z) / dz = 1 - tanh(z)**2."""
    t = np.tanh(as_float_array("z", z))
    return 1.0 - t * t


def tanh_backward(da, a):
    """Backprop through a = tanh(z): returns dz given da = dL/da and the output a."""
    return da * (1.0 - a * a)


def relu(z):
    """Rectified linear unit max(z, 0)."""
    z = as_float_array("z", z)
    return np.maximum(z, 0.0)


def relu_derivative(z):
    """d relu(z) / dz: 1 where z > 0, else 0 (we take 0 at z = 0)."""
    z = as_float_array("z", z)
    return (z > 0).astype(z.dtype)


def relu_backward(da, a):
    """Backprop through a = relu(z): returns dz given da and the output a (a > 0 iff z > 0)."""
    return da * (a > 0)


def softmax(z):
    """Softmax over axis 0 (the class axis in the column convention).

    Works for ``(n_y,)``, ``(n_y, m)`` and ``(n_y, m, T)``. Subtracting the column maximum
    first makes every exponent <= 0, so nothing overflows and each column sums to 1 exactly up
    to rounding, even at +-1000.
    """
    z = as_float_array("z", z)
    e = z - z.max(axis=0, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=0, keepdims=True)
    return e


def log_softmax(z):
    """log(softmax(z)) over axis 0, computed directly (finite even where softmax is 0)."""
    z = as_float_array("z", z)
    shifted = z - z.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


def softmax_backward(dy, y):
    """Backprop through y = softmax(z) over axis 0: returns dz given dy = dL/dy and y.

    The Jacobian of softmax is diag(y) - y y^T, so dz = y * (dy - sum_k y_k dy_k).
    """
    return y * (dy - (y * dy).sum(axis=0, keepdims=True))
