"""Internal speed helpers shared by the kernels.

Not part of the student-facing API: the cell functions use ``utils.activations``. σ and the
0-d constants exist because at small sizes NumPy's fixed cost per call, not arithmetic,
dominates a time step; the buffer pool (``empty``) because at large sizes fresh memory does.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

from utils._validate import Steps


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
    np.divide(one, z, out=z)  # 1 / z: the same as np.reciprocal, faster on float32
    return z


def sigmoid_of_negated_(z, one):
    """σ(-z) = 1 / (1 + exp(z)) written into z: ``sigmoid_`` for a kernel that holds -z
    (its weights stored negated), three calls instead of four; the same accuracy."""
    np.exp(z, out=z)
    z += one
    np.divide(one, z, out=z)  # 1 / z: the same as np.reciprocal, faster on float32
    return z


def const(value, dtype):
    """``value`` as a 0-d array of ``dtype``: in ``1 - s`` or ``z * 0.5`` on small arrays NumPy
    spends ~0.3 µs more per call converting a Python number than using this."""
    return np.array(value, dtype=dtype)


# A pool of array buffers for the kernels' large per-call arrays (caches, dz, outputs).
#
# Memory that is new to the process costs a page fault per 4 KiB page on first write; on the
# course's machine that was 12 of 32 ms of CPU time of an LSTM forward + backward at
# (T, m, n_x, n_a) = (50, 32, 64, 128) float32: glibc gives the freed megabytes back to the
# system and the next call faults them in again. PyTorch keeps freed tensors in a caching
# allocator; ``empty`` does the same for the kernels: a pooled buffer is handed out again
# only when no array uses it any more (its reference count says the pool holds the only
# reference; a view of it, or a cache that holds it, keeps it in use). The pool's state lives
# inside ``_pool`` (no module global is ever rebound: ``utils.checks`` takes a rebound
# global of utils for tampering).

POOL_BYTES = 256 * 2**20  # at most this much memory (in use or free) belongs to the pool
POOL_MIN = 2**16  # smaller arrays come from np.empty (malloc reuses them cheaply)
_pool: dict[int, list] = {}  # buffer size in bytes -> the buffers of that size
_pool_lock = threading.Lock()


def pooled_bytes() -> int:
    """Memory that belongs to the pool (its buffers in use and free)."""
    return sum(size * len(buffers) for size, buffers in _pool.items())


def empty(shape, dtype):
    """``np.empty(shape, dtype)``, C-contiguous, from the pool when it holds a free buffer of
    that size (see above); never shared with an array that is still alive."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < POOL_MIN:
        return np.empty(shape, dtype)
    with _pool_lock:
        buffers = _pool.setdefault(nbytes, [])
        for buffer in buffers:  # free: only the list, `buffer` and getrefcount's argument
            if sys.getrefcount(buffer) == 3:
                break
        else:
            if pooled_bytes() + nbytes > POOL_BYTES:
                _release(pooled_bytes() + nbytes - POOL_BYTES)  # drop free buffers
            if pooled_bytes() + nbytes > POOL_BYTES:
                return np.empty(shape, dtype)
            buffer = np.empty(nbytes, np.uint8)
            buffers.append(buffer)
        return buffer.view(dtype).reshape(shape)


def _release(wanted):
    """Forget free pooled buffers until ``wanted`` bytes are released (or none is left)."""
    for size, buffers in _pool.items():
        for i in reversed(range(len(buffers))):
            if wanted > 0 and sys.getrefcount(buffers[i]) == 2:  # the list, the argument
                del buffers[i]
                wanted -= size


def to_lecture(steps):
    """Step layout (n, T_x, m) -> a new contiguous (n, m, T_x) array (``to_lecture_layout``
    into a pooled buffer)."""
    out = empty((steps.shape[0], steps.shape[2], steps.shape[1]), steps.dtype)
    np.copyto(out, steps.transpose(0, 2, 1))
    return out


def contiguous(array, dtype):
    """``np.ascontiguousarray(array, dtype)``, copying into a pooled buffer when it must copy."""
    if array.dtype == dtype and array.flags.c_contiguous:
        return array
    out = empty(array.shape, dtype)
    np.copyto(out, array)
    return out


def sequence_out(steps, as_steps: bool):
    """A sequence output in the caller's layout: ``Steps`` back to a caller that passed
    ``Steps`` (see ``utils._validate``), else a new contiguous array in the lecture layout
    (n, m, T_x), in a pooled buffer."""
    return Steps(steps) if as_steps else to_lecture(steps)
