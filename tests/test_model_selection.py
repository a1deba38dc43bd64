"""backtest: layout, no look-ahead, refit schedules, coverage, defaults vs seasonal naive, tuning."""

import numpy as np
import pandas as pd
import pytest
from conftest import forecaster
from sklearn.model_selection import GridSearchCV, ParameterGrid, TimeSeriesSplit

from tsrnn import RNNRegressor, datasets
from tsrnn.metrics import mae_scorer
from tsrnn.model_selection import backtest
from tsrnn.windowing import make_windows

FAST = {"hidden_size": 8, "max_iter": 20, "random_state": 0}


def _series(n=240, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    v = np.sin(2 * np.pi * t / 7) + 0.02 * t + 0.1 * rng.normal(size=n)
    return pd.Series(v, index=pd.date_range("2022-01-01", periods=n, freq="D", name="day"), name="v")


@pytest.mark.parametrize("refit, n_fits", [(False, 1), (True, 10), (4, 3)])
def test_layout_and_refit_schedule(refit, n_fits):
    y = _series()
    r = backtest(forecaster(lags=7, horizon=3, **FAST), y, initial=210, step=3, refit=refit, m=7)
    f = r.forecasts
    assert r.n_fits == n_fits
    origins = y.index[np.arange(209, 240 - 3, 3)]
    assert list(f["origin"].unique()) == list(origins)
    assert len(f) == len(origins) * 3 and list(f["step"][:3]) == [1, 2, 3]
    first = f[f["origin"] == origins[0]]
    assert list(first["time"]) == list(y.index[210:213])
    np.testing.assert_array_equal(first["actual"], y.iloc[210:213])
    # naive repeats the origin's value; seasonal naive the value a week before each step
    np.testing.assert_array_equal(first["naive"], [y.iloc[209]] * 3)
    np.testing.assert_array_equal(first["seasonal_naive"], y.iloc[203:206])
    assert list(r.summary.columns) == ["forecaster", "naive", "seasonal_naive"]
    assert list(r.summary.index) == ["mae", "rmse", "mase", "rmsse", "smape"]
    assert r.fit_time > 0 and np.isfinite(r.summary.to_numpy()).all()


@pytest.mark.parametrize("refit", [False, True])
def test_no_look_ahead(refit):
    """Changing the series after an origin never changes that origin's forecasts."""
    y = _series(n=150)
    y2 = y.copy()
    cut = 130
    y2.iloc[cut + 1:] += 50.0
    kw = dict(initial=120, step=2, refit=refit)
    f1 = backtest(forecaster(lags=7, horizon=2, **FAST), y, **kw).forecasts
    f2 = backtest(forecaster(lags=7, horizon=2, **FAST), y2, **kw).forecasts
    early = f1["origin"] <= y.index[cut]
    np.testing.assert_array_equal(f1.loc[early, "forecast"], f2.loc[early, "forecast"])
    assert not np.allclose(f1.loc[~early, "forecast"], f2.loc[~early, "forecast"])


def test_empirical_interval_coverage_on_held_out_data():
    """Split-conformal intervals cover about `coverage` of ~5000 held-out actuals."""
    rng = np.random.default_rng(0)
    n = 3000
    e = rng.normal(size=n)
    v = np.zeros(n)
    for t in range(1, n):
        v[t] = 0.6 * v[t - 1] + e[t]
    y = pd.Series(v, index=pd.date_range("2000-01-01", periods=n, freq="h"))
    fc = forecaster(lags=8, horizon=3, calibration_fraction=0.25, hidden_size=8, max_iter=30,
                       random_state=0)
    r = backtest(fc, y, initial=1200, step=1, coverage=0.8)
    cover = r.summary.loc["coverage", "forecaster"]
    assert 0.74 <= cover <= 0.86, cover
    assert r.summary.loc["interval_width", "forecaster"] > 0
    inside = (r.forecasts["lower"] <= r.forecasts["actual"]) & \
        (r.forecasts["actual"] <= r.forecasts["upper"])
    assert inside.mean() == pytest.approx(cover)


# dataset, target column, horizon, seasonal period m
_BUNDLED = [
    ("weather", lambda: datasets.load_weather()["temp_max"], 7, 7),
    ("co2", lambda: datasets.load_co2()["co2"], 12, 52),
    ("sea_temperature", lambda: datasets.load_sea_temperature()["temperature"], 48, 48),
    ("stocks", lambda: datasets.load_stocks()["MSFT"], 5, 5),
]


@pytest.mark.parametrize("name, load, horizon, m", _BUNDLED, ids=[b[0] for b in _BUNDLED])
def test_default_forecaster_beats_seasonal_naive_on_bundled_data(name, load, horizon, m):
    y = load()
    r = backtest(forecaster(horizon=horizon, random_state=0), y, initial=0.7, m=m)
    s = r.summary
    assert s.loc["mase", "forecaster"] < s.loc["mase", "seasonal_naive"], s
    assert s.loc["rmse", "forecaster"] < s.loc["rmse", "seasonal_naive"], s


def test_dataframe_targets_with_covariates():
    y = _series(n=200)
    df = pd.DataFrame({"a": y, "b": 2 * y})
    X = pd.DataFrame({"dow": df.index.day_of_week.astype(float)}, index=df.index)
    r = backtest(forecaster(lags=7, horizon=2, **FAST), df, X, initial=170, coverage=0.8)
    assert set(r.forecasts["target"]) == {"a", "b"}
    assert {"lower", "upper"} <= set(r.forecasts.columns)
    assert {"coverage", "interval_width"} <= set(r.summary.index)


def test_tuning_by_backtest_over_a_grid():
    y = _series(n=200)
    scores = {}
    for params in ParameterGrid({"cell": ["gru", "rnn"], "lags": [7, 14]}):
        fc = forecaster(horizon=2, hidden_size=8, max_iter=15, random_state=0, **params)
        scores[tuple(sorted(params.items()))] = backtest(fc, y, initial=0.8).summary.loc[
            "mase", "forecaster"]
    assert len(scores) == 4 and all(np.isfinite(list(scores.values())))
    assert min(scores, key=scores.get) in scores


def test_tuning_with_gridsearchcv_on_windows():
    y = _series(n=200)
    Xw, yw = make_windows(y.to_frame(), target="v", lags=7, horizon=3)
    cv = TimeSeriesSplit(n_splits=3, gap=3 - 1)
    for train, test in cv.split(Xw):
        # no training window's targets reach into the test fold
        assert Xw.index[train[-1]] + pd.Timedelta(days=3) < Xw.index[test[0]] + pd.Timedelta(days=1)
    search = GridSearchCV(RNNRegressor(max_iter=10, random_state=0), {"hidden_size": [4, 8]},
                          cv=cv, scoring=mae_scorer).fit(Xw, yw)
    assert search.best_estimator_.n_channels_ == 1 and search.best_estimator_.n_timesteps_ == 7
    assert (search.cv_results_["mean_test_score"] < 0).all()


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"initial": 5}, ValueError, r"`initial`=5 observations must be >= 11"),
    ({"initial": 100}, ValueError, r"`initial`=100 .* 100 observations"),
    ({"initial": 1.5}, ValueError, r"`initial`=1.5"),
    ({"initial": 50, "refit": 0}, ValueError, r"`refit`=0"),
    ({"initial": 50, "metrics": ["mae", "r2"]}, ValueError, r"unknown names \['r2'\]"),
    ({"initial": 50, "m": 0}, ValueError, r"`m`=0"),
    ({"initial": 50, "coverage": 1.0}, ValueError, r"`coverage`=1.0"),
    ({"initial": 12}, ValueError, r"The first fit, on `initial`=12 observations, failed: .*Raise"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        backtest(forecaster(lags=7, horizon=3, **FAST), _series(n=100), **kwargs)


def test_coverage_needs_calibration():
    fc = forecaster(lags=7, calibration_fraction=None, **FAST)
    with pytest.raises(ValueError, match="`calibration_fraction`=None"):
        backtest(fc, _series(n=100), initial=50, coverage=0.8)


def test_forecaster_and_data_not_modified():
    y = _series(n=120)
    y0 = y.copy()
    fc = forecaster(lags=7, **FAST)
    backtest(fc, y, initial=100)
    pd.testing.assert_series_equal(y, y0)
    assert not hasattr(fc, "estimator_")


# ------------------------------------------------------------ global models
def _panel(n=160, seed=0):
    rng = np.random.RandomState(seed)
    idx = pd.date_range("2021-01-01", periods=n, freq="D", name="date")
    t = np.arange(n)
    return pd.DataFrame({f"s{i}": (i + 1) * (np.sin(2 * np.pi * t / 7 + i) + 0.1 * np.cumsum(
        rng.standard_normal(n))) + 10 * i for i in range(3)}, index=idx)


GLOBAL_FAST = dict(lags=7, horizon=3, hidden_size=8, max_iter=10, random_state=0,
                   global_model=True)


@pytest.mark.parametrize("refit, n_fits", [(False, 1), (2, 5)])
def test_global_backtest_over_a_panel(refit, n_fits):
    panel = _panel()
    panel.iloc[:60, 2] = np.nan  # a ragged start: s2 joins later
    r = backtest(forecaster(**GLOBAL_FAST), panel, initial=120, step=4, refit=refit, m=7,
                 coverage=0.8)
    f = r.forecasts
    assert list(f.columns[:3]) == ["series", "origin", "time"]
    assert set(f["series"]) == {"s0", "s1", "s2"}
    assert r.n_fits == n_fits
    assert (f["origin"] >= panel.index[119]).all()
    assert np.isfinite(f[["forecast", "lower", "upper"]].to_numpy()).all()
    assert (f["lower"] <= f["forecast"]).all() and (f["forecast"] <= f["upper"]).all()
    # the summary is the mean of the per-series summaries, each on its own scale
    per_series = []
    for sid, part in f.groupby("series"):
        mae = np.mean(np.abs(part["forecast"] - part["actual"]))
        per_series.append(mae)
    assert r.summary.loc["mae", "forecaster"] == pytest.approx(np.mean(per_series))
    assert {"coverage", "interval_width"} <= set(r.summary.index)


def test_global_backtest_has_no_look_ahead():
    panel = _panel()
    kw = dict(initial=120, step=4, refit=True)
    a = backtest(forecaster(**GLOBAL_FAST), panel, **kw).forecasts
    moved = panel.copy()
    moved.iloc[140:] += 100.0  # everything after day 140
    b = backtest(forecaster(**GLOBAL_FAST), moved, **kw).forecasts
    early = a["origin"] < panel.index[140]
    np.testing.assert_array_equal(a.loc[early, "forecast"], b.loc[early, "forecast"])
    assert not np.allclose(a.loc[~early, "forecast"], b.loc[~early, "forecast"])


def test_global_backtest_long_panel_with_encoding_equals_wide():
    panel = _panel()
    long = panel.stack().rename("v").reset_index(level=1).rename(columns={"level_1": "id"})
    wide = backtest(forecaster(**GLOBAL_FAST, series_encoding="onehot"), panel, initial=120)
    lng = backtest(forecaster(**{**GLOBAL_FAST, "global_model": False}, series_id="id",
                              series_encoding="onehot"), long, initial=120)
    np.testing.assert_array_equal(wide.forecasts["forecast"], lng.forecasts["forecast"])
    pd.testing.assert_frame_equal(wide.summary, lng.summary)
