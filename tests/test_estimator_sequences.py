"""RNNRegressor / RNNClassifier on sequences of their own lengths and with an output at
every step (``output="sequence"``)."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import tsrnn
from tsrnn import RNNClassifier, RNNRegressor
from tsrnn.windowing import make_sequences

FAST = dict(hidden_size=12, max_iter=40, batch_size=16, learning_rate_init=0.02,
            random_state=0, dtype=np.float64)


def _ragged(n=120, seed=0, C=2, low=3, high=15):
    rng = np.random.default_rng(seed)
    lens = rng.integers(low, high, size=n)
    seqs = [rng.normal(size=(k, C)) for k in lens]
    return seqs, lens


def _nan_padded(seqs):
    T = max(len(s) for s in seqs)
    X = np.full((len(seqs), T, seqs[0].shape[1]), np.nan)
    for i, s in enumerate(seqs):
        X[i, :len(s)] = s
    return X


def test_many_to_one_on_variable_lengths_reads_each_last_step():
    seqs, _ = _ragged()
    y = np.array([s[-1, 0] + 0.5 * s[-2, 1] for s in seqs])  # the last real steps
    reg = RNNRegressor(**FAST).fit(seqs, y)
    assert reg.n_timesteps_ is None and reg.n_channels_ == 2
    assert not hasattr(reg, "n_features_in_")
    pred = reg.predict(seqs)
    assert pred.shape == (len(seqs),)
    assert reg.score(seqs, y) > 0.8
    # NaN-padded 3-D (sktime/aeon's layout): the same sequences, bitwise
    np.testing.assert_array_equal(reg.predict(_nan_padded(seqs)), pred)
    # numpy's container of sequences (an object array) reads as the list
    holder = np.empty(len(seqs), dtype=object)
    holder[:] = seqs
    np.testing.assert_array_equal(reg.predict(holder), pred)
    # each sequence alone: the same prediction (up to BLAS's row-blocking)
    alone = np.array([reg.predict([s])[0] for s in seqs[:10]])
    np.testing.assert_allclose(alone, pred[:10], rtol=1e-10, atol=1e-12)
    # longer sequences than any seen in fit
    assert np.isfinite(reg.predict([np.zeros((40, 2))])).all()


def test_scaling_statistics_count_only_real_steps():
    seqs, _ = _ragged(40)
    y = np.arange(len(seqs), dtype=float)
    reg = RNNRegressor(**{**FAST, "max_iter": 1}).fit(seqs, y)
    flat = np.concatenate(seqs)
    np.testing.assert_allclose(reg._x_mean, flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(reg._x_std, flat.std(axis=0), rtol=1e-12)


def test_fixed_length_fit_predicts_any_length_in_3d():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 10, 1))
    y = X[:, -1, 0]
    reg = RNNRegressor(**FAST).fit(X, y)
    short = reg.predict(X[:, -6:])
    np.testing.assert_allclose(short, reg.predict([x[-6:] for x in X]), rtol=1e-10)
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, -6:, 0])  # 2-D keeps scikit-learn's fixed width


def test_classifier_on_variable_lengths_learns():
    seqs, lens = _ragged(160, seed=2, C=1, low=4, high=20)
    y = np.where([s.mean() > 0 for s in seqs], "up", "down")
    clf = RNNClassifier(**{**FAST, "max_iter": 60}).fit(seqs, y)
    assert clf.score(seqs, y) > 0.9
    proba = clf.predict_proba(seqs)
    assert proba.shape == (160, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)


def test_sequence_output_learns_a_delayed_copy():
    """One target per step: y_t = x_{t-2}.  A many-to-one reading of the 2-D y would
    predict every column from the last state (the issue's MSE 0.74)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 12, 1))
    y = np.zeros((200, 12))
    y[:, 2:] = X[:, :-2, 0]
    reg = RNNRegressor(**{**FAST, "max_iter": 80}, output="sequence").fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (200, 12)
    assert np.mean((pred - y) ** 2) < 0.05
    assert reg.score(X, y) > 0.9
    with pytest.warns(UserWarning, match="output='sequence'"):
        RNNRegressor(**{**FAST, "max_iter": 2}).fit(X, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*output='sequence'")
        RNNRegressor(**{**FAST, "max_iter": 2}).fit(X, y[:, :3])  # 3 outputs: no doubt


def test_sequence_output_on_variable_lengths_and_multi_output():
    seqs, lens = _ragged(100, seed=4)
    ys = [np.stack([s[:, 0], s[:, 0] * s[:, 1]], axis=1) for s in seqs]
    reg = RNNRegressor(**FAST, output="sequence").fit(seqs, ys)
    pred = reg.predict(seqs)
    assert [p.shape for p in pred] == [(k, 2) for k in lens]
    padded = reg.predict(_nan_padded(seqs))  # padded in, padded out: NaN past each length
    assert padded.shape == (len(seqs), max(lens), 2)
    for a, b, k in zip(pred, padded, lens):
        np.testing.assert_array_equal(a, b[:k])
        assert np.isnan(b[k:]).all()
    assert reg.score(seqs, ys) > 0.5
    # one output per step: 1-D per sequence in, 1-D per sequence out
    one = RNNRegressor(**{**FAST, "max_iter": 3}, output="sequence").fit(
        seqs, [s[:, 0] for s in seqs])
    assert [p.shape for p in one.predict(seqs[:3])] == [(k,) for k in lens[:3]]


def test_sequence_output_of_fixed_length_windows_with_several_outputs_per_step():
    """(n, T, C) windows with (n, T, k) targets, the array form the docstring gives."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 6, 2))
    Y = np.stack([X[..., 0], X[..., 0] * X[..., 1], -X[..., 1]], axis=2)
    reg = RNNRegressor(**FAST, output="sequence").fit(X, Y)
    assert reg.n_outputs_ == 3 and reg.predict(X).shape == (60, 6, 3)
    same = RNNRegressor(**FAST, output="sequence").fit(list(X), list(Y))
    np.testing.assert_array_equal(reg.network_.params, same.network_.params)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        RNNRegressor(**FAST, output="sequence").fit(X, Y[:50])


def test_sequence_labelling_classifier():
    seqs, lens = _ragged(120, seed=5, C=1)
    labels = [np.where(s[:, 0] > 0, "pos", "neg") for s in seqs]
    clf = RNNClassifier(**FAST, output="sequence").fit(seqs, labels)
    pred = clf.predict(seqs)
    assert [p.shape for p in pred] == [(k,) for k in lens]
    assert clf.score(seqs, labels) > 0.95
    proba = clf.predict_proba(seqs)
    assert [p.shape for p in proba] == [(k, 2) for k in lens]
    # a NaN-padded X: probabilities padded with NaN, labels (which have no NaN) as a list
    padded = _nan_padded(seqs)
    assert clf.predict_proba(padded).shape == (len(seqs), max(lens), 2)
    assert [p.shape for p in clf.predict(padded)] == [(k,) for k in lens]
    X = np.random.default_rng(6).normal(size=(50, 9, 1))
    y2 = np.where(X[..., 0] > 0, 1, 0)
    fixed = RNNClassifier(**FAST, output="sequence").fit(X, y2)
    assert fixed.predict(X).shape == (50, 9)
    assert fixed.predict_proba(X).shape == (50, 9, 2)
    with pytest.raises(ValueError, match="output='sequence'"):
        RNNClassifier(**FAST).fit(X, y2)


def test_early_stopping_and_weights_on_sequences():
    seqs, _ = _ragged(100, seed=7)
    y = np.array([s[-1, 0] for s in seqs])
    sw = np.linspace(0.5, 2, len(seqs))
    reg = RNNRegressor(**FAST, early_stopping=True).fit(seqs, y, sample_weight=sw)
    assert reg.validation_scores_ and reg.best_validation_score_ is not None
    ys = [s[:, 0] for s in seqs]
    seq = RNNRegressor(**FAST, early_stopping=True, output="sequence").fit(seqs, ys,
                                                                           sample_weight=sw)
    assert np.isfinite(seq.loss_curve_).all()


def test_sequence_models_round_trip(tmp_path):
    seqs, _ = _ragged(60, seed=8)
    ys = [s[:, 1] for s in seqs]
    reg = RNNRegressor(**{**FAST, "max_iter": 3}, output="sequence").fit(seqs, ys)
    tsrnn.save(reg, tmp_path / "m")
    for other in (pickle.loads(pickle.dumps(reg)), tsrnn.load(tmp_path / "m")):
        for a, b in zip(other.predict(seqs), reg.predict(seqs)):
            np.testing.assert_array_equal(a, b)
    clf = RNNClassifier(**{**FAST, "max_iter": 3}).fit(seqs, [len(s) > 8 for s in seqs])
    tsrnn.save(clf, tmp_path / "c")
    again = tsrnn.load(tmp_path / "c")
    np.testing.assert_array_equal(again.predict(seqs), clf.predict(seqs))


def test_make_sequences_from_a_long_frame():
    seqs, lens = _ragged(5, seed=9)
    rows = [dict(id=f"s{i}", step=t, a=s[t, 0], b=s[t, 1])
            for i, s in enumerate(seqs) for t in range(len(s))]
    df = pd.DataFrame(rows).sample(frac=1, random_state=0)  # rows shuffled
    got, ids = make_sequences(df, "id", columns=["a", "b"], sort_by="step")
    order = [int(i[1:]) for i in ids]
    for g, k in zip(got, order):
        np.testing.assert_array_equal(g, seqs[k])
    with pytest.raises(ValueError, match="`by`='nope' is not a column"):
        make_sequences(df, "nope")
    with pytest.raises(TypeError, match="non-numeric"):
        make_sequences(df.assign(a="x"), "id", sort_by="step")


def test_bad_sequence_input_is_refused_by_name():
    seqs, lens = _ragged(30, seed=10)
    y = np.zeros(30)
    reg = RNNRegressor(**{**FAST, "max_iter": 2})
    cases = [
        (lambda: reg.fit(seqs[:1] + [np.zeros((0, 2))] + seqs[2:], y), "`X[1]` is an empty"),
        (lambda: reg.fit(seqs[:1] + [np.zeros((4, 3))] + seqs[2:], y), "`X[1]` has 3 channels"),
        (lambda: reg.fit(seqs, y[:-1]), "`X` holds 30 sequences but `y` has 29"),
    ]
    bad_nan = _nan_padded(seqs)
    bad_nan[3, 0, 1] = np.nan
    cases.append((lambda: reg.fit(bad_nan, y), "`X[3]` has nan at step 0, channel 1"))
    seq = RNNRegressor(**{**FAST, "max_iter": 2}, output="sequence")
    ys = [np.zeros(k) for k in lens]
    ys[4] = np.zeros(lens[4] + 1)
    cases.append((lambda: seq.fit(seqs, ys), f"`y[4]` has shape ({lens[4] + 1},); sequence 4"))
    cases.append((lambda: seq.fit(seqs, ys[:5]), "`X` holds 30 sequences but `y` has 5"))
    cases.append((lambda: RNNRegressor(loss="quantile", quantiles=[0.5],
                                       output="sequence").fit(seqs, ys), "not available"))
    cases.append((lambda: RNNRegressor(output="all").fit(seqs, y), "`output`='all'"))
    for call, msg in cases:
        with pytest.raises(ValueError, match=re.escape(msg)):
            call()
    fitted = RNNRegressor(**{**FAST, "max_iter": 2}).fit(seqs, y)
    with pytest.raises(ValueError, match=r"`X\[0\]` has 1 channels .* the model has 2"):
        fitted.predict([np.zeros((5, 1)), np.zeros((3, 1))])
    with pytest.raises(ValueError, match="univariate windows"):
        fitted.predict(np.zeros((3, 5)))


def test_forecaster_windows_as_wide_as_the_horizon_do_not_warn():
    from tsrnn import RNNForecaster

    y = pd.Series(np.sin(np.arange(120) / 3), index=pd.date_range("2000", periods=120,
                                                                   freq="D"))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*output='sequence'")
        RNNForecaster(lags=6, horizon=6, estimator=RNNRegressor(**{**FAST, "max_iter": 2}),
                      random_state=0).fit(y)


def test_init_schemes_reach_the_network():
    from tsrnn.nn import Network

    net = Network("rnn", input_size=3, hidden_size=5, activation="relu", init="identity",
                  random_state=0)
    sd = net.state_dict()
    np.testing.assert_array_equal(sd["rnn.weight_hh_l0"], np.eye(5))
    assert not sd["rnn.bias_ih_l0"].any() and np.abs(sd["rnn.weight_ih_l0"]).max() < 0.01
    with pytest.raises(ValueError, match="`init`='identity' is for"):
        Network("lstm", init="identity")
    X = np.random.default_rng(0).normal(size=(40, 6, 1))
    y = X[:, 0, 0]
    for init in ("pytorch", "orthogonal", "identity"):
        reg = RNNRegressor(cell="rnn", activation="relu", init=init, hidden_size=6,
                           max_iter=1, random_state=0).fit(X, y)
        assert reg.network_.init == init
    lstm = RNNRegressor(init="orthogonal", hidden_size=4, max_iter=1, random_state=0).fit(X, y)
    assert lstm.network_.init == "orthogonal"
    b = Network("lstm", hidden_size=4, init="orthogonal").state_dict()["rnn.bias_ih_l0"]
    with pytest.raises(ValueError, match="`init`='identity' is for cell='rnn'"):
        RNNRegressor(init="identity").fit(X, y)
    with pytest.raises(ValueError, match="`init`='he'"):
        RNNClassifier(init="he").fit(X, y > 0)
    np.testing.assert_array_equal(b[4:8], 1.0)  # the forget gate's bias starts at 1
