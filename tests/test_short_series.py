"""A global model over series shorter than a window: padded, never refused, never leaking."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from tsrnn import RNNForecaster
from tsrnn.model_selection import backtest


def monthly(n, seed, start="2000-01-01", level=10.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.Series(level + 0.1 * t + np.sin(2 * np.pi * t / 12) + 0.1 * rng.normal(size=n),
                     index=pd.date_range(start, periods=n, freq="MS"))


class Spy(Ridge):
    """Ridge that keeps the windows it was fitted on."""

    seen = []

    def fit(self, X, y):
        Spy.seen.append((np.asarray(X).copy(), np.asarray(y).copy()))
        return super().fit(X, y)


def test_short_series_are_padded_and_forecast():
    panel = {"long": monthly(60, 0), "short": monthly(9, 1, start="2004-04-01"),
             "tiny": monthly(4, 2, start="2004-09-01")}
    fc = RNNForecaster(lags=12, horizon=3, global_model=True, estimator=Ridge())
    with pytest.warns(UserWarning, match=r"1 series are too short for any training window.*"
                                         r"\['tiny'\]"):
        fc.fit(panel)
    assert fc.padded_series_ == ["short", "tiny"]
    out = fc.predict()
    assert set(out.index.get_level_values(0)) == set(panel)
    assert np.isfinite(out.to_numpy()).all()
    for sid, s in panel.items():
        got = out.xs(sid, level=0).index
        assert got[0] == s.index[-1] + pd.offsets.MonthBegin()


def test_a_series_of_one_observation_takes_the_panel_step():
    panel = {"long": monthly(40, 0), "one": monthly(1, 1, start="2003-05-01")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fc = RNNForecaster(lags=6, horizon=2, global_model=True, estimator=Ridge()).fit(panel)
    out = fc.predict().xs("one", level=0)
    assert list(out.index) == list(pd.date_range("2003-06-01", periods=2, freq="MS"))
    assert np.isfinite(out.to_numpy()).all()


def test_padding_never_reads_the_future():
    """Each padded window is built from observations up to its origin only: changing a
    value leaves the inputs of every earlier origin as they were."""
    s = monthly(10, 3)
    lags, h = 12, 2
    n_windows = len(s) - h  # every origin from the first observation on
    for k in range(1, len(s)):
        Spy.seen.clear()
        changed = s.copy()
        changed.iloc[k] += 100.0
        states = []
        for y in (s, changed):
            fc = RNNForecaster(lags=lags, horizon=h, global_model=True,
                               calibration_fraction=None, window_norm=None,
                               estimator=Spy()).fit({"a": y})
            states.append(fc._states["a"])
        # back from the series' units (its scaling reads all its training values)
        (X0, Y0), (X1, Y1) = [(st.from_units(X), st.from_units(Y))
                              for st, (X, Y) in zip(states, Spy.seen)]
        assert len(X0) == n_windows
        np.testing.assert_allclose(X0[:k], X1[:k], rtol=1e-12)  # origins < k never saw k
        if k < n_windows:
            assert not np.allclose(X0[k:], X1[k:])
        # targets are real observations, never padding
        np.testing.assert_allclose(Y0[:, 0], s.to_numpy()[1:1 + n_windows], rtol=1e-12)


def test_padded_start_is_flat_at_the_first_value():
    Spy.seen.clear()
    s = monthly(6, 4)
    fc = RNNForecaster(lags=5, horizon=2, global_model=True, calibration_fraction=None,
                       window_norm=None, estimator=Spy()).fit({"a": s})
    X = fc._states["a"].from_units(Spy.seen[0][0])
    first = X[0]  # origin at the first observation: four padded steps, then it
    np.testing.assert_allclose(first, np.full(5, s.iloc[0]), rtol=1e-12)
    np.testing.assert_allclose(X[2], np.r_[np.full(3, s.iloc[0]), s.iloc[1:3]], rtol=1e-12)


def test_long_series_windows_are_unchanged_by_short_neighbours():
    """A long series' windows and the global forecasts of a panel without short series
    stay as they were: padding applies to short series only."""
    long = {"a": monthly(50, 0), "b": monthly(50, 1)}
    base = RNNForecaster(lags=12, horizon=3, global_model=True, estimator=Ridge()).fit(long)
    assert base.padded_series_ == []
    # 36 origins per series, the last 4 calibrate, 2 more are the gap before them
    assert base.n_windows_ == 2 * 30


def test_backtest_over_a_panel_with_short_series():
    panel = {"long": monthly(60, 0), "short": monthly(43, 1, start="2001-06-01")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        r = backtest(RNNForecaster(lags=24, horizon=3, global_model=True, estimator=Ridge()),
                     panel, initial=0.6, m=12)
    assert set(r.forecasts["series"]) == {"long", "short"}
    assert np.isfinite(r.forecasts["forecast"]).all()


@pytest.mark.parametrize("n, h", [(15, 6), (42, 18), (60, 18)])
def test_a_short_single_series_gets_auto_lags_and_a_forecast(n, h):
    """lags="auto" leaves a short series as many training windows as steps in a window;
    the default network then trains without early stopping, and says so."""
    y = monthly(n, 0)
    net = RNNForecaster.default_estimator(hidden_size=4, max_iter=3)
    with pytest.warns(UserWarning, match="too few for the default network's early stopping"):
        fc = RNNForecaster(horizon=h, random_state=0).fit(y)
    assert 1 <= fc.lags_ <= fc.n_windows_
    assert np.isfinite(fc.predict().to_numpy()).all()
    # a network the user configured is fitted as configured: the error says why
    with pytest.raises(ValueError, match="early_stopping leaves no training samples"):
        RNNForecaster(horizon=h, estimator=net).fit(y)
    # fixed lags too long for the series are refused with the counts
    with pytest.raises(ValueError, match=r"`lags` \+ `horizon` = |windows of `lags`=40"):
        RNNForecaster(lags=40, horizon=h, estimator=Ridge()).fit(y)
