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
  kernel sources, and an edited kernel can never be served stale.  Worker
  processes (joblib/loky, Dask, Ray) inherit ``NUMBA_CACHE_DIR`` and load the
  compiled kernels from it instead of compiling again; :func:`compile_stats`
  counts the hits and misses.

Threads inside parallel workers
-------------------------------
``n_jobs`` threads are safe in a plain script, but a worker of a parallel
backend needs care (:func:`resolve_n_jobs` applies it):

- Inside a worker thread or process, ``n_jobs < 0`` ("all cores") means one
  thread: every worker asking for all cores oversubscribes the machine.  A
  positive ``n_jobs`` is honoured, as asked.
- Numba's ``workqueue`` layer aborts the process when two threads launch
  parallel kernels at once (a Dask or joblib thread pool), and GNU OpenMP
  aborts a forked child of a process that used it (joblib's multiprocessing
  backend).  Kernels then run serially.
- BLAS is pinned to one thread by a process-wide reference count, so that
  concurrent fits in one process cannot restore each other's limits early.
- Dask workers run with glibc's mmap threshold pinned (see
  :func:`_static_mmap_threshold`); kernel calls lift it while they run.

The serial and parallel drivers give bitwise identical results (see
``_kernels/network.py``), so none of this changes a number.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import multiprocessing
import os
import pathlib
import sys
import threading

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
_IMPORT_PID = os.getpid()  # a forked child inherits this and sees another pid
_DISPATCHERS = []  # every kernel compiled through njit, for compile_stats


def njit(func=None, *, parallel=False):
    """Compile ``func`` with the project's policy (see module docstring)."""

    def wrap(f):
        base = numba.config.CACHE_DIR
        if base:  # the locator reads it when the dispatcher is made, i.e. now
            numba.config.CACHE_DIR = str(pathlib.Path(base) / f"tsrnn-{_DIGEST}")
        try:
            dispatcher = numba.njit(parallel=parallel, **_OPTIONS)(f)
        finally:
            numba.config.CACHE_DIR = base
        _DISPATCHERS.append(dispatcher)
        return dispatcher

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


def compile_stats():
    """Cache hits and misses of this process's kernels so far.

    Returns
    -------
    dict
        ``{"hits": int, "misses": int}``: kernel signatures loaded from the
        Numba cache, and compiled afresh (a miss also writes the cache).
    """
    hits = misses = 0
    for d in _DISPATCHERS:
        hits += sum(d.stats.cache_hits.values())
        misses += sum(d.stats.cache_misses.values())
    return {"hits": hits, "misses": misses}


def worker_context():
    """Where this call runs: ``"thread"``, ``"process"`` (a parallel worker) or None.

    ``"thread"``: any thread but the main one (Dask workers, joblib's
    threading backend, user thread pools), where other threads may launch
    kernels at the same time.  ``"process"``: a child process started by
    multiprocessing (loky, Dask's nanny, multiprocessing pools), a task of a
    joblib backend, or a Ray worker.
    """
    if threading.current_thread() is not threading.main_thread():
        return "thread"
    if multiprocessing.parent_process() is not None:
        return "process"
    joblib_parallel = sys.modules.get("joblib.parallel")
    if joblib_parallel is not None:
        backend, _ = joblib_parallel.get_active_backend()
        if getattr(backend, "nesting_level", 0):
            return "process"
    ray = sys.modules.get("ray")
    if ray is not None and _in_ray_worker(ray):
        return "process"
    return None


def _in_ray_worker(ray):
    try:
        return ray.is_initialized() and ray.get_runtime_context().worker.mode == ray.WORKER_MODE
    except AttributeError:  # a Ray without these names: assume a driver
        return False


def _layer_importable(name):
    try:
        importlib.import_module(f"numba.np.ufunc.{name}pool")
    except ImportError:
        return False
    return True


def _threadsafe_layer():
    """Whether parallel kernels may be launched from several threads at once."""
    try:
        return numba.threading_layer() in ("tbb", "omp")
    except ValueError:  # no parallel kernel launched yet: the one Numba would pick
        pass
    layer = numba.config.THREADING_LAYER
    if layer in ("tbb", "omp", "safe", "threadsafe"):
        return True
    if layer == "workqueue":
        return False
    for name in numba.config.THREADING_LAYER_PRIORITY:
        if _layer_importable(name):
            return name in ("tbb", "omp")
    return False


def _forked_after_gnu_openmp():
    """A forked child of a process that already runs GNU OpenMP threads (it would abort)."""
    if os.getpid() == _IMPORT_PID:
        return False
    try:
        if numba.threading_layer() != "omp":
            return False
    except ValueError:
        return False
    from numba.np.ufunc import omppool

    return getattr(omppool, "openmp_vendor", "GNU") == "GNU"


def resolve_n_jobs(n_jobs) -> int:
    """Numba threads for ``n_jobs``, made safe for the context (see module docstring).

    None -> 1; -1 -> all; -2 -> all but one (as joblib); capped by
    ``NUMBA_NUM_THREADS``.  Inside a parallel worker a negative value gives 1,
    and any value gives 1 where parallel kernels would abort.
    """
    if n_jobs is None or n_jobs == 1:
        return 1
    where = worker_context()
    if where is not None and n_jobs < 0:
        return 1
    if where == "thread" and not _threadsafe_layer():
        return 1
    if _forked_after_gnu_openmp():
        return 1
    limit = numba.config.NUMBA_NUM_THREADS
    n = n_jobs if n_jobs > 0 else max(1, limit + 1 + n_jobs)
    return min(n, limit)


# glibc mallopt parameters, and their values during kernel calls and after (glibc's
# defaults, or the environment's)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_DURING_KERNELS = {_M_MMAP_THRESHOLD: 32 * 1024 * 1024, _M_TRIM_THRESHOLD: 256 * 1024 * 1024}


# the settings that turn glibc's dynamic mmap threshold off (mallopt(3)); others, such
# as MALLOC_ARENA_MAX_, leave it on
_PINNING = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def _after_kernels():
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_", "")
    return {_M_MMAP_THRESHOLD: 128 * 1024,
            _M_TRIM_THRESHOLD: int(trim) if trim.isdigit() else 128 * 1024}


def _static_mmap_threshold():
    """glibc's libc, if it is pinned to its static 128 KiB mmap threshold, else None.

    Setting the trim threshold, top pad or mmap maximum in the environment
    (Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_`` in every worker) turns off
    glibc's dynamic mmap threshold, so every buffer of 128 KiB or more a kernel
    allocates is a fresh ``mmap`` with page faults, and Dask's 64 KiB trim
    threshold hands freed heap back at once: training ran 1.8x slower in a Dask
    worker (benchmarks/RESULTS.md).  Only then do kernel calls raise both
    thresholds, restoring them after.
    """
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    pinned = any(k in os.environ for k in _PINNING) or any(
        f"glibc.malloc.{t}" in tunables for t in ("trim_threshold", "top_pad", "mmap_max"))
    if not sys.platform.startswith("linux") or not pinned or \
            "MALLOC_MMAP_THRESHOLD_" in os.environ or "glibc.malloc.mmap_threshold" in tunables:
        return None
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") else None
    except OSError:  # not glibc (musl)
        return None


_state_lock = threading.Lock()
_users = 0
_blas_limiter = None
_libc = _static_mmap_threshold()


@contextlib.contextmanager
def _process_settings():
    """While any thread of this process is inside kernel calls: BLAS pinned to one
    thread and (see :func:`_static_mmap_threshold`) large buffers kept off ``mmap``;
    the first caller in sets them, the last one out restores them."""
    global _users, _blas_limiter
    with _state_lock:
        if _users == 0:
            _blas_limiter = _blas().limit(limits=1)
            _mallopt(_DURING_KERNELS)
        _users += 1
    try:
        yield
    finally:
        with _state_lock:
            _users -= 1
            if _users == 0:
                _release()


def _mallopt(values):
    if _libc is not None:
        for param, value in values.items():
            _libc.mallopt(param, value)


def _release():
    """Give back what the first caller in set (the caller holds the lock or is alone)."""
    global _blas_limiter
    if _blas_limiter is not None:
        _blas_limiter.restore_original_limits()
        _blas_limiter = None
    _mallopt(_after_kernels())


def _reset_in_child():
    """A child forked while a thread was inside kernel calls: that thread does not
    exist here, so nothing holds the settings; give them back and start counting anew."""
    global _state_lock, _users
    _state_lock = threading.Lock()
    if _users:
        _users = 0
        _release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


@contextlib.contextmanager
def num_threads(n):
    """Scope the thread counts of a kernel call and restore them afterwards.

    Numba gets ``n`` threads (for the batch chunks; Numba's count is per
    thread); BLAS always gets one.  Nested BLAS threads oversubscribe the
    cores (measured 10-60x slower), and OpenBLAS's results change in the last
    bits with its thread count, which would break bitwise reproducibility
    across ``n_jobs``.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        with _process_settings():
            yield
    finally:
        numba.set_num_threads(previous)


def numba_threads() -> int:
    """Numba's current thread count (as scoped by :func:`num_threads`)."""
    return numba.get_num_threads()
