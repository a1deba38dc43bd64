"""Threads inside parallel workers: thread counts, the thread pool, BLAS limits, forks.

The kernels run serially over fixed chunks from a thread pool (no Numba
threading layer), so concurrent fits in many threads and fits in forked
children are safe; the risky cases run in subprocesses anyway, so that a
crash there could not take the test run down.  Results are bitwise equal to a
plain local fit everywhere.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pandas as pd
import pytest
from joblib import Parallel, delayed

import tsrnn._engine.jit as jit
import tsrnn._engine.threads as threads
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
    return threads.worker_context(), threads.resolve_n_jobs(n_jobs)


def test_worker_context_main_thread_is_none():
    assert threads.worker_context() is None
    assert threads.resolve_n_jobs(None) == 1
    assert threads.resolve_n_jobs(-1) == threads.cpu_count()
    assert threads.resolve_n_jobs(10 ** 6) == threads.cpu_count()


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


def test_positive_n_jobs_honoured_in_threads():
    got = Parallel(n_jobs=2, backend="threading")(delayed(threads.resolve_n_jobs)(2)
                                                  for _ in range(2))
    assert got == [min(2, threads.cpu_count())] * 2


def test_run_ranges_covers_every_chunk_once_and_uses_the_pool():
    seen, names = [], set()

    def call(j, c0, c1, signal):
        seen.extend(range(c0, c1))
        names.add(threading.current_thread().name)
        return threads.post(signal)

    for _ in range(3):
        seen.clear()
        threads.run_ranges(7, 2, call)
        assert sorted(seen) == list(range(7))
    assert threading.current_thread().name in names and any(n.startswith("tsrnn") for n in names)
    seen.clear()
    threads.run_ranges(1, 8, call)  # never more ranges than chunks
    assert seen == [0]


def test_run_ranges_raises_a_range_error_after_all_ranges_finish():
    done = []

    def call(j, c0, c1, signal):
        threads.post(signal)
        if j == 1:
            raise ValueError("range 1 failed")
        done.append(j)

    with pytest.raises(ValueError, match="range 1 failed"):
        threads.run_ranges(2, 2, call)
    assert done == [0]

    def caller_fails(j, c0, c1, signal):  # before posting: the workers must not hang
        if j == 0:
            raise KeyError("caller")
        done.append(j)

    done.clear()
    with pytest.raises(KeyError, match="caller"):
        threads.run_ranges(2, 2, caller_fails)
    assert done == [1]


def test_run_ranges_after_the_workers_fell_asleep_and_with_slow_workers(monkeypatch):
    """The blocking paths: a worker asleep after a long idle, a caller that gives up
    spinning while a worker is still busy."""
    import time

    monkeypatch.setattr(threads, "WORKER_SPINS", 10)
    monkeypatch.setattr(threads, "CALLER_SPINS", 10)
    pool = threads._get_pool()
    out = []

    def call(j, c0, c1, signal):
        if j:
            time.sleep(0.05)  # longer than the caller spins
        out.append(j)
        return threads.post(signal)

    threads.run_ranges(2, 2, call)  # the worker may spin out its (tiny) budget and sleep
    deadline = time.time() + 5
    while not any(pool.sleeping) and time.time() < deadline:
        time.sleep(0.01)
    assert any(pool.sleeping)
    out.clear()
    threads.run_ranges(2, 2, call)
    assert sorted(out) == [0, 1]


def test_small_calls_run_on_one_thread_large_ones_on_the_pool(monkeypatch):
    """Results agree bit for bit either way; only large enough calls use the pool."""
    from tsrnn.nn import Network

    used = []
    real = threads.run_ranges
    monkeypatch.setattr(threads, "run_ranges", lambda *a: used.append(a[1]) or real(*a))
    rng = np.random.default_rng(0)
    for H, n, pooled in ((4, 32, False), (64, 512, True)):
        net = Network("lstm", input_size=2, hidden_size=H, random_state=0)
        X = rng.normal(size=(n, 24, 2))
        used.clear()
        np.testing.assert_array_equal(net.forward(X, n_jobs=2), net.forward(X))
        assert bool(used) is (pooled and threads.cpu_count() > 1), (H, n, used)


@contextlib.contextmanager
def _held_by_another_thread():
    """Another thread inside ``blas_single_thread()`` until the block ends, or until it calls
    the ``stop`` it is given."""
    inside, release = threading.Event(), threading.Event()

    def holder():
        with threads.blas_single_thread():
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
    monkeypatch.setattr(threads, "_blas", lambda: fake)
    with _held_by_another_thread() as stop, threads.blas_single_thread():  # enters second
        stop()
        during = fake.threads
    assert during == 1
    assert fake.threads == 2
    assert threads._users == 0


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


def test_concurrent_threads_each_with_threads_agree():
    """Four threads fitting with n_jobs=2 at once (Numba's workqueue layer aborted here)."""
    out = _run(_FIT + """
import threading
ref = fit(None)
res = []
ts = [threading.Thread(target=lambda: res.append(fit(2))) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
assert len(res) == 4 and all(r == ref for r in res), "results differ"
assert fit(2) == ref
print("ok")
""")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_forked_children_after_threaded_fits_agree():
    """joblib's multiprocessing backend forks a parent whose pool threads ran kernels
    (GNU OpenMP aborted here); the children start a pool of their own."""
    out = _run(_FIT + """
from joblib import Parallel, delayed
ref = fit(2)
res = Parallel(n_jobs=2, backend="multiprocessing")(delayed(fit)(2) for _ in range(2))
assert all(r == ref for r in res), "results differ"
print("ok")
""")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_compile_stats_counts_kernels():
    _fit_coefs(None)
    from tsrnn._engine.kernels import drivers

    assert jit.is_compiled(drivers.RUN["lstm"], np.float32)
    assert not jit.is_compiled(drivers.RUN["lstm"], np.float16)
    stats = jit.compile_stats()
    assert set(stats) == {"hits", "misses"}
    assert stats["hits"] + stats["misses"] > 0


def test_forked_child_resets_settings_held_by_other_threads(monkeypatch):
    fake = _FakeBlas()
    monkeypatch.setattr(threads, "_blas", lambda: fake)
    with _held_by_another_thread():
        assert fake.threads == 1
        users, lock, pool = threads._users, threads._state_lock, threads._get_pool()
        threads._reset_in_child()  # as os.register_at_fork runs it in a child
        assert threads._users == 0 and fake.threads == 2 and threads._state_lock is not lock
        assert threads._pool is None  # a fresh pool when next needed
        # give the parent's state back to the holding thread
        threads._users, threads._state_lock, threads._pool = users, lock, pool
        threads._blas_limiter = fake.limit(1)
    assert threads._users == 0


# ------------------------------------------------ fit_many under every joblib backend
_PANEL = """
import warnings
import joblib
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from tsrnn import RNNForecaster, RNNRegressor
from tsrnn.model_selection import fit_many, predict_many

def panel(n_series):
    rng = np.random.RandomState(0)
    idx = pd.date_range("2020-01-01", periods=40, freq="D")
    return pd.DataFrame({f"s{i}": rng.standard_normal(40).cumsum() for i in range(n_series)},
                        index=idx)

def forecaster():
    return RNNForecaster(lags=4, horizon=2, estimator=RNNRegressor(hidden_size=4, max_iter=2,
                                                                   random_state=0))

def run(backend, n_series=2):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with joblib.parallel_config(backend=backend):
            models = fit_many(forecaster(), panel(n_series), n_jobs=2)
            out = predict_many(models, coverage=0.8, n_jobs=2)
    named = sorted({str(w.message).split(":")[0] for w in caught
                    if issubclass(w.category, ConvergenceWarning)})
    return out, named
"""


def _panel_namespace():
    ns = {}
    exec(_PANEL, ns)  # noqa: S102 - the same helpers as the subprocess test below
    return ns


@pytest.mark.parametrize("backend", ["loky", "threading", "sequential"])
def test_fit_many_under_joblib_backends_equals_serial_with_warnings_named(backend):
    """Every backend the README names gives the serial forecasts, and each series' warning
    comes back once, named; with threads too, whose concurrent warning catches used to
    lose each other's warnings (1 of 4 came back, often unnamed)."""
    ns = _panel_namespace()
    want, _ = ns["run"]("sequential", 4)
    got, named = ns["run"](backend, 4)
    pd.testing.assert_frame_equal(got, want)
    assert named == [f"series 's{i}'" for i in range(4)]


def test_fit_many_under_the_multiprocessing_backend():
    """joblib's multiprocessing pool cannot stream results; fit_many asked it to and
    reported the refusal as a failed worker.  (In a subprocess: the pool forks.)"""
    out = _run(_PANEL + """
want, _ = run("sequential")
got, named = run("multiprocessing")
pd.testing.assert_frame_equal(got, want)
assert named == ["series 's0'", "series 's1'"], named
print("ok")
""")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "ok"
