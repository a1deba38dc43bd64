"""RNNEnsembleForecaster: members by seed, window and loss, combined by median."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge

from tsrnn import RNNEnsembleForecaster, RNNForecaster, load, save
from tsrnn.model_selection import backtest

NET = dict(hidden_size=4, max_iter=3)


def series(n=150, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.Series(20 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, n),
                     index=pd.date_range("2000-01-01", periods=n, freq="MS"), name="y")


def base(**kw):
    return RNNForecaster(lags=12, horizon=3, estimator=RNNForecaster.default_estimator(**NET),
                         **kw)


def test_an_ensemble_of_one_is_the_forecaster():
    y = series()
    single = base(random_state=3).fit(y)
    ens = RNNEnsembleForecaster(base(random_state=3), n_models=1).fit(y)
    pd.testing.assert_series_equal(ens.predict(), single.predict())
    # residuals and intervals go through the model's units (here a multiplicative
    # decomposition) and back: equal up to rounding
    assert single._state.mult
    np.testing.assert_allclose(ens.calibration_residuals_, single.calibration_residuals_,
                               rtol=1e-9, atol=1e-12)
    pd.testing.assert_frame_equal(ens.predict_interval(0.8), single.predict_interval(0.8),
                                  check_exact=False, rtol=1e-12)


def test_members_cycle_lags_then_losses_with_their_own_seeds():
    ens = RNNEnsembleForecaster(base(), n_models=5, lags=[6, 12], random_state=0,
                                losses=["absolute_error", "squared_error"]).fit(series())
    got = [(p["lags"], p["loss"]) for p in ens.member_params_]
    assert got == [(6, "absolute_error"), (12, "absolute_error"), (6, "squared_error"),
                   (12, "squared_error"), (6, "absolute_error")]
    seeds = [p["random_state"] for p in ens.member_params_]
    assert seeds[0] == 0 and len(set(seeds)) == 5
    assert [m.lags for m in ens.members_] == [6, 12, 6, 12, 6]
    assert [m.estimator_.loss for m in ens.members_][:2] == ["absolute_error"] * 2
    assert ens.member_fit_seconds_.shape == (5,) and (ens.member_fit_seconds_ > 0).all()


def test_the_forecast_is_the_members_median():
    y = series()
    ens = RNNEnsembleForecaster(base(), n_models=3, lags=[6, 12, 24], random_state=1).fit(y)
    members = np.stack([m.predict().to_numpy() for m in ens.members_])
    np.testing.assert_array_equal(ens.predict().to_numpy(), np.median(members, axis=0))
    mean = clone(ens).set_params(combine="mean").fit(y)
    np.testing.assert_allclose(mean.predict().to_numpy(), members.mean(axis=0), rtol=1e-12)


def test_results_do_not_depend_on_n_jobs():
    y = series()
    a = RNNEnsembleForecaster(base(), n_models=4, lags=[6, 12], random_state=0).fit(y)
    b = clone(a).set_params(n_jobs=2).fit(y)
    pd.testing.assert_series_equal(a.predict(), b.predict())
    np.testing.assert_array_equal(a.calibration_residuals_, b.calibration_residuals_)


def test_intervals_are_conformal_on_the_combined_forecast():
    y = series(240)
    # additive units (the ensemble of one checks a decomposed series' intervals)
    ens = RNNEnsembleForecaster(base(calibration_fraction=0.3, window_norm="last"), n_models=3,
                                lags=[6, 12, 24], random_state=0).fit(y)
    # the calibration windows all members held out: the largest window's
    widest = ens.members_[2]
    assert len(ens.calibration_residuals_) == len(widest.calibration_residuals_)
    iv = ens.predict_interval(0.8)
    point = ens.predict()
    np.testing.assert_allclose((iv["lower"] + iv["upper"]) / 2, point, rtol=1e-12)
    from tsrnn._forecast.windows import half_width
    half = half_width(ens.calibration_residuals_, 0.8)[:, 0]
    np.testing.assert_allclose((iv["upper"] - iv["lower"]).to_numpy() / 2, half, rtol=1e-12)


def test_quantiles_combine_per_level():
    est = RNNForecaster.default_estimator(loss="quantile", quantiles=[0.1, 0.5, 0.9], **NET)
    fc = RNNForecaster(lags=12, horizon=3, estimator=est)
    ens = RNNEnsembleForecaster(fc, n_models=3, lags=[6, 12, 24], random_state=0).fit(series())
    q = ens.predict_quantiles()
    assert list(q.columns) == [0.1, 0.5, 0.9]
    assert (np.diff(q.to_numpy(), axis=1) >= 0).all()
    members = np.stack([m.predict_quantiles().to_numpy() for m in ens.members_])
    np.testing.assert_allclose(q.to_numpy(), np.sort(np.median(members, axis=0), axis=1))
    with pytest.raises(ValueError, match="loss='quantile' with the same levels in every member"):
        RNNEnsembleForecaster(base(), n_models=1).fit(series()).predict_quantiles()


def test_global_ensemble_and_backtest():
    panel = pd.DataFrame({f"s{i}": series(80, i) * (i + 1) for i in range(3)})
    ens = RNNEnsembleForecaster(base(global_model=True), n_models=2, lags=[6, 12],
                                random_state=0).fit(panel)
    out = ens.predict()
    assert list(out.columns) == list(panel.columns) and np.isfinite(out.to_numpy()).all()
    iv = ens.predict_interval(0.8)
    assert (iv.xs("lower", axis=1, level=1).to_numpy() < out.to_numpy()).all()
    r = backtest(ens, panel, initial=0.7, m=12, coverage=0.8)
    assert np.isfinite(r.forecasts["forecast"]).all()
    r1 = backtest(RNNEnsembleForecaster(base(), n_models=2, lags=[6, 12], random_state=0),
                  panel["s0"], initial=0.7, m=12, coverage=0.8)
    assert {"lower", "upper"} <= set(r1.forecasts.columns)


def test_any_estimator_and_a_file_round_trip(tmp_path):
    y = series()
    ridge = RNNEnsembleForecaster(RNNForecaster(lags=12, horizon=3, estimator=Ridge()),
                                  n_models=2, lags=[6, 12]).fit(y)
    assert np.isfinite(ridge.predict_interval(0.8).to_numpy()).all()
    ens = RNNEnsembleForecaster(base(), n_models=2, lags=[6, 12], random_state=0).fit(y)
    path = tmp_path / "ens.tsrnn"
    save(ens, path)
    pd.testing.assert_series_equal(load(path).predict(), ens.predict())
    pd.testing.assert_frame_equal(load(path).predict_interval(0.8), ens.predict_interval(0.8))


def test_bad_ensemble_parameters():
    y = series()
    with pytest.raises(ValueError, match="`n_models`=0"):
        RNNEnsembleForecaster(base(), n_models=0).fit(y)
    with pytest.raises(TypeError, match="`lags`=12 must be a list"):
        RNNEnsembleForecaster(base(), lags=12).fit(y)
    with pytest.raises(ValueError, match="`lags`=0"):
        RNNEnsembleForecaster(base(), lags=[0]).fit(y)
    with pytest.raises(ValueError, match="`combine`"):
        RNNEnsembleForecaster(base(), combine="max").fit(y)
    with pytest.raises(TypeError, match="`forecaster` must be an RNNForecaster"):
        RNNEnsembleForecaster(Ridge()).fit(y)
    with pytest.raises(ValueError, match="`losses`=.* needs a network estimator"):
        RNNEnsembleForecaster(RNNForecaster(estimator=Ridge()), losses=["huber"]).fit(y)


def test_decomposed_members_on_a_timezone_aware_index():
    """Calibration keys are placed in the season by their time, also with a timezone."""
    y = series()
    y.index = y.index.tz_localize("Europe/Paris")
    ens = RNNEnsembleForecaster(base(window_norm="decompose"), n_models=2,
                                random_state=0).fit(y)
    assert ens.members_[0]._state.mult
    iv = ens.predict_interval(0.8)
    point = ens.predict()
    assert np.isfinite(iv.to_numpy()).all()
    assert (iv["lower"] < point).all() and (point < iv["upper"]).all()
    one = RNNEnsembleForecaster(base(window_norm="decompose", random_state=3), n_models=1).fit(y)
    solo = base(window_norm="decompose", random_state=3).fit(y)
    np.testing.assert_allclose(one.calibration_residuals_, solo.calibration_residuals_,
                               rtol=1e-9, atol=1e-12)
