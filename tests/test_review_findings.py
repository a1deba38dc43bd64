"""Regression tests for problems found in review of the variable-length change (issue 13)."""

import numpy as np
import pytest

from tsrnn._engine import sequences
from tsrnn._engine.kernels.losses import CODES
from tsrnn._engine.plan import Workspace
from tsrnn.nn import Network


def test_kernel_loss_ignores_unwritten_outputs_past_a_chunks_longest_sequence():
    # n=200 is two prediction chunks; sorted lengths keep the workspace's buffer, whose
    # steps past the first chunk's longest sequence the kernel never writes
    net = Network("gru", input_size=1, hidden_size=3, dtype=np.float64, random_state=0)
    rng = np.random.default_rng(0)
    n, T = 200, 10
    lens = np.full(n, 2)
    lens[-1] = T
    X = rng.normal(size=(n, T, 1))
    Y = rng.normal(size=(n, T, 1))
    for i, k in enumerate(lens):
        X[i, k:] = 0
        Y[i, k:] = 0
    args = (X, Y, np.ones(n), CODES["squared_error"], np.empty(0), 1.0, True, 1, None)
    clean = net._kernel_loss(*args, Workspace(), sequences.Batch(lens))
    ws = Workspace()
    ws.get("predict_out", (n, T, 1), np.float64)[...] = np.nan
    poisoned = net._kernel_loss(*args, ws, sequences.Batch(lens))
    assert np.isfinite(clean)
    assert poisoned == clean


def test_score_on_nan_padded_rows_none_of_which_reaches_the_last_step():
    # a cross-validation fold of a NaN-padded X: its sequences may all end before the
    # array's last step, while y keeps the array's width
    import warnings

    from tsrnn import RNNClassifier, RNNRegressor
    rng = np.random.default_rng(0)
    X = np.full((6, 5, 1), np.nan)
    Y = np.full((6, 5), np.nan)
    for i, k in enumerate([2, 3, 5, 1, 4, 2]):
        X[i, :k] = rng.normal(size=(k, 1))
        Y[i, :k] = rng.normal(size=k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = RNNRegressor(hidden_size=3, max_iter=2, random_state=0,
                           output="sequence").fit(X, Y)
        labels = np.where(np.isnan(Y), "", np.where(Y > 0, "u", "d"))
        clf = RNNClassifier(hidden_size=3, max_iter=2, random_state=0,
                            output="sequence").fit(X, labels)
    rows = [0, 1]
    pred = reg.predict(X[rows])  # NaN-padded like X
    real = ~np.isnan(Y[rows])
    np.testing.assert_array_equal(~np.isnan(pred), real)
    from sklearn.metrics import r2_score
    assert reg.score(X[rows], Y[rows]) == r2_score(Y[rows][real], pred[real])
    assert 0 <= clf.score(X[rows], labels[rows]) <= 1


def test_dropout_fit_does_not_depend_on_the_padded_width():
    import warnings

    from tsrnn import RNNRegressor
    rng = np.random.default_rng(0)
    lens = rng.integers(1, 9, 30)
    seqs = [rng.normal(size=(k, 1)) for k in lens]
    y = np.array([s.sum() for s in seqs])
    X = np.full((30, 12, 1), np.nan)
    for i, s in enumerate(seqs):
        X[i, :len(s)] = s
    kw = dict(hidden_size=3, num_layers=2, dropout=0.3, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = RNNRegressor(**kw).fit(seqs, y)
        b = RNNRegressor(**kw).fit(X, y)
    np.testing.assert_array_equal(a.network_.params, b.network_.params)


def test_model_file_with_sequence_output_and_quantile_heads_is_refused(tmp_path):
    # unreachable by fit (loss='quantile' with output='sequence' is refused); a crafted
    # file loaded and predicted (n*T,) instead of (n,)
    import warnings

    import tsrnn
    from tsrnn import RNNRegressor
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 5, 1)), rng.normal(size=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = RNNRegressor(hidden_size=3, max_iter=2, random_state=0, loss="quantile",
                         quantiles=[0.1, 0.9]).fit(X, y)
    m.output_ = "sequence"
    path = tmp_path / "m.tsrnn"
    with pytest.raises(ValueError, match="output_"):
        tsrnn.save(m, path)
        tsrnn.load(path)



def test_predict_on_padded_X_keeps_the_padded_layout():
    import warnings

    from sklearn.model_selection import cross_val_predict

    from tsrnn import RNNRegressor
    rng = np.random.default_rng(0)
    X = np.full((12, 5, 1), np.nan)
    Y = np.full((12, 5), np.nan)
    for i, k in enumerate(rng.integers(1, 6, 12)):
        X[i, :k] = rng.normal(size=(k, 1))
        Y[i, :k] = rng.normal(size=k)
    m = RNNRegressor(hidden_size=3, max_iter=2, random_state=0, output="sequence")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = cross_val_predict(m, X, Y, cv=3)
    assert pred.shape == Y.shape
    np.testing.assert_array_equal(np.isnan(pred), np.isnan(Y))  # NaN exactly past each length
