"""The engine: recurrent networks, their gradients and their training, in NumPy and Numba.

No pandas and no scikit-learn below this line.  From the bottom up:

- ``jit``: the only module that imports Numba; the compile and cache policy.
- ``kernels/``: the Numba kernels (cells, losses, optimizer steps, drivers).
- ``threads``: batch chunks over a thread pool, BLAS limits, worker detection.
- ``network``: :class:`Network`, the flat parameter vector and its kernels.
- ``optim``: Adam and SGD on the flat vector.
- ``training``: the :class:`Trainer` loop (minibatches, early stopping, schedules).

The public face is :mod:`tsrnn.nn`.
"""
