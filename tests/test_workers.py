"""Safety inside parallel workers: thread counts, threading layers, BLAS limits, forks.

The dangerous cases are reproduced for real in subprocesses (an abort there
must not take the test run down): Numba's workqueue layer aborts when two
threads launch parallel kernels at once, and GNU OpenMP aborts a forked child
of a process that used it.  tsrnn must fall back to serial kernels there, with
results bitwise equal to a plain local fit.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from joblib import Parallel, delayed

import tsrnn._jit as jit
from tsrnn import RNNRegressor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data(n=96, T=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, T, 2))
    return X, X[:, -3:, 0].sum(axis=1) + 0.1 * rng.standard_normal(n)


def _fit_coefs(n_jobs, seed=0):
    X, y = _data(seed=seed)
    est = RNNRegressor(hidden_size=8, max_iter=4, early_stopping=False, random_state=seed,
                       n_jobs=n_jobs).fit(X, y)
    return est.network_.params.copy(), est.predict(X)


def _context_and_threads(n_jobs):
    return jit.worker_context(), jit.resolve_n_jobs(n_jobs)


def test_worker_context_main_thread_is_none():
    assert jit.worker_context() is None
    assert jit.resolve_n_jobs(None) == 1
    assert jit.resolve_n_jobs(-1) == jit.numba.config.NUMBA_NUM_THREADS


def test_worker_context_in_thread_limits_all_cores_to_one():
    out = {}
    t = threading.Thread(target=lambda: out.update(r=_context_and_threads(-1)))
    t.start()
    t.join()
    assert out["r"] == ("thread", 1)


@pytest.mark.parametrize("backend, expect", [("threading", "thread"), ("loky", "process")])
def test_worker_context_under_joblib(backend, expect):
    got = Parallel(n_jobs=2, backend=backend)(delayed(_context_and_threads)(-1) for _ in range(2))
    assert got == [(expect, 1)] * 2


def test_positive_n_jobs_honoured_in_thread_with_threadsafe_layer(monkeypatch):
    monkeypatch.setattr(jit, "_threadsafe_layer", lambda: True)
    got = Parallel(n_jobs=2, backend="threading")(delayed(jit.resolve_n_jobs)(2) for _ in range(2))
    assert got == [min(2, jit.numba.config.NUMBA_NUM_THREADS)] * 2


def test_positive_n_jobs_serial_in_thread_without_threadsafe_layer(monkeypatch):
    monkeypatch.setattr(jit, "_threadsafe_layer", lambda: False)
    got = Parallel(n_jobs=2, backend="threading")(delayed(jit.resolve_n_jobs)(2) for _ in range(2))
    assert got == [1, 1]
    assert jit.resolve_n_jobs(2) == min(2, jit.numba.config.NUMBA_NUM_THREADS)  # main thread


@pytest.mark.parametrize("layer, priority, importable, expect", [
    ("workqueue", None, (), False),
    ("omp", None, (), True),
    ("threadsafe", None, (), True),
    ("default", ["tbb", "omp", "workqueue"], ("omp", "workqueue"), True),
    ("default", ["tbb", "omp", "workqueue"], ("workqueue",), False),
    ("default", ["workqueue", "omp"], ("omp", "workqueue"), False),
])
def test_threadsafe_layer_before_any_launch(monkeypatch, layer, priority, importable, expect):
    def not_launched():
        raise ValueError("Threading layer is not initialized.")

    monkeypatch.setattr(jit.numba, "threading_layer", not_launched)
    monkeypatch.setattr(jit.numba.config, "THREADING_LAYER", layer)
    if priority is not None:
        monkeypatch.setattr(jit.numba.config, "THREADING_LAYER_PRIORITY", priority)
    monkeypatch.setattr(jit, "_layer_importable", lambda name: name in importable)
    assert jit._threadsafe_layer() is expect


@contextlib.contextmanager
def _held_by_another_thread():
    """Another thread inside ``num_threads(1)`` until the block ends, or until it calls
    the ``stop`` it is given."""
    inside, release = threading.Event(), threading.Event()

    def holder():
        with jit.num_threads(1):
            inside.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    inside.wait(10)

    def stop():
        release.set()
        t.join()

    try:
        yield stop
    finally:
        stop()


class _FakeBlas:
    """Stands in for threadpoolctl's controller: one process-wide thread count."""

    def __init__(self):
        self.threads = 2

    def limit(self, limits):
        fake, previous = self, self.threads
        self.threads = limits

        class Limiter:
            def restore_original_limits(self):
                fake.threads = previous

        return Limiter()


def test_blas_limit_is_reference_counted_across_threads(monkeypatch):
    """A thread leaving its kernel call must not lift the limit another thread still needs.

    (A fake controller: OpenBLAS 0.3.30 reports its thread count differently in
    non-main threads, which would make the real one's reading ambiguous.)"""
    fake = _FakeBlas()
    monkeypatch.setattr(jit, "_blas", lambda: fake)
    with _held_by_another_thread() as stop, jit.num_threads(1):  # enters second, outlives it
        stop()
        during = fake.threads
    assert during == 1
    assert fake.threads == 2
    assert jit._users == 0


def test_threading_backend_fits_bitwise_equal_to_local():
    want = _fit_coefs(None)
    got = Parallel(n_jobs=2, backend="threading")(delayed(_fit_coefs)(-1) for _ in range(3))
    for params, pred in got:
        np.testing.assert_array_equal(params, want[0])
        np.testing.assert_array_equal(pred, want[1])


def _run(script, **env):
    # without the parent's MALLOC_* settings (a Dask cluster started in this process sets
    # them in os.environ for its workers)
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    full = dict(base, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
                **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=full,
                          capture_output=True, text=True, timeout=120, check=False)


_FIT = """
import numpy as np
from tsrnn import RNNRegressor
def fit(n_jobs):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((96, 6, 2))
    y = X[:, -3:, 0].sum(axis=1)
    est = RNNRegressor(hidden_size=8, max_iter=4, early_stopping=False, random_state=0,
                       n_jobs=n_jobs).fit(X, y)
    return est.network_.params.tobytes()
"""


def test_concurrent_threads_survive_the_workqueue_layer():
    """Four threads fitting with n_jobs=2 at once would abort under workqueue."""
    out = _run(_FIT + """
import threading
import numba
ref = fit(2)  # main thread: genuinely parallel, launches workqueue
res = []
ts = [threading.Thread(target=lambda: res.append(fit(2))) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
assert numba.threading_layer() == "workqueue", numba.threading_layer()
assert len(res) == 4 and all(r == ref for r in res), "results differ"
assert fit(None) == ref
print("ok")
""", NUMBA_THREADING_LAYER="workqueue", NUMBA_NUM_THREADS="2")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_forked_children_survive_gnu_openmp():
    """joblib's multiprocessing backend forks; a child of an OpenMP process would abort."""
    from tsrnn._jit import _layer_importable

    if not _layer_importable("omp"):
        pytest.skip("no OpenMP threading layer here")
    out = _run(_FIT + """
import numba
from joblib import Parallel, delayed
ref = fit(2)
assert numba.threading_layer() == "omp", numba.threading_layer()
res = Parallel(n_jobs=2, backend="multiprocessing")(delayed(fit)(2) for _ in range(2))
assert all(r == ref for r in res), "results differ"
print("ok")
""", NUMBA_THREADING_LAYER="omp", NUMBA_NUM_THREADS="2")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_compile_stats_counts_kernels():
    _fit_coefs(None)
    stats = jit.compile_stats()
    assert set(stats) == {"hits", "misses"}
    assert stats["hits"] + stats["misses"] > 0


def test_mmap_threshold_lifted_only_under_pinned_malloc():
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which pins glibc's mmap threshold."""
    script = """
import tsrnn._jit as jit
calls = []
if jit._libc is not None:
    real = jit._libc
    class Spy:
        def mallopt(self, param, value):
            calls.append((param, value))
            return real.mallopt(param, value)
    jit._libc = Spy()
with jit.num_threads(1):
    with jit.num_threads(1):
        pass
print(calls)
"""
    pinned = _run(script, MALLOC_TRIM_THRESHOLD_="65536")
    assert pinned.returncode == 0, pinned.stderr[-2000:]
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc only")
    assert pinned.stdout.strip() == \
        "[(-3, 33554432), (-1, 268435456), (-3, 131072), (-1, 65536)]"
    plain = _run(script)
    assert plain.stdout.strip() == "[]", plain.stderr[-2000:]


def test_other_malloc_settings_leave_the_threshold_alone():
    out = _run("import tsrnn._jit as jit; print(jit._libc is None)", MALLOC_ARENA_MAX_="2")
    assert out.stdout.strip() == "True", out.stderr[-2000:]


def test_forked_child_resets_settings_held_by_other_threads(monkeypatch):
    fake = _FakeBlas()
    monkeypatch.setattr(jit, "_blas", lambda: fake)
    monkeypatch.setattr(jit, "_libc", None)
    with _held_by_another_thread():
        assert fake.threads == 1
        users, lock = jit._users, jit._state_lock
        jit._reset_in_child()  # as os.register_at_fork runs it in a child
        assert jit._users == 0 and fake.threads == 2 and jit._state_lock is not lock
        # give the parent's state back to the holding thread
        jit._users, jit._state_lock = users, lock
        jit._blas_limiter = fake.limit(1)
    assert jit._users == 0
