"""Window normalisation by level and season, and the log scale (tsrnn._forecast.scaling)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

from tsrnn import RNNForecaster
from tsrnn._forecast import scaling
from tsrnn._forecast.series import SeriesState
from tsrnn._forecast.timeaxis import resolve_axis
from tsrnn.model_selection import backtest
from tsrnn.persistence import load, save


class ZeroRegressor(RegressorMixin, BaseEstimator):
    """Predicts zero for every output: the forecast is then the window's reference."""

    def fit(self, X, y):
        self.n_outputs_ = np.asarray(y).reshape(len(y), -1).shape[1]
        return self

    def predict(self, X):
        return np.zeros((len(X), self.n_outputs_))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def seasonal_series(n=120, m=12, seed=0, level=100.0, freq="MS"):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = level * (1 + 0.01 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / m)) \
        + rng.normal(0, 1, n)
    return pd.Series(values, index=pd.date_range("2000-01-01", periods=n, freq=freq), name="y")


@pytest.mark.parametrize("freq, m", [("MS", 12), ("ME", 12), ("QS", 4), ("QE-DEC", 4),
                                     ("W-SUN", 52), ("D", 7), ("B", 5), ("h", 24),
                                     ("30min", 48), ("YS", 1), ("2MS", 1)])
def test_season_from_the_step(freq, m):
    index = pd.date_range("2000-01-01", periods=10, freq=freq)
    assert scaling.season_from_axis(resolve_axis(index, None, "y")) == m


def test_season_of_an_integer_index_is_one_unless_given():
    axis = resolve_axis(pd.RangeIndex(10), None, "y")
    assert scaling.season_length(RNNForecaster(), axis) == 1
    assert scaling.season_length(RNNForecaster(season_length=4), axis) == 4


def test_seasonality_test():
    rng = np.random.default_rng(0)
    t = np.arange(60)
    assert scaling.is_seasonal(np.sin(2 * np.pi * t / 12) + 0.3 * rng.normal(size=60), 12)
    assert not scaling.is_seasonal(rng.normal(size=60), 12)
    # fewer than three seasons, a constant, no season: never seasonal
    assert not scaling.is_seasonal(np.sin(2 * np.pi * t[:30] / 12), 12)
    assert not scaling.is_seasonal(np.ones(60), 12)
    assert not scaling.is_seasonal(rng.normal(size=60), 1)


def test_units_invert():
    axis = resolve_axis(pd.RangeIndex(5), None, "y")
    hist = pd.DataFrame({"y": np.ones(3)})
    v = np.array([0.5, 3.0, 1e6, np.nan])
    for state in (SeriesState(axis, "series", "y", hist, 2.0, 3.0),
                  SeriesState(axis, "series", "y", hist, 0.1, 0.7, log=True, floor=0.5)):
        np.testing.assert_allclose(state.from_units(state.to_units(v)), v, rtol=1e-14)
        assert np.isnan(state.to_units(v)[-1])
    # the identity stays the identity, bit for bit
    state = SeriesState(axis, "series", "y", hist)
    assert state.to_units(v) is v and state.from_units(v) is v


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
@pytest.mark.parametrize("log", [False, True])
def test_zero_output_is_the_reference_forecast(strategy, log):
    """An estimator that outputs zero forecasts the naive value with "last" and the
    seasonal naive one with "season", on either scale: the normalisation inverts."""
    y = seasonal_series(n=80, m=4, freq="QS")
    h, m = 6, 4
    values = y.to_numpy()
    season = RNNForecaster(lags=8, horizon=h, strategy=strategy, window_norm="season",
                           log_scale=log, estimator=ZeroRegressor()).fit(y)
    expect = values[len(values) - m + np.arange(h) % m]
    np.testing.assert_allclose(season.predict().to_numpy(), expect, rtol=1e-13)
    last = RNNForecaster(lags=8, horizon=h, strategy=strategy, log_scale=log,
                         window_norm="last", estimator=ZeroRegressor()).fit(y)
    np.testing.assert_allclose(last.predict().to_numpy(), np.full(h, values[-1]), rtol=1e-13)
    if not log:  # additive: exact
        np.testing.assert_array_equal(last.predict().to_numpy(), np.full(h, values[-1]))


def test_zero_output_in_a_global_model_is_seasonal_naive():
    panel = pd.DataFrame({f"s{i}": seasonal_series(n=60, m=12, seed=i, level=10.0 * (i + 1))
                          for i in range(3)})
    fc = RNNForecaster(lags=12, horizon=12, window_norm="season", log_scale=True,
                       global_model=True, estimator=ZeroRegressor()).fit(panel)
    np.testing.assert_allclose(fc.predict().to_numpy(), panel.iloc[-12:].to_numpy(),
                               rtol=1e-12)


def test_targets_are_the_reference_plus_the_window():
    """Training targets with "season" are the values minus those one season earlier."""
    y = seasonal_series(n=50, m=4, freq="QS")
    fc = RNNForecaster(lags=4, horizon=2, window_norm="season", calibration_fraction=None,
                       estimator=Ridge())
    seen = {}

    class Spy(Ridge):
        def fit(self, X, y):
            seen["X"], seen["y"] = np.asarray(X), np.asarray(y)
            return super().fit(X, y)

    fc.set_params(estimator=Spy()).fit(y)
    v = y.to_numpy()
    origins = np.arange(3, len(v) - 2)
    np.testing.assert_allclose(seen["y"][:, 0], v[origins + 1] - v[origins - 3])
    np.testing.assert_allclose(seen["y"][:, 1], v[origins + 2] - v[origins - 2])
    np.testing.assert_allclose(seen["X"][:, -1], 0.0)  # inputs relative to the last value
    np.testing.assert_allclose(seen["X"][:, 0], v[origins - 3] - v[origins])


def test_auto_choices_per_series():
    pos = seasonal_series(n=96, m=12)
    neg = pos - 200.0
    noise = pd.Series(np.random.default_rng(1).normal(size=96) + 50.0, index=pos.index)
    states = {}
    for name, y in (("pos", pos), ("neg", neg), ("noise", noise)):
        fc = RNNForecaster(lags=12, horizon=3, window_norm="auto", log_scale="auto",
                           estimator=Ridge()).fit(y)
        states[name] = fc._state
    # seasonal series are decomposed (multiplicatively when positive), then windowed
    # relative to their last adjusted value; the rest only relative to the last value
    pos_s, neg_s, noise_s = states["pos"], states["neg"], states["noise"]
    assert (pos_s.log, pos_s.norm, pos_s.season, pos_s.mult) == (True, "last", 12, True)
    assert pos_s.seasonal.shape == (12, 1)
    assert (neg_s.log, neg_s.norm, neg_s.mult) == (False, "last", False)
    assert neg_s.seasonal is not None
    assert (noise_s.log, noise_s.norm, noise_s.seasonal) == (True, "last", None)
    # the decomposition does not need windows a season long
    fc = RNNForecaster(lags=6, horizon=3, window_norm="auto", estimator=Ridge()).fit(pos)
    assert fc._state.seasonal is not None


def test_scaling_reads_only_the_training_part():
    """The choices are made before the calibration windows: a change there is unseen."""
    y = seasonal_series(n=96, m=12)
    late = y.copy()
    late.iloc[-5:] = -1.0  # inside the last 10 % of origins
    a = RNNForecaster(lags=12, horizon=3, log_scale="auto", estimator=Ridge()).fit(y)
    b = RNNForecaster(lags=12, horizon=3, log_scale="auto", estimator=Ridge()).fit(late)
    assert a._state.log and b._state.log
    assert np.isfinite(b.predict()).all()  # the negatives are read as the training floor


def test_log_scale_fallback_warns_once_and_forecasts():
    y = seasonal_series(n=60, m=12)
    y.iloc[5] = 0.0
    with pytest.warns(UserWarning, match="`log_scale`=True but `y` it has zeros") as rec:
        fc = RNNForecaster(lags=12, horizon=3, log_scale=True, estimator=Ridge()).fit(y)
    assert len([w for w in rec if "log_scale" in str(w.message)]) == 1
    assert not fc._state.log and np.isfinite(fc.predict()).all()
    panel = pd.DataFrame({"a": y, "b": seasonal_series(n=60, m=12, seed=3)})
    with pytest.warns(UserWarning, match=r"1 series have zeros or negative values \(\['a'\]\)"):
        fc = RNNForecaster(lags=12, horizon=3, log_scale=True, global_model=True,
                           estimator=Ridge()).fit(panel)
    assert not fc._states["a"].log and fc._states["b"].log
    assert np.isfinite(fc.predict().to_numpy()).all()
    # "auto" chooses silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RNNForecaster(lags=12, horizon=3, log_scale="auto", estimator=Ridge()).fit(y)


def test_log_scale_intervals_are_mapped_from_the_log_scale():
    y = seasonal_series(n=120, m=12)
    fc = RNNForecaster(lags=12, horizon=4, log_scale=True, window_norm="season",
                       calibration_fraction=0.3, estimator=Ridge()).fit(y)
    point = fc.predict().to_numpy()
    iv = fc.predict_interval(coverage=0.8)
    lower, upper = iv["lower"].to_numpy(), iv["upper"].to_numpy()
    assert np.all(lower > 0) and np.all(lower < point) and np.all(point < upper)
    # multiplicative: the log distances to the bounds are the conformal half-width
    from tsrnn._forecast.windows import half_width
    half = half_width(fc.calibration_residuals_, 0.8)[:, 0]
    np.testing.assert_allclose(np.log(upper) - np.log(point), half, rtol=1e-10)
    np.testing.assert_allclose(np.log(point) - np.log(lower), half, rtol=1e-10)


def test_predict_from_a_new_history_and_backtest():
    y = seasonal_series(n=120, m=12)
    fc = RNNForecaster(lags=12, horizon=3, log_scale=True, window_norm="season",
                       estimator=Ridge()).fit(y.iloc[:100])
    newer = fc.predict(y=y)
    assert newer.index[0] == y.index[-1] + y.index.freq
    r = backtest(RNNForecaster(lags=12, horizon=3, log_scale="auto", window_norm="auto",
                               estimator=Ridge()), y, initial=0.7, m=12, coverage=0.8)
    assert np.isfinite(r.forecasts[["forecast", "lower", "upper"]].to_numpy()).all()
    assert (r.forecasts["lower"] <= r.forecasts["forecast"]).all()


def test_bad_scaling_parameters():
    y = seasonal_series(n=60, m=12)
    with pytest.raises(ValueError, match="`window_norm`"):
        RNNForecaster(window_norm="seasonal").fit(y)
    with pytest.raises(ValueError, match="`log_scale`='yes'"):
        RNNForecaster(log_scale="yes").fit(y)
    with pytest.raises(ValueError, match="`season_length`=0"):
        RNNForecaster(season_length=0).fit(y)
    with pytest.raises(TypeError, match="`season_length`=1.5"):
        RNNForecaster(season_length=1.5).fit(y)
    with pytest.raises(ValueError, match=r"`window_norm`='season' needs `lags` >= the season "
                                         r"length 12"):
        RNNForecaster(lags=6, window_norm="season", estimator=Ridge()).fit(y)


def test_constant_and_short_seasons_forecast_finite_values():
    idx = pd.date_range("2000-01-01", periods=40, freq="MS")
    const = pd.Series(5.0, index=idx)
    for kw in ({"log_scale": True}, {"window_norm": "auto", "log_scale": "auto"},
               {"window_norm": "season", "season_length": 3}):
        fc = RNNForecaster(lags=12, horizon=3, estimator=Ridge(), **kw).fit(const)
        np.testing.assert_allclose(fc.predict().to_numpy(), 5.0, rtol=1e-12)
    # a season longer than the series: "auto" keeps the last value as reference
    fc = RNNForecaster(lags=12, horizon=3, window_norm="auto", season_length=52,
                       estimator=Ridge()).fit(seasonal_series(n=40))
    assert fc._state.norm == "last" and fc._state.seasonal is None


def test_scaled_model_round_trips_through_a_file(tmp_path):
    y = seasonal_series(n=96, m=12)
    fc = RNNForecaster(lags=12, horizon=3, log_scale=True, window_norm="season",
                       estimator=RNNForecaster.default_estimator(hidden_size=4, max_iter=3),
                       random_state=0).fit(y)
    path = tmp_path / "m.tsrnn"
    save(fc, path)
    back = load(path)
    assert (back._state.log, back._state.norm, back._state.season, back._state.floor) == \
        (True, "season", 12, fc._state.floor)
    pd.testing.assert_series_equal(back.predict(), fc.predict())


class HugeRegressor(ZeroRegressor):
    """Predicts a change far beyond anything in training."""

    def predict(self, X):
        return np.full((len(X), self.n_outputs_), 1e6)


def test_outputs_are_clipped_to_the_widened_training_range():
    y = seasonal_series(n=80, m=4, freq="QS")
    v = y.to_numpy()
    fc = RNNForecaster(lags=8, horizon=2, estimator=HugeRegressor(), calibration_fraction=None,
                       window_norm="last", clip_outputs=0.5).fit(y)
    steps = np.arange(7, len(v) - 2)
    changes = np.stack([v[steps + j] - v[steps] for j in (1, 2)], axis=1)
    top = changes.max(axis=0) + 0.5 * (changes.max(axis=0) - changes.min(axis=0))
    np.testing.assert_allclose(fc.predict().to_numpy(), v[-1] + top, rtol=1e-12)
    free = RNNForecaster(lags=8, horizon=2, estimator=HugeRegressor(), window_norm="last",
                         calibration_fraction=None, clip_outputs=None).fit(y)
    np.testing.assert_allclose(free.predict().to_numpy(), v[-1] + 1e6)
    with pytest.raises(ValueError, match="`clip_outputs`=-1"):
        RNNForecaster(clip_outputs=-1).fit(y)
