"""A 2-D X's column layout and a 3-D X's time axis: read from the names other libraries
write, stated by ``lag_order``/``n_lags``/``time_axis``, refused when ambiguous, warned
about when assumed.  Each layout must give the very fit of the same windows in time order.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import tsrnn
from tsrnn import LayoutWarning, RNNClassifier, RNNRegressor
from tsrnn._estimator_layout import read_layout

T, N = 5, 60
SMALL = dict(hidden_size=4, max_iter=3, random_state=0, batch_size=16)


@pytest.fixture(scope="module")
def windows():
    """(n, T, 2) windows of two channels, oldest step first, and a target."""
    rng = np.random.default_rng(0)
    X3 = rng.normal(size=(N, T, 2)).cumsum(axis=1)
    y = X3[:, -1, 0] * 0.7 + X3[:, -1, 1] * 0.2 + rng.normal(scale=0.1, size=N)
    return X3, y


def _reference(X3, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)  # time-major 3-D windows need no assumption
        return RNNRegressor(**SMALL, **kw).fit(X3, y)


def _same_fit(model, ref, X, X3):
    assert model.n_timesteps_ == ref.n_timesteps_ and model.n_channels_ == ref.n_channels_
    np.testing.assert_array_equal(model.network_.params, ref.network_.params)
    np.testing.assert_array_equal(model.predict(X), ref.predict(X3))


def test_skforecast_names_newest_first(windows):
    X3, y = windows
    ref = _reference(X3[:, :, :1], y)
    X = pd.DataFrame(X3[:, ::-1, 0], columns=[f"lag_{k}" for k in range(1, T + 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)
        model = RNNRegressor(**SMALL).fit(X, y)
    _same_fit(model, ref, X, X3[:, :, :1])
    # skforecast predicts with NumPy arrays: the fitted layout still applies
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(model.predict(X.to_numpy()), ref.predict(X3[:, :, :1]))


def test_numpy_newest_first_with_exogenous_columns(windows):
    """skforecast's arrays: lags newest first, then per-sample columns (exogenous)."""
    X3, y = windows
    exog = X3[:, -1, 1]
    ref = _reference(np.concatenate([X3[:, :, :1], np.repeat(exog[:, None, None], T, 1)], 2), y)
    X = np.column_stack([X3[:, ::-1, 0], exog])
    model = RNNRegressor(**SMALL, lag_order="newest_first", n_lags=T).fit(X, y)
    assert model.n_channels_ == 2 and model.n_features_in_ == T + 1
    _same_fit(model, ref, X, np.concatenate([X3[:, :, :1],
                                             np.repeat(exog[:, None, None], T, 1)], 2))


def test_mlforecast_names_and_date_feature(windows):
    X3, y = windows
    month = np.arange(N) % 12 + 1.0
    ref_X3 = np.concatenate([X3[:, :, :1], np.repeat(month[:, None, None], T, 1)], axis=2)
    ref = _reference(ref_X3, y)
    X = pd.DataFrame(X3[:, ::-1, 0], columns=[f"lag{k}" for k in range(1, T + 1)])
    X["month"] = month
    model = RNNRegressor(**SMALL).fit(X, y)
    _same_fit(model, ref, X, ref_X3)


def test_sktime_lag_names(windows):
    X3, y = windows
    ref = _reference(X3[:, :, :1], y)
    X = pd.DataFrame(X3[:, ::-1, 0], columns=[f"lag_{k}__y" for k in range(1, T + 1)])
    _same_fit(RNNRegressor(**SMALL).fit(X, y), ref, X, X3[:, :, :1])


def test_per_channel_column_transformer_keeps_the_layout(windows):
    """A per-channel ColumnTransformer with pandas output prefixes the names and puts each
    channel's block after the other's: the windows are still read in time order."""
    X3, y = windows
    ref = _reference(X3, y)
    cols = [f"{c}[t-{T - 1 - t}]" for t in range(T) for c in "ab"]
    X = pd.DataFrame(X3.reshape(N, -1), columns=cols)
    identity = FunctionTransformer(feature_names_out="one-to-one")
    ct = ColumnTransformer([("a", identity, [c for c in cols if c.startswith("a")]),
                            ("b", identity, [c for c in cols if c.startswith("b")])])
    ct.set_output(transform="pandas")
    Xt = ct.fit_transform(X)
    assert list(Xt.columns[:2]) == ["a__a[t-4]", "a__a[t-3]"]  # channel-major, prefixed
    pipe = make_pipeline(ct, RNNRegressor(**SMALL)).fit(X, y)
    _same_fit(pipe[-1], ref, Xt, X3)
    np.testing.assert_array_equal(pipe.predict(X), ref.predict(X3))


def test_windowing_names_read_as_they_are(windows):
    X3, y = windows
    cols = [f"{c}[t-{T - 1 - t}]" for t in range(T) for c in "ab"]
    X = pd.DataFrame(X3.reshape(N, -1), columns=cols)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)
        model = RNNRegressor(**SMALL).fit(X, y)
    assert not hasattr(model, "_window_columns")  # time-major already: no copy by index
    _same_fit(model, _reference(X3, y), X, X3)


def test_a_bare_array_warns_that_its_layout_was_assumed(windows):
    X3, y = windows
    X = X3[:, :, 0]
    with pytest.warns(LayoutWarning, match="oldest first.*lag_order='newest_first'"):
        RNNRegressor(**SMALL).fit(X, y)
    with pytest.warns(LayoutWarning, match="no lag names among its columns"):
        RNNRegressor(**SMALL).fit(pd.DataFrame(X, columns=list("abcde")), y)
    for stated in (dict(n_channels=1), dict(lag_order="oldest_first")):
        with warnings.catch_warnings():
            warnings.simplefilter("error", LayoutWarning)
            model = RNNRegressor(**SMALL, **stated).fit(X, y)
            model.predict(X)  # predict never warns: the layout is the fitted one
        _same_fit(model, _reference(X3[:, :, :1], y), X, X3[:, :, :1])


@pytest.mark.parametrize("columns, match", [
    (["lag_1", "y[t-1]", "lag_2"], r"mix lag namings: 'lag_1' \(skforecast\), 'y\[t-1\]'"),
    (["lag_1", "lag_2", "num__lag_2"], "two columns for the same lag: 'lag_2' and 'num__lag_2'"),
    (["lag_1", "lag_3", "lag_2"], "mixed order"),
    (["a[t-2]", "a[t-1]", "b[t-1]"], "do not share one window"),
    (["a_lag_1", "a_lag_2", "b_lag_2", "b_lag_1"], "oldest first for some"),
])
def test_unreadable_layouts_are_refused_naming_the_columns(columns, match):
    X = pd.DataFrame(np.zeros((10, len(columns))), columns=columns)
    with pytest.raises(ValueError, match=match):
        RNNRegressor(**SMALL).fit(X, np.zeros(10))


def test_stated_layouts_that_contradict_the_names_are_refused():
    X = pd.DataFrame(np.zeros((10, 3)), columns=["lag_1", "lag_2", "lag_3"])
    for kw, match in [(dict(lag_order="oldest_first"), "names run newest first"),
                      (dict(n_channels=2), "give 1 channels"),
                      (dict(n_lags=2), "give 3 lags")]:
        with pytest.raises(ValueError, match=match):
            RNNRegressor(**SMALL, **kw).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="`n_lags`=4 with 1 channel.*needs 4 columns"):
        RNNRegressor(**SMALL, n_lags=4, lag_order="newest_first").fit(np.zeros((10, 3)),
                                                                       np.zeros(10))


@pytest.mark.parametrize("param, value", [("lag_order", "newest"), ("n_lags", 0),
                                          ("time_axis", 3), ("time_axis", True)])
def test_bad_layout_parameters(param, value):
    with pytest.raises((ValueError, TypeError), match=param):
        RNNRegressor(**SMALL, **{param: value}).fit(np.zeros((10, 3, 1)), np.zeros(10))


def test_3d_predict_after_a_reordered_2d_fit_is_refused(windows):
    X3, y = windows
    X = pd.DataFrame(X3[:, ::-1, 0], columns=[f"lag_{k}" for k in range(1, T + 1)])
    model = RNNRegressor(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="fitted on 2-D columns in another layout"):
        model.predict(X3[:, :, :1])


def test_time_axis_reads_sktime_and_aeon_arrays(windows):
    X3, y = windows
    labels = (y > np.median(y)).astype(int)
    Xct = np.ascontiguousarray(X3.transpose(0, 2, 1))  # (n, channels, time)
    ref = RNNClassifier(**SMALL).fit(X3, labels)
    model = RNNClassifier(**SMALL, time_axis=2).fit(Xct, labels)
    np.testing.assert_array_equal(model.network_.params, ref.network_.params)
    np.testing.assert_array_equal(model.predict_proba(Xct), ref.predict_proba(X3))
    # a list of (channels, time_i) sequences, aeon's unequal-length collection
    seqs = [X3[i, : 3 + i % 3].T for i in range(N)]
    ref_s = RNNClassifier(**SMALL).fit([s.T for s in seqs], labels)
    got_s = RNNClassifier(**SMALL, time_axis=2).fit(seqs, labels)
    np.testing.assert_array_equal(got_s.predict_proba(seqs), ref_s.predict_proba(
        [s.T for s in seqs]))


def test_few_steps_of_many_channels_warn_about_the_time_axis():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 2, 6))
    with pytest.warns(LayoutWarning, match="time_axis=2"):
        RNNRegressor(**SMALL).fit(X, np.zeros(20))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)
        RNNRegressor(**SMALL, time_axis=1).fit(X, np.zeros(20))


def test_a_reordered_layout_survives_model_files(tmp_path, windows):
    X3, y = windows
    X = pd.DataFrame(X3[:, ::-1, 0], columns=[f"lag{k}" for k in range(1, T + 1)])
    X["month"] = np.arange(N) % 12
    model = RNNRegressor(**SMALL).fit(X, y)
    tsrnn.save(model, tmp_path / "m.tsrnn")
    back = tsrnn.load(tmp_path / "m.tsrnn")
    np.testing.assert_array_equal(back._window_columns, model._window_columns)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_read_layout_gives_each_step_and_channel_its_column():
    cols, assumed = read_layout(["lag2", "lag1", "hour"], 3)
    assert assumed is None
    np.testing.assert_array_equal(cols, [[0, 2], [1, 2]])
    cols, assumed = read_layout(None, 4, n_channels=2, lag_order="newest_first")
    np.testing.assert_array_equal(cols, [[2, 3], [0, 1]])
    assert assumed is None
    assert read_layout(None, 4)[1] is not None
