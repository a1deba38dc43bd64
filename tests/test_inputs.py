"""Hostile inputs to the pandas layer: clear errors naming the argument, or correct results.

Every input a user can get wrong (a NaT in the index, complex or text values, an
index beyond int64, a stray timestamp decades away, a frequency finer than the
data, empty or all-missing histories, duplicate names) must fail with a
ValueError or TypeError whose message names the argument, never with an
IndexError, OverflowError, KeyError, a Numba or pandas internals' error, a hang,
a MemoryError or NaN forecasts.  Inputs that can be read exactly (float16,
nullable dtypes, small unsigned labels) are forecast as their float64 / int64
equivalents.
"""

from __future__ import annotations

import signal
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tsrnn import RNNEnsembleForecaster, RNNForecaster, RNNRegressor
from tsrnn._forecast.series import prepare
from tsrnn._forecast.timeaxis import MAX_GRID_RATIO
from tsrnn.model_selection import backtest, fit_many, predict_many
from tsrnn.windowing import make_windows

N = 60
IDX = pd.date_range("2020-01-01", periods=N, freq="D")


def _fc(**params):
    params.setdefault("lags", 5)
    params.setdefault("horizon", 2)
    return RNNForecaster(estimator=RNNRegressor(hidden_size=4, max_iter=2, random_state=0),
                         **params)


def _y(index=IDX, name="y"):
    return pd.Series(np.random.RandomState(0).standard_normal(len(index)).cumsum() + 50,
                     index=index, name=name)


def _X(n=N + 2):
    return pd.DataFrame({"x": np.random.RandomState(1).standard_normal(n)},
                        index=pd.date_range("2020-01-01", periods=n, freq="D"))


def _with_nat(index, at):
    values = index.to_series().to_numpy().copy()
    values[at] = np.datetime64("NaT")
    return pd.DatetimeIndex(values)


def _stray(freq, when="2090-01-01"):
    index = pd.date_range("2020-01-01", periods=N, freq=freq)
    return _y(index.append(pd.DatetimeIndex([when])))


def _frame():
    return pd.DataFrame({"a": _y(), "b": _y() * 2})


# (call, argument the message must name, a further pattern it must contain)
HOSTILE = {
    "nat in y's index": (lambda: _fc().fit(_y(_with_nat(IDX, 10))), "`y`", "NaT"),
    "nat as y's last label": (lambda: _fc().fit(_y(_with_nat(IDX, -1))), "`y`", "NaT"),
    "nat in X's index": (lambda: _fc().fit(_y(), _X().set_axis(_with_nat(_X().index, 3))),
                         "`X`", "NaT"),
    "complex y": (lambda: _fc().fit(_y().astype(complex)), "`y`", "complex"),
    "complex X at fit": (lambda: _fc().fit(_y(), _X().astype(complex)), "`X`", "complex"),
    "complex X at predict": (lambda: _fc().fit(_y(), _X()).predict(X=_X().astype(complex)),
                             "`X`", "complex"),
    "uint64 labels beyond int64": (
        lambda: _fc().fit(_y(pd.Index(np.arange(N, dtype=np.uint64) + np.uint64(2**63 + 5)))),
        "`y`", "int64"),
    "int labels at int64's end": (
        lambda: _fc().fit(_y(pd.RangeIndex(np.iinfo(np.int64).max - N, np.iinfo(np.int64).max))),
        "`y`", "`horizon`=2"),
    "timestamps at pandas' end": (
        lambda: _fc().fit(_y(pd.date_range(pd.Timestamp.max.floor("D") - pd.Timedelta(days=N - 1),
                                           periods=N, freq="D").as_unit("ns"))),
        "`y`", "`horizon`=2"),
    "freq finer than the data": (lambda: _fc(freq="h").fit(_y()), "`y`", "`freq`='h'"),
    "too short for lags + horizon + calibration": (
        lambda: _fc(lags=30, horizon=20).fit(_y()), "`y`", r"which takes \d+ rows"),
    "gaps in every window with missing='drop'": (
        lambda: _fc(missing="drop").fit(_y().where(np.arange(N) % 3 != 0)), "`y`",
        "`missing`='ffill'"),
    "stray timestamp, minutes": (lambda: _fc().fit(_stray("min")), "`y`", "stray timestamp"),
    "stray timestamp, months": (lambda: _fc().fit(_stray("MS")), "`y`", "stray timestamp"),
    "stray timestamp before the data": (
        lambda: _fc().fit(_y(pd.DatetimeIndex(["1970-01-01"]).append(
            pd.date_range("2020-01-01", periods=N, freq="h")))), "`y`", "stray timestamp"),
    "stray integer label": (lambda: _fc().fit(_y(pd.Index(list(range(N)) + [10**15]))),
                            "`y`", "stray timestamp"),
    "empty history": (lambda: _fc().fit(_y()).predict(y=_y().iloc[:0]), "`y`", "0 observ"),
    "zero-row frame history": (lambda: _fc().fit(_frame()).predict(y=_frame().iloc[:0]),
                               "`y`", "0 observ"),
    "all-missing history": (lambda: _fc().fit(_y()).predict(y=_y() * np.nan), "`y`",
                            "no earlier observation"),
    "empty fit": (lambda: _fc().fit(_y().iloc[:0]), "`y`", "0 observ"),
    "all-missing target": (lambda: _fc().fit(_y() * np.nan), "`y`", "no observed value"),
    "all-missing target column": (lambda: _fc().fit(_frame().assign(b=np.nan)), "`y`", "'b'"),
    "all-missing covariate": (lambda: _fc().fit(_y(), _X() * np.nan), "`X`",
                              "no observed value"),
    "duplicate target names": (lambda: _fc().fit(_frame().set_axis(["a", "a"], axis=1)), "`y`",
                               "duplicate column"),
    "duplicate covariate names at fit": (
        lambda: _fc().fit(_y(), pd.concat([_X(), _X()], axis=1)), "`X`", "duplicate column"),
    "duplicate covariate names at predict": (
        lambda: _fc().fit(_y(), _X()).predict(X=pd.concat([_X(), _X()], axis=1)), "`X`",
        "duplicate column"),
    "NaT in X's index at predict": (
        lambda: _fc().fit(_y(), _X()).predict(X=_X().set_axis(_with_nat(_X().index, -1))),
        "`X`", "NaT"),
    "duplicated forecast steps in X at predict": (
        lambda: _fc().fit(_y(), _X()).predict(X=pd.concat([_X(), _X().iloc[-2:]])), "`X`",
        "duplicate index"),
    "numbers as text": (lambda: _fc().fit(_y().astype(str).astype(object)), "`y`",
                        "pd.to_numeric"),
    "unsorted index": (lambda: _fc().fit(_y().iloc[::-1]), "`y`", "sort_index"),
    "duplicated index": (lambda: _fc().fit(pd.concat([_y().iloc[:30], _y().iloc[29:]])), "`y`",
                         "duplicate index"),
    "unsorted newer history": (lambda: _fc().fit(_y()).predict(y=_y().iloc[::-1]), "`y`",
                               "sort_index"),
    "nat in one series of a panel": (
        lambda: _fc(global_model=True).fit({"a": _y(), "b": _y(_with_nat(IDX, 5))}),
        "`y`", "series 'b'"),
    "stray timestamp in one series of a panel": (
        lambda: _fc(global_model=True).fit({"a": _y(), "b": _stray("h")}), "`y`", "series 'b'"),
    "complex series in fit_many": (
        lambda: fit_many(_fc(), {"a": _y(), "b": _y().astype(complex)}), "`y`", "series 'b'"),
    "nat in fit_many": (lambda: fit_many(_fc(), {"a": _y(), "b": _y(_with_nat(IDX, 5))}),
                        "`y`", "series 'b'"),
    "complex make_windows": (lambda: make_windows(_y().astype(complex), target="y", lags=3),
                             "`data`", "complex"),
    "nat in make_windows": (lambda: make_windows(_y(_with_nat(IDX, 4)), target="y", lags=3),
                            "`data`", "NaT"),
    "zero offset freq": (lambda: _fc(freq=pd.offsets.Day(0)).fit(_y()), "`freq`", "positive"),
    "negative offset freq": (lambda: _fc(freq=pd.offsets.Day(-1)).fit(_y()), "`freq`",
                             "positive"),
    "horizon changed since fit": (lambda: _fc().fit(_y()).set_params(horizon=5).predict(),
                                  "`horizon`=5", "fit again"),
    "strategy changed since fit": (
        lambda: _fc().fit(_y()).set_params(strategy="recursive").predict_interval(),
        "`strategy`='recursive'", "fit again"),
    "global_model changed since fit": (
        lambda: _fc().fit(_y()).set_params(global_model=True).predict(), "`global_model`=True",
        "fit again"),
    "huge embedding_dim": (
        lambda: _fc(global_model=True, series_encoding="embedding",
                    embedding_dim=10**20).fit(_frame()), "`embedding_dim`", "memory"),
    "tz-aware history for a naive fit": (
        lambda: _fc().fit(_y()).predict(y=_y().tz_localize("UTC")), "`y`", "tz=UTC"),
    "naive history for a tz-aware fit": (
        lambda: _fc().fit(_y().tz_localize("UTC")).predict(y=_y()), "`y`", "tz=None"),
    "a billion ensemble members": (
        lambda: RNNEnsembleForecaster(_fc(), n_models=10**9).fit(_y()), "`n_models`",
        "at most 1000"),
    "a million ensemble workers": (
        lambda: RNNEnsembleForecaster(_fc(), n_models=2, n_jobs=10**6).fit(_y()), "`n_jobs`",
        "at most"),
    "fractional ensemble workers": (
        lambda: RNNEnsembleForecaster(_fc(), n_models=2, n_jobs=2.5).fit(_y()), "`n_jobs`",
        "2.5"),
    "bool ensemble workers": (
        lambda: RNNEnsembleForecaster(_fc(), n_models=2, n_jobs=True).fit(_y()), "`n_jobs`",
        "True"),
    "backtest of a regressor": (lambda: backtest(RNNRegressor(), _y(), initial=0.7),
                                "`forecaster`", "RNNRegressor"),
    "backtest m beyond the first fit": (
        lambda: backtest(_fc(), _y(), initial=0.7, m=N), "`m`", "`initial`=42"),
    "backtest m equal to the first fit": (
        lambda: backtest(_fc(), _y(), initial=0.7, m=42), "`m`=42", "less than"),
    "backtest huge m": (lambda: backtest(_fc(), _y(), initial=0.7, m=10**20), "`m`", "initial"),
    "backtest huge step": (lambda: backtest(_fc(), _y(), initial=0.7, step=10**20), "`step`",
                           "at most"),
    "panel backtest huge step": (
        lambda: backtest(_fc(global_model=True), _frame(), initial=0.7, step=10**20), "`step`",
        "at most"),
    "panel backtest huge m": (
        lambda: backtest(_fc(global_model=True), _frame(), initial=0.7, m=10**20), "`m`",
        "initial"),
    "backtest metrics not a list": (lambda: backtest(_fc(), _y(), initial=0.7, metrics=3),
                                    "`metrics`", "3"),
    "fit_many with a million workers": (lambda: fit_many(_fc(), _frame(), n_jobs=10**6),
                                        "`n_jobs`", "at most"),
    "predict_many with a non-model": (
        lambda: predict_many({"a": _fc().fit(_y()), "b": "x"}), "`models`", "series 'b'"),
}


@pytest.fixture
def deadline():
    """A hostile input must fail fast, not hang (or fill memory for minutes)."""
    def expire(*_):
        raise TimeoutError("took longer than 60 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


class TestHostileInputs:
    @pytest.mark.parametrize("case", list(HOSTILE))
    def test_fails_with_a_clear_error_naming_the_argument(self, case, deadline):
        call, argument, pattern = HOSTILE[case]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises((ValueError, TypeError)) as info:
                call()
        err = info.value
        # a ValueError/TypeError of pandas' or Numba's internals (OutOfBoundsDatetime,
        # "No matching signature found") would pass the raises() above
        assert type(err).__module__ in ("builtins", "tsrnn._validation"), repr(err)
        assert argument in str(err), str(err)
        assert pd.Series([str(err)]).str.contains(pattern).all(), str(err)
        assert "No matching signature" not in str(err)


def _forecast(y, X=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _fc(**params).fit(y, X).predict(X=X)


# (the input, its exact float64 / int64 equivalent)
READABLE = {
    "float16": (lambda: _y().astype(np.float16),
                lambda: _y().astype(np.float16).astype(np.float64)),
    "nullable Float64 with NA": (lambda: _y().astype("Float64").mask(np.arange(N) == 3),
                                 lambda: _y().mask(np.arange(N) == 3)),
    "nullable Int64 with NA": (lambda: _y().round().astype("Int64").mask(np.arange(N) == 3),
                               lambda: _y().round().mask(np.arange(N) == 3)),
    "small uint64 labels": (lambda: _y(pd.Index(np.arange(N, dtype=np.uint64))),
                            lambda: _y(pd.RangeIndex(N))),
    "bool": (lambda: _y() > 50, lambda: (_y() > 50).astype(np.float64)),
}


@pytest.mark.parametrize("case", list(READABLE))
def test_readable_inputs_forecast_as_their_float64_equivalents(case):
    given_, equivalent = READABLE[case]
    got, want = _forecast(given_()), _forecast(equivalent())
    assert np.isfinite(got.to_numpy()).all()
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    assert list(got.index) == list(want.index)


def test_float16_covariates_forecast_as_float64():
    X16 = _X().astype(np.float16)
    got = _forecast(_y(), X16)
    want = _forecast(_y(), X16.astype(np.float64))
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())


# --------------------------------------------------------- the grid: strays and real gaps
FREQS = {"s": 365 * 86400, "min": 365 * 1440, "h": 365 * 24, "D": 365, "W-SUN": 52, "MS": 12,
         "QS": 4}  # steps per year


@settings(max_examples=40, deadline=None)
@given(freq=st.sampled_from(sorted(FREQS)), n=st.integers(20, 300), before=st.booleans(),
       years=st.integers(40, 150))
def test_a_stray_timestamp_is_refused_pointing_at_it(freq, n, before, years):
    """A timestamp decades before or after the data, at any frequency, is refused before
    any grid is built, naming `y`, the gap's two timestamps and the frequency (the gap at
    least four times the observations: a coarse series decades long is not a stray's)."""
    assume(years * FREQS[freq] >= 4 * n)
    index = pd.date_range("1950-01-01", periods=n, freq=freq)
    stray = index[0] - pd.DateOffset(years=years) if before else \
        index[-1] + pd.DateOffset(years=years)
    stray = pd.DatetimeIndex([stray]).floor("D")
    full = stray.append(index) if before else index.append(stray)
    with pytest.raises(ValueError, match="stray timestamp") as info:
        prepare(_fc(), _y(full), None)
    msg = str(info.value)
    near = index[0] if before else index[-1]
    assert "`y`" in msg and str(stray[0]) in msg and str(near) in msg
    assert "at frequency '" in msg


@settings(max_examples=40, deadline=None)
@given(freq=st.sampled_from(sorted(FREQS)), n=st.integers(30, 400), seed=st.integers(0, 10**6),
       kept=st.floats(0.02, 1.0))
def test_real_gaps_keep_working(freq, n, seed, kept):
    """Timestamps missing at random (down to 2 % kept) or as one outage with data on both
    sides stay missing rows of the full grid."""
    rng = np.random.RandomState(seed)
    index = pd.date_range("2020-01-01", periods=n, freq=freq)
    keep = np.sort(rng.choice(np.arange(1, n - 1), size=max(1, int(kept * (n - 2))),
                              replace=False))
    for rows in (np.r_[0, keep, n - 1], np.r_[0:n // 3, 2 * n // 3:n]):
        data = prepare(_fc(freq=freq), _y(index[rows]), None).data
        assert len(data.raw) == n
        assert data.raw.iloc[:, 0].notna().sum() == len(rows)


def test_the_structural_limit_is_a_grid_a_hundred_times_the_observations():
    """Data on both sides of the gap (no stray): refused only beyond the ratio."""
    first = pd.date_range("2020-01-01", periods=10, freq="h")
    last = pd.date_range(first[0] + pd.Timedelta(hours=MAX_GRID_RATIO * 20 - 10), periods=10,
                         freq="h")
    assert len(prepare(_fc(), _y(first.append(last)), None).data.raw) == MAX_GRID_RATIO * 20
    with pytest.raises(ValueError, match=r"would have 2,001 rows, 99\.00 % of them missing"):
        prepare(_fc(), _y(first.append(last + pd.Timedelta(hours=1))), None)


# --------------------------------------------------------------- the memory budget
HOURS = pd.date_range("2020-01-01", periods=3000, freq="h")


def test_a_grid_beyond_the_memory_budget_is_refused_pointing_at_the_gap(monkeypatch):
    monkeypatch.setenv("TSRNN_MEMORY_BUDGET", "130KB")
    keep = np.r_[0:1000, 2000:3000]  # an outage, well within the structural limit
    y = _y(HOURS[keep])
    assert len(prepare(_fc(), y.iloc[:1500], None).data.raw) == 2500
    with pytest.raises(ValueError, match=r"(?s)`y` has 2,000 observations.*3,000 rows x 1 "
                                         r"column.*budget of .*TSRNN_MEMORY_BUDGET.*largest gap "
                                         r"is 1,001 steps, between 2020-02-11 15:00:00"):
        prepare(_fc(), y, None)


@pytest.mark.parametrize("build, what", [
    (lambda: _fc(lags=50).fit(_y(HOURS)), "The training windows of `y`/`X` (2,"),
    (lambda: _fc(lags=50, global_model=True).fit(pd.DataFrame({"a": _y(HOURS), "b": _y(HOURS)})),
     "The training windows of the panel's 2 series"),
    (lambda: _fc(lags=50, global_model=True, series_encoding="onehot").fit(
        pd.DataFrame({"a": _y(HOURS), "b": _y(HOURS)})), "series_encoding='embedding'"),
    (lambda: make_windows(_y(HOURS), target="y", lags=50), "`data`'s windows"),
])
def test_windows_beyond_the_memory_budget_are_refused_before_any_is_built(monkeypatch, build,
                                                                            what):
    monkeypatch.setenv("TSRNN_MEMORY_BUDGET", "1MB")
    with pytest.raises(ValueError, match="TSRNN_MEMORY_BUDGET") as info:
        build()
    assert what in str(info.value) and "windows of 50 steps" in str(info.value)
    assert "Lower `lags`" in str(info.value)


@pytest.mark.parametrize("y", [_y(name=True), _y(name=False),
                               pd.DataFrame({True: _y(), False: _y() * 2})])
def test_bool_names_are_labels_not_masks(y):
    fc = _fc().fit(y)
    out = fc.predict()
    assert out.shape == ((2,) if isinstance(y, pd.Series) else (2, 2))
    assert np.isfinite(np.asarray(fc.predict(y=y))).all()


def test_set_params_after_fit_takes_effect_at_the_next_fit():
    fc = _fc().fit(_y()).set_params(horizon=3)
    assert len(fc.fit(_y()).predict()) == 3
    # parameters predict does not read may change freely
    fc.set_params(random_state=1, estimator__max_iter=3)
    assert len(fc.predict()) == 3


def test_backtest_metrics_none_means_the_defaults():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = backtest(_fc(), _y(), initial=0.7).summary
        none = backtest(_fc(), _y(), initial=0.7, metrics=None).summary
    pd.testing.assert_frame_equal(default, none)


def test_parameters_changed_after_fit_are_caught_on_saved_and_copied_models(tmp_path):
    import copy
    import pickle

    from tsrnn import load, save

    fc = _fc().fit(_y())
    save(fc, tmp_path / "fc.tsrnn")
    for other in (load(tmp_path / "fc.tsrnn"), copy.deepcopy(fc), pickle.loads(pickle.dumps(fc))):
        other.predict()
        with pytest.raises(ValueError, match=r"`horizon`=5 \(fitted with 2\) changed since fit"):
            other.set_params(horizon=5).predict()
