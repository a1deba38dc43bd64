"""Every tsrnn estimator dumps and loads with skops (no pickle), forecasting as before; the
pandas state a forecaster keeps is pickled as plain arrays and rebuilt exactly."""

import pickle

import numpy as np
import pandas as pd
import pytest

from tsrnn import (
    RNNClassifier,
    RNNEnsembleForecaster,
    RNNForecaster,
    RNNRegressor,
    StreamingForecaster,
)
from tsrnn._forecast.plain import decode, encode

NET = {"hidden_size": 4, "max_iter": 2, "random_state": 0}


def _series(n=120, tz=None):
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz=tz, name="day")
    return pd.Series(np.sin(np.arange(n) / 3.0) + 0.01 * np.arange(n), index=index, name="y")


def _fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6, 2))
    net = RNNForecaster.default_estimator(**NET)
    y = _series(tz="Europe/Paris")
    frame = pd.DataFrame({"a": y.to_numpy(), "b": y.to_numpy() ** 2}, index=y.index)
    panel = pd.DataFrame({"s1": y.to_numpy(), "s2": 2 * y.to_numpy()},
                         index=pd.RangeIndex(120))
    return {
        "regressor": (RNNRegressor(**NET).fit(X, X[:, -1, 0]), X),
        "classifier": (RNNClassifier(**NET).fit(X, X[:, -1, 0] > 0), X),
        "forecaster": (RNNForecaster(lags=8, horizon=3, estimator=net, random_state=0)
                       .fit(frame), None),
        "global": (RNNForecaster(lags=8, horizon=2, estimator=net, global_model=True,
                                 series_encoding="embedding", random_state=0).fit(panel), None),
        "ensemble": (RNNEnsembleForecaster(RNNForecaster(lags=8, horizon=2, estimator=net),
                                           n_models=2, random_state=0).fit(_series()), None),
        "stream": (StreamingForecaster(horizon=2, estimator=StreamingForecaster.default_estimator(
            hidden_size=4, max_iter=1), random_state=0).fit(_series()), None),
    }


@pytest.fixture(scope="module")
def fitted():
    return _fitted()


def _predictions(model, X):
    if X is not None:
        return model.predict(X)
    point = model.predict()
    interval = model.predict_interval(0.5) if hasattr(model, "predict_interval") else None
    return point, interval


def _same(a, b):
    for x, z in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        if isinstance(x, (pd.Series, pd.DataFrame)):
            pd.testing.assert_frame_equal(pd.DataFrame(x), pd.DataFrame(z), check_exact=True)
        elif x is not None:
            np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("name", ["regressor", "classifier", "forecaster", "global", "ensemble",
                                  "stream"])
def test_skops_dumps_and_loads_every_estimator(name, fitted, tmp_path):
    sio = pytest.importorskip("skops.io")
    model, X = fitted[name]
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    # what a user reviews: tsrnn's own classes, the pandas offset of a series' step, and a
    # stream's timedelta; nothing else
    assert all(t.startswith(("tsrnn.", "pandas._libs.tslibs.offsets.")) or
               t == "datetime.timedelta" for t in untrusted), untrusted
    loaded = sio.load(path, trusted=untrusted)
    assert type(loaded) is type(model)
    _same(_predictions(model, X), _predictions(loaded, X))


def test_pickle_keeps_no_pandas_object_and_rebuilds_it_exactly(fitted):
    model, _ = fitted["forecaster"]
    state = model._state.__getstate__()
    assert not any(type(v).__module__.startswith("pandas") and "offsets" not in
                   type(v).__module__ for v in state.values())
    again = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(again._state.history, model._state.history, check_exact=True)
    assert again._state.history.index.freq == model._state.history.index.freq
    assert str(again._state.history.index.tz) == "Europe/Paris"


@pytest.mark.parametrize("value", [
    pd.DataFrame({"x": [1.5, np.nan], 3: [1, 2]},
                 index=pd.date_range("2024-03-31 01:00", periods=2, freq="h", tz="Europe/Paris")),
    pd.DataFrame({("a", "lower"): [1.0], ("a", "upper"): [2.0]}, index=pd.RangeIndex(5, 6)),
    pd.Series([1.0, 2.0], index=pd.Index([10, 20], name="step"), name=("y", 1)),
    pd.Index(["a", "b"], name="series"),
    pd.DatetimeIndex(["2024-01-01", "2024-01-08"], freq="W-MON").as_unit("s"),
])
def test_encode_decode_round_trip(value):
    plain = encode({"v": [value, (value,)]})
    assert "pandas" not in repr(type(plain["v"][0]))
    back = decode(plain)["v"]
    for got in (back[0], back[1][0]):
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got, value, check_exact=True)
        elif isinstance(value, pd.Series):
            pd.testing.assert_series_equal(got, value, check_exact=True)
        else:
            pd.testing.assert_index_equal(got, value, exact=True)
            assert getattr(got, "freq", None) == getattr(value, "freq", None)


def test_timestamp_round_trip():
    stamp = pd.Timestamp("2024-10-27 02:30").tz_localize("Europe/Paris", ambiguous=True).as_unit("ns")
    back = decode(encode(stamp))
    assert back == stamp and str(back.tz) == "Europe/Paris" and back.unit == "ns"
    naive = pd.Timestamp("1871-01-01").as_unit("s")
    assert decode(encode(naive)) == naive and decode(encode(naive)).unit == "s"
