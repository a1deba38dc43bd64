"""A local Ray instance: GridSearchCV and fit_many under Ray's joblib backend.

One ``ray.init(num_cpus=2)`` serves the module.  Ray's workers are processes
that its own daemon starts: they do not inherit this process's ``sys.path``, so
they are pointed at this checkout (and these tests' helpers) through
``PYTHONPATH``, and must load the compiled kernels from the Numba cache rather
than compile them.  Ray's start costs about 3 s, and each joblib call under its
backend 2-3 s more (a fresh pool of worker actors that import tsrnn).
"""

from __future__ import annotations

import os
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_search, forecaster, small_search, subprocess_env, tiny_fit
from joblib import Parallel, delayed, parallel_config
from joblib.pool import PicklingPool
from sklearn.exceptions import ConvergenceWarning

import tsrnn
from tsrnn._engine import threads
from tsrnn._engine.jit import compile_stats
from tsrnn.model_selection import fit_many, predict_many

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_backend():
    from ray.util.joblib import register_ray

    tiny_fit()  # compile (or load) the kernels here, so the cache holds them
    bases = PicklingPool.__bases__
    path = os.pathsep.join([str(pathlib.Path(__file__).parent), subprocess_env()["PYTHONPATH"]])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    register_ray()
    try:
        yield
    finally:
        ray.shutdown()
        # Ray's backend rebases joblib's multiprocessing pool class on its own pool
        PicklingPool.__bases__ = bases


def _worker_state():
    tiny_fit()
    return (tsrnn.__file__, threads.worker_context(), threads.resolve_n_jobs(-1),
            compile_stats())


def test_ray_workers_run_this_checkout_on_one_thread_with_cached_kernels(ray_backend):
    with parallel_config(backend="ray"):
        states = Parallel(n_jobs=2)(delayed(_worker_state)() for _ in range(2))
    for path, context, n_threads, stats in states:
        assert path == tsrnn.__file__
        # n_jobs=-1 inside a worker is one thread: every worker taking all cores would
        # oversubscribe the machine
        assert (context, n_threads) == ("process", 1)
        assert stats["misses"] == 0 and stats["hits"] > 0, stats


def test_grid_search_on_ray_equals_local(ray_backend):
    """Also with n_jobs=-1 on the estimator inside Ray's workers."""
    local = small_search(n_jobs=1)
    with parallel_config(backend="ray"):
        remote = small_search(n_jobs=-1, n_jobs_estimator=-1)
    assert_same_search(remote, local)


def test_fit_many_on_ray_equals_local_with_warnings_named(ray_backend):
    """The models fitted in Ray's workers come back whole: their forecasts (made here;
    predict_many goes through the same joblib call) are bitwise the local models'."""
    panel = tsrnn.datasets.load_stocks()
    fc = forecaster(lags=10, horizon=3, hidden_size=4, max_iter=3, random_state=0)
    local = predict_many(fit_many(fc, panel), coverage=0.8)
    with parallel_config(backend="ray"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = fit_many(fc, panel, n_jobs=-1)
    assert list(models) == list(panel)
    pd.testing.assert_frame_equal(predict_many(models, coverage=0.8), local)
    named = sorted(str(w.message).split(":")[0] for w in caught
                   if issubclass(w.category, ConvergenceWarning))
    assert named == sorted(f"series {sid!r}" for sid in panel)


def test_fit_many_error_in_ray_worker_names_series(ray_backend):
    panel = tsrnn.datasets.load_stocks()[["IBM", "MSFT"]].copy()
    panel.iloc[-5, 1] = np.inf
    fc = forecaster(lags=10, horizon=3, hidden_size=4, max_iter=2, random_state=0)
    with parallel_config(backend="ray"), pytest.raises(ValueError, match="series 'MSFT'"):
        fit_many(fc, panel, n_jobs=-1)
