"""The fast path: one module here for each readable reference module of the same name.

The rule for every layer: ``utils/<layer>.py`` is written to be read (a sequence function is a
loop over the cell), ``utils/kernels/<layer>.py`` computes the same thing fast, and tests hold
every output and gradient equal. ``rnn``, ``gru`` and ``lstm`` are fused kernels with the same
names, signatures and results as ``utils.rnn``, ``utils.gru``, ``utils.lstm`` (stacked gate
matrices, whole-sequence matmuls, preallocated buffers; ``tests/test_kernels.py``). ``deep``
is the deep RNN of ``utils.deep`` computed layer by layer on those kernels (through
``utils.layer``; any cell, uni- or bidirectional; ``tests/test_deep.py``). Kernel caches are
their own: a kernel cache goes to the kernel backward only.
"""
