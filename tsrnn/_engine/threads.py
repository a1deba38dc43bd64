"""Threads for the kernels: fixed chunks of a batch over a thread pool, BLAS at one thread.

A batch is cut into a fixed number of chunks that depends only on the batch
(``tsrnn._engine.network``), never on the thread count.  :func:`run_ranges`
gives each of ``k`` threads a contiguous range of chunks; the kernels release
the GIL, write each chunk's results to its own buffers, and the caller adds
them up in chunk order afterwards.  So results are bitwise identical for any
``n_jobs``.

The pool is a plain :class:`~concurrent.futures.ThreadPoolExecutor`, shared by
the process and created on first use; Numba's ``parallel=True`` layer is not
used (its ``workqueue`` layer aborts when two threads launch kernels at once,
GNU OpenMP aborts in a forked child).  The calling thread runs the first range
itself, so one thread never waits on the pool.  Pool tasks only run kernels
and never submit tasks, so any number of callers (user threads, joblib's
threading backend, Dask worker threads) can share the pool without deadlock.

Inside a worker of a parallel backend (:func:`worker_context`), ``n_jobs < 0``
("all cores") means one thread: every worker asking for all cores would
oversubscribe the machine.  A positive ``n_jobs`` is honoured.

BLAS is pinned to one thread while any thread of the process is inside kernel
calls (:func:`blas_single_thread`, a process-wide reference count, so that
concurrent fits cannot lift each other's limit early): nested BLAS threads
oversubscribe the cores (measured 10-60x slower), and OpenBLAS's results
change in the last bits with its thread count.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_context():
    """Where this call runs: ``"thread"``, ``"process"`` (a parallel worker) or None.

    ``"thread"``: any thread but the main one (Dask workers, joblib's
    threading backend, user thread pools).  ``"process"``: a child process
    started by multiprocessing (loky, Dask's nanny, multiprocessing pools), a
    task of a joblib backend, or a Ray worker.
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


def resolve_n_jobs(n_jobs) -> int:
    """Threads for ``n_jobs``: None -> 1; -1 -> all CPUs; -2 -> all but one (as joblib).

    Capped by the CPUs this process may use; inside a parallel worker a
    negative value gives 1.
    """
    if n_jobs is None or n_jobs == 1:
        return 1
    if n_jobs < 0 and worker_context() is not None:
        return 1
    limit = cpu_count()
    n = n_jobs if n_jobs > 0 else max(1, limit + 1 + n_jobs)
    return min(n, limit)


# ------------------------------------------------------------------- the pool
_pool = None
_pool_lock = threading.Lock()


def _executor():
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=max(1, cpu_count() - 1),
                                           thread_name_prefix="tsrnn")
    return _pool


def run_ranges(n_chunks, n_threads, call):
    """Run ``call(j, c0, c1)`` for ``min(n_threads, n_chunks)`` contiguous ranges of chunks.

    Range ``j`` covers chunks ``c0 .. c1 - 1``; the calling thread runs range 0
    and the pool the others.  Returns when all are done; the first error of
    any range is raised.
    """
    k = max(1, min(n_threads, n_chunks))
    if k == 1:
        call(0, 0, n_chunks)
        return
    bounds = [(j, j * n_chunks // k, (j + 1) * n_chunks // k) for j in range(k)]
    futures = [_executor().submit(call, *b) for b in bounds[1:]]
    try:
        call(*bounds[0])
    finally:
        errors = []
        for f in futures:
            try:
                f.result()
            except BaseException as exc:  # noqa: BLE001 - collected, the first re-raised
                errors.append(exc)
    if errors:
        raise errors[0]


# --------------------------------------------------------------- BLAS threads
_blas_controller = None
_state_lock = threading.Lock()
_users = 0
_blas_limiter = None


def _blas():
    """threadpoolctl handle on the BLAS libraries (created once: it scans loaded libraries)."""
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController().select(user_api="blas")
    return _blas_controller


@contextlib.contextmanager
def blas_single_thread():
    """BLAS at one thread while any thread of this process is inside kernel calls; the
    first caller in sets it, the last one out restores it."""
    global _users, _blas_limiter
    with _state_lock:
        if _users == 0:
            _blas_limiter = _blas().limit(limits=1)
        _users += 1
    try:
        yield
    finally:
        with _state_lock:
            _users -= 1
            if _users == 0:
                _release()


def _release():
    """Give back what the first caller in set (the caller holds the lock or is alone)."""
    global _blas_limiter
    if _blas_limiter is not None:
        _blas_limiter.restore_original_limits()
        _blas_limiter = None


def _reset_in_child():
    """A forked child: the pool's threads and any thread inside kernel calls do not
    exist here; start a fresh pool and lock, and give the BLAS limit back."""
    global _state_lock, _users, _pool, _pool_lock
    _state_lock = threading.Lock()
    _pool_lock = threading.Lock()
    _pool = None
    if _users:
        _users = 0
        _release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
