"""Internal speed helpers shared by the kernels.

Not part of the student-facing API: the cell functions use ``utils.activations``. σ and the
0-d constants exist because at small sizes NumPy's fixed cost per call, not arithmetic,
dominates a time step; the buffer pool (``empty``) because at large sizes fresh memory does.
"""

from __future__ import annotations

import math
import threading
import weakref

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
# only when no array uses it any more (a view of it, or a cache that holds it, keeps it in
# use).
#
# How the pool knows, without counting references: each time it hands a buffer out it makes
# a new *lease*, a uint8 array over the buffer's memory whose base is a memoryview (not an
# array). NumPy sets the base of every array made from the lease (views of views, reshapes,
# transposes) to the lease itself, never past it, because the collapse of a view chain stops
# at a base that is not an array. So the lease lives exactly as long as some array uses the
# memory; when the last one goes, a weak reference's callback puts the buffer back on the
# free list. The callback only appends (atomic), so it may run anywhere, lock held or not. On
# an interpreter that frees memory later than CPython (PyPy's collector), buffers come back
# later and the pool falls back to ``np.empty`` when full: slower, never wrong. The pool's
# state lives inside ``_pool`` (no module global is ever rebound: ``utils.checks`` takes a
# rebound global of utils for tampering).

POOL_BYTES = 256 * 2**20  # at most this much memory (in use or free) belongs to the pool
POOL_MIN = 2**16  # smaller arrays come from np.empty (malloc reuses them cheaply)


class _BufferPool:
    """Buffers (uint8 arrays) by size, free or leased; see the comment above."""

    def __init__(self):
        self.free: dict[int, list] = {}  # size in bytes -> free buffers of that size
        self.leases: dict = {}  # id of a weak reference to a live lease -> (it, size, buffer)
        self.owned = 0  # bytes of all buffers, leased and free
        self.lock = threading.Lock()

    def lease(self, nbytes):
        """A new uint8 array over a free buffer of ``nbytes`` (a new buffer if none is free), or
        None when the pool is full of buffers in use."""
        with self.lock:
            free = self.free.get(nbytes)
            if free:
                buffer = free.pop()
            else:
                if self.owned + nbytes > POOL_BYTES:
                    self.drop(self.owned + nbytes - POOL_BYTES)  # forget free buffers
                if self.owned + nbytes > POOL_BYTES:
                    return None
                buffer = np.empty(nbytes, np.uint8)
                self.owned += nbytes
            lease = np.frombuffer(buffer.data, np.uint8)  # base: a memoryview, not an array
            ref = weakref.ref(lease, self._returned)  # (an array's weakref has no hash)
            self.leases[id(ref)] = (ref, nbytes, buffer)
            return lease

    def _returned(self, ref):
        """The weak reference's callback: the lease, and every array made from it, is gone."""
        _, nbytes, buffer = self.leases.pop(id(ref))
        self.free.setdefault(nbytes, []).append(buffer)

    def drop(self, wanted):
        """Forget free buffers until ``wanted`` bytes are released (or none is left)."""
        for nbytes, free in list(self.free.items()):
            while wanted > 0 and free:
                free.pop()
                self.owned -= nbytes
                wanted -= nbytes


_pool = _BufferPool()


def pooled_bytes() -> int:
    """Memory that belongs to the pool (its buffers in use and free)."""
    return _pool.owned


def empty(shape, dtype):
    """``np.empty(shape, dtype)``, C-contiguous, from the pool when it holds a free buffer of
    that size (see above); never shared with an array that is still alive."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < POOL_MIN:
        return np.empty(shape, dtype)
    lease = _pool.lease(nbytes)
    if lease is None:
        return np.empty(shape, dtype)
    return lease.view(dtype).reshape(shape)


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
