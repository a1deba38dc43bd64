"""tsrnn.save / tsrnn.load: bit-identical round trips, no pickle, refusal of bad files."""

import builtins
import datetime
import io
import json
import os
import pickle
import stat
import subprocess
import sys
import zipfile
import zoneinfo

import numpy as np
import pandas as pd
import pytest
from conftest import forecaster, subprocess_env
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


def test_files_of_the_previous_format_ask_for_a_refit(saved):
    _rewrite(saved, meta={"format_version": 1})
    with pytest.raises(ValueError, match=r"\(format 1\); this is tsrnn .* Refit the model"):
        tsrnn.load(saved)


def test_save_refuses_a_state_that_would_not_load(tmp_path):
    y = load_weather()["temp_max"].iloc[:200]
    fc = forecaster(lags=6, horizon=2, **FAST).fit(y)
    fc.set_params(horizon=3)  # the fitted network forecasts 2 steps
    with pytest.raises(ValueError, match=r"`model` cannot be saved: .*n_outputs_`=2 must "
                                         r"equal the forecaster's outputs per window \(3\)"):
        tsrnn.save(fc, tmp_path / "x.tsrnn")
    assert list(tmp_path.iterdir()) == []


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


# ------------------------------------------------------------------ writing the file
def _leftovers(directory, keep):
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"),
                                     KeyboardInterrupt()])
def test_a_failed_save_leaves_the_previous_file_and_no_temporary_file(saved, failure,
                                                                      monkeypatch):
    before = saved.read_bytes()
    X = np.random.default_rng(1).normal(size=(30, 5, 1))
    other = RNNRegressor(**FAST).fit(X, X[:, 0, 0])

    def fail(*args, **kwargs):
        raise failure
    monkeypatch.setattr(np.lib.format, "write_array", fail)  # part-way through the archive
    with pytest.raises(type(failure)):
        tsrnn.save(other, saved)
    assert saved.read_bytes() == before
    assert _leftovers(saved.parent, {saved.name}) == []


def test_a_file_size_limit_part_way_leaves_the_previous_file(saved, tmp_path):
    """RLIMIT_FSIZE (Python ignores SIGXFSZ, so the write fails with EFBIG)."""
    resource = pytest.importorskip("resource")
    before = saved.read_bytes()
    script = (
        "import resource, sys, tsrnn\n"
        "m = tsrnn.load(sys.argv[1])\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) // 2}, "
        "resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
        "try:\n"
        "    tsrnn.save(m, sys.argv[1])\n"
        "except OSError as e:\n"
        "    print('refused', e.errno)\n"
    )
    del resource
    run = subprocess.run([sys.executable, "-c", script, str(saved)], env=subprocess_env(),
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0 and run.stdout.startswith("refused"), run.stderr[-2000:]
    assert saved.read_bytes() == before
    assert _leftovers(saved.parent, {saved.name}) == []


def test_save_permissions_directory_and_symlink(saved, tmp_path):
    old = os.umask(0o027)
    try:
        fresh = tmp_path / "new.tsrnn"
        tsrnn.save(tsrnn.load(saved), fresh)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640  # as open() gives, not mkstemp's 0600
    finally:
        os.umask(old)
    saved.chmod(0o604)
    tsrnn.save(tsrnn.load(saved), saved)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o604  # a replaced file keeps its mode
    link = tmp_path / "link.tsrnn"
    link.symlink_to(saved)
    tsrnn.save(tsrnn.load(saved), link)
    assert link.is_symlink() and tsrnn.load(link).n_iter_ == tsrnn.load(saved).n_iter_
    with pytest.raises(ValueError, match=r"`path`=.* is a directory"):
        tsrnn.save(tsrnn.load(saved), tmp_path)
    tsrnn.save(tsrnn.load(saved), os.devnull)  # a device is written to, not replaced
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert _leftovers(tmp_path, {"m.tsrnn", "new.tsrnn", "link.tsrnn"}) == []


# ------------------------------------------------------------------ reading the file
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_load_reads_only_regular_files(tmp_path):
    with pytest.raises(ValueError, match=r"is a directory, not a regular file"):
        tsrnn.load(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # with no writer, a blocking open would wait forever
    with pytest.raises(ValueError, match=r"is a FIFO \(named pipe\), not a regular file"):
        tsrnn.load(fifo)
    if os.path.exists("/dev/zero"):
        with pytest.raises(ValueError, match=r"is a character device"):
            tsrnn.load("/dev/zero")


def test_load_refuses_a_huge_file_before_reading_it(tmp_path):
    sparse = tmp_path / "sparse.tsrnn"
    with open(sparse, "wb") as fh:
        fh.truncate(4 << 30)  # 4 GiB of nothing, taking no disk space
    with pytest.raises(ValueError, match=r"is 4.0 GiB, more than a model file may be"):
        tsrnn.load(sparse)


def test_inflated_bytes_are_counted_not_declared_sizes(saved, monkeypatch):
    from tsrnn import _persist_io

    with zipfile.ZipFile(saved) as zf:
        big = max(zf.infolist(), key=lambda i: i.file_size)
        total = sum(i.file_size for i in zf.infolist())
    monkeypatch.setattr(_persist_io, "MAX_BYTES", total)
    tsrnn.load(saved)  # fits exactly
    monkeypatch.setattr(_persist_io, "MAX_BYTES", total - 1)
    with pytest.raises(ValueError, match="more than the .* a model file may inflate to"):
        tsrnn.load(saved)
    monkeypatch.undo()
    # a member declaring fewer bytes than its .npy header claims
    raw = bytearray(saved.read_bytes())
    name = big.filename.encode()
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(sig)
        while at >= 0 and raw[at + (30 if sig == b"PK\x03\x04" else 46):].find(name) != 0:
            at = raw.find(sig, at + 4)
        raw[at + size_at:at + size_at + 4] = (big.file_size - 8).to_bytes(4, "little")
    saved.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="not a readable tsrnn model file"):
        tsrnn.load(saved)


def test_load_memory_is_about_the_model_size(tmp_path):
    """A synthetic file whose network holds 160 MiB of float32 parameters: loading it
    raises the peak RSS by about that much (the previous loader took 4x)."""
    pytest.importorskip("resource")
    X = np.random.default_rng(0).normal(size=(20, 5, 1))
    path = tmp_path / "big.tsrnn"
    tsrnn.save(RNNRegressor(cell="rnn", **FAST).fit(X, X[:, -1, 0]), path)
    H = 6480  # an Elman layer of H*H + 4H + 1 parameters, 160 MiB in float32
    n = H * H + 4 * H + 1

    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    body = json.loads(files["model.json"])
    net = body["model"]["state"]["network_"]["__network__"]
    net["hidden_size"] = H
    raw = json.dumps(body).encode()
    arrays = {k[:-4]: np.load(io.BytesIO(v)) for k, v in files.items() if k.endswith(".npy")}
    arrays[net["params"]["__array__"]] = np.zeros(n, np.float32)  # zero pages: no memory here
    meta = dict(json.loads(files["meta.json"]), sha256=_digest(raw, arrays))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("meta.json", json.dumps(meta))
        zf.writestr("model.json", raw)
        for key, a in arrays.items():  # deflated, so that loading inflates it in chunks
            with zf.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array(fh, a)
    script = (
        "import resource, sys\n"
        "import tsrnn, tsrnn.persistence, tsrnn.forecasting, tsrnn._ensemble\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "m = tsrnn.load(sys.argv[1])\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((peak - base) * 1024 / m.network_.params.nbytes)\n"
    )
    run = subprocess.run([sys.executable, "-c", script, str(path)], env=subprocess_env(),
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert float(run.stdout) < 1.5


# --------------------------------------------------------------- time zones and names
def _tz_series(tz):
    index = pd.date_range("2024-03-01", periods=120, freq="h", tz=tz)
    return pd.Series(np.sin(np.arange(120) / 6), index=index)


@pytest.mark.parametrize("tz", [
    "Europe/Paris", "UTC", datetime.timezone.utc,
    datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
    datetime.timezone(-datetime.timedelta(hours=3)), "dateutil/America/New_York",
    zoneinfo.ZoneInfo("Asia/Tokyo"),
])
def test_time_zones_round_trip_by_name(tz, tmp_path):
    fc = forecaster(lags=6, horizon=2, **FAST).fit(_tz_series(tz))
    loaded, _ = _roundtrip(fc, tmp_path)
    before, after = fc.predict(), loaded.predict()
    assert str(after.index.tz) == str(before.index.tz) or \
        after.index[0].utcoffset() == before.index[0].utcoffset()
    np.testing.assert_array_equal(after.index.asi8, before.index.asi8)
    np.testing.assert_array_equal(after.to_numpy(), before.to_numpy())


def test_a_zone_without_a_name_is_refused_at_save(tmp_path):
    dateutil_tz = pytest.importorskip("dateutil.tz")
    fc = forecaster(lags=6, horizon=2, **FAST).fit(_tz_series(dateutil_tz.tzlocal()))
    with pytest.raises(ValueError, match="has no name that a model file can store"):
        tsrnn.save(fc, tmp_path / "local.tsrnn")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("crafted", ["dateutil//etc/passwd", "/etc/passwd", "../../etc/passwd",
                                     "dateutil/../../../etc/passwd", "UTC+99:00", "Nowhere/City"])
def test_a_crafted_time_zone_is_refused_before_any_file_is_opened(crafted, tmp_path,
                                                                   monkeypatch):
    fc = forecaster(lags=6, horizon=2, **FAST).fit(_tz_series("Europe/Paris"))
    path = tmp_path / "tz.tsrnn"
    tsrnn.save(fc, path)
    _rewrite(path, body=lambda b: b.replace(b'"Europe/Paris"', json.dumps(crafted).encode()),
             rehash=True)
    opened = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    with pytest.raises(ValueError, match="time zone name"):
        tsrnn.load(path)
    assert not [f for f in opened if "passwd" in f or "Nowhere" in f], opened


@pytest.mark.parametrize("label", [
    pd.Timestamp("2024-05-01 12:00", tz="Europe/Paris"), pd.Timestamp("2024-05-01"),
    pd.Timedelta("3h"), np.int64(7), np.float32(0.5), datetime.date(2024, 5, 1),
    (pd.Timestamp("2024-01-01"), "close"), np.datetime64("2024-01-02"), pd.NaT,
])
def test_series_named_by_timestamps_and_other_scalars_round_trip(label, tmp_path):
    y = load_weather()["temp_max"].iloc[:200].rename(label)
    fc = forecaster(lags=6, horizon=2, **FAST).fit(y)
    loaded, _ = _roundtrip(fc, tmp_path)
    got, want = loaded.predict().name, fc.predict().name
    assert got is pd.NaT if want is pd.NaT else (got == want and type(got) is not np.ndarray)
    if isinstance(want, pd.Timestamp):
        assert got.tz == want.tz or str(got.tz) == str(want.tz)
