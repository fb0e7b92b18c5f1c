"""Fast fused kernels with the same names, signatures and results as the reference layers.

``utils.rnn``, ``utils.gru`` and ``utils.lstm`` are written to be read: a sequence function is
a loop over the cell. The modules here compute the same thing faster (stacked gate matrices,
whole-sequence matmuls, preallocated buffers); ``tests/test_kernels.py`` holds every output and
gradient equal to the reference's. Their caches are their own: a kernel cache goes to the
kernel backward only.
"""
