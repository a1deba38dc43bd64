"""ONNX export (``tsrnn.export_onnx``): ONNX Runtime predicts what tsrnn predicts.

Every exported graph is run by onnxruntime on the data tsrnn predicts, and the two
must agree within 1e-5 (float32 networks); each test records its largest absolute
difference (``max_abs_error`` in a JUnit report).
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge

import tsrnn
from tsrnn import RNNClassifier, RNNForecaster, RNNRegressor

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = 1e-5
SMALL = dict(hidden_size=5, max_iter=3, random_state=0)


def _fit(model, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 epochs do not converge, on purpose
        return model.fit(*args)


def _run(proto, X, lengths=None):
    """onnxruntime's outputs by name, after onnx's own full check of the model."""
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"X": X}
    if lengths is not None:
        feeds["lengths"] = np.asarray(lengths, np.int32)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds)))


def _close(got, want, record, key="max_abs_error"):
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape
    assert (np.isnan(got) == np.isnan(want)).all()
    err = float(np.nanmax(np.abs(got - want)))
    record(key, err)
    assert err < TOL, err


def _windows(n=40, T=6, C=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, T, C))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_regressor_matches_onnxruntime(cell, layers, dtype, record_property):
    X = _windows()
    # mean 4, spread 3.6: the scaling counts, and float32 resolves the values to 1e-6
    y = 4 + 3 * X[:, -1, 0] - 2 * X[:, -2, 2]
    reg = _fit(RNNRegressor(cell=cell, num_layers=layers, dtype=dtype, **SMALL), X, y)
    proto = tsrnn.export_onnx(reg)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count({"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[cell]) == layers
    out = _run(proto, X.astype(dtype))["prediction"]
    assert out.dtype == dtype  # a float64 network's graph takes and gives float64
    _close(out, reg.predict(X), record_property)


def test_multi_output_relu_and_float32_graph_of_a_float64_network(record_property):
    X = _windows(C=2)
    Y = np.stack([X[:, -1, 0], 3 * X[:, -3, 1] + 1], axis=1)
    reg = _fit(RNNRegressor(cell="rnn", activation="relu", dtype=np.float64, **SMALL), X, Y)
    out = _run(tsrnn.export_onnx(reg, dtype=np.float32), X.astype(np.float32))["prediction"]
    assert out.dtype == np.float32 and out.shape == (40, 2)
    _close(out, reg.predict(X), record_property)


@pytest.mark.parametrize("outputs", [1, 2])
def test_quantile_regressor_sorted_quantiles_and_median(outputs, record_property):
    X = _windows(C=2)
    y = X[:, -1, :outputs] * 4 + 2
    reg = _fit(RNNRegressor(loss="quantile", quantiles=[0.9, 0.1, 0.5], **SMALL), X,
               y[:, 0] if outputs == 1 else y)
    got = _run(tsrnn.export_onnx(reg), X.astype(np.float32))
    _close(got["quantiles"], reg.predict_quantiles(X), record_property, "quantiles_error")
    _close(got["prediction"], reg.predict(X), record_property)


@pytest.mark.parametrize("labels", [np.array(["down", "up"], dtype=object), np.array([3, 7, 11]),
                                    np.array([False, True]), np.array(["a", "b", "c"])],
                         ids=["binary-object", "multiclass-int", "bool", "multiclass-str"])
def test_classifier_probabilities_and_labels(labels, record_property):
    X = _windows(C=2)
    code = (X[:, -1, 0] > 0).astype(int) + (len(labels) > 2) * (X[:, -1, 1] > 0.5)
    y = labels[code]
    clf = _fit(RNNClassifier(cell="gru", num_layers=2, **SMALL), X, y)
    got = _run(tsrnn.export_onnx(clf), X.astype(np.float32))
    _close(got["probabilities"], clf.predict_proba(X), record_property)
    assert got["label"].tolist() == clf.predict(X).tolist()


def test_sequence_outputs_per_step(record_property):
    X = _windows(C=2)
    Y = np.stack([np.cumsum(X[:, :, 0], axis=1), X[:, :, 1] * 2 - 1], axis=2)
    # several targets per step are given as lists (fixed 3-D windows with a 3-D `y` are
    # refused by the estimator's validation)
    reg = _fit(RNNRegressor(cell="lstm", num_layers=2, output="sequence", **SMALL), list(X),
               list(Y))
    out = _run(tsrnn.export_onnx(reg), X.astype(np.float32))["prediction"]
    _close(out, np.stack(reg.predict(list(X))), record_property)
    clf = _fit(RNNClassifier(cell="rnn", output="sequence", **SMALL), X,
               (X[:, :, 0] > 0).astype(int))
    got = _run(tsrnn.export_onnx(clf), X.astype(np.float32))
    _close(got["probabilities"], clf.predict_proba(X), record_property, "classifier_error")
    assert (got["label"] == clf.predict(X)).all()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sequences_of_their_own_lengths(cell, record_property):
    rng = np.random.default_rng(1)
    X = _windows(T=8, C=2)
    lengths = rng.integers(2, 9, size=len(X))
    for i, n in enumerate(lengths):
        X[i, n:] = np.nan  # tsrnn's padding (sktime's convention)
    X32 = X.astype(np.float32)
    reg = _fit(RNNRegressor(cell=cell, num_layers=2, **SMALL), X, rng.normal(size=len(X)))
    out = _run(tsrnn.export_onnx(reg, lengths=True), X32, lengths)
    _close(out["prediction"], reg.predict(X), record_property)
    seq = _fit(RNNRegressor(cell=cell, output="sequence", **SMALL), X,
               np.nan_to_num(X[:, :, 0]))
    out = _run(tsrnn.export_onnx(seq, lengths=True), X32, lengths)
    _close(out["prediction"], seq.predict(X), record_property, "sequence_error")  # NaN past
    clf = _fit(RNNClassifier(cell=cell, output="sequence", **SMALL), X,
               np.nan_to_num(X[:, :, 0]) > 0)
    got = _run(tsrnn.export_onnx(clf, lengths=True), X32, lengths)
    assert "label" not in got
    _close(got["probabilities"], clf.predict_proba(X), record_property, "classifier_error")


def _series(n=150):
    t = np.arange(n)
    values = 20 + 5 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(0).normal(0, 1, n)
    return pd.Series(values, index=pd.date_range("2020-01-01", periods=n, freq="D"), name="y")


def _forecaster(**kw):
    net = RNNForecaster.default_estimator(hidden_size=5, max_iter=3)
    return RNNForecaster(**{"lags": 14, "horizon": 3, "estimator": net, "random_state": 0,
                            **kw})


def test_forecaster_network_raw_windows_give_the_forecast(record_property):
    y = _series()
    fc = _fit(_forecaster(window_norm=None), y)
    window = y.to_numpy()[-14:].reshape(1, 14, 1).astype(np.float32)
    out = _run(tsrnn.export_onnx(fc), window)["prediction"]
    _close(out, fc.predict().to_numpy()[None], record_property)


def test_forecaster_network_keeps_the_output_limits(record_property):
    from tsrnn._forecast.single import predictor

    y = _series()
    fc = _fit(_forecaster(clip_outputs=0.0, estimator=RNNForecaster.default_estimator(
        hidden_size=5, max_iter=3, loss="quantile", quantiles=[0.1, 0.5, 0.9])), y)
    # narrower limits than the fitted ones (changes of about ±10), so that the small
    # outputs of 3 epochs reach them
    lo, hi = fc._output_bounds
    assert (lo < 0).all() and (hi > 0).all()
    fc._output_bounds = (lo / 50, hi / 50)
    W = _windows(n=30, T=14, C=1) * 8
    assert not np.allclose(fc.estimator_.predict(W), predictor(fc).predict(W))
    got = _run(tsrnn.export_onnx(fc), W.astype(np.float32))
    _close(got["prediction"], predictor(fc).predict(W), record_property)
    _close(got["quantiles"], predictor(fc).predict_quantiles(W), record_property,
           "quantiles_error")


def test_a_client_layout_is_gathered_in_the_graph(record_property):
    """Fitted on mlforecast-style columns (newest lag first, then a date feature), the
    graph takes those columns as they are, like predict."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(40, 5))
    X = pd.DataFrame(A, columns=["lag1", "lag2", "lag3", "lag4", "month"])
    est = _fit(RNNRegressor(**SMALL), X, A[:, 0] - A[:, 3])
    assert est._window_columns.shape == (4, 2)
    got = _run(tsrnn.export_onnx(est, dtype=np.float64), A)["prediction"]
    _close(got, est.predict(X), record_property)
    with pytest.raises(ValueError, match="`lengths`=True is for sequences"):
        tsrnn.export_onnx(est, lengths=True)


def test_written_file_is_the_returned_model(tmp_path):
    X = _windows(C=1)
    reg = _fit(RNNRegressor(**SMALL), X, X[:, -1, 0])
    path = tmp_path / "reg.onnx"
    proto = tsrnn.export_onnx(reg, path)
    assert onnx.load(os.fspath(path)) == proto
    assert proto.opset_import[0].version == 17 and proto.producer_name == "tsrnn"
    oldest = tsrnn.export_onnx(reg, opset=14)
    assert oldest.opset_import[0].version == 14
    assert np.allclose(_run(oldest, X.astype(np.float32))["prediction"], reg.predict(X),
                       rtol=0, atol=TOL)
    assert os.listdir(tmp_path) == ["reg.onnx"]


@pytest.mark.parametrize("kw,match", [
    (dict(strategy="seq2seq"), "encoder-decoder"),
    (dict(global_model=True, series_encoding="embedding", embedding_dim=2), "embedding"),
    (dict(series_id="sid", static_covariates=["depth"]), "static inputs"),
], ids=["seq2seq", "embedding", "static"])
def test_networks_onnx_cannot_express_are_refused(kw, match):
    y = _series(90)
    if "series_id" in kw:
        data = pd.concat([pd.DataFrame({"sid": s, "y": y * k, "depth": 10.0 * k}, index=y.index)
                          for k, s in ((1, "a"), (2, "b"))])
        fc = _fit(_forecaster(**kw), data[["sid", "y"]], data[["sid", "depth"]])
    elif kw.get("global_model"):
        fc = _fit(_forecaster(**kw), pd.DataFrame({"a": y, "b": 2 * y}))
    else:
        fc = _fit(_forecaster(**kw), y)
    with pytest.raises(NotImplementedError, match=f"cannot export RNNForecaster with .*{match}"):
        tsrnn.export_onnx(fc)


def test_bad_input_is_refused(tmp_path):
    X = _windows(C=1)
    with pytest.raises(NotFittedError):
        tsrnn.export_onnx(RNNRegressor())
    with pytest.raises(NotFittedError):
        tsrnn.export_onnx(RNNForecaster())
    with pytest.raises(TypeError, match="`model` must be a fitted RNNRegressor.*got Ridge"):
        tsrnn.export_onnx(Ridge().fit(X[:, :, 0], X[:, -1, 0]))
    with pytest.raises(TypeError, match="is a class"):
        tsrnn.export_onnx(RNNRegressor)
    ridge = _fit(RNNForecaster(lags=5, estimator=Ridge()), _series(60))
    with pytest.raises(TypeError, match="estimator is Ridge.*skl2onnx"):
        tsrnn.export_onnx(ridge)
    reg = _fit(RNNRegressor(**SMALL), X, X[:, -1, 0])
    with pytest.raises(ValueError, match="`opset`=13 must be from 14"):
        tsrnn.export_onnx(reg, opset=13)
    with pytest.raises(TypeError, match="`opset`='17'"):
        tsrnn.export_onnx(reg, opset="17")
    with pytest.raises(ValueError, match="`dtype`="):
        tsrnn.export_onnx(reg, dtype=np.int32)
    with pytest.raises(TypeError, match="`lengths`="):
        tsrnn.export_onnx(reg, lengths="yes")
    with pytest.raises(TypeError, match="`path`=3"):
        tsrnn.export_onnx(reg, 3)
    with pytest.raises(ValueError, match="is a directory"):
        tsrnn.export_onnx(reg, tmp_path)
    assert os.listdir(tmp_path) == []


def test_missing_onnx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"tsrnn\[onnx\]"):
        tsrnn.export_onnx(RNNRegressor())


def test_docstring_example():
    import doctest

    import tsrnn._onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the example's 2 epochs do not converge
        result = doctest.testmod(tsrnn._onnx, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
