"""RNNForecaster: pandas in/out, future timestamps, covariates, missing values, intervals, bad input."""

import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import forecaster
from pandas.tseries.offsets import CustomBusinessDay
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import ParameterGrid

from tsrnn import RNNForecaster, RNNRegressor
from tsrnn.datasets import load_stocks, load_weather
from tsrnn.windowing import make_windows

FAST = {"hidden_size": 8, "max_iter": 30, "random_state": 0}


def _weather():
    return load_weather()["temp_max"]


def _sine(n=300, freq="D", seed=0, noise=0.05, start="2020-01-01", name="y"):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = np.sin(2 * np.pi * t / 12) + 0.01 * t + noise * rng.normal(size=n)
    index = pd.date_range(start, periods=n, freq=freq, name="time") if freq else pd.RangeIndex(n)
    return pd.Series(values, index=index, name=name)


def test_series_in_series_out_with_future_daily_index():
    y = _sine()
    fc = forecaster(lags=12, horizon=4, **FAST).fit(y)
    pred = fc.predict()
    assert isinstance(pred, pd.Series) and pred.name == "y"
    expected = pd.date_range(y.index[-1] + pd.Timedelta(days=1), periods=4, freq="D", name="time")
    pd.testing.assert_index_equal(pred.index, expected)
    assert pred.index.freq == "D"
    assert np.isfinite(pred).all()
    # a sensible forecast of a clean seasonal series: close to the truth
    truth = np.sin(2 * np.pi * np.arange(300, 304) / 12) + 0.01 * np.arange(300, 304)
    assert np.abs(pred.to_numpy() - truth).mean() < 0.3


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_dataframe_in_dataframe_out_multivariate(strategy):
    a = _sine(seed=1)
    df = pd.DataFrame({"a": a, "b": -a.to_numpy() + 1})
    fc = forecaster(lags=12, horizon=3, strategy=strategy, **FAST).fit(df)
    pred = fc.predict()
    assert isinstance(pred, pd.DataFrame) and list(pred.columns) == ["a", "b"]
    assert len(pred) == 3 and pred.index[0] == df.index[-1] + pd.Timedelta(days=1)
    # jointly forecast: b mirrors a
    np.testing.assert_allclose(pred["a"] + pred["b"], 1.0, atol=0.3)
    iv = fc.predict_interval(0.8)
    assert list(iv.columns) == [("a", "lower"), ("a", "upper"), ("b", "lower"), ("b", "upper")]
    assert (iv[("a", "lower")] < pred["a"]).all() and (pred["a"] < iv[("a", "upper")]).all()


def test_trading_day_index_uses_business_days():
    y = load_stocks(tickers=["IBM"])["IBM"].iloc[-400:]
    assert y.index.freq is None and y.index[-1].day_name() == "Friday"
    fc = forecaster(lags=10, horizon=3, **FAST).fit(y)
    assert fc.axis_.calendar and fc.axis_.offset.freqstr == "B"
    pred = fc.predict()
    assert [d.day_name() for d in pred.index] == ["Monday", "Tuesday", "Wednesday"]
    assert fc.n_windows_ > 300  # holidays were not filled as missing rows
    # an exchange calendar: a holiday is skipped
    holiday = pred.index[1]
    fc2 = clone(fc).set_params(freq=CustomBusinessDay(holidays=[holiday])).fit(y)
    pred2 = fc2.predict()
    assert holiday not in pred2.index and pred2.index[1].day_name() == "Wednesday"


def test_range_and_integer_index():
    y = _sine(freq=None)
    pred = forecaster(lags=12, horizon=2, **FAST).fit(y).predict()
    assert list(pred.index) == [300, 301]
    y5 = y.set_axis(pd.Index(np.arange(300) * 5 + 10))
    pred5 = forecaster(lags=12, horizon=2, **FAST).fit(y5).predict()
    assert list(pred5.index) == [1510, 1515]


def test_regular_index_with_gaps_is_regularised_and_forecasts_stay_finite():
    y = _sine(n=200, freq="30min")
    gappy = y.drop(y.index[[50, 51, 52, 120]])
    assert pd.infer_freq(gappy.index) is None
    fc = forecaster(lags=8, horizon=2, **FAST).fit(gappy)
    assert fc.axis_.offset == pd.tseries.frequencies.to_offset("30min")
    pred = fc.predict()
    assert pred.index[0] == y.index[-1] + pd.Timedelta("30min") and np.isfinite(pred).all()
    # the gap is not bridged: windows spanning it have carried-forward inputs, and the
    # windows whose targets fall in it are skipped
    assert fc.n_windows_ < forecaster(lags=8, horizon=2, **FAST).fit(y).n_windows_


def test_irregular_index_needs_freq():
    idx = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-09", "2024-01-10",
                            "2024-01-13 05:00"] * 1)
    y = pd.Series(np.arange(6.0), index=idx)
    with pytest.raises(ValueError, match=r"irregular DatetimeIndex .* pass `freq=`"):
        forecaster(lags=2, **FAST).fit(y)


def test_future_covariate_is_used_and_required_at_predict():
    rng = np.random.default_rng(0)
    n = 400
    idx = pd.date_range("2021-01-01", periods=n, freq="D")
    promo = pd.Series((rng.random(n + 5) < 0.3).astype(float),
                      index=pd.date_range("2021-01-01", periods=n + 5, freq="D"))
    y = pd.Series(5 * promo.iloc[:n].to_numpy() + 0.1 * rng.normal(size=n), index=idx, name="sales")
    X = promo.to_frame("promo")
    fc = forecaster(lags=6, horizon=3, window_norm=None, hidden_size=16, max_iter=80,
                       random_state=0).fit(y, X)
    assert fc.future_covariates_ == ["promo"] and fc.past_covariates_ == []
    pred = fc.predict(X=X)
    expected = 5 * promo.iloc[n:n + 3].to_numpy()
    np.testing.assert_allclose(pred.to_numpy(), expected, atol=1.0)
    with pytest.raises(ValueError, match=r"future-known covariates for the 3 forecast steps .* 2 "
                                         r"are missing"):
        fc.predict(X=X.iloc[:n + 1])
    with pytest.raises(ValueError, match=r"`X` must hold the covariates \['promo'\] used at fit"):
        fc.predict()
    with pytest.raises(ValueError, match=r"`X` does not cover the index of `y`: 10 timestamps"):
        forecaster(lags=6, **FAST).fit(y, X.iloc[10:])


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_past_covariates(strategy):
    y = _sine(n=200, seed=3)
    X = pd.DataFrame({"lagged": y.shift(1).bfill()})
    fc = forecaster(lags=6, horizon=3, strategy=strategy, past_covariates=["lagged"],
                       **FAST).fit(y, X)
    assert fc.past_covariates_ == ["lagged"] and fc.future_covariates_ == []
    pred = fc.predict()  # past covariates need nothing beyond the present
    assert len(pred) == 3 and np.isfinite(pred).all()
    if strategy == "recursive":
        assert fc.estimator_.n_outputs_ == 2  # the covariate is forecast alongside the target
    with pytest.raises(ValueError, match=r"`past_covariates` names columns \['nope'\] not in `X`"):
        forecaster(lags=6, past_covariates=["nope"], **FAST).fit(y, X)
    with pytest.raises(ValueError, match=r"`past_covariates`=\['lagged'\] are named but `X` is None"):
        forecaster(lags=6, past_covariates="lagged", **FAST).fit(y)


def test_predict_from_newer_history_without_refit():
    y = _sine(n=320)
    fc = forecaster(lags=12, horizon=2, **FAST).fit(y.iloc[:300])
    pd.testing.assert_series_equal(fc.predict(y=y.iloc[:300]), fc.predict())
    newer = fc.predict(y=y)
    assert newer.index[0] == y.index[-1] + pd.Timedelta(days=1)
    assert not np.allclose(newer.to_numpy(), fc.predict().to_numpy())
    with pytest.raises(ValueError, match=r"has 5 observations; forecasting needs the last `lags`=12"):
        fc.predict(y=y.iloc[:5])
    with pytest.raises(ValueError, match=r"must be a Series like the one fitted; got a DataFrame"):
        fc.predict(y=y.to_frame())
    renamed = fc.predict(y=y.iloc[:300].rename("other"))   # a Series' name is cosmetic
    pd.testing.assert_series_equal(renamed, fc.predict())
    with pytest.raises(ValueError, match="fitted without covariates; `X` must be None"):
        fc.predict(X=y.to_frame("x"))


def test_missing_values_ffill_drop_raise():
    y = _sine(n=300)
    y.iloc[[40, 41, 150, 299]] = np.nan           # includes the last observation
    y.iloc[:3] = np.nan                           # leading gap
    fc = forecaster(lags=12, horizon=2, **FAST).fit(y)
    assert np.isfinite(fc.predict()).all()
    assert np.isfinite(fc.predict_interval(0.8).to_numpy()).all()
    drop = forecaster(lags=12, horizon=2, missing="drop", **FAST).fit(y)
    assert drop.n_windows_ < fc.n_windows_
    with pytest.raises(ValueError, match=r"last `lags`=12 observations have missing values .*"
                                         r"2020-10-26"):
        drop.predict()
    with pytest.raises(ValueError, match=r"missing values \(7 rows.*`missing`='raise'"):
        forecaster(lags=12, missing="raise", **FAST).fit(y)


def test_conformal_interval_shapes_and_limits():
    """Empirical coverage on held-out data is tested through backtest (test_model_selection)."""
    y = _sine(n=600, noise=0.3)
    fc = forecaster(lags=8, horizon=3, calibration_fraction=0.25, **FAST).fit(y)
    pred, iv = fc.predict(), fc.predict_interval(0.8)
    assert list(iv.columns) == ["lower", "upper"] and iv.index.equals(pred.index)
    np.testing.assert_allclose((iv["lower"] + iv["upper"]) / 2, pred, rtol=1e-6)
    assert fc.calibration_residuals_.shape == (148, 3, 1)
    narrow, wide = fc.predict_interval(0.5), fc.predict_interval(0.95)
    assert ((wide["upper"] - wide["lower"]) > (narrow["upper"] - narrow["lower"])).all()
    with pytest.raises(ValueError, match=r"`coverage`=0.9999 needs at least 9999 calibration"):
        fc.predict_interval(0.9999)
    with pytest.raises(ValueError, match="`calibration_fraction`"):
        forecaster(lags=8, calibration_fraction=None, **FAST).fit(y).predict_interval()


def test_predict_quantiles_with_quantile_loss():
    y = _sine(n=300, noise=0.3)
    fc = forecaster(lags=12, horizon=2, loss="quantile", quantiles=[0.1, 0.5, 0.9],
                       **FAST).fit(y)
    q = fc.predict_quantiles()
    assert list(q.columns) == [0.1, 0.5, 0.9] and q.index.equals(fc.predict().index)
    assert (q[0.1] <= q[0.5]).all() and (q[0.5] <= q[0.9]).all()
    np.testing.assert_allclose(q[0.5], fc.predict())
    with pytest.raises(ValueError, match="needs loss='quantile'"):
        forecaster(lags=12, **FAST).fit(y).predict_quantiles()


def test_clone_pickle_reproducible_and_inputs_not_mutated():
    y = _sine(n=200)
    X = pd.DataFrame({"cal": np.arange(210.0)}, index=pd.date_range("2020-01-01", periods=210))
    y0, X0 = y.copy(), X.copy()
    fc = forecaster(lags=6, horizon=2, **FAST).fit(y, X)
    p1 = fc.predict(X=X)
    pd.testing.assert_series_equal(y, y0)
    pd.testing.assert_frame_equal(X, X0)
    again = clone(fc).fit(y, X).predict(X=X)
    np.testing.assert_array_equal(p1.to_numpy(), again.to_numpy())   # bitwise
    loaded = pickle.loads(pickle.dumps(fc))
    np.testing.assert_array_equal(loaded.predict(X=X).to_numpy(), p1.to_numpy())
    assert clone(fc).get_params()["lags"] == 6


@pytest.mark.parametrize("params, exc, match", [
    ({"lags": 0}, ValueError, r"`lags`=0"),
    ({"horizon": 1.5}, TypeError, r"`horizon`=1.5"),
    ({"strategy": "both"}, ValueError, r"`strategy`='both'"),
    ({"missing": "zero"}, ValueError, r"`missing`='zero'"),
    ({"window_norm": "mean"}, ValueError, r"`window_norm`='mean'"),
    ({"calibration_fraction": 0.9}, ValueError, r"`calibration_fraction`=0.9"),
    ({"freq": "fortnightly"}, ValueError, r"`freq`='fortnightly' is not a pandas frequency"),
    ({"lags": 150, "horizon": 100}, ValueError,
     r"`y` has 200 observations \(2020-01-01.*`lags` \+ `horizon` = 250"),
])
def test_bad_parameters(params, exc, match):
    with pytest.raises(exc, match=match):
        forecaster(**(FAST | params)).fit(_sine(n=200))


def test_bad_data():
    y = _sine(n=60)
    fc = forecaster(lags=5, **FAST)
    with pytest.raises(ValueError, match="duplicate index labels"):
        fc.fit(pd.concat([y, y.iloc[[4]]]).sort_index())
    with pytest.raises(ValueError, match="not sorted"):
        fc.fit(y.iloc[::-1])
    with pytest.raises(TypeError, match=r"non-numeric columns \{'y': "):
        fc.fit(y.astype(str))
    with pytest.raises(TypeError, match="must be a pandas Series or DataFrame"):
        fc.fit(y.to_numpy())
    with pytest.raises(TypeError, match="DatetimeIndex or an integer"):
        fc.fit(y.set_axis([f"r{i}" for i in range(60)]))
    with pytest.raises(NotFittedError):
        forecaster().predict()
    with pytest.raises(ValueError, match=r"`X` has columns \['y'\] that are also targets"):
        fc.fit(y, y.to_frame())


def test_calendar_frequencies_with_gaps():
    # trading days with a two-week outage stay business days (no weekend rows, no NaN filling)
    y = load_stocks(tickers=["IBM"])["IBM"].iloc[-300:]
    outage = y.drop(y.index[100:110])
    fc = forecaster(lags=10, horizon=3, **FAST).fit(outage)
    assert fc.axis_.calendar and all(d.day_of_week < 5 for d in fc.predict().index)
    # month starts with a missing month: the grid is month starts, the gap a missing value
    ms = pd.Series(np.arange(60.0), index=pd.date_range("2015-01-01", periods=60, freq="MS"))
    fc = forecaster(lags=6, horizon=2, **FAST).fit(ms.drop(ms.index[30]))
    assert fc.axis_.offset.freqstr == "MS"
    assert list(fc.predict().index) == list(pd.date_range("2020-01-01", periods=2, freq="MS"))
    # tz-aware daily data with a gap and a DST change: midnight stays midnight
    idx = pd.date_range("2024-01-01", "2024-03-30", freq="D", tz="Europe/Berlin")
    tz = pd.Series(np.sin(np.arange(len(idx))), index=idx).drop(idx[[20, 70]])
    pred = forecaster(lags=6, horizon=3, **FAST).fit(tz).predict()
    assert [str(t) for t in pred.index] == ["2024-03-31 00:00:00+01:00",
                                            "2024-04-01 00:00:00+02:00",
                                            "2024-04-02 00:00:00+02:00"]


def test_quantile_point_forecast_lies_within_the_quantiles():
    y = _sine(n=300, noise=0.5)
    fc = forecaster(lags=12, horizon=4, loss="quantile", quantiles=[0.9, 0.1, 0.5],
                       hidden_size=4, max_iter=3, random_state=1).fit(y)
    q = fc.predict_quantiles()
    assert (q[0.1] <= q[0.5]).all() and (q[0.5] <= q[0.9]).all()
    np.testing.assert_array_equal(q[0.5].to_numpy(), fc.predict().to_numpy())


def test_predict_with_new_history_and_covariates_checks_X():
    y = _sine(n=200)
    X = pd.DataFrame({"p": y.shift(1).bfill().to_numpy(), "f": np.arange(200.0)}, index=y.index)
    fut = pd.DataFrame({"f": [200.0, 201.0]}, index=pd.date_range(y.index[-1], periods=3)[1:])
    fc = forecaster(lags=6, horizon=2, past_covariates="p", missing="raise", **FAST)
    fc.fit(y.iloc[:150], X.iloc[:150])
    # X needs only the last `lags` rows of the new history, and the future rows
    recent = pd.concat([X.iloc[-6:], fut])
    assert len(fc.predict(X=recent, y=y)) == 2
    with pytest.raises(ValueError, match=r"`X` lacks the covariates \['p'\] used at fit"):
        fc.predict(X=recent.drop(columns="p"), y=y)
    with pytest.raises(TypeError, match="`X` must be a pandas DataFrame of the covariates"):
        fc.predict(X=recent.to_numpy(), y=y)
    with pytest.raises(ValueError, match=r"`X` does not cover the index of `y`: 3 timestamps"):
        fc.predict(X=pd.concat([X.iloc[-3:], fut]), y=y)


def test_infinite_values_are_refused():
    y = _sine(n=100)
    y.iloc[50] = np.inf
    with pytest.raises(ValueError, match=r"infinite values \(1 rows, e.g. \['2020-02-20"):
        forecaster(lags=5, **FAST).fit(y)


def test_covariate_names_as_index_and_warm_start():
    y = _sine(n=150)
    X = pd.DataFrame({"a": np.arange(150.0), "b": np.ones(150)}, index=y.index)
    fc = forecaster(lags=5, past_covariates=X.columns, **FAST).fit(y, X)
    assert fc.past_covariates_ == ["a", "b"]
    warm = forecaster(lags=5, warm_start=True, **FAST).fit(y)
    first = warm.estimator_
    iters = warm.estimator_.t_
    warm.fit(y)
    assert warm.estimator_ is first and warm.estimator_.t_ > iters


# ------------------------------------------------------------- composition
def test_default_estimator_is_the_forecasting_network():
    fc = RNNForecaster(horizon=3)
    assert fc.estimator is None
    net = RNNForecaster.default_estimator(hidden_size=8)
    assert net.early_stopping is True and net.learning_rate_init == 3e-3
    assert net.hidden_size == 8
    # nested parameters start from the defaults when estimator is None
    tuned = clone(fc).set_params(estimator__hidden_size=16, estimator__cell="gru")
    assert isinstance(tuned.estimator, RNNRegressor)
    assert tuned.estimator.get_params()["early_stopping"] is True
    assert tuned.get_params()["estimator__hidden_size"] == 16
    assert fc.estimator is None  # the original is untouched


def test_tuning_through_parameter_grid_and_random_state_seeds_the_network():
    y = _weather().iloc[-300:]
    base = RNNForecaster(lags=10, horizon=2, random_state=0,
                         estimator=RNNForecaster.default_estimator(max_iter=5))
    preds = {}
    for params in ParameterGrid({"estimator__hidden_size": [4, 8]}):
        fc = clone(base).set_params(**params).fit(y)
        assert fc.estimator_.hidden_size == params["estimator__hidden_size"]
        assert fc.estimator_.random_state == 0
        preds[params["estimator__hidden_size"]] = fc.predict()
    assert not preds[4].equals(preds[8])
    again = clone(base).set_params(estimator__hidden_size=4).fit(y).predict()
    pd.testing.assert_series_equal(again, preds[4])


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_any_regressor_forecasts_with_intervals(strategy):
    from sklearn.linear_model import Ridge

    y = _weather()
    fc = RNNForecaster(lags=14, horizon=3, strategy=strategy, estimator=Ridge()).fit(y)
    point, band = fc.predict(), fc.predict_interval(0.8)
    assert point.index.equals(band.index) and np.isfinite(point).all()
    assert (band["lower"] <= point).all() and (point <= band["upper"]).all()
    # the windows reach Ridge flattened time-major, named like make_windows' columns
    names = list(fc.estimator_.feature_names_in_)
    assert names[0] == "temp_max[t-13]" and names[-1] == "temp_max[t-0]"
    # same as Ridge on the same (normalised) windows by hand
    Xw, yw = make_windows(y.to_frame(), target="temp_max", lags=14, horizon=1)
    assert len(names) == Xw.shape[1]


def test_ridge_backtest_is_a_one_line_baseline():
    from sklearn.linear_model import Ridge

    from tsrnn.model_selection import backtest

    y = _weather().iloc[-500:]
    r = backtest(RNNForecaster(lags=14, horizon=7, estimator=Ridge()), y, initial=0.7, m=7,
                 coverage=0.8)
    assert np.isfinite(r.summary["forecaster"]).all()


def test_wrong_estimators_are_named():
    from sklearn.cluster import KMeans
    from sklearn.linear_model import Ridge
    from sklearn.svm import SVR

    y = _weather().iloc[-200:]
    with pytest.raises(TypeError, match="`estimator`=KMeans.* is not a regressor"):
        RNNForecaster(estimator=KMeans()).fit(y)
    with pytest.raises(TypeError, match="`estimator`=Ridge is a class"):
        RNNForecaster(estimator=Ridge).fit(y)
    with pytest.raises(TypeError, match="`estimator`='ridge' must be a scikit-learn regressor"):
        RNNForecaster(estimator="ridge").fit(y)
    with pytest.raises(ValueError, match="reads 3-D windows as .n, channels, time."):
        RNNForecaster(estimator=RNNRegressor(time_axis=2)).fit(y)
    with pytest.raises(ValueError, match="`estimator`=SVR.* predicts one output.*"
                                         "MultiOutputRegressor"):
        RNNForecaster(horizon=3, estimator=SVR()).fit(y)
    RNNForecaster(horizon=3, strategy="recursive", estimator=SVR()).fit(y).predict()
    fc = RNNForecaster(horizon=2, estimator=Ridge()).fit(y)
    with pytest.raises(ValueError, match="needs loss='quantile'.*`estimator` is Ridge"):
        fc.predict_quantiles()
    panel = pd.DataFrame({"a": y, "b": y * 2})
    with pytest.raises(ValueError, match="series_encoding='embedding'.*needs an RNNRegressor"):
        RNNForecaster(global_model=True, series_encoding="embedding",
                      estimator=Ridge()).fit(panel)
    out = RNNForecaster(global_model=True, series_encoding="onehot", estimator=Ridge()).fit(panel)
    assert list(out.predict().columns) == ["a", "b"]


def test_an_estimator_that_cannot_take_the_windows_is_named():
    from sklearn.base import BaseEstimator, RegressorMixin

    class Picky(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            raise ValueError("needs exactly 5 features")

        def predict(self, X):
            return np.zeros(len(X))

    with pytest.raises(ValueError, match="`estimator`=Picky.* could not be fitted on the "
                                         "forecaster's windows .*5 features"):
        RNNForecaster(horizon=1, estimator=Picky()).fit(_weather().iloc[-200:])


def test_warm_start_continues_the_fitted_network():
    y = _weather().iloc[-400:]
    net = RNNForecaster.default_estimator(max_iter=3, warm_start=True, early_stopping=False)
    fc = RNNForecaster(lags=8, horizon=2, estimator=net, random_state=0).fit(y)
    first = fc.estimator_
    fc.fit(y)
    assert fc.estimator_ is first and fc.estimator_.n_iter_ == 6
