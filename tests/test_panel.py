"""Many series: panel splitting, one model per series (fit_many/predict_many), one global model."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import forecaster
from sklearn.exceptions import ConvergenceWarning

import tsrnn
from tsrnn import RNNForecaster
from tsrnn.model_selection import fit_many, predict_many
from tsrnn.panel import split_covariates, split_panel, stack_forecasts

SMALL = dict(lags=12, horizon=3, hidden_size=4, max_iter=3, random_state=0)


def synthetic_panel(n_series=200, n=120, seed=0):
    """AR(1) around a seasonal level; each series with its own scale and level."""
    rng = np.random.RandomState(seed)
    t = np.arange(n)
    cols = {}
    for i in range(n_series):
        e = rng.standard_normal(n)
        x = np.zeros(n)
        for k in range(1, n):
            x[k] = 0.7 * x[k - 1] + e[k]
        scale = 10 ** rng.uniform(-1, 2)
        cols[f"s{i:03d}"] = scale * (x + 2 * np.sin(2 * np.pi * t / 7)) + rng.uniform(0, 100)
    return pd.DataFrame(cols, index=pd.date_range("2020-01-01", periods=n, freq="D", name="date"))


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def stocks():
    return tsrnn.datasets.load_stocks()


# ------------------------------------------------------------------ splitting
def test_split_wide_trims_ragged_starts(stocks):
    panel = split_panel(stocks)
    assert list(panel) == list(stocks.columns)
    assert panel["FB"].index[0] == stocks["FB"].first_valid_index()
    assert not panel["FB"].isna().any()
    assert len(panel["AAPL"]) == len(stocks)


def test_split_long_equals_wide(stocks):
    long = tsrnn.datasets.load_stocks(long=True)[["ticker", "adj_close"]]
    panel = split_panel(long.sample(frac=1, random_state=0), "ticker")  # unsorted rows
    wide = split_panel(stocks)
    assert sorted(panel) == sorted(wide)
    for sid in wide:
        np.testing.assert_array_equal(panel[sid].to_numpy(), wide[sid].to_numpy())
        assert panel[sid].index.equals(wide[sid].index)


def test_split_long_id_in_index_level():
    idx = pd.MultiIndex.from_product([["a", "b"], pd.date_range("2020", periods=3)],
                                     names=["id", "t"])
    panel = split_panel(pd.DataFrame({"v": np.arange(6.0)}, index=idx), "id")
    assert list(panel) == ["a", "b"] and panel["b"].tolist() == [3.0, 4.0, 5.0]


def test_duplicate_series_ids_are_named():
    wide = pd.DataFrame(np.ones((5, 2)), columns=["a", "a"],
                        index=pd.date_range("2020", periods=5))
    with pytest.raises(ValueError, match=r"duplicate series ids \['a'\]"):
        split_panel(wide)
    idx = pd.date_range("2020", periods=3)
    long = pd.DataFrame({"id": ["a"] * 3 + ["b"] * 6, "v": 1.0}, index=idx.append(idx).append(idx))
    with pytest.raises(ValueError, match="series 'b': 3 duplicate timestamps"):
        split_panel(long, "id")


@pytest.mark.parametrize("bad, match", [
    (pd.DataFrame({"a": [np.nan] * 3}, index=pd.date_range("2020", periods=3)),
     "series 'a': no observations"),
    ({}, "empty dict"),
    ({"x": [1, 2]}, "series 'x'.*Series or DataFrames"),
])
def test_bad_panels(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        split_panel(bad)


def test_split_long_needs_the_id_column():
    with pytest.raises(ValueError, match="`series_id`='id' is not a column"):
        split_panel(pd.DataFrame({"v": [1.0]}), "id")


def test_covariates_shared_long_and_dict():
    idx = pd.date_range("2020", periods=4)
    shared = pd.DataFrame({"c": np.arange(4.0)}, index=idx)
    assert split_covariates(shared, ["a", "b"])["b"] is shared
    long = pd.DataFrame({"id": ["a"] * 4 + ["b"] * 4, "c": np.arange(8.0)}, index=idx.append(idx))
    per = split_covariates(long, ["a", "b"], "id")
    assert per["b"]["c"].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert split_covariates(None, ["a"]) == {"a": None}


@pytest.mark.parametrize("X, match", [
    ({"a": pd.DataFrame({"c": [1.0]})}, r"series 'b': no covariates"),
    ({"a": pd.DataFrame({"c": [1.0]}), "b": pd.DataFrame({"c": [1.0]}),
      "z": pd.DataFrame({"c": [1.0]})}, r"series \['z'\] that are not in `y`"),
    ({"a": pd.DataFrame({"c": [1.0]}), "b": pd.DataFrame({"d": [1.0]})},
     r"series 'b': covariate columns \['d'\] differ"),
])
def test_mismatched_covariates_name_the_series(X, match):
    with pytest.raises(ValueError, match=match):
        split_covariates(X, ["a", "b"])


def test_stack_forecasts_index():
    idx = pd.date_range("2021", periods=2, name="date")
    out = stack_forecasts({"a": pd.Series([1.0, 2.0], index=idx),
                           "b": pd.Series([3.0, 4.0], index=idx)}, series_name="id")
    assert out.index.names == ["id", "date"] and out["forecast"].tolist() == [1, 2, 3, 4]


# ------------------------------------------------------------ one model each
def test_fit_many_stocks_matches_individual_fits_and_is_parallel_safe(stocks):
    fc = forecaster(**SMALL)
    serial = fit_many(fc, stocks)
    parallel = fit_many(fc, stocks, n_jobs=2)
    assert list(serial) == list(stocks.columns)
    alone = forecaster(**SMALL).fit(stocks["FB"].dropna())
    for models in (serial, parallel):
        np.testing.assert_array_equal(models["FB"].predict().to_numpy(),
                                      alone.predict().to_numpy())
    out = predict_many(parallel, coverage=0.8)
    assert out.index.names == ["series", "date"]
    assert list(out.columns) == ["forecast", "lower", "upper"]
    assert out.loc["MSFT"].index.equals(alone.predict().index)  # same trading-day calendar
    assert (out["lower"] <= out["forecast"]).all() and (out["forecast"] <= out["upper"]).all()
    pd.testing.assert_frame_equal(out, predict_many(serial, coverage=0.8, n_jobs=2))


def test_fit_many_long_table_with_per_series_covariates(stocks):
    long = tsrnn.datasets.load_stocks(long=True, tickers=["IBM", "MSFT"])
    y, X = long[["ticker", "adj_close"]], long[["ticker", "volume"]]
    fc = forecaster(past_covariates="volume", **SMALL)
    models = fit_many(fc, y, X, series_id="ticker")
    assert models["IBM"].past_covariates_ == ["volume"]
    out = predict_many(models, series_id="ticker")
    assert out.index.names == ["ticker", "date"] and list(out.columns) == ["forecast"]


def test_fit_many_synthetic_panel_of_200(tmp_path):
    panel = synthetic_panel(200, 60)
    fc = forecaster(lags=8, horizon=2, hidden_size=4, max_iter=2, early_stopping=False,
                       random_state=0)
    models = fit_many(fc, panel, n_jobs=2)
    out = predict_many(models)
    assert len(models) == 200 and out.shape == (400, 1)
    assert np.isfinite(out.to_numpy()).all()
    assert out.index.get_level_values(0).unique().tolist() == list(panel.columns)


def test_fit_many_short_series_named_before_any_fit(stocks):
    panel = stocks.copy()
    panel.loc[panel.index[:-10], "IBM"] = np.nan
    with pytest.raises(ValueError, match=r"series 'IBM': 10 observations; `lags` \+ `horizon`"):
        fit_many(forecaster(**SMALL), panel)


def test_fit_many_worker_error_names_series_and_keeps_type(stocks):
    panel = stocks[["AAPL", "IBM"]].copy()
    panel.iloc[-20, 1] = np.inf
    with pytest.raises(ValueError, match=r"series 'IBM': fit failed: .*infinite"):
        fit_many(forecaster(**SMALL), panel, n_jobs=2)


def test_fit_many_warnings_come_back_named(stocks):
    with pytest.warns(ConvergenceWarning, match="series 'AAPL': "):
        fit_many(forecaster(**SMALL), stocks[["AAPL"]], n_jobs=2)


def test_fit_many_warning_raised_by_the_callers_filter_is_not_a_failed_worker(stocks):
    """Under ``simplefilter("error")`` the re-issued warning is the error, as it is; it was
    reported as "a worker failed (ConvergenceWarning: ...)"."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="^series 'AAPL': "):
            fit_many(forecaster(**SMALL), stocks[["AAPL"]], n_jobs=2)


class _Crashing(RNNForecaster):
    """Kills its worker process when fitted on the series named 'boom'."""

    def fit(self, y, X=None):
        if getattr(y, "name", None) == "boom":
            os._exit(3)
        return super().fit(y, X)


def test_fit_many_dead_worker_lists_its_series_no_hang():
    panel = synthetic_panel(3, 60).set_axis(["a", "boom", "c"], axis=1)
    with pytest.raises(RuntimeError, match=r"(?s)a worker failed .*series in flight .*'boom'"):
        fit_many(forecaster(_Crashing, **SMALL), panel, n_jobs=2)


def test_fit_many_bad_arguments():
    with pytest.raises(TypeError, match="RNNForecaster"):
        fit_many(tsrnn.RNNRegressor(), synthetic_panel(2))
    with pytest.raises(ValueError, match="`lags`"):
        fit_many(forecaster(lags=0), synthetic_panel(2))
    with pytest.raises(TypeError, match="non-empty dict"):
        predict_many([])
    with pytest.raises(ValueError, match="`coverage`"):
        predict_many({"a": None}, coverage=2)


def test_predict_many_from_newer_history(stocks):
    models = fit_many(forecaster(**SMALL), stocks[["IBM", "MSFT"]].iloc[:-30])
    newer = stocks[["IBM", "MSFT"]]
    out = predict_many(models, y=newer)
    assert out.loc["IBM"].index[0] > stocks.index[-1]
    with pytest.raises(ValueError, match="series 'MSFT': not in `y`"):
        predict_many(models, y=newer[["IBM"]])


# ------------------------------------------------------------- global model
GLOBAL = dict(lags=12, horizon=3, hidden_size=8, max_iter=4, random_state=0, global_model=True)


def test_global_wide_long_and_dict_agree(stocks):
    wide = stocks[["IBM", "MSFT", "FB"]]
    long = wide.stack().rename("price").rename_axis(["date", "id"]).reset_index(level="id")
    a = forecaster(**GLOBAL).fit(wide)
    b = forecaster(**{**GLOBAL, "global_model": False}, series_id="id").fit(long)
    c = forecaster(**GLOBAL).fit({k: wide[k].dropna() for k in wide})
    pa, pb, pc = a.predict(), b.predict(), c.predict()
    assert list(pa.columns) == ["IBM", "MSFT", "FB"] and pa.index[0] > stocks.index[-1]
    assert pb.index.names == ["id", "date"] and list(pb.columns) == ["price"]
    for sid in wide:
        np.testing.assert_allclose(pb.loc[sid, "price"].to_numpy(), pa[sid].to_numpy(),
                                   rtol=1e-6)
        np.testing.assert_allclose(pc.loc[sid].iloc[:, 0].to_numpy(), pa[sid].to_numpy(),
                                   rtol=1e-6)


def test_global_is_scale_equivariant_per_series():
    panel = synthetic_panel(4, 80)
    scaled = panel.copy()
    scaled["s001"] = scaled["s001"] * 1000.0
    a = forecaster(**GLOBAL).fit(panel).predict()
    b = forecaster(**GLOBAL).fit(scaled).predict()
    np.testing.assert_allclose(b["s001"], a["s001"] * 1000.0, rtol=1e-4)
    np.testing.assert_allclose(b["s000"], a["s000"], rtol=1e-4)


@pytest.mark.parametrize("encoding", ["onehot", "embedding"])
def test_global_encoding_learns_per_series_behaviour(encoding):
    """Two series whose next value depends on which series it is: only the encoding can tell."""
    n = 200
    rng = np.random.RandomState(1)
    idx = pd.date_range("2020", periods=n)
    up = pd.Series(np.cumsum(1.0 + 0.1 * rng.standard_normal(n)), index=idx)
    down = pd.Series(np.cumsum(-1.0 + 0.1 * rng.standard_normal(n)), index=idx)
    panel = pd.DataFrame({"up": up, "down": down})
    kw = dict(GLOBAL, max_iter=60, hidden_size=8, lags=1, horizon=1, window_norm="last",
              learning_rate_init=1e-2)
    enc = forecaster(**kw, series_encoding=encoding).fit(panel).predict()
    step = enc.iloc[0] - panel.iloc[-1]
    assert step["up"] > 0.5 and step["down"] < -0.5
    blind = forecaster(**kw).fit(panel).predict()  # cannot tell the series apart
    step = blind.iloc[0] - panel.iloc[-1]
    assert abs(step["up"] - step["down"]) < 0.5  # the encoded model's differ by over 1


def test_global_intervals_quantiles_and_calibration(stocks):
    wide = stocks[["IBM", "MSFT"]]
    fc = forecaster(**GLOBAL).fit(wide)
    assert fc.calibration_residuals_.shape[1:] == (3, 1)
    band = fc.predict_interval(0.8)
    point = fc.predict()
    assert list(band.columns) == [("IBM", "lower"), ("IBM", "upper"), ("MSFT", "lower"),
                                  ("MSFT", "upper")]
    assert (band[("IBM", "lower")] <= point["IBM"]).all()
    q = forecaster(**GLOBAL, loss="quantile", quantiles=[0.1, 0.5, 0.9]).fit(wide)
    qs = q.predict_quantiles()
    assert qs["MSFT"].shape == (3, 3)
    assert (qs["MSFT"].diff(axis=1).iloc[:, 1:] >= 0).all().all()


def test_global_recursive_and_covariates(stocks):
    long = tsrnn.datasets.load_stocks(long=True, tickers=["IBM", "MSFT"])
    fc = forecaster(**{**GLOBAL, "global_model": False}, series_id="ticker", strategy="recursive",
                       past_covariates="volume", series_encoding="onehot")
    fc.fit(long[["ticker", "adj_close"]], long[["ticker", "volume"]])
    out = fc.predict()
    assert np.isfinite(out.to_numpy()).all() and out.shape == (6, 1)


def test_global_new_series_without_encoding(stocks):
    fc = forecaster(**GLOBAL).fit(stocks[["IBM", "MSFT"]])
    newer = stocks[["IBM", "MSFT", "AAPL"]]
    out = fc.predict(y=newer)
    assert list(out.columns) == ["IBM", "MSFT", "AAPL"]
    enc = forecaster(**GLOBAL, series_encoding="onehot").fit(stocks[["IBM", "MSFT"]])
    with pytest.raises(ValueError, match="series 'AAPL' was not seen at fit"):
        enc.predict(y=newer)


def test_global_errors_name_the_series(stocks):
    short = stocks[["IBM", "MSFT"]].copy()
    short.loc[short.index[:-10], "MSFT"] = np.nan
    # a short series is padded, not refused; one without a training window is named
    with pytest.warns(UserWarning, match=r"1 series are too short.*\['MSFT'\]"):
        fc = forecaster(**GLOBAL).fit(short)
    assert fc.padded_series_ == ["MSFT"] and np.isfinite(fc.predict().to_numpy()).all()
    two_targets = {"a": stocks[["IBM", "MSFT"]]}
    with pytest.raises(ValueError, match="series 'a': a global model forecasts one target"):
        forecaster(**GLOBAL).fit(two_targets)
    with pytest.raises(ValueError, match="`series_encoding`='onehot' needs"):
        forecaster(series_encoding="onehot").fit(stocks["IBM"])
    with pytest.raises(ValueError, match="`series_encoding`"):
        forecaster(**GLOBAL, series_encoding="embed").fit(stocks[["IBM"]])
    with pytest.raises(ValueError, match="`hidden_size`=-1") as info:  # raised by the network
        forecaster(**{**SMALL, "hidden_size": -1}).fit(stocks["IBM"])
    notes = info.value.__notes__  # the forecaster's note replaces its network's
    assert len(notes) == 1 and "RNNForecaster(" in notes[0] and "hidden_size=-1" in notes[0]
    long = tsrnn.datasets.load_stocks(long=True, tickers=["IBM", "MSFT"])
    X = long[long["ticker"] == "IBM"][["ticker", "volume"]]
    with pytest.raises(ValueError, match="series 'MSFT': no covariates"):
        forecaster(**GLOBAL, series_id="ticker", past_covariates="volume").fit(
            long[["ticker", "adj_close"]], X)


def test_global_save_load_round_trip(tmp_path, stocks):
    fc = forecaster(**GLOBAL, series_encoding="onehot").fit(stocks[["IBM", "MSFT"]])
    path = tmp_path / "g.tsrnn"
    tsrnn.save(fc, path)
    back = tsrnn.load(path)
    pd.testing.assert_frame_equal(back.predict(), fc.predict())
    pd.testing.assert_frame_equal(back.predict_interval(0.8), fc.predict_interval(0.8))


def test_global_synthetic_panel_of_200_beats_naive():
    panel = synthetic_panel(200, 90)
    train, test = panel.iloc[:-3], panel.iloc[-3:]
    fc = forecaster(lags=14, horizon=3, hidden_size=16, max_iter=15, random_state=0,
                       global_model=True, window_norm=None).fit(train)
    err = np.abs(fc.predict().to_numpy() - test.to_numpy()).mean(axis=0)
    naive = np.abs(train.iloc[-1].to_numpy() - test.to_numpy()).mean(axis=0)
    assert np.median(err / naive) < 1.0


def test_embedding_gradient_matches_central_differences():
    """The table's gradient (the samples' input gradients on its channels, summed) against
    the loss itself; the table lives in the network's flat parameter vector."""
    from tsrnn.nn import Network

    rng = np.random.RandomState(0)
    net = Network("gru", input_size=1, hidden_size=5, output_size=2, dtype=np.float64,
                  random_state=0, num_embeddings=3, embedding_dim=2)
    net.embedding[...] = rng.standard_normal((3, 2))
    X = rng.standard_normal((7, 4, 1))
    Y = rng.standard_normal((7, 2))
    groups = np.array([0, 1, 2, 1, 0, 2, 2])
    table = net.embedding.copy()

    def loss(t):
        net.embedding[...] = t
        return net.loss_grad(X, Y, groups=groups)[0]

    _, grads = net.loss_grad(X, Y, groups=groups)
    got = grads["embedding.weight"].copy()
    want = np.zeros_like(table)
    for idx in np.ndindex(*table.shape):
        step = np.zeros_like(table)
        step[idx] = 1e-6
        want[idx] = (loss(table + step) - loss(table - step)) / 2e-6
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    assert not net.weight_mask[-6:].any()  # no weight decay on the table


def test_embedding_network_equals_the_network_fed_the_vectors():
    """Row g of the table as extra channels: the same forward pass as feeding them."""
    from tsrnn.nn import Network

    rng = np.random.RandomState(1)
    emb = Network("lstm", input_size=2, hidden_size=4, dtype=np.float64, random_state=0,
                  num_embeddings=3, embedding_dim=2)
    emb.embedding[...] = rng.standard_normal((3, 2))
    plain = Network("lstm", input_size=4, hidden_size=4, dtype=np.float64, random_state=0)
    plain.load_state_dict({k: v for k, v in emb.state_dict().items() if k != "embedding.weight"})
    X = rng.standard_normal((5, 6, 2))
    groups = np.array([2, 0, 1, 1, 2])
    fed = np.concatenate([X, np.broadcast_to(emb.embedding[groups][:, None], (5, 6, 2))], axis=2)
    np.testing.assert_array_equal(emb.forward(X, groups=groups), plain.forward(fed))
    with pytest.raises(ValueError, match="`groups` must give"):
        emb.forward(X)
    with pytest.raises(ValueError, match=r"`groups` must lie in \[0, 2\]"):
        emb.forward(X, groups=np.array([0, 1, 2, 3, 0]))


def test_global_embedding_trained_reproducible_and_saved(tmp_path, stocks):
    wide = stocks[["IBM", "MSFT", "AAPL"]]
    kw = dict(GLOBAL, series_encoding="embedding", embedding_dim=2, early_stopping=False)
    a = forecaster(**kw).fit(wide)
    b = forecaster(**kw).fit(wide)
    assert a.series_embedding_.shape == (3, 2)
    np.testing.assert_array_equal(a.series_embedding_, b.series_embedding_)
    pd.testing.assert_frame_equal(a.predict(), b.predict())
    from tsrnn._forecast.global_model import _initial_embedding

    init = _initial_embedding(forecaster(**kw), 3)
    assert not np.allclose(a.series_embedding_, init)  # trained, not left at its start
    np.testing.assert_array_equal(a.series_embedding_, a.estimator_.network_.embedding)
    tsrnn.save(a, tmp_path / "e.tsrnn")
    back = tsrnn.load(tmp_path / "e.tsrnn")
    pd.testing.assert_frame_equal(back.predict(), a.predict())
    with pytest.raises(ValueError, match="series 'GOOG' was not seen at fit"):
        a.predict(y=stocks[["IBM", "MSFT", "AAPL", "GOOG"]])
    with pytest.raises(ValueError, match="`embedding_dim`"):
        forecaster(**{**kw, "embedding_dim": 0}).fit(wide)


def _params(fc):
    return fc.estimator_.network_.params.copy()


def test_global_scaling_never_sees_calibration_targets():
    panel = synthetic_panel(2, 100)
    kw = dict(GLOBAL, horizon=12, lags=24, early_stopping=False)
    a = forecaster(**kw).fit(panel)
    moved = panel.copy()
    moved.iloc[85, 0] += 50.0  # a calibration target only
    b = forecaster(**kw).fit(moved)
    assert a._states["s000"].scale == b._states["s000"].scale
    np.testing.assert_array_equal(_params(a), _params(b))


def test_global_ragged_panel_shares_one_calibration_period():
    """A late-starting series must not train on the period another series calibrates on."""
    panel = synthetic_panel(2, 300)
    panel.iloc[:200, 1] = np.nan
    kw = dict(GLOBAL, calibration_fraction=0.2, early_stopping=False)
    a = forecaster(**kw).fit(panel)
    moved = panel.copy()
    moved.iloc[265, 1] += 50.0  # in the shared calibration period (day 265 of 300)
    b = forecaster(**kw).fit(moved)
    np.testing.assert_array_equal(_params(a), _params(b))
    assert not np.array_equal(a.calibration_residuals_, b.calibration_residuals_)


def test_failed_refit_leaves_the_model_usable():
    panel = synthetic_panel(3, 60)
    fc = forecaster(**GLOBAL, series_encoding="onehot").fit(panel)
    before = fc.predict()
    bad = synthetic_panel(4, 60)
    bad.iloc[7, 3] = np.inf
    with pytest.raises(ValueError, match="series 's003'"):
        fc.fit(bad)
    pd.testing.assert_frame_equal(fc.predict(), before)
    single = forecaster(**SMALL).fit(panel["s000"])
    with pytest.raises(ValueError):
        single.fit(panel["s000"].iloc[:5])
    assert single.predict().notna().all()


def test_global_mixed_time_kinds_named():
    idx = pd.date_range("2020", periods=60)
    y = {"naive": pd.Series(np.arange(60.0), index=idx),
         "aware": pd.Series(np.arange(60.0), index=idx.tz_localize("UTC"))}
    with pytest.raises(TypeError, match="series 'aware': its time index"):
        forecaster(**GLOBAL).fit(y)


def test_fit_many_refuses_a_global_model(stocks):
    with pytest.raises(ValueError, match="global model"):
        fit_many(forecaster(**GLOBAL), stocks)


def test_global_early_stopping_gap_explained():
    panel = synthetic_panel(20, 35)
    with pytest.raises(ValueError, match=r"\(horizon - 1\) x n_series = 180"):
        forecaster(**{**GLOBAL, "horizon": 10, "lags": 8}).fit(panel)


def test_integer_series_id_column_names_the_level():
    idx = pd.date_range("2020", periods=40)
    long = pd.concat([pd.DataFrame({0: k, "v": np.arange(40.0) * (k + 1)}, index=idx)
                      for k in range(2)])
    out = forecaster(**{**GLOBAL, "global_model": False}, series_id=0).fit(long).predict()
    assert out.index.names[0] == 0
    models = fit_many(forecaster(**SMALL), long, series_id=0)
    assert predict_many(models, series_id=0).index.names[0] == 0


def test_predict_many_keeps_target_order_with_intervals(stocks):
    both = {"x": stocks[["MSFT", "IBM"]].rename(columns={"MSFT": "zeta", "IBM": "alpha"})}
    models = fit_many(forecaster(**SMALL), both)
    out = predict_many(models, coverage=0.8)
    assert [c for c, _ in out.columns][::3] == ["zeta", "alpha"]
