"""Internal speed helpers shared by the GRU and LSTM kernels' time loops.

Not part of the student-facing API: the cell functions use ``utils.activations``; these exist
because at small sizes NumPy's fixed cost per call, not arithmetic, dominates a time step.
"""

from __future__ import annotations

import numpy as np


def sigmoid_(z, one):
    """σ(z) = 1 / (1 + exp(-z)) written into z; ``one`` = ``const(1, z.dtype)``.

    Four calls for a whole block of stacked gates, whatever its size, and float32 stays
    float32. Accurate to a few ulps everywhere, like ``utils.activations.sigmoid`` (the
    shortcut (1 + tanh(z / 2)) / 2 loses all relative precision below z = -38). Call it under
    ``np.errstate(over="ignore")``: below z = -709 (-88 in float32) exp(-z) overflows to inf
    and 1 / inf = 0, which is σ there to within the smallest subnormal.
    """
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += one
    np.reciprocal(z, out=z)
    return z


def const(value, dtype):
    """``value`` as a 0-d array of ``dtype``: in ``1 - s`` or ``z * 0.5`` on small arrays NumPy
    spends ~0.3 µs more per call converting a Python number than using this."""
    return np.array(value, dtype=dtype)
