"""RNNRegressor / RNNClassifier behaviour beyond scikit-learn's checks."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import StackingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tsrnn import DivergenceWarning, RNNClassifier, RNNRegressor

FAST = dict(hidden_size=8, learning_rate_init=1e-2, max_iter=20, random_state=0)


def _data(n=160, T=10, C=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, C))
    y = X[:, -1, 0] + 0.5 * X[:, -3, 1]
    return X, y


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_regressor_learns(cell):
    X, y = _data()
    reg = RNNRegressor(cell=cell, hidden_size=16, learning_rate_init=1e-2, max_iter=60,
                       random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.8
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]
    assert reg.n_iter_ == len(reg.loss_curve_) and reg.t_ == reg.n_iter_ * len(X)
    assert reg.network_.cell == cell and reg.n_timesteps_ == 10 and reg.n_channels_ == 2


def test_predictions_in_original_units_with_scaling():
    X, y = _data()
    y = 1000.0 + 50.0 * y
    reg = RNNRegressor(**{**FAST, "max_iter": 60}).fit(X * 10 + 3, y)
    assert reg.score(X * 10 + 3, y) > 0.8
    assert abs(reg.predict(X * 10 + 3).mean() - y.mean()) < 10


def test_bitwise_identical_for_n_jobs_and_refit():
    X, y = _data(n=300)
    preds = [RNNRegressor(**FAST, n_jobs=j).fit(X, y).predict(X) for j in (1, 2, 1)]
    np.testing.assert_array_equal(preds[0], preds[1])
    np.testing.assert_array_equal(preds[0], preds[2])


def test_two_d_windows_and_structure_enforced():
    X, y = _data()
    flat = X.reshape(len(X), -1)
    reg = RNNRegressor(**FAST, n_channels=2).fit(flat, y)
    np.testing.assert_allclose(reg.predict(X), reg.predict(flat))
    # a recurrent network takes windows of any length in 3-D (or as a list), not in 2-D,
    # where the width is the fitted one (scikit-learn's contract)
    short = reg.predict(X[:, :5])
    assert short.shape == (len(X),) and np.isfinite(short).all()
    np.testing.assert_allclose(short, reg.predict(list(X[:, :5])), rtol=1e-6)
    with pytest.raises(ValueError, match="features"):
        reg.predict(flat[:, :10])
    with pytest.raises(ValueError, match="features"):
        RNNRegressor(**FAST).fit(X, y).predict(X[:, :, :1])
    # same width, other structure: 20 steps x 1 channel instead of 10 x 2
    with pytest.raises(ValueError, match="1 channels .* fitted on 2"):
        reg.predict(X.reshape(len(X), 20, 1))


def test_windowing_column_names_give_the_structure():
    pd = pytest.importorskip("pandas")
    X, y = _data(T=4, C=2)
    cols = [f"{ch}[t-{lag}]" for lag in (3, 2, 1, 0) for ch in ("temp", "wind")]
    df = pd.DataFrame(X.reshape(len(X), -1), columns=cols)
    reg = RNNRegressor(**FAST).fit(df, y)
    assert (reg.n_timesteps_, reg.n_channels_) == (4, 2)
    assert list(reg.feature_names_in_) == cols
    # survives a pandas-output pipeline step
    pipe = make_pipeline(StandardScaler().set_output(transform="pandas"), RNNRegressor(**FAST))
    pipe.fit(df, y)
    assert (pipe[-1].n_timesteps_, pipe[-1].n_channels_) == (4, 2)


def test_multi_output_and_quantiles():
    X, y = _data()
    Y = np.column_stack([y, -y])
    reg = RNNRegressor(**FAST).fit(X, Y)
    assert reg.predict(X).shape == (len(X), 2)
    q = RNNRegressor(**{**FAST, "max_iter": 60}, loss="quantile",
                     quantiles=[0.1, 0.5, 0.9]).fit(X, y)
    Q = q.predict_quantiles(X)
    assert Q.shape == (len(X), 3)
    np.testing.assert_array_equal(q.predict(X), Q[:, 1])
    below = [(y < Q[:, k]).mean() for k in range(3)]
    assert below[0] < below[1] < below[2]


def test_early_stopping_holds_out_the_last_samples_and_restores_best():
    X, y = _data(n=200)
    reg = RNNRegressor(**{**FAST, "max_iter": 200}, early_stopping=True, validation_fraction=0.2,
                       validation_gap=5, n_iter_no_change=3).fit(X, y)
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.t_ == reg.n_iter_ * (200 - 40 - 5)
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    # restored: the validation loss of the final weights is the best one
    val_loss = np.mean((reg.predict(X[-40:]) - y[-40:]) ** 2 / np.var(y[:155]))
    assert val_loss == pytest.approx(-reg.best_validation_score_, rel=1e-3)


def test_warm_start_and_partial_fit_continue():
    X, y = _data()
    reg = RNNRegressor(**FAST, warm_start=True).fit(X, y)
    first = reg.n_iter_
    reg.fit(X, y)
    assert reg.n_iter_ == 2 * first
    pf = RNNRegressor(**FAST)
    for _ in range(3):
        pf.partial_fit(X, y)
    assert pf.n_iter_ == 3


def test_divergence_warns_restores_and_stays_usable():
    X, y = _data()
    reg = RNNRegressor(cell="rnn", activation="relu", solver="sgd", learning_rate_init=1e6,
                       max_iter=5, hidden_size=8, random_state=0)
    with pytest.warns(DivergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert np.isfinite(reg.predict(X)).all()


def test_pipelines_grid_search_and_friends():
    X, y = _data(n=120)
    flat = X.reshape(len(X), -1)
    est = RNNRegressor(**{**FAST, "max_iter": 10}, n_channels=2)
    grid = GridSearchCV(make_pipeline(StandardScaler(), est),
                        {"rnnregressor__cell": ["gru", "lstm"],
                         "rnnregressor__hidden_size": [4, 8]},
                        cv=TimeSeriesSplit(n_splits=3, gap=10))
    grid.fit(flat, y)
    assert grid.best_params_["rnnregressor__cell"] in ("gru", "lstm")
    TransformedTargetRegressor(regressor=clone(est), func=np.log1p,
                               inverse_func=np.expm1).fit(flat, np.abs(y))
    StackingRegressor([("rnn", clone(est)), ("ridge", Ridge())], cv=3).fit(flat, y)
    assert cross_val_predict(clone(est), flat, y, cv=3).shape == y.shape


def test_pickle_and_joblib_round_trips(tmp_path):
    X, y = _data()
    reg = RNNRegressor(**FAST).fit(X, y)
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    joblib.dump(reg, tmp_path / "m.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict(X), reg.predict(X))


@pytest.mark.parametrize("param,value", [
    ("hidden_size", 0), ("cell", "transformer"), ("learning_rate_init", -1), ("batch_size", 0),
    ("max_iter", 0), ("validation_fraction", 1.5), ("dropout", 1.0), ("solver", "lbfgs"),
    ("learning_rate", "adaptive"), ("n_channels", 0), ("clip_norm", 0), ("loss", "hinge"),
])
def test_bad_parameters_named(param, value):
    X, y = _data(n=20)
    with pytest.raises((ValueError, TypeError), match=f"`{param}`"):
        RNNRegressor(**{**FAST, param: value}).fit(X, y)


def test_inputs_not_mutated():
    X, y = _data()
    w = np.linspace(0.5, 2, len(X))
    copies = X.copy(), y.copy(), w.copy()
    RNNRegressor(**FAST).fit(X, y, sample_weight=w).predict(X)
    for a, b in zip((X, y, w), copies):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("est", [RNNRegressor, RNNClassifier])
@pytest.mark.parametrize("bad, message", [(-1.0, "Negative values in data passed to "
                                                  "`sample_weight`"),
                                          (np.nan, "sample_weight contains NaN")])
def test_bad_sample_weight_is_refused_naming_it(est, bad, message):
    X, y = _data(n=40)
    if est is RNNClassifier:
        y = (y > np.median(y)).astype(int)
    w = np.ones(len(X))
    w[3] = bad
    with pytest.raises(ValueError, match=message):
        est(**{**FAST, "max_iter": 2}).fit(X, y, sample_weight=w)


def test_classifier_string_labels_and_proba():
    X, _ = _data()
    y = np.where(X[:, -3:, 0].sum(axis=1) > 0, "up", "down")
    clf = RNNClassifier(**{**FAST, "max_iter": 40}).fit(X, y)
    assert clf.score(X, y) > 0.85
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)], clf.predict(X))
    with pytest.raises(ValueError, match="greater than one"):
        RNNClassifier(**FAST).fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("case", ["nan", "inf", "strings", "empty", "4d", "lengths", "y_nan"])
def test_bad_data_gets_standard_errors(case):
    X, y = _data(n=20)
    if case == "nan":
        X = X.copy()
        X[3, 2, 1] = np.nan
    elif case == "inf":
        X = X.copy()
        X[0, 0, 0] = np.inf
    elif case == "strings":
        X = np.full((20, 10), "a")
    elif case == "empty":
        X, y = X[:0], y[:0]
    elif case == "4d":
        X = X[..., None]
    elif case == "lengths":
        y = y[:-1]
    elif case == "y_nan":
        y = y.copy()
        y[4] = np.nan
    with pytest.raises(ValueError):
        RNNRegressor(**FAST).fit(X, y)


@pytest.mark.parametrize("solver, lr", [("adam", 1e38), ("sgd", 1e15)])
def test_divergence_restores_weights_whose_loss_was_measured(solver, lr):
    """One minibatch per epoch: the first epoch's loss is measured on the initial weights
    and its only update blows them up; the divergence in the next epoch must restore the
    weights the best epoch started from, not the blown-up ones."""
    X, y = _data(n=50)
    with pytest.warns(DivergenceWarning, match="diverged in epoch 2"):
        reg = RNNRegressor(**{**FAST, "solver": solver, "learning_rate_init": lr,
                              "batch_size": 64}).fit(X, y)
    init = RNNRegressor(**{**FAST, "max_iter": 1, "learning_rate_init": 1e-30}).fit(X, y)
    pred = reg.predict(X)
    assert np.isfinite(pred).all() and np.abs(reg.network_.params).max() < 10
    np.testing.assert_allclose(pred, init.predict(X), rtol=1e-5, atol=1e-6)
    # the restored weights' loss on the (one-minibatch) training data is best_loss_
    dt = reg.network_.dtype
    Xs = reg._scale_X(np.asarray(X, np.float64), dt)
    Ys = reg._scale_y(np.asarray(y, np.float64).reshape(-1, 1), dt)
    loss, _ = reg.network_.loss_grad(Xs, Ys)
    assert loss == pytest.approx(reg.best_loss_, rel=1e-5)


def test_weights_zero_on_the_validation_tail_are_refused():
    X, y = _data(n=60)
    w = np.ones(len(X))
    w[-6:] = 0.0  # exactly the validation part (10 %)
    with pytest.raises(ValueError, match="`sample_weight` is zero on all 6 validation samples"):
        RNNRegressor(**{**FAST, "early_stopping": True}).fit(X, y, sample_weight=w)
    w = np.zeros(len(X))
    w[-6:] = 1.0
    with pytest.raises(ValueError, match="zero on all 54 training samples"):
        RNNRegressor(**{**FAST, "early_stopping": True}).fit(X, y, sample_weight=w)
    # without early stopping the same weights train on the weighted samples
    w[:] = 1.0
    w[-6:] = 0.0
    RNNRegressor(**{**FAST, "max_iter": 2}).fit(X, y, sample_weight=w)


def test_duplicated_quantiles_are_refused():
    X, y = _data(n=40)
    with pytest.raises(ValueError, match=r"`quantiles`=\[0.1, 0.5, 0.5\] repeats a level"):
        RNNRegressor(**FAST, loss="quantile", quantiles=[0.1, 0.5, 0.5]).fit(X, y)
