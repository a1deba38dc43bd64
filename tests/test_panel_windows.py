"""The global model's streamed windows: a panel's windows gathered a minibatch at a time
(PanelWindows) train the network bitwise as the same windows materialised."""

from __future__ import annotations

import tracemalloc
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import tsrnn._estimator_data as estimator_data
from tsrnn import RNNForecaster, RNNRegressor
from tsrnn._engine.training import Trainer
from tsrnn._forecast import regressor, single
from tsrnn._forecast.panel_windows import PanelWindows
from tsrnn._forecast.windows import window_pairs


def long_panel(n_series=40, seed=0, lengths=(60, 120)):
    """Seasonal series with a trend and noise, of random ``lengths``, ending on
    different days; one gap."""
    rng = np.random.RandomState(seed)
    frames = []
    for i in range(n_series):
        n = rng.randint(lengths[0], lengths[1] + 1)
        t = np.arange(n)
        y = 20 + 30 * rng.rand() + 0.05 * rng.randn() * t + \
            3 * rng.rand() * np.sin(2 * np.pi * (t + rng.randint(7)) / 7) + rng.randn(n)
        end = pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(rng.randint(10)))
        index = pd.date_range(end=end, periods=n, freq="D", name="date")
        frames.append(pd.DataFrame({"id": f"s{i}", "y": y}, index=index))
    df = pd.concat(frames)
    df.iloc[30, 1] = np.nan
    return df


def _materialising(monkeypatch):
    """Fits hand the network the windows as arrays, as before streaming."""
    original = regressor.fit_estimator

    def fit_estimator(est, Xw, Yw, *args, **kwargs):
        if Yw is None:
            Xw, Yw = Xw.block(0, len(Xw))
        return original(est, Xw, Yw, *args, **kwargs)

    monkeypatch.setattr(regressor, "fit_estimator", fit_estimator)


def _fit(df, **params):
    net = dict(hidden_size=4, max_iter=3, batch_size=32)
    net.update(params.pop("net", {}))
    params = {"lags": 14, "horizon": 3, "series_id": "id", "random_state": 0, **params}
    fc = RNNForecaster(estimator=RNNForecaster.default_estimator(**net), **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, UserWarning))
        fc.fit(df)
    return fc


@pytest.mark.parametrize("params", [
    {"series_encoding": "embedding"},
    {"strategy": "recursive", "window_norm": None, "net": {"early_stopping": False}},
    {"clip_outputs": 0.5, "net": {"dtype": np.float64}},
])
def test_streamed_fit_is_bitwise_the_materialised_fit(monkeypatch, params):
    df = long_panel()
    # statistics over several blocks, in both fits
    monkeypatch.setattr(estimator_data, "STATS_VALUES", 2000)
    streamed = _fit(df, **dict(params, net=dict(params.get("net", {}))))
    with monkeypatch.context() as m:
        _materialising(m)
        arrays = _fit(df, **dict(params, net=dict(params.get("net", {}))))
    assert streamed.n_windows_ == arrays.n_windows_ > 1000
    np.testing.assert_array_equal(streamed.estimator_.network_.params,
                                  arrays.estimator_.network_.params)
    assert streamed.estimator_.loss_curve_ == arrays.estimator_.loss_curve_
    np.testing.assert_array_equal(streamed.estimator_._x_mean, arrays.estimator_._x_mean)
    pd.testing.assert_frame_equal(streamed.predict_interval(coverage=0.8),
                                  arrays.predict_interval(coverage=0.8))


def _spec(strategy="direct"):
    return SimpleNamespace(lags_=5, horizon=2, strategy=strategy, decoder_feedback=False)


def _parts(rng, norms):
    parts = []
    for norm in norms:
        n = rng.randint(20, 40)
        A = rng.randn(n, 1).cumsum(axis=0)
        F = rng.randn(n, 1)
        pos = np.arange(4, n - 2)
        parts.append((A, F, A.copy(), pos, norm))
    return parts


def test_windows_are_each_series_own():
    """A window of the stacked panel is bitwise its series' window, whatever the
    series' normalisation, in the order given."""
    rng = np.random.RandomState(0)
    parts = _parts(rng, [("last", 1), (None, 1), ("season", 3), ("last", 1)])
    sizes = [len(p[3]) for p in parts]
    order = rng.permutation(sum(sizes))
    source = PanelWindows(_spec(), parts, 1, order)
    assert source.shape == (sum(sizes), 5, 2) and source.n_outputs == 2
    X, y = source.take(np.arange(len(source)))
    expected_X, expected_y = [], []
    for A, F, Y, pos, norm in parts:
        Xw, Yw = window_pairs(_spec(), A, F, Y, pos, 1, norm)
        expected_X.append(Xw)
        expected_y.append(Yw.reshape(len(Yw), -1))
    np.testing.assert_array_equal(X, np.concatenate(expected_X)[order])
    np.testing.assert_array_equal(y, np.concatenate(expected_y)[order])


def test_network_on_a_source_equals_the_arrays():
    rng = np.random.RandomState(1)
    source = PanelWindows(_spec(), _parts(rng, [("last", 1), (None, 1)] * 3), 1)
    X, y = source.block(0, len(source))
    net = dict(hidden_size=3, max_iter=4, batch_size=16, early_stopping=True,
               random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = RNNRegressor(**net)._fit(source, None, None, incremental=False,
                                     outputs_known=True)
        b = RNNRegressor(**net)._fit(X, y, None, incremental=False, outputs_known=True)
    np.testing.assert_array_equal(a.network_.params, b.network_.params)
    assert a.validation_scores_ == b.validation_scores_
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_streamed_fit_never_holds_the_panel_windows(monkeypatch):
    """No array of all the panel's windows is built: the trainer gets a source, and the
    network's fit (statistics, validation, epochs) adds less than half a float64 copy of
    the windows to the traced memory (the standardisation's blocks, of at most
    STATS_VALUES values, made smaller than that)."""
    df = long_panel(60, seed=2, lengths=(200, 300))
    monkeypatch.setattr(estimator_data, "STATS_VALUES", 20_000)
    seen, grown = [], []
    run, fit_estimator = Trainer.run, single.fit_estimator

    def spy_run(self, X, *args, **kwargs):
        seen.append(type(X).__name__)
        return run(self, X, *args, **kwargs)

    def spy_fit(*args, **kwargs):
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fit_estimator(*args, **kwargs)
        grown.append(tracemalloc.get_traced_memory()[1] - before)

    monkeypatch.setattr(Trainer, "run", spy_run)
    monkeypatch.setattr(single, "fit_estimator", spy_fit)
    settings = dict(lags=48, net={"max_iter": 1, "batch_size": 64})
    _fit(df, **settings)  # first-call allocations (the kernels' dispatch) made untraced
    tracemalloc.start()
    try:
        fc = _fit(df, **settings)
    finally:
        tracemalloc.stop()
    one_copy = fc.n_windows_ * fc.lags_ * 8
    assert seen[-1] == "ScaledWindows"
    assert one_copy > 2_000_000 and grown[-1] < one_copy / 2, (grown[-1], one_copy)


def test_window_source_refuses_what_it_cannot_stream():
    rng = np.random.RandomState(2)
    source = PanelWindows(_spec(), _parts(rng, [("last", 1)]), 1)
    est = RNNRegressor(hidden_size=2, max_iter=1)
    for kwargs, what in [({"y": np.zeros(len(source))}, "`y`"),
                         ({"sample_weight": np.ones(len(source))}, "`sample_weight`")]:
        args = {"y": None, "sample_weight": None, **kwargs}
        with pytest.raises(ValueError, match=what):
            est._fit(source, args["y"], args["sample_weight"], incremental=False)
    with pytest.raises(ValueError, match="output='sequence'"):
        RNNRegressor(output="sequence")._fit(source, None, None, incremental=False)
    empty = PanelWindows(_spec(), [(p[0], p[1], p[2], p[3][:0], p[4]) for p in
                                   _parts(rng, [("last", 1)])], 1)
    with pytest.raises(ValueError, match="no windows"):
        est._fit(empty, None, None, incremental=False)
