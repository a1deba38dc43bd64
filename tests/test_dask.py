"""A real Dask cluster: distributed GridSearchCV, many-series fits, cache reuse, failures.

One ``LocalCluster(processes=True, n_workers=2)`` serves the module: worker
processes are started fresh, import tsrnn, and must load the compiled kernels
from the Numba cache rather than compile them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_search, forecaster, search_windows, small_search, tiny_fit
from joblib import parallel_config
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from test_panel import _Crashing, synthetic_panel

import tsrnn
from tsrnn import RNNRegressor
from tsrnn._engine.jit import compile_stats
from tsrnn.model_selection import fit_many, predict_many

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    tiny_fit()  # compile (or load) the kernels here, so the cache holds them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's port/deprecation chatter
        cluster = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                           dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


def test_workers_load_kernels_from_the_cache(client):
    assert all(client.run(tiny_fit).values())
    stats = client.run(compile_stats)
    assert len(stats) == 2
    for worker, s in stats.items():
        assert s["misses"] == 0, f"{worker} compiled kernels instead of loading them: {s}"
        assert s["hits"] > 0


def test_grid_search_on_dask_equals_local(client):
    local = small_search(n_jobs=1)
    with parallel_config(backend="dask"):
        remote = small_search(n_jobs=-1)
    assert_same_search(remote, local)


def test_grid_search_all_cores_inside_dask_workers_is_safe(client):
    """n_jobs=-1 on the estimator inside a worker means one thread there; same numbers."""
    local = small_search(n_jobs=1)
    with parallel_config(backend="dask"):
        remote = small_search(n_jobs=-1, n_jobs_estimator=-1)
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])


def test_failed_candidate_is_named_not_hung(client):
    Xw, yw = search_windows()
    search = GridSearchCV(RNNRegressor(max_iter=2, random_state=0),
                          {"hidden_size": [4, -1]}, cv=TimeSeriesSplit(n_splits=2), n_jobs=-1,
                          error_score="raise")
    with parallel_config(backend="dask"), pytest.raises(ValueError, match="`hidden_size`=-1") \
            as info:
        search.fit(Xw, yw.to_numpy().ravel())
    assert any("RNNRegressor(hidden_size=-1" in note for note in info.value.__notes__)


def test_fit_many_on_dask_equals_local(client):
    panel = tsrnn.datasets.load_stocks()
    fc = forecaster(lags=10, horizon=3, hidden_size=4, max_iter=3, random_state=0)
    local = predict_many(fit_many(fc, panel), coverage=0.8)
    with parallel_config(backend="dask"):
        models = fit_many(fc, panel, n_jobs=-1)
        remote = predict_many(models, coverage=0.8, n_jobs=-1)
    np.testing.assert_array_equal(remote.to_numpy(), local.to_numpy())
    assert remote.index.equals(local.index)


def test_fit_many_error_in_dask_worker_names_series(client):
    panel = tsrnn.datasets.load_stocks()[["IBM", "MSFT"]].copy()
    panel.iloc[-5, 1] = np.inf
    fc = forecaster(lags=10, horizon=3, hidden_size=4, max_iter=2, random_state=0)
    with parallel_config(backend="dask"), pytest.raises(ValueError, match="series 'MSFT'"):
        fit_many(fc, panel, n_jobs=-1)


def test_dead_dask_worker_names_series_no_hang():
    """Its own cluster: the scheduler gives up on a task that killed a worker once.

    (joblib's own Dask backend would wait forever here.)"""
    import dask

    panel = tsrnn.datasets.load_stocks()[["IBM", "MSFT"]].set_axis(["ok", "boom"], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
                distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                         dashboard_address=None) as cluster, \
                distributed.Client(cluster), parallel_config(backend="dask"), \
                pytest.raises(RuntimeError, match=r"(?s)series 'boom': its worker failed.*Killed"):
            fit_many(forecaster(_Crashing, lags=10, horizon=3, hidden_size=4, max_iter=2), panel,
                     n_jobs=-1)


def test_fit_many_on_in_process_dask_workers_names_each_warning_once():
    """Workers that are threads of this process (``LocalCluster(processes=False)``): each
    series' warning comes back once, named and pointing at the caller's line.  Their
    concurrent warning catches used to lose and mislabel warnings (of 4 series' warnings,
    one was missing and another came back twice)."""
    panel = synthetic_panel(4, 40)
    fc = forecaster(lags=4, horizon=2, hidden_size=4, max_iter=2, random_state=0)
    want = predict_many(fit_many(fc, panel), coverage=0.8)
    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster), parallel_config(backend="dask"), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = predict_many(fit_many(fc, panel, n_jobs=-1), coverage=0.8)
    pd.testing.assert_frame_equal(got, want)
    named = sorted(str(w.message).split(":")[0] for w in caught
                   if issubclass(w.category, ConvergenceWarning))
    assert named == [f"series {sid!r}" for sid in panel]
    assert {w.filename for w in caught if issubclass(w.category, ConvergenceWarning)} == {__file__}
