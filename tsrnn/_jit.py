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
  sources).  Numba invalidates a cached function only when *its own* file
  changes, not when a kernel it calls (in another file) does; so under
  ``NUMBA_CACHE_DIR`` our entries go to a subfolder named by a digest of all
  kernel sources, and an edited kernel can never be served stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import pathlib

import numba
from numba import prange  # noqa: F401  (re-exported for the kernels)
from numba.extending import overload  # noqa: F401  (re-exported for the kernels)

FASTMATH = {"contract", "nsz", "arcp"}

_OPTIONS = dict(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)


def _sources_digest():
    here = pathlib.Path(__file__).parent
    h = hashlib.sha256()
    for path in [here / "_jit.py", *sorted((here / "_kernels").glob("*.py"))]:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


_DIGEST = _sources_digest()


def njit(func=None, *, parallel=False):
    """Compile ``func`` with the project's policy (see module docstring)."""

    def wrap(f):
        base = numba.config.CACHE_DIR
        if base:  # the locator reads it when the dispatcher is made, i.e. now
            numba.config.CACHE_DIR = str(pathlib.Path(base) / f"tsrnn-{_DIGEST}")
        try:
            return numba.njit(parallel=parallel, **_OPTIONS)(f)
        finally:
            numba.config.CACHE_DIR = base

    return wrap if func is None else wrap(func)


def is_float32(numba_type) -> bool:
    """Whether a Numba type is a 32-bit float (used by ``@overload`` helpers)."""
    return isinstance(numba_type, numba.types.Float) and numba_type.bitwidth == 32


_blas_controller = None


def _blas():
    """threadpoolctl handle on the BLAS libraries (created once: it scans loaded libraries)."""
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController().select(user_api="blas")
    return _blas_controller


def resolve_n_jobs(n_jobs) -> int:
    """Threads meant by ``n_jobs``: None -> 1; -1 -> all; -2 -> all but one (as joblib)."""
    limit = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None:
        return 1
    n = n_jobs if n_jobs > 0 else max(1, limit + 1 + n_jobs)
    return min(n, limit)


@contextlib.contextmanager
def num_threads(n):
    """Scope the thread counts of a kernel call and restore them afterwards.

    Numba gets ``n`` threads (for the batch chunks); BLAS always gets one.
    Nested BLAS threads oversubscribe the cores (measured 10-60x slower), and
    OpenBLAS's results change in the last bits with its thread count, which
    would break bitwise reproducibility across ``n_jobs``.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        with _blas().limit(limits=1):
            yield
    finally:
        numba.set_num_threads(previous)


def numba_threads() -> int:
    """Numba's current thread count (as scoped by :func:`num_threads`)."""
    return numba.get_num_threads()
