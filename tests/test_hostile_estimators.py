"""Promises of the estimators under hostile input (issue 14): memory refused up front,
precision kept and overflow refused, fitted quantiles, failed refits that change
nothing, clear errors for odd labels and empty input, divergence that float64 hides."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from tsrnn import DivergenceWarning, RNNClassifier, RNNForecaster, RNNRegressor
from tsrnn._engine import interrupts
from tsrnn._engine.network import Network
from tsrnn._engine.plan import MAX_LAYERS, count_params, plan_bytes
from tsrnn._validation import check_allocation, format_bytes, memory_budget

SMALL = dict(hidden_size=4, max_iter=3, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _data(n=200, T=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, T, 1)
    return X, 2 * X[:, -1, 0] + X[:, -2, 0]


# ------------------------------------------------------------------ memory and time
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,emb", [(1, 0), (3, 0), (2, 5)])
def test_parameter_count_in_closed_form_matches_the_layout(cell, layers, emb):
    shapes = Network.layout(cell, 3, 7, layers, 2, num_embeddings=emb, embedding_dim=2 * (emb > 0))
    assert count_params(cell, 3, 7, layers, 2, emb, 2 * (emb > 0)) == \
        sum(int(np.prod(s)) for s in shapes.values())


@pytest.mark.parametrize("kw,name", [
    (dict(hidden_size=20000), "`hidden_size`=20000"),
    (dict(hidden_size=1_000_000), "`hidden_size`=1000000"),
    (dict(num_layers=10**6), "`num_layers`=1000000"),
])
def test_huge_networks_are_refused_before_anything_is_allocated(kw, name):
    X, y = _data(50)
    with pytest.raises(ValueError, match=name):
        RNNRegressor(max_iter=1, **kw).fit(X, y)
    with pytest.raises(ValueError, match=name):
        Network("lstm", **kw)


def test_the_budget_names_the_estimate_and_can_be_set(monkeypatch):
    X, y = _data(500, T=50)
    monkeypatch.setenv("TSRNN_MEMORY_BUDGET", "2MiB")
    assert memory_budget() == 2 * 1024**2
    with pytest.raises(ValueError, match=r"minibatches of 500 windows of 50 steps.*"
                                         r"about .* MiB.*budget of 2\.0 MiB.*TSRNN_MEMORY_BUDGET"):
        RNNRegressor(hidden_size=64, batch_size=500, max_iter=1).fit(X, y)
    RNNRegressor(hidden_size=4, batch_size=16, max_iter=1).fit(X, y)  # a small plan fits
    with pytest.raises(ValueError, match="loss_grad|minibatches of 500"):
        Network("lstm", hidden_size=64).loss_grad(X, y)
    monkeypatch.setenv("TSRNN_MEMORY_BUDGET", "lots")
    with pytest.raises(ValueError, match="TSRNN_MEMORY_BUDGET='lots'"):
        memory_budget()
    monkeypatch.delenv("TSRNN_MEMORY_BUDGET")
    assert memory_budget() > 2**28


def test_plan_grows_with_every_size_and_check_allocation_formats():
    base = dict(batch=32, steps=24, n_threads=1)
    ref = plan_bytes("lstm", 1, 32, 1, 1, np.float32, **base)
    assert plan_bytes("lstm", 1, 64, 1, 1, np.float32, **base) > ref
    assert plan_bytes("lstm", 1, 32, 2, 1, np.float32, **base) > ref
    assert plan_bytes("lstm", 1, 32, 1, 1, np.float64, **base) > ref
    assert plan_bytes("lstm", 1, 32, 1, 1, np.float32, **{**base, "batch": 64}) > ref
    assert plan_bytes("lstm", 1, 32, 1, 1, np.float32, **{**base, "steps": 48}) > ref
    assert format_bytes(1536) == "1.5 KiB" and format_bytes(3) == "3 B"
    assert check_allocation("x", 10) == 10
    assert MAX_LAYERS >= 8


# ------------------------------------------------------------------ precision and overflow
def test_large_offsets_are_standardised_before_the_float32_cast():
    X, y = _data(300)
    kw = dict(hidden_size=8, max_iter=60, random_state=0)
    plain = RNNRegressor(**kw).fit(X, y).score(X, y)
    shifted = RNNRegressor(**kw).fit(X + 1e8, y + 1e8).score(X + 1e8, y + 1e8)
    assert plain > 0.8
    assert shifted == pytest.approx(plain, abs=1e-3)


@pytest.mark.parametrize("where", ["X", "y"])
def test_values_that_overflow_float32_are_refused_not_predicted_as_nan(where):
    X, y = _data(60)
    big = (X * 1e39, y) if where == "X" else (X, y * 1e39)
    with pytest.raises(ValueError, match=f"`{where}` holds values too large for float32"):
        RNNRegressor(**SMALL, scale=False).fit(*big)
    reg = RNNRegressor(**SMALL).fit(*big)  # standardised in float64 first: finite
    assert np.isfinite(reg.predict(big[0])).all()
    reg64 = RNNRegressor(**SMALL, scale=False, dtype=np.float64).fit(*big)
    assert np.isfinite(reg64.predict(big[0])).all()
    fitted = RNNRegressor(**SMALL, scale=False).fit(X, y)
    with pytest.raises(ValueError, match="`X` holds values too large"):
        fitted.predict(X * 1e39)


def test_values_whose_squares_overflow_float64_are_refused():
    X, y = _data(60)
    with pytest.raises(ValueError, match=r"`X` holds values up to .*e\+300"):
        RNNRegressor(**SMALL).fit(X * 1e300, y)
    with pytest.raises(ValueError, match="`y` holds values up to"):
        RNNRegressor(**SMALL).fit(X, y * 1e300)


def _series(scale=1.0, n=120):
    idx = pd.date_range("2020-01-01", periods=n, freq="D")
    return pd.Series((np.sin(np.arange(n) / 5.0) + 2.0) * scale, index=idx, name="v")


def test_forecasts_of_series_near_float32s_limit_are_finite():
    fc = RNNForecaster(lags=12, horizon=3, estimator=RNNRegressor(**SMALL)).fit(_series(1e39))
    assert np.isfinite(fc.predict().to_numpy()).all()
    assert np.isfinite(fc.predict_interval().to_numpy()).all()


def test_a_non_finite_forecast_is_an_error_never_returned(monkeypatch):
    fc = RNNForecaster(lags=12, horizon=3, estimator=RNNRegressor(**SMALL)).fit(_series())
    monkeypatch.setattr(RNNRegressor, "predict", lambda self, X: np.full((len(X), 3), np.inf))
    for method in (fc.predict, fc.predict_interval):
        with pytest.raises(ValueError, match="forecast at 2020-04-30.* is inf.*overflowed"):
            method()


# ------------------------------------------------------------------ divergence
def test_a_loss_growing_without_bound_in_float64_is_divergence():
    X, y = _data(100)
    with pytest.warns(DivergenceWarning, match="grew over 1e\\+06 times"):
        # no clipping, and batches of 64 (the earlier "auto"): nothing holds the steps back
        reg = RNNRegressor(hidden_size=8, solver="sgd", learning_rate_init=3.0, momentum=0.99,
                           max_iter=200, random_state=0, dtype=np.float64, cell="rnn",
                           activation="relu", scale=False, batch_size=64,
                           clip_norm=None).fit(X * 50, y * 50)
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert np.isfinite(reg.predict(X)).all()
    assert max(reg.loss_curve_) < 1e6 * reg.loss_curve_[0]


# ------------------------------------------------------------------ fitted quantiles
def test_quantiles_changed_after_fit_do_not_change_predictions():
    X, y = _data(80)
    q = RNNRegressor(**SMALL, loss="quantile", quantiles=[0.1, 0.5, 0.9]).fit(X, y)
    np.testing.assert_array_equal(q.quantiles_, [0.1, 0.5, 0.9])
    before, point = q.predict_quantiles(X), q.predict(X)
    for params in (dict(quantiles=[0.5, 0.9]), dict(quantiles=[0.9, 0.1, 0.5]),
                   dict(loss="squared_error", quantiles=None)):
        q.set_params(**params)
        np.testing.assert_array_equal(q.predict_quantiles(X), before)
        np.testing.assert_array_equal(q.predict(X), point)
    q.set_params(loss="quantile", quantiles=[0.5, 0.9], warm_start=True)
    with pytest.raises(ValueError, match="does not match the fitted heads"):
        q.fit(X, y)
    np.testing.assert_array_equal(q.predict_quantiles(X), before)
    q.set_params(warm_start=False).fit(X, y)  # a fresh fit takes the new levels
    np.testing.assert_array_equal(q.quantiles_, [0.5, 0.9])
    assert q.predict_quantiles(X).shape == (len(X), 2)
    plain = RNNRegressor(**SMALL).fit(X, y)
    assert plain.quantiles_ is None
    plain.set_params(loss="quantile", quantiles=[0.5])
    with pytest.raises(ValueError, match="fitted with loss='quantile'"):
        plain.predict_quantiles(X)


def test_dtype_changed_after_fit_does_not_break_predict():
    X, y = _data(60)
    reg = RNNRegressor(**SMALL).fit(X, y)
    p = reg.predict(X)
    reg.set_params(dtype=np.float64, scale=False)
    np.testing.assert_array_equal(reg.predict(X), p)


# ------------------------------------------------------------------ failed refits
def _failures(X, y, y_bad):
    """Refits of a fitted estimator that raise ValueError/TypeError."""
    return {
        "bad target": lambda e: e.fit(X, y_bad),
        "inconsistent lengths": lambda e: e.fit(X[:-1], y),
        "bad param": lambda e: e.set_params(hidden_size=0).fit(X, y),
        "negative weight": lambda e: e.fit(X, y, sample_weight=-np.ones(len(y))),
        "too big": lambda e: e.set_params(num_layers=10**6).fit(X, y),
        # 2-D windows keep their fitted width (3-D ones may have any length)
        "partial other width": lambda e: e.partial_fit(X[:, :5, 0], y),
        "warm other width": lambda e: e.set_params(warm_start=True).fit(X[:, :5, 0], y),
        "warm other channels": lambda e: e.set_params(warm_start=True).fit(
            np.concatenate([X, X], axis=2), y),
        "warm other output": lambda e: e.set_params(warm_start=True, output="sequence").fit(
            X, np.repeat(np.asarray(y)[:, None], X.shape[1], axis=1)),
    }


@pytest.mark.parametrize("case", list(_failures(None, None, None)))
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_a_failed_refit_leaves_the_estimator_as_it_was(case, kind):
    X, y = _data(60)
    if kind == "classifier":
        y = np.where(y > 0, "up", "down")
        est, y_bad = RNNClassifier(**SMALL), np.r_[y[:-1], None]
    else:
        est, y_bad = RNNRegressor(**SMALL), y * np.nan
    est.fit(X, y)
    fitted = {k for k in vars(est) if k not in est.get_params()}
    params, out = est.network_.params.copy(), est.predict(X)
    history = list(est.loss_curve_)
    with pytest.raises((ValueError, TypeError)):
        _failures(X, y, y_bad)[case](est)
    assert {k for k in vars(est) if k not in est.get_params()} == fitted
    assert est.loss_curve_ == history
    np.testing.assert_array_equal(est.network_.params, params)
    np.testing.assert_array_equal(est.predict(X), out)


def test_an_interrupted_warm_start_inside_a_raising_scope_restores_weights_and_optimizer(
        monkeypatch):
    import os
    import signal

    X, y = _data(120)
    reg = RNNRegressor(**{**SMALL, "max_iter": 2}, warm_start=True, batch_size=20).fit(X, y)
    params = reg.network_.params.copy()
    moments = reg._trainer.optimizer.__dict__.copy()
    moments = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in moments.items()}
    history = list(reg.loss_curve_)
    real = Network._kernel_loss_grad
    calls = {"n": 0}

    def kernel(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 9:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *a, **k)

    monkeypatch.setattr(Network, "_kernel_loss_grad", kernel)
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred(raise_on_exit=True):
            reg.fit(X, y)
    np.testing.assert_array_equal(reg.network_.params, params)
    assert reg.loss_curve_ == history == reg._trainer.loss_curve
    for k, v in moments.items():
        np.testing.assert_array_equal(getattr(reg._trainer.optimizer, k), v)


# ------------------------------------------------------------------ clear errors
def test_mixed_label_types_are_a_clear_type_error():
    X, _ = _data(4)
    with pytest.raises(TypeError, match="`y` mixes strings and numbers"):
        RNNClassifier(**SMALL).fit(X, np.array(["a", 1, "b", 2], dtype=object))


@pytest.mark.parametrize("shape", [(0, 8, 1), (0, 8)])
def test_predicting_on_no_samples_is_a_clear_value_error(shape):
    X, y = _data(40)
    reg = RNNRegressor(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="0 sample"):
        reg.predict(np.zeros(shape))


# ------------------------------------------------------------------ found by the audit
def test_odd_sizes_and_weights_are_handled_or_refused_clearly():
    X, y = _data(40)
    reg = RNNRegressor(**SMALL, bptt_steps=10**20).fit(X, y)  # longer than T: no truncation
    np.testing.assert_array_equal(reg.predict(X), RNNRegressor(**SMALL).fit(X, y).predict(X))
    with pytest.raises(ValueError, match="`hidden_size`=4611686018427387904"):
        RNNRegressor(**{**SMALL, "hidden_size": np.int64(2**62)}).fit(X, y)
    tiny = RNNRegressor(**SMALL).fit(X, y, sample_weight=np.full(40, 1e-320))
    np.testing.assert_array_equal(tiny.predict(X), RNNRegressor(**SMALL).fit(X, y).predict(X))
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        RNNRegressor(**SMALL).fit(X, y, sample_weight=np.zeros(40))
    with pytest.raises(ValueError, match=r"greater than one; got 0 classes \[\] \(`classes` is"):
        RNNClassifier(**SMALL).partial_fit(X, np.where(y > 0, "a", "b"), classes=[])
    with pytest.raises(TypeError, match="`y` must hold numbers, got dtype <U"):
        RNNRegressor(**SMALL).fit(X, y.astype(str))


def test_weights_that_overflow_in_the_forward_pass_are_an_error_not_nan():
    X, y = _data(40)
    reg = RNNRegressor(**SMALL).fit(X, y)
    reg.network_.params[...] = 3e38
    with pytest.raises(ValueError, match="output on `X` row 0 is not finite"):
        reg.predict(X)


def test_forecaster_names_its_own_argument_for_values_beyond_float64s_squares():
    with pytest.raises(ValueError, match=r"`y` holds values up to"):
        RNNForecaster(lags=12, horizon=3, estimator=RNNRegressor(**SMALL)).fit(_series(1e300))


def test_save_into_a_missing_directory_is_a_value_error(tmp_path):
    from tsrnn import save

    X, y = _data(40)
    with pytest.raises(ValueError, match="no directory"):
        save(RNNRegressor(**SMALL).fit(X, y), tmp_path / "missing" / "m.tsrnn")
