"""tsrnn.windowing: layout, names, index alignment and no look-ahead (property tests)."""

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tsrnn import RNNRegressor
from tsrnn.windowing import make_windows

NAME = re.compile(r"^(?P<ch>.+)\[t(?P<sign>[-+])(?P<k>\d+)\]$")


def _offset(col):
    m = NAME.match(col)
    assert m, col
    return m["ch"], int(m["k"]) * (1 if m["sign"] == "+" else -1)


def _frame(n, columns=("a", "b", "c", "d"), index=None, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=n, freq="D", name="date") if index is None else index
    return pd.DataFrame(rng.normal(size=(n, len(columns))), index=index, columns=list(columns))


def test_docstring_layout():
    df = pd.DataFrame({"temp": [1.0, 2, 3, 4, 5]},
                      index=pd.date_range("2024-01-01", periods=5, name="date"))
    X, y = make_windows(df, target="temp", lags=3)
    assert list(X.columns) == ["temp[t-2]", "temp[t-1]", "temp[t-0]"]
    assert X.to_numpy().tolist() == [[1, 2, 3], [2, 3, 4]]
    assert y["temp[t+1]"].tolist() == [4, 5]
    assert list(X.index) == list(df.index[2:4]) and X.index.name == "date"
    assert X.index.equals(y.index)


def test_time_major_channels_and_future_lead():
    df = _frame(10)
    X, y = make_windows(df, target=["a", "b"], lags=3, horizon=2, past_covariates="c",
                        future_covariates=["d"])
    assert list(X.columns[:4]) == ["a[t-2]", "b[t-2]", "c[t-2]", "d[t-0]"]
    assert list(X.columns[-4:]) == ["a[t-0]", "b[t-0]", "c[t-0]", "d[t+2]"]
    assert list(y.columns) == ["a[t+1]", "b[t+1]", "a[t+2]", "b[t+2]"]
    assert len(X) == 10 - 3 - 2 + 1


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 40), lags=st.integers(1, 8), horizon=st.integers(1, 5),
    step=st.integers(1, 4), n_targets=st.integers(1, 2), past=st.booleans(),
    future=st.booleans(), seed=st.integers(0, 10_000),
)
def test_no_look_ahead_property(n, lags, horizon, step, n_targets, past, future, seed):
    """Every X cell holds the named channel at the named offset; only declared future covariates
    (at most `horizon` steps ahead) look past the origin; y holds the next `horizon` targets."""
    if future and lags < horizon:
        lags = horizon
    n = max(n, lags + horizon)
    df = _frame(n, seed=seed)
    targets = ["a", "b"][:n_targets]
    X, y = make_windows(df, target=targets, lags=lags, horizon=horizon,
                        past_covariates="c" if past else None,
                        future_covariates="d" if future else None, step=step)
    pos = df.index.get_indexer(X.index)
    assert (pos >= lags - 1).all() and (pos + horizon <= n - 1).all()
    assert pos[-1] == n - 1 - horizon                     # newest origin always kept
    assert (np.diff(pos) == step).all()
    for col in X.columns:
        ch, off = _offset(col)
        if ch == "d":
            assert -lags + 1 + horizon <= off <= horizon
        else:
            assert -lags + 1 <= off <= 0, col            # nothing after the origin
        np.testing.assert_array_equal(X[col].to_numpy(), df[ch].to_numpy()[pos + off])
    for col in y.columns:
        ch, off = _offset(col)
        assert ch in targets and 1 <= off <= horizon
        np.testing.assert_array_equal(y[col].to_numpy(), df[ch].to_numpy()[pos + off])
    assert X.shape[1] == lags * (n_targets + past + future)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 1000), lags=st.integers(1, 6))
def test_changing_the_future_changes_no_window(seed, lags):
    """Perturbing values after an origin leaves that origin's X untouched (causality)."""
    df = _frame(30, seed=seed)
    X1, _ = make_windows(df, target="a", lags=lags, past_covariates=["b"])
    cut = 20
    df2 = df.copy()
    df2.iloc[cut + 1:, :] += 100.0
    X2, _ = make_windows(df2, target="a", lags=lags, past_covariates=["b"])
    before = X1.index <= df.index[cut]
    pd.testing.assert_frame_equal(X1[before], X2[before])
    assert not X1[~before].equals(X2[~before])


def test_dropna_and_keep():
    df = _frame(12)
    df.iloc[5, 0] = np.nan
    X, y = make_windows(df, target="a", lags=2)
    assert not X.isna().any().any() and not y.isna().any().any()
    assert len(X) == 12 - 2 - 3  # three windows touch row 5 (as input twice, as target once)
    Xk, _ = make_windows(df, target="a", lags=2, dropna=False)
    assert len(Xk) == 10 and Xk.isna().any().any()


def test_series_and_range_index():
    s = pd.Series(np.arange(6.0), name="v")
    X, y = make_windows(s, target="v", lags=2, horizon=2)
    assert list(X.index) == [1, 2, 3] and list(y.iloc[0]) == [2.0, 3.0]
    X, _ = make_windows(pd.Series(np.arange(4.0)), target="y", lags=2)
    assert list(X.columns) == ["y[t-1]", "y[t-0]"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_rnn_regressor_reads_windows_as_3d_also_through_set_output():
    df = _frame(60)
    X, y = make_windows(df, target="a", lags=5, horizon=2, past_covariates="b",
                        future_covariates="d")
    reg = RNNRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, y)
    assert (reg.n_timesteps_, reg.n_channels_) == (5, 3)
    pipe = make_pipeline(StandardScaler().set_output(transform="pandas"),
                         RNNRegressor(hidden_size=4, max_iter=2, random_state=0)).fit(X, y)
    assert (pipe[-1].n_timesteps_, pipe[-1].n_channels_) == (5, 3)
    assert pipe.predict(X).shape == (len(X), 2)


def test_input_not_mutated():
    df = _frame(20)
    df.iloc[3, 1] = np.nan
    before = df.copy()
    make_windows(df, target="a", lags=3, horizon=2, past_covariates="b", future_covariates="d")
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(lags=0), ValueError, r"`lags`=0"),
    (dict(lags=2.5), TypeError, r"`lags`=2.5"),
    (dict(horizon=0), ValueError, r"`horizon`=0"),
    (dict(step=-1), ValueError, r"`step`=-1"),
    (dict(target="zz"), ValueError, r"`target` names unknown columns \['zz'\]"),
    (dict(past_covariates=["b", "zz"]), ValueError, r"`past_covariates` .*\['zz'\]"),
    (dict(past_covariates="a"), ValueError, r"'a' is in both `target` and `past_covariates`"),
    (dict(future_covariates="d", lags=2, horizon=3), ValueError, r"`lags`=2 must be >= `horizon`=3"),
    (dict(lags=20), ValueError, r"has 12 rows .*2024-01-01.* at least `lags` \+ `horizon` = 21"),
    (dict(target=[]), ValueError, r"at least one column"),
    (dict(target=["a", "a"]), ValueError, r"lists \['a'\] more than once"),
])
def test_bad_arguments(kwargs, exc, match):
    params = dict(target="a", lags=3) | kwargs
    with pytest.raises(exc, match=match):
        make_windows(_frame(12), **params)


def test_bad_data():
    df = _frame(12)
    with pytest.raises(ValueError, match="duplicate index labels"):
        make_windows(pd.concat([df, df.iloc[[3]]]).sort_index(), target="a", lags=2)
    with pytest.raises(ValueError, match=r"not sorted .*2024-01-12.* comes before"):
        make_windows(df.iloc[::-1], target="a", lags=2)
    bad = df.assign(e=["x"] * 12)
    with pytest.raises(TypeError, match=r"non-numeric columns \{'e': "):
        make_windows(bad, target="a", lags=2, past_covariates="e")
    make_windows(bad, target="a", lags=2)  # unused columns may be anything
    clash = pd.DataFrame({0: np.arange(5.0), "0": np.arange(5.0)})
    with pytest.raises(ValueError, match="not distinct as text"):
        make_windows(clash, target=0, lags=2, past_covariates=["0"])
    X, _ = make_windows(df, target=pd.Index(["a"]), lags=2, past_covariates=np.array(["b"]))
    assert list(X.columns[:2]) == ["a[t-1]", "b[t-1]"]
    with pytest.raises(TypeError, match="`data` must be a pandas DataFrame"):
        make_windows(df.to_numpy(), target="a", lags=2)
