"""tsrnn inside the forecasting libraries that hand it their own windows: skforecast,
mlforecast and sktime (test-only dependencies; each test skips without its package).

Each client lays its windows out its own way (skforecast: NumPy, newest lag first, then
exogenous columns; mlforecast: ``lag1``... newest first, then date features; sktime:
oldest first, and ``(n, channels, time)`` panels).  The check is the one that matters:
inside the client, tsrnn must forecast exactly as the same network fitted on the same
windows in time order — and reading them as they come must be seen to differ.

These clients pin pandas below 3, so the README's test command runs this file in a
second step after installing them (the ``clients`` extra).
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import tsrnn
from tsrnn import LayoutWarning, RNNClassifier, RNNRegressor

LAGS, H = 14, 7
NET = dict(hidden_size=8, max_iter=8, random_state=0, learning_rate_init=0.01)


@pytest.fixture(scope="module")
def sea():
    """The bundled buoy's daily mean sea temperature (about 400 days), and a test split."""
    s = tsrnn.datasets.load_sea_temperature()["temperature"].resample("D").mean()
    s = s.interpolate().rename("y")
    s.index.freq = "D"
    return s[:-H], s[-H:]


def _constant(X, start):
    """Columns ``start:`` of 2-D ``X`` as constant channels of a ``(n, LAGS, k)`` window."""
    return np.repeat(np.asarray(X, float)[:, None, start:], LAGS, axis=1)


class InOrder(RNNRegressor):
    """The reference: builds the time-ordered 3-D windows from a client's newest-first
    columns by hand (lags reversed, later columns constant channels) and fits on those."""

    def _by_hand(self, X):
        A = np.asarray(X, float)
        return np.concatenate([A[:, LAGS - 1::-1, None], _constant(A, LAGS)], axis=2)

    def fit(self, X, y):
        return super().fit(self._by_hand(X), y)

    def predict(self, X):
        return super().predict(self._by_hand(X))


def _mae(a, b):
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


# ------------------------------------------------------------------------- skforecast
def test_skforecast_recursive_reads_newest_lag_first(sea):
    recursive = pytest.importorskip("skforecast.recursive")
    train, test = sea
    # skforecast hands the estimator bare arrays, lag_1 first, so the order must be stated
    rnn = RNNRegressor(**NET, lag_order="newest_first")
    f = recursive.ForecasterRecursive(rnn, lags=LAGS)
    f.fit(train)
    ref = recursive.ForecasterRecursive(InOrder(**NET), lags=LAGS)
    ref.fit(train)
    np.testing.assert_array_equal(f.estimator.network_.params, ref.estimator.network_.params)
    pred, pred_ref = f.predict(H), ref.predict(H)
    np.testing.assert_array_equal(pred.to_numpy(), pred_ref.to_numpy())
    assert _mae(pred, test) == _mae(pred_ref, test)
    # as they come, the windows run backwards in time: warned, and another model
    with pytest.warns(LayoutWarning, match="newest lag first"):
        as_is = recursive.ForecasterRecursive(RNNRegressor(**NET), lags=LAGS)
        as_is.fit(train)
    assert not np.array_equal(as_is.predict(H).to_numpy(), pred.to_numpy())


def test_skforecast_direct_with_exogenous_columns(sea):
    direct = pytest.importorskip("skforecast.direct")
    train, test = sea
    full = pd.concat([train, test])
    exog = pd.DataFrame({"dow": full.index.dayofweek.astype(float)}, index=full.index)
    rnn = RNNRegressor(**NET, lag_order="newest_first", n_lags=LAGS)
    f = direct.ForecasterDirect(rnn, lags=LAGS, steps=3)
    f.fit(train, exog=exog.loc[train.index])
    ref = direct.ForecasterDirect(InOrder(**NET), lags=LAGS, steps=3)
    ref.fit(train, exog=exog.loc[train.index])
    for step in (1, 2, 3):
        got, want = f.estimators_[step], ref.estimators_[step]
        assert got.n_channels_ == 2  # the lag and the day of week
        np.testing.assert_array_equal(got.network_.params, want.network_.params)
    np.testing.assert_array_equal(f.predict(exog=exog.loc[test.index]).to_numpy(),
                                  ref.predict(exog=exog.loc[test.index]).to_numpy())


def test_skforecast_backtesting_and_intervals(sea):
    recursive = pytest.importorskip("skforecast.recursive")
    model_selection = pytest.importorskip("skforecast.model_selection")
    train, _ = sea
    f = recursive.ForecasterRecursive(
        RNNRegressor(**NET, lag_order="newest_first"), lags=LAGS)
    cv = model_selection.TimeSeriesFold(steps=H, initial_train_size=len(train) - 2 * H,
                                        refit=False)
    metric, preds = model_selection.backtesting_forecaster(
        f, y=train, cv=cv, metric="mean_absolute_error", interval=[0.1, 0.9],
        interval_method="conformal", show_progress=False)
    assert len(preds) == 2 * H and np.isfinite(metric.iloc[0, 0])
    assert (preds["lower_bound"] <= preds["upper_bound"]).all()


# ------------------------------------------------------------------------- mlforecast
def _ml_frame(s):
    return pd.DataFrame({"unique_id": "buoy", "ds": s.index, "y": s.to_numpy()})


class InOrderFrame(InOrder):
    """:class:`InOrder` for mlforecast's DataFrames: lag1..lagK, then date features."""

    def _by_hand(self, X):
        assert list(X.columns[:LAGS]) == [f"lag{k}" for k in range(1, LAGS + 1)]
        return super()._by_hand(X.to_numpy())


def test_mlforecast_reads_its_lag_names_and_date_features(sea):
    mlforecast = pytest.importorskip("mlforecast")
    train, test = sea
    setup = dict(freq="D", lags=list(range(1, LAGS + 1)), date_features=["dayofweek"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)  # the names say it all
        m = mlforecast.MLForecast(models={"rnn": RNNRegressor(**NET)}, **setup)
        m.fit(_ml_frame(train))
    ref = mlforecast.MLForecast(models={"rnn": InOrderFrame(**NET)}, **setup)
    ref.fit(_ml_frame(train))
    got, want = m.models_["rnn"], ref.models_["rnn"]
    assert (got.n_timesteps_, got.n_channels_) == (LAGS, 2)
    np.testing.assert_array_equal(got.network_.params, want.network_.params)
    pred, pred_ref = m.predict(H)["rnn"], ref.predict(H)["rnn"]
    np.testing.assert_array_equal(pred.to_numpy(), pred_ref.to_numpy())
    assert _mae(pred, test) == _mae(pred_ref, test)


def test_mlforecast_cross_validation_and_intervals(sea):
    mlforecast = pytest.importorskip("mlforecast")
    utils = pytest.importorskip("mlforecast.utils")
    train, _ = sea
    m = mlforecast.MLForecast(models={"rnn": RNNRegressor(**NET)}, freq="D",
                              lags=list(range(1, LAGS + 1)))
    cv = m.cross_validation(_ml_frame(train), n_windows=2, h=H)
    assert len(cv) == 2 * H and np.isfinite(cv["rnn"]).all()
    m.fit(_ml_frame(train), prediction_intervals=utils.PredictionIntervals(n_windows=2, h=H))
    out = m.predict(H, level=[80])
    assert (out["rnn-lo-80"] <= out["rnn-hi-80"]).all()


# ---------------------------------------------------------------------------- sktime
def test_sktime_reduction_reads_oldest_first(sea):
    compose = pytest.importorskip("sktime.forecasting.compose")
    train, test = sea
    fh = list(range(1, H + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)
        f = compose.make_reduction(RNNRegressor(**NET, lag_order="oldest_first"),
                                   window_length=LAGS, strategy="recursive")
        f.fit(train, fh=fh)
    # the reference: the same windows made by tsrnn itself, in time order
    y = train.to_numpy()
    X3 = np.lib.stride_tricks.sliding_window_view(y[:-1], LAGS)[:, :, None]
    ref = RNNRegressor(**NET).fit(X3, y[LAGS:])
    np.testing.assert_array_equal(f.estimator_.network_.params, ref.network_.params)
    pred = f.predict(fh)
    window = list(y[-LAGS:])
    for _ in fh:
        window.append(ref.predict(np.array(window[-LAGS:])[None, :, None])[0])
    np.testing.assert_allclose(pred.to_numpy(), window[LAGS:], rtol=1e-12)
    assert _mae(pred, test) < _mae(np.full(H, y.mean()), test)


def test_sktime_grid_search(sea):
    compose = pytest.importorskip("sktime.forecasting.compose")
    ms = pytest.importorskip("sktime.forecasting.model_selection")
    split = pytest.importorskip("sktime.split")
    train = sea[0][-120:]
    f = compose.make_reduction(RNNRegressor(**NET, lag_order="oldest_first"),
                               window_length=LAGS, strategy="direct")
    cv = split.ExpandingWindowSplitter(fh=[1, 2], initial_window=len(train) - 6, step_length=3)
    gs = ms.ForecastingGridSearchCV(f, cv=cv, param_grid={"estimator__hidden_size": [4, 8]})
    gs.fit(train, fh=[1, 2])
    assert gs.best_params_["estimator__hidden_size"] in (4, 8)
    assert np.isfinite(gs.predict([1, 2]).to_numpy()).all()


def test_sktime_panels_are_channels_by_time():
    datasets = pytest.importorskip("sktime.datasets")
    X, y = datasets.load_basic_motions(return_type="numpy3D")  # (n, 6 channels, 100 steps)
    X = X[:, :, ::5]  # every fifth step keeps the test fast
    kw = dict(hidden_size=8, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)
        clf = RNNClassifier(**kw, time_axis=2).fit(X, y)
    assert (clf.n_channels_, clf.network_.input_size) == (6, 6)
    ref = RNNClassifier(**kw).fit(np.ascontiguousarray(X.transpose(0, 2, 1)), y)
    np.testing.assert_array_equal(clf.network_.params, ref.network_.params)
    np.testing.assert_array_equal(clf.predict(X), ref.predict(X.transpose(0, 2, 1)))
