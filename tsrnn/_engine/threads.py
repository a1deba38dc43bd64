"""Threads for the kernels: fixed chunks of a batch over a thread pool, BLAS at one thread.

A batch is cut into a fixed number of chunks that depends only on the batch
(``tsrnn._engine.network``), never on the thread count.  :func:`run_ranges`
gives each of ``k`` threads a contiguous range of chunks; the kernels release
the GIL, write each chunk's results to its own buffers, and the caller adds
them up in chunk order afterwards.  So results are bitwise identical for any
``n_jobs``.

The pool (:class:`_Pool`) is a few daemon threads, shared by the process and
created on first use; Numba's ``parallel=True`` layer is not used (its
``workqueue`` layer aborts when two threads launch kernels at once, GNU OpenMP
aborts in a forked child).  Waking a blocked thread costs tens of
microseconds, as much as a small minibatch, so the workers and the caller
spin briefly without the GIL (``kernels/sync.py``) before they block, and the
caller's own kernel posts the call as it starts.  The calling thread runs the
first range itself.  One caller uses the pool at a time; another thread that
finds it busy runs its chunks itself, with the same result.

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

import numpy as np

from tsrnn._engine.kernels.sync import idle_until_posted, wait_until


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
# Spin budgets, in turns of a spin loop (15 ns each here, mostly the x86 ``pause``): a
# worker stays awake about 3 ms after a task (the next minibatch comes within tens of
# microseconds, and a serially run call of up to a millisecond must not put it to sleep),
# the caller waits about 1.5 ms for the workers before it blocks.
WORKER_SPINS = 200_000
CALLER_SPINS = 100_000


class _Pool:
    """Worker threads that run one range of chunks each per call, and their flags.

    ``flags[0]`` is the number of the latest call, posted by the caller's own kernel
    as it starts (without the GIL, so that a worker that sees it never waits for a
    GIL the caller holds); ``flags[1 + w]`` is the call worker ``w`` last finished,
    stored as it goes back to spinning (again without the GIL).  A worker that has
    spun for ``WORKER_SPINS`` without news blocks on its event; a caller announces
    each call under the lock first, so that no worker can fall asleep on it.
    """

    def __init__(self, n_workers):
        self.n = n_workers
        self.flags = np.zeros(1 + n_workers, np.int64)
        self.seq = 0
        self.announced = 0
        self.tasks = [None] * n_workers
        self.errors = [None] * n_workers
        self.finished = [0] * n_workers
        self.sleeping = [False] * n_workers
        self.wake = [threading.Event() for _ in range(n_workers)]
        self.done = threading.Event()
        self.waiting = False
        self.lock = threading.Lock()        # the fields above
        self.busy = threading.Lock()        # one caller at a time
        for w in range(n_workers):
            threading.Thread(target=self._loop, args=(w,), daemon=True,
                             name=f"tsrnn-worker-{w}").start()

    def _loop(self, w):
        seen = 0
        while True:
            if not idle_until_posted(self.flags, 0, seen, 1 + w, WORKER_SPINS):
                with self.lock:
                    if self.announced == seen:
                        self.sleeping[w] = True
                        self.wake[w].clear()
                if self.sleeping[w]:
                    self.wake[w].wait()
                continue
            seen = int(self.flags[0])
            task, self.tasks[w] = self.tasks[w], None
            if task is not None:
                call, bounds = task
                try:
                    call(*bounds, None)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self.errors[w] = exc
            with self.lock:
                self.finished[w] = seen
                if self.waiting:
                    self.done.set()

    def run(self, bounds, call):
        """Ranges ``bounds[1:]`` on workers 0.., ``bounds[0]`` here; the first error raised."""
        self.seq += 1
        seq = self.seq
        n = len(bounds) - 1
        for w in range(n):
            self.tasks[w] = (call, bounds[w + 1])
            self.errors[w] = None
        with self.lock:
            self.announced = seq
            for w in range(n):
                if self.sleeping[w]:
                    self.sleeping[w] = False
                    self.wake[w].set()
        error, waited = None, False
        try:
            # its kernel posts the call, and may wait for the workers itself
            waited = call(*bounds[0], (self.flags, seq, n)) is True
        except BaseException as exc:  # noqa: BLE001 - raised after the workers are done
            error = exc
        if int(self.flags[0]) != seq:  # it failed before posting
            self.flags[0] = seq
        if not waited:
            for w in range(n):
                if wait_until(self.flags, 1 + w, seq, CALLER_SPINS):
                    continue
                while True:
                    with self.lock:
                        if self.finished[w] == seq:
                            self.waiting = False
                            break
                        self.waiting = True
                        self.done.clear()
                    self.done.wait()
        if error is None:
            error = next((e for e in self.errors[:n] if e is not None), None)
        if error is not None:
            raise error


_pool = None
_pool_lock = threading.Lock()


def _get_pool():
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = _Pool(max(1, cpu_count() - 1))
    return _pool


def post(signal):
    """For a ``call`` of :func:`run_ranges` that does not start a kernel: post the call
    that ``signal`` ``(flags, value, n_workers)`` announces (a kernel does this itself).
    Returns False: the pool still has to wait for the workers."""
    if signal is not None:
        flags, value, _ = signal
        flags[0] = value
    return False


def run_ranges(n_chunks, n_threads, call):
    """Run ``call(j, c0, c1, signal)`` for ``min(n_threads, n_chunks)`` contiguous ranges.

    Range ``j`` covers chunks ``c0 .. c1 - 1``; the calling thread runs range 0, with
    ``signal`` ``(flags, value, n_workers)``: the kernel it starts stores ``value``
    in ``flags[0]`` first, which sets the workers going (see :func:`post`), and it
    may wait for them itself (``flags[1 + w] == value``) and return True; the pool's
    workers run the others (``signal`` None).  Returns when all are done; the first
    error of any range is raised.  When another thread is using the pool,
    everything runs here.
    """
    k = max(1, min(n_threads, n_chunks))
    pool = _get_pool() if k > 1 else None
    if pool is None or not pool.busy.acquire(blocking=False):
        call(0, 0, n_chunks, None)
        return
    try:
        k = min(k, pool.n + 1)
        pool.run([(j, j * n_chunks // k, (j + 1) * n_chunks // k) for j in range(k)], call)
    finally:
        pool.busy.release()


# --------------------------------------------------------------- BLAS threads
_blas_controller = None
_state_lock = threading.Lock()
_users = 0
_blas_limiter = None


def _blas():
    """threadpoolctl handle on the BLAS libraries (created once: it scans loaded libraries)."""
    global _blas_controller
    if _blas_controller is None:
        # the BLAS that the kernels' np.dot calls (Numba binds SciPy's): loaded before the
        # scan, or a process that has not imported SciPy yet would leave it unlimited
        import scipy.linalg.cython_blas  # noqa: F401
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
