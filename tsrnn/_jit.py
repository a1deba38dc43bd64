"""The one place that imports Numba: compilation policy for every kernel.

Policy
------
- ``FASTMATH`` lets LLVM fuse multiply-adds (``contract``), ignore the sign of
  zero (``nsz``) and use reciprocals (``arcp``).  It deliberately omits
  ``nnan``/``ninf`` (a diverging fit must still show up as NaN/inf) and
  ``reassoc``/``afn``: reassociation would let the vectoriser reorder sums
  differently in the serial and the parallel driver, breaking their bitwise
  equality, and ``afn`` would loosen float64 parity with PyTorch.
- ``error_model="numpy"``: division by zero gives inf/NaN instead of raising,
  which is also what lets loops containing a division vectorise.
- ``cache=True`` on every kernel, so a second process starts warm.  The cache
  lives where ``NUMBA_CACHE_DIR`` says (default: ``__pycache__`` beside the
  sources).
"""

from __future__ import annotations

import contextlib

import numba
from numba import prange  # noqa: F401  (re-exported for the kernels)
from numba.extending import overload  # noqa: F401  (re-exported for the kernels)

FASTMATH = {"contract", "nsz", "arcp"}

_OPTIONS = dict(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)


def njit(func=None, *, parallel=False):
    """Compile ``func`` with the project's policy (see module docstring)."""

    def wrap(f):
        return numba.njit(parallel=parallel, **_OPTIONS)(f)

    return wrap if func is None else wrap(func)


def is_float32(numba_type) -> bool:
    """Whether a Numba type is a 32-bit float (used by ``@overload`` helpers)."""
    return isinstance(numba_type, numba.types.Float) and numba_type.bitwidth == 32


@contextlib.contextmanager
def num_threads(n_jobs):
    """Scope Numba's thread count to a block and restore it afterwards.

    Parameters
    ----------
    n_jobs : int or None
        ``None`` leaves the current setting; ``-1`` means all threads Numba
        was started with; other negative values count back from there
        (``-2`` = all but one), as in joblib.
    """
    if n_jobs is None:
        yield numba.get_num_threads()
        return
    limit = numba.config.NUMBA_NUM_THREADS
    n = n_jobs if n_jobs > 0 else max(1, limit + 1 + n_jobs)
    n = min(n, limit)
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)


def max_threads() -> int:
    """Number of threads Numba was started with."""
    return numba.config.NUMBA_NUM_THREADS
