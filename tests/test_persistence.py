"""tsrnn.save / tsrnn.load: bit-identical round trips, no pickle, refusal of bad files."""

import io
import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import forecaster
from pandas.tseries.offsets import CustomBusinessDay
from sklearn.base import clone

import tsrnn
from tsrnn import RNNClassifier, RNNRegressor
from tsrnn.datasets import load_stocks, load_weather
from tsrnn.persistence import _digest

FAST = {"hidden_size": 6, "max_iter": 4, "random_state": 0}


def _roundtrip(model, tmp_path, name="m.tsrnn"):
    path = tmp_path / name
    tsrnn.save(model, path)
    return tsrnn.load(path), path


@pytest.mark.parametrize("params", [
    {"cell": "lstm"},
    {"cell": "gru", "dtype": np.float64, "num_layers": 2},
    {"cell": "rnn", "loss": "quantile", "quantiles": [0.2, 0.5, 0.8]},
])
def test_regressor_roundtrip_bit_identical(params, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 7, 2))
    y = np.c_[X[:, -1, 0], X[:, -2, 1]]
    reg = RNNRegressor(**(FAST | params)).fit(X, y)
    loaded, _ = _roundtrip(reg, tmp_path)
    assert type(loaded) is RNNRegressor and loaded.get_params() == reg.get_params()
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    if params.get("loss") == "quantile":
        np.testing.assert_array_equal(loaded.predict_quantiles(X), reg.predict_quantiles(X))
    assert loaded.loss_curve_ == reg.loss_curve_
    loaded.partial_fit(X, y)  # a loaded model keeps training (optimizer moments restart)


def test_classifier_with_string_labels_and_randomstate(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 6, 1))
    y = np.where(X[:, -1, 0] > 0, "up", "down")
    clf = RNNClassifier(hidden_size=4, max_iter=3, random_state=np.random.RandomState(5)).fit(X, y)
    loaded, _ = _roundtrip(clf, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert list(loaded.classes_) == ["down", "up"] and (loaded.predict(X) == clf.predict(X)).all()
    # the estimator's random stream continues where it stopped
    assert loaded._rng.randint(1 << 30) == clf._rng.randint(1 << 30)


def test_dataframe_with_feature_names(tmp_path):
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(30, 4)),
                     columns=["a[t-1]", "b[t-1]", "a[t-0]", "b[t-0]"])
    reg = RNNRegressor(**FAST).fit(X, X["a[t-0]"])
    loaded, _ = _roundtrip(reg, tmp_path)
    assert list(loaded.feature_names_in_) == list(X.columns) and loaded.n_channels_ == 2
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def _forecasters():
    w = load_weather()
    stocks = load_stocks(tickers=["IBM"])["IBM"].iloc[-200:]
    tz = pd.Series(np.sin(np.arange(120.0)),
                   index=pd.date_range("2024-01-01", periods=120, freq="h", tz="US/Eastern"))
    return {
        "series-daily": (forecaster(lags=8, horizon=3, **FAST), w["temp_max"], None),
        "frame-covariates": (forecaster(lags=8, horizon=2, past_covariates="wind", **FAST),
                             w[["temp_max", "temp_min"]], w[["wind"]]),
        "recursive": (forecaster(lags=8, horizon=3, strategy="recursive", **FAST),
                      w["temp_max"].iloc[:300], None),
        "trading-days": (forecaster(lags=8, horizon=2, **FAST), stocks, None),
        "custom-calendar": (forecaster(lags=8, horizon=2, freq=CustomBusinessDay(
            holidays=["2013-03-04"]), **FAST), stocks, None),
        "range-index": (forecaster(lags=8, horizon=2, **FAST),
                        pd.Series(np.sin(np.arange(150.0) / 4)), None),
        "tz-aware": (forecaster(lags=8, horizon=2, **FAST), tz, None),
    }


@pytest.mark.parametrize("case", list(_forecasters()))
def test_forecaster_roundtrip_bit_identical(case, tmp_path):
    fc, y, X = _forecasters()[case]
    fc.fit(y, X)
    loaded, _ = _roundtrip(fc, tmp_path)
    before, after = fc.predict(), loaded.predict()
    pd.testing.assert_index_equal(after.index, before.index)
    np.testing.assert_array_equal(np.asarray(after), np.asarray(before))
    pd.testing.assert_frame_equal(loaded.predict_interval(0.8), fc.predict_interval(0.8))
    assert loaded.get_params().keys() == fc.get_params().keys()
    # and the loaded forecaster can be cloned and refitted like the original
    np.testing.assert_array_equal(np.asarray(clone(loaded).fit(y, X).predict()),
                                  np.asarray(before))


def test_unfitted_and_file_has_no_pickle(tmp_path):
    loaded, path = _roundtrip(forecaster(lags=5, cell="gru"), tmp_path)

    def params(fc):  # the nested estimator by its parameters, not its identity
        return {k: v for k, v in fc.get_params(deep=True).items() if k != "estimator"}

    assert params(loaded) == params(forecaster(lags=5, cell="gru"))
    assert type(loaded.estimator) is RNNRegressor
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert {"meta.json", "model.json"} <= set(names)
        meta = json.loads(zf.read("meta.json"))
        assert meta["format"] == "tsrnn-model" and meta["tsrnn_version"] == tsrnn.__version__
        for n in names:
            assert b"\x80\x04" not in zf.read(n)[:2]  # no pickle protocol header anywhere


def _rewrite(path, *, meta=None, body=None, replace=None, extra=None, rehash=False):
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    if body is not None:
        files["model.json"] = body(files["model.json"])
    if replace is not None:
        files.update(replace(files))
    if extra is not None:
        files.update(extra)
    m = json.loads(files["meta.json"])
    if rehash:
        arrays = {n[:-4]: np.load(io.BytesIO(v)) for n, v in files.items() if n.endswith(".npy")}
        m["sha256"] = _digest(files["model.json"], arrays)
    if meta is not None:
        m.update(meta)
    files["meta.json"] = json.dumps(m).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, v in files.items():
            zf.writestr(n, v)


@pytest.fixture
def saved(tmp_path):
    X = np.random.default_rng(0).normal(size=(30, 5, 1))
    reg = RNNRegressor(**FAST).fit(X, X[:, -1, 0])
    path = tmp_path / "m.tsrnn"
    tsrnn.save(reg, path)
    return path


def test_refuses_files_that_are_not_models(tmp_path, saved):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="is not a readable tsrnn model file"):
        tsrnn.load(text)
    data = saved.read_bytes()
    truncated = tmp_path / "cut.tsrnn"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="is not a readable tsrnn model file"):
        tsrnn.load(truncated)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("meta.json", "{}")
        zf.writestr("model.json", "{}")
    with pytest.raises(ValueError, match="is not a tsrnn model file"):
        tsrnn.load(other)
    with pytest.raises(ValueError, match="Cannot read model file"):
        tsrnn.load(tmp_path / "missing.tsrnn")


def test_refuses_edited_files(saved):
    _rewrite(saved, body=lambda b: b.replace(b'"hidden_size": 6', b'"hidden_size": 7'))
    with pytest.raises(ValueError, match="corrupted or was edited"):
        tsrnn.load(saved)


def test_refuses_edited_arrays(saved):
    def flip(files):
        name = min(n for n in files if n.endswith(".npy"))
        raw = bytearray(files[name])
        raw[-1] ^= 0xFF
        return {name: bytes(raw)}
    _rewrite(saved, replace=flip)
    with pytest.raises(ValueError, match="corrupted or was edited"):
        tsrnn.load(saved)


def test_refuses_other_versions(saved):
    _rewrite(saved, meta={"tsrnn_version": "9.0.0"})
    with pytest.raises(ValueError, match=r"written by tsrnn 9.0.0 .* Refit the model"):
        tsrnn.load(saved)


def test_never_builds_foreign_classes_or_unpickles(saved):
    """Even with a matching digest, only tsrnn's classes and plain arrays come back."""
    _rewrite(saved, body=lambda b: b.replace(b'"class": "RNNRegressor"',
                                             b'"class": "subprocess.Popen"'), rehash=True)
    with pytest.raises(ValueError, match="unknown estimator class 'subprocess.Popen'"):
        tsrnn.load(saved)


def test_refuses_pickled_arrays(tmp_path):
    X = np.random.default_rng(0).normal(size=(30, 5, 1))
    path = tmp_path / "p.tsrnn"
    tsrnn.save(RNNRegressor(**FAST).fit(X, X[:, -1, 0]), path)

    def evil(files):
        buf = io.BytesIO()
        np.save(buf, np.array([print], dtype=object), allow_pickle=True)
        name = min(n for n in files if n.endswith(".npy"))
        return {name: buf.getvalue()}
    _rewrite(path, replace=evil)
    with pytest.raises(ValueError, match="not a readable tsrnn model file"):
        tsrnn.load(path)


def test_save_refuses_other_objects(tmp_path):
    with pytest.raises(TypeError, match="`model` must be a tsrnn estimator"):
        tsrnn.save(pickle, tmp_path / "x.tsrnn")


def _npy_header_only(shape):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                              "shape": shape})
    return buf.getvalue()


@pytest.mark.parametrize("damage", ["huge-array-header", "deep-json", "unknown-compression",
                                    "huge-network", "shadowed-method"])
def test_crafted_files_give_valueerror_not_a_crash(saved, damage):
    if damage == "huge-array-header":
        _rewrite(saved, replace=lambda f: {min(n for n in f if n.endswith(".npy")):
                                           _npy_header_only((10**13,))})
    elif damage == "deep-json":
        with zipfile.ZipFile(saved) as zf:
            files = {n: zf.read(n) for n in zf.namelist()}
        files["meta.json"] = b"[" * 100000
        with zipfile.ZipFile(saved, "w") as zf:
            for n, v in files.items():
                zf.writestr(n, v)
    elif damage == "unknown-compression":
        raw = bytearray(saved.read_bytes())
        at = raw.find(b"PK\x01\x02")                      # first central directory entry
        raw[at + 10:at + 12] = (99).to_bytes(2, "little")   # its compression method
        saved.write_bytes(bytes(raw))
    elif damage == "huge-network":
        _rewrite(saved, body=lambda b: b.replace(b'"hidden_size": 6, "init"',
                                                 b'"hidden_size": 10000000, "init"'), rehash=True)
    else:
        _rewrite(saved, body=lambda b: b.replace(b'"state": {', b'"state": {"predict": 5, '),
                 rehash=True)
    with pytest.raises(ValueError, match="tsrnn model file|invalid model|edited"):
        tsrnn.load(saved)
