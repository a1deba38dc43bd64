"""A real Dask cluster: distributed GridSearchCV, many-series fits, cache reuse, failures.

One ``LocalCluster(processes=True, n_workers=2)`` serves the module: worker
processes are started fresh, import tsrnn, and must load the compiled kernels
from the Numba cache rather than compile them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import forecaster
from joblib import parallel_config
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from test_panel import _Crashing

import tsrnn
from tsrnn import RNNRegressor
from tsrnn._engine.jit import compile_stats
from tsrnn.model_selection import fit_many, predict_many

distributed = pytest.importorskip("distributed")


def _small_fit():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((64, 8, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        RNNRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, X[:, -1, 0])
    return True


@pytest.fixture(scope="module")
def client():
    _small_fit()  # compile (or load) the kernels here, so the cache holds them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's port/deprecation chatter
        cluster = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                           dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


def _windows():
    y = tsrnn.datasets.load_weather()["temp_max"].iloc[-400:]
    return tsrnn.windowing.make_windows(y, target="temp_max", lags=8, horizon=1)


def _search(n_jobs, n_jobs_estimator=None):
    Xw, yw = _windows()
    grid = {"hidden_size": [4, 8], "cell": ["lstm", "gru"]}
    est = RNNRegressor(max_iter=4, early_stopping=False, random_state=0, n_jobs=n_jobs_estimator)
    return GridSearchCV(est, grid, cv=TimeSeriesSplit(n_splits=3), n_jobs=n_jobs,
                        scoring="neg_mean_absolute_error").fit(Xw, yw.to_numpy().ravel())


def _results(search):
    return {k: v for k, v in search.cv_results_.items() if "time" not in k}


def test_workers_load_kernels_from_the_cache(client):
    assert all(client.run(_small_fit).values())
    stats = client.run(compile_stats)
    assert len(stats) == 2
    for worker, s in stats.items():
        assert s["misses"] == 0, f"{worker} compiled kernels instead of loading them: {s}"
        assert s["hits"] > 0


def test_grid_search_on_dask_equals_local(client):
    local = _search(n_jobs=1)
    with parallel_config(backend="dask"):
        remote = _search(n_jobs=-1)
    got, want = _results(remote), _results(local)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]), err_msg=key)
    assert remote.best_params_ == local.best_params_
    # the refitted best model predicts bitwise alike
    Xw, _ = _windows()
    np.testing.assert_array_equal(remote.predict(Xw), local.predict(Xw))


def test_grid_search_all_cores_inside_dask_workers_is_safe(client):
    """n_jobs=-1 on the estimator inside a worker means one thread there; same numbers."""
    local = _search(n_jobs=1)
    with parallel_config(backend="dask"):
        remote = _search(n_jobs=-1, n_jobs_estimator=-1)
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])


def test_failed_candidate_is_named_not_hung(client):
    Xw, yw = _windows()
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
