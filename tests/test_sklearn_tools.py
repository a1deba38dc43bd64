"""scikit-learn's tooling around the estimators, as users combine it: cross-validation with
tsrnn's scorers, randomised and successive-halving searches, permutation importance over a
window's columns, and a pipeline whose transformer keeps the columns' lag names."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.inspection import permutation_importance
from sklearn.model_selection import (
    HalvingGridSearchCV,
    RandomizedSearchCV,
    TimeSeriesSplit,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tsrnn import LayoutWarning, RNNRegressor
from tsrnn.metrics import mae_scorer, make_mase_scorer
from tsrnn.windowing import make_windows

SMALL = dict(hidden_size=6, max_iter=6, random_state=0, learning_rate_init=0.01)


@pytest.fixture(scope="module")
def windows():
    """Named windows of a noisy sine with a second, informative channel."""
    t = np.arange(400)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"y": np.sin(t / 6) + rng.normal(scale=0.1, size=t.size),
                          "x": np.cos(t / 6)}, index=pd.date_range("2020", periods=400))
    X, y = make_windows(frame, target="y", lags=8, past_covariates="x")
    return X, y.iloc[:, 0]


def test_cross_validate_with_tsrnn_scorers(windows):
    X, y = windows
    out = cross_validate(RNNRegressor(**SMALL), X, y, cv=TimeSeriesSplit(3),
                         scoring={"mae": mae_scorer, "mase": make_mase_scorer(m=1)})
    assert np.isfinite(out["test_mae"]).all() and (out["test_mae"] < 0).all()
    assert np.isfinite(out["test_mase"]).all()


def test_randomized_and_halving_searches(windows):
    X, y = windows
    grid = {"cell": ["gru", "lstm"], "hidden_size": [4, 8]}
    rs = RandomizedSearchCV(RNNRegressor(**{**SMALL, "hidden_size": 4}), grid, n_iter=2,
                            cv=TimeSeriesSplit(2), random_state=0).fit(X, y)
    assert set(rs.best_params_) == {"cell", "hidden_size"}
    # three candidates, a factor of 3: two rounds, of 2 and then 6 epochs
    hs = HalvingGridSearchCV(RNNRegressor(**SMALL), {"cell": ["rnn", "gru", "lstm"]},
                             resource="max_iter", max_resources=6, min_resources=2,
                             cv=TimeSeriesSplit(2), random_state=0).fit(X, y)
    assert hs.best_estimator_.max_iter == 6 and hs.n_iterations_ == 2


def test_permutation_importance_over_a_windows_columns(windows):
    X, y = windows
    model = RNNRegressor(**{**SMALL, "max_iter": 30}).fit(X, y)
    imp = permutation_importance(model, X, y, n_repeats=2, random_state=0)
    assert imp.importances_mean.shape == (X.shape[1],)
    # the newest value of the target carries the forecast
    assert X.columns[np.argmax(imp.importances_mean)] == "y[t-0]"


def test_a_pandas_output_pipeline_keeps_the_layout(windows):
    X, y = windows
    scaler = StandardScaler().set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)  # the names survive the scaler
        pipe = make_pipeline(scaler, RNNRegressor(**SMALL)).fit(X, y)
    assert (pipe[-1].n_timesteps_, pipe[-1].n_channels_) == (8, 2)
    # a NumPy scaler drops the names: the structure is then assumed, and said so
    with pytest.warns(LayoutWarning, match="without column names"):
        make_pipeline(StandardScaler(), RNNRegressor(**SMALL)).fit(X, y)
