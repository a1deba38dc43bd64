"""Classical seasonal decomposition of a series before windowing (window_norm="decompose")."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, Ridge
from test_scaling import ZeroRegressor, seasonal_series

from tsrnn import RNNEnsembleForecaster, RNNForecaster
from tsrnn._forecast import scaling
from tsrnn.model_selection import backtest
from tsrnn.persistence import load, save

PATTERN = np.array([0.8, 0.9, 1.0, 1.1, 1.3, 1.2, 1.0, 0.9, 0.95, 1.05, 0.85, 0.95])


def reference_indices(x, m, mult):
    """Slow classical decomposition: centred moving average (2 x m for even m), the
    ratio or difference to it, averaged per phase and normalised."""
    n = len(x)
    half = m // 2
    ratios = {k: [] for k in range(m)}
    for t in range(half, n - half):
        if m % 2 == 0:
            trend = (0.5 * x[t - half] + x[t - half + 1:t + half].sum() + 0.5 * x[t + half]) / m
        else:
            trend = x[t - half:t + half + 1].mean()
        ratios[t % m].append(x[t] / trend if mult else x[t] - trend)
    idx = np.array([np.mean(ratios[k]) for k in range(m)])
    return idx / idx.mean() if mult else idx - idx.mean()


def pure_season(n, start="2000-01-01", level=50.0, phase=0):
    index = pd.date_range(start, periods=n, freq="MS")
    return pd.Series(level * np.roll(PATTERN, -phase)[np.arange(n) % 12], index=index)


@pytest.mark.parametrize("m", [4, 7, 12])
@pytest.mark.parametrize("mult", [True, False])
def test_indices_match_the_slow_reference(m, mult):
    rng = np.random.default_rng(m)
    t = np.arange(6 * m + 3)
    x = 100 + 0.3 * t + 10 * np.sin(2 * np.pi * t / m) + rng.normal(size=len(t))
    if not mult:
        x = x - 200.0  # negative values: additive
    idx, found_mult = scaling.seasonal_indices(x[:, None], m)
    assert found_mult is mult
    np.testing.assert_allclose(idx[:, 0], reference_indices(x, m, mult), rtol=1e-12,
                               atol=1e-12)


def test_indices_refuse_what_cannot_be_decomposed():
    assert scaling.seasonal_indices(np.ones((20, 1)), 12) is None  # fewer than two seasons
    assert scaling.seasonal_indices(np.ones((40, 1)), 1) is None
    x = np.arange(48.0)[:, None] + 1
    x[np.arange(48) % 12 == 5] = np.nan  # a phase never observed
    assert scaling.seasonal_indices(x, 12) is None
    # NaN gaps elsewhere are skipped
    y = pure_season(60).to_numpy()[:, None].copy()
    y[20] = np.nan
    idx, mult = scaling.seasonal_indices(y, 12)
    assert mult and np.isfinite(idx).all()


def test_a_pure_season_is_forecast_exactly_and_the_transform_inverts():
    y = pure_season(72)
    fc = RNNForecaster(lags=6, horizon=15, window_norm="decompose",
                       estimator=ZeroRegressor()).fit(y)
    st = fc._state
    assert st.mult and st.norm == "last"
    np.testing.assert_allclose(st.seasonal[:, 0], PATTERN / PATTERN.mean(), rtol=1e-12)
    future = pure_season(72 + 15).to_numpy()[72:]
    np.testing.assert_allclose(fc.predict().to_numpy(), future, rtol=1e-12)
    # to_units and from_units invert exactly, also on a log scale and in a panel's units
    x = y.to_numpy()[:, None]
    steps = np.arange(len(x)) + 5
    for state in (st, st.__class__(**{**st.__dict__, "log": True, "floor": 1e-3}),
                  st.__class__(**{**st.__dict__, "loc": 3.0, "scale": 2.0, "mult": False})):
        np.testing.assert_allclose(state.from_units(state.to_units(x, steps), steps), x,
                                   rtol=1e-13)


@pytest.mark.parametrize("cut", [0, 5, 11])
def test_the_phase_follows_time_in_a_new_history(cut):
    """A newer (or shifted) history is placed in the season by its timestamps."""
    full = pure_season(100)
    fc = RNNForecaster(lags=6, horizon=12, window_norm="decompose",
                       estimator=ZeroRegressor()).fit(full.iloc[cut:60 + cut])
    for end in (80, 97, 55):
        got = fc.predict(y=full.iloc[:end]).to_numpy()
        want = pure_season(end + 12).to_numpy()[end:]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_additive_decomposition_of_a_trend_is_forecast_exactly():
    season = np.tile(PATTERN - PATTERN.mean(), 8)[:80 + 12] * 10
    values = -100 + 0.5 * np.arange(92) + season
    y = pd.Series(values[:80], index=pd.RangeIndex(80))
    fc = RNNForecaster(lags=4, horizon=12, window_norm="decompose", season_length=12,
                       calibration_fraction=None, estimator=LinearRegression()).fit(y)
    assert not fc._state.mult
    np.testing.assert_allclose(fc.predict().to_numpy(), values[80:], rtol=1e-9, atol=1e-9)


def test_global_model_decomposes_each_series_with_its_own_phase():
    panel = {"a": pure_season(60, phase=0), "b": pure_season(50, "2001-04-01", 20.0),
             "c": pure_season(45, "2003-07-01", 7.0)}
    fc = RNNForecaster(lags=6, horizon=12, window_norm="decompose", global_model=True,
                       calibration_fraction=None, estimator=ZeroRegressor()).fit(panel)
    pred = fc.predict()
    for sid, s in panel.items():
        want = pure_season(len(s) + 12, s.index[0], s.iloc[0] / PATTERN[0]).to_numpy()[len(s):]
        np.testing.assert_allclose(pred.xs(sid, level=0).iloc[:, 0].to_numpy(), want,
                                   rtol=1e-12)
    # a short series padded at its start is placed in the season by its own start
    short = {**panel, "d": pure_season(8, "2004-03-01", 3.0)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = RNNForecaster(lags=10, horizon=12, window_norm="auto", global_model=True,
                           estimator=ZeroRegressor()).fit(short)
    assert fc._states["d"].seasonal is None  # too short to decompose
    assert fc._states["a"].seasonal is not None
    assert np.isfinite(fc.predict().to_numpy()).all()


def test_explicit_decompose_that_cannot_apply_warns_and_forecasts():
    y = seasonal_series(n=20, m=12)
    with pytest.warns(UserWarning, match="`window_norm`='decompose' but `y` it has fewer "
                                         "than two seasons of 12"):
        fc = RNNForecaster(lags=4, horizon=3, window_norm="decompose",
                           estimator=Ridge()).fit(y)
    assert fc._state.seasonal is None and np.isfinite(fc.predict()).all()
    panel = pd.DataFrame({"a": seasonal_series(n=60), "b": seasonal_series(n=60, seed=2)})
    panel.iloc[:40, 1] = np.nan
    with pytest.warns(UserWarning, match=r"1 series cannot be decomposed .*\['b'\]"):
        fc = RNNForecaster(lags=4, horizon=3, window_norm="decompose", global_model=True,
                           estimator=Ridge()).fit(panel)
    assert np.isfinite(fc.predict().to_numpy()).all()
    # a constant series decomposes to indices of one and forecasts its value
    const = pd.Series(5.0, index=pd.date_range("2000-01-01", periods=48, freq="MS"))
    fc = RNNForecaster(lags=6, horizon=3, window_norm="decompose", estimator=Ridge()).fit(const)
    np.testing.assert_allclose(fc.predict().to_numpy(), 5.0, rtol=1e-12)


def test_intervals_quantiles_backtest_and_ensemble_with_decomposition():
    y = seasonal_series(n=120, m=12)
    fc = RNNForecaster(lags=12, horizon=4, window_norm="decompose", calibration_fraction=0.3,
                       estimator=Ridge()).fit(y)
    point = fc.predict().to_numpy()
    iv = fc.predict_interval(coverage=0.8)
    lower, upper = iv["lower"].to_numpy(), iv["upper"].to_numpy()
    assert np.all(lower < point) and np.all(point < upper)
    # multiplicative: the bounds scale with the season's index at each step
    from tsrnn._forecast.windows import half_width
    half = half_width(fc.calibration_residuals_, 0.8)[:, 0]
    st = fc._state
    steps = st.start_of(y.index[-1]) + np.arange(1, 5)
    np.testing.assert_allclose((upper - point) / st.seasonal[steps % 12, 0], half, rtol=1e-10)
    r = backtest(RNNForecaster(lags=12, horizon=3, window_norm="auto", estimator=Ridge()),
                 y, initial=0.7, m=12, coverage=0.8)
    assert np.isfinite(r.forecasts[["forecast", "lower", "upper"]].to_numpy()).all()
    one = RNNEnsembleForecaster(RNNForecaster(lags=12, horizon=3, window_norm="decompose",
                                              estimator=Ridge()), n_models=1).fit(y)
    solo = RNNForecaster(lags=12, horizon=3, window_norm="decompose", estimator=Ridge()).fit(y)
    np.testing.assert_array_equal(one.predict().to_numpy(), solo.predict().to_numpy())


def test_decomposed_model_round_trips_through_a_file(tmp_path):
    y = seasonal_series(n=96, m=12)
    for index in (y.index, pd.RangeIndex(0, 2 * len(y), 2)):
        y = pd.Series(y.to_numpy(), index=index)
        fc = RNNForecaster(lags=12, horizon=3, window_norm="decompose", season_length=12,
                           estimator=RNNForecaster.default_estimator(hidden_size=4, max_iter=3),
                           random_state=0).fit(y)
        path = tmp_path / "m.tsrnn"
        save(fc, path)
        back = load(path)
        np.testing.assert_array_equal(back._state.seasonal, fc._state.seasonal)
        pd.testing.assert_series_equal(back.predict(y=y.iloc[:80]), fc.predict(y=y.iloc[:80]))


def test_training_never_sees_calibration_values_but_forecasts_use_them():
    """The network trains and calibrates on the training part's decomposition; forecasts
    read it re-estimated on every fitted value."""
    y = seasonal_series(n=120, m=12)
    moved = y.copy()
    moved.iloc[-3] *= 1.5  # a calibration target only
    net = RNNForecaster.default_estimator(hidden_size=4, max_iter=3)
    a, b = (RNNForecaster(horizon=3, window_norm="decompose", estimator=net,
                          random_state=0).fit(v) for v in (y, moved))
    np.testing.assert_array_equal(a._state.trained_seasonal, b._state.trained_seasonal)
    np.testing.assert_array_equal(a.estimator_.network_.params, b.estimator_.network_.params)
    assert not np.array_equal(a._state.seasonal, b._state.seasonal)
    assert not np.array_equal(a.calibration_residuals_, b.calibration_residuals_)


def test_auto_decomposes_only_seasons_of_whole_steps():
    """Weekly data's 52-step cycle drifts against the year: "auto" leaves it alone unless
    the season length is given."""
    t = np.arange(300)
    y = pd.Series(100 + 10 * np.sin(2 * np.pi * t / 52.18),
                  index=pd.date_range("2000-01-01", periods=300, freq="W-SAT"))
    fc = RNNForecaster(horizon=4, estimator=Ridge()).fit(y)
    assert fc._state.season == 52 and fc._state.seasonal is None
    fc = RNNForecaster(horizon=4, season_length=52, estimator=Ridge()).fit(y)
    assert fc._state.seasonal is not None
    fc = RNNForecaster(horizon=4, window_norm="decompose", estimator=Ridge()).fit(y)
    assert fc._state.seasonal is not None  # asked for explicitly


@pytest.mark.parametrize("h, m, n, want", [(1, 1, 10_000, 24), (6, 1, 10_000, 24),
                                           (18, 12, 10_000, 72), (48, 48, 10_000, 96),
                                           (24, 168, 10_000, 168), (12, 12, 95, 34)])
def test_auto_lags_rule(h, m, n, want):
    from tsrnn._forecast.windows import resolve_lags
    spec = RNNForecaster(horizon=h)
    assert resolve_lags(spec, m, n) == want


def test_a_trading_calendar_with_missing_sessions_keeps_its_phase():
    """Sessions missing from a business-day calendar (holidays) do not shift the season:
    the fitted history is placed by its rows."""
    days = pd.bdate_range("2020-01-01", periods=130)
    days = days.delete([17, 40, 41, 77])  # holidays: sessions the series never observed
    pattern = np.array([1.0, 1.2, 0.9, 1.1, 0.8])
    y = pd.Series(50 * pattern[np.arange(len(days)) % 5], index=days)
    fc = RNNForecaster(horizon=5, lags=10, window_norm="decompose",
                       estimator=ZeroRegressor()).fit(y)
    want = 50 * pattern[np.arange(len(days), len(days) + 5) % 5]
    np.testing.assert_allclose(fc.predict().to_numpy(), want, rtol=1e-12)
    # a newer history that starts where the fitted one did is placed by its rows too
    np.testing.assert_allclose(fc.predict(y=y).to_numpy(), want, rtol=1e-12)
    ens = RNNEnsembleForecaster(RNNForecaster(horizon=5, lags=10, window_norm="decompose",
                                              estimator=Ridge()), n_models=1).fit(y)
    solo = RNNForecaster(horizon=5, lags=10, window_norm="decompose", estimator=Ridge()).fit(y)
    pd.testing.assert_frame_equal(ens.predict_interval(0.8), solo.predict_interval(0.8),
                                  check_exact=False, rtol=1e-10)
    # with noise the calibration residuals are not zero: the ensemble places them by rows too
    noisy = y + np.random.default_rng(0).normal(size=len(y))
    ens = clone(ens).fit(noisy)
    solo = clone(solo).fit(noisy)
    np.testing.assert_allclose(ens.calibration_residuals_, solo.calibration_residuals_,
                               rtol=1e-9, atol=1e-12)
