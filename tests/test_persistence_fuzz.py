"""Crafted model files: a state with a recomputed digest is refused with a ValueError when
fitting could not have produced it, and never fails later inside predict.

The fuzz test mutates the decoded state of valid files (a shape, a dtype, a type, a
value made NaN, negative or huge, a key dropped or added), re-digests and re-zips
it, and requires that ``load`` raises ValueError or returns a model whose
predictions work.  TSRNN_FUZZ_MUTATIONS raises the number of mutations per model.
"""

import copy
import io
import json
import os
import random
import traceback
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

import tsrnn
from tsrnn import RNNClassifier, RNNEnsembleForecaster, RNNForecaster, RNNRegressor
from tsrnn.persistence import _digest

FAST = {"hidden_size": 4, "max_iter": 2, "random_state": 0}
N = int(os.environ.get("TSRNN_FUZZ_MUTATIONS", "100"))


def _models():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6, 2))
    y = X[:, -1, 0]
    index = pd.date_range("2024-01-01", periods=150, freq="h", tz="Europe/Paris")
    series = pd.Series(np.sin(np.arange(150) / 5) + 2, index=index,
                       name=pd.Timestamp("2024-05-01", tz="UTC"))
    panel = pd.DataFrame({"a": series.to_numpy() + 1, "b": np.cos(np.arange(150) / 7)},
                         index=index)
    net = RNNRegressor(**FAST)
    return {
        "regressor": (RNNRegressor(**FAST).fit(X, y), X),
        "classifier": (RNNClassifier(**FAST).fit(X, np.where(y > 0, "up", "down")), X),
        "quantiles": (RNNRegressor(loss="quantile", quantiles=[0.1, 0.5, 0.9], **FAST)
                      .fit(X, np.c_[y, -y]), X),
        "forecaster-tz": (RNNForecaster(lags=8, horizon=3, estimator=net, log_scale="auto",
                                        window_norm="decompose", season_length=12)
                          .fit(series), None),
        "global": (RNNForecaster(lags=8, horizon=2, global_model=True,
                                 series_encoding="embedding", estimator=net).fit(panel), None),
        "ensemble": (RNNEnsembleForecaster(RNNForecaster(lags=8, horizon=2, estimator=net),
                                           n_models=2, lags=[6, 8], random_state=0)
                     .fit(series), None),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind, (model, X) in _models().items():
            path = root / f"{kind}.tsrnn"
            tsrnn.save(model, path)
            _predict(tsrnn.load(path), X)  # the unmutated file works
            out[kind] = (path, X)
    return out


def _predict(model, X):
    """Every prediction the model offers (what a mutation must not break)."""
    if X is not None:
        model.predict(X)
        if hasattr(model, "predict_proba"):
            model.predict_proba(X)
        if getattr(model, "quantiles_", None) is not None:
            model.predict_quantiles(X)
        return
    model.predict()
    if model.calibration_residuals_ is not None:
        model.predict_interval(0.5)
    first = model.members_[0] if hasattr(model, "members_") else model
    if first.estimator_.quantiles_ is not None:
        model.predict_quantiles()


def _read(path):
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    arrays = {n[:-4]: np.load(io.BytesIO(v)) for n, v in files.items() if n.endswith(".npy")}
    return json.loads(files["meta.json"]), json.loads(files["model.json"]), arrays


def _write(path, meta, body, arrays):
    raw = json.dumps(body, sort_keys=True).encode()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps(dict(meta, sha256=_digest(raw, arrays))))
        zf.writestr("model.json", raw)
        for key, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a, allow_pickle=False)
            zf.writestr(f"{key}.npy", buf.getvalue())


def _nodes(v, path=()):
    yield path, v
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
    for k, x in items:
        yield from _nodes(x, path + (k,))


_VALUES = [float("nan"), float("inf"), -1, 0, 1, 2, 10**30, -(10**30), 0.5, "x", "", None,
           True, False, [], {}, [1, 2], {"__float__": "nan"}, {"__tuple__": [1]}, 3.0]
_TEXTS = ["UTC", "dateutil//etc/passwd", "W-SUN", "0D", "-1D", "100000000D", "ME", "ns",
          "frame", "series", "season", "last", "quantile", "rnn", "relu", "long", "float64"]


def _mutate_array(a, rng):
    k = rng.randrange(8)
    if k == 0:
        return a.reshape(-1)[:-1].copy() if a.size > 1 else a.reshape(1, 1)
    if k == 1:
        return np.concatenate([a.reshape(-1), a.reshape(-1)[:1]]) if a.size else \
            np.zeros(1, a.dtype)
    if k == 2:
        kind = rng.choice([np.float32, np.float64, np.int64, bool, np.uint32, np.complex128])
        try:
            return a.astype(kind)
        except (TypeError, ValueError):
            return a.astype("U3")
    if k == 3 and a.size and a.dtype.kind in "fiu":
        b = a.copy()
        values = [np.nan, np.inf, -1.0, 0.0, 1e300] if a.dtype.kind == "f" else \
            [0, np.iinfo(a.dtype).max, np.iinfo(a.dtype).min]
        b.reshape(-1)[rng.randrange(a.size)] = rng.choice(values)
        return b
    if k == 4:
        return a.reshape(a.shape + (1,))
    if k == 5:
        return a[:0]
    if k == 6 and a.ndim >= 2:
        return np.ascontiguousarray(a.T)
    return a[::-1].copy() if a.ndim else a.reshape(1)


def _mutate(body, arrays, rng):
    """One random change to the decoded state: (body, arrays, what was done)."""
    body, arrays = copy.deepcopy(body), dict(arrays)
    path, v = rng.choice(list(_nodes(body))[1:])
    where = "/".join(map(str, path))
    if isinstance(v, dict) and isinstance(v.get("__array__"), str) and \
            v["__array__"] in arrays and rng.random() < 0.8:
        key = v["__array__"]
        arrays[key] = _mutate_array(arrays[key], rng)
        return body, arrays, f"{where}: array {arrays[key].dtype}{arrays[key].shape}"
    if isinstance(v, dict) and v and rng.random() < 0.5:
        k = rng.choice(list(v))
        if rng.random() < 0.5:
            del v[k]
            return body, arrays, f"{where}: dropped {k}"
        v["bogus_"] = 1
        return body, arrays, f"{where}: added a key"
    if isinstance(v, list) and v and rng.random() < 0.5:
        choice = rng.randrange(3)
        if choice == 0:
            del v[rng.randrange(len(v))]
        elif choice == 1:
            v.append(copy.deepcopy(v[-1]))
        else:
            v.reverse()
        return body, arrays, f"{where}: list change {choice}"
    new = copy.deepcopy(rng.choice(_VALUES))
    if isinstance(v, (int, float)) and not isinstance(v, bool) and rng.random() < 0.5:
        new = rng.choice([v + 1, v - 1, -v, v * 1000, float(v) + 0.5, 0])
    elif isinstance(v, str) and rng.random() < 0.5:
        new = rng.choice(_TEXTS + [v + "x"])
    target = body
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = new
    return body, arrays, f"{where}: {v!r:.40} -> {new!r:.40}"


def _raised_by_tsrnn(exc):
    """A ValueError from tsrnn's own checks (say, too few calibration windows for a
    coverage), not one that NumPy, pandas or Numba raised on inconsistent state."""
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return isinstance(exc, ValueError) and f"{os.sep}tsrnn{os.sep}" in frame.filename and \
        "site-packages" not in frame.filename


@pytest.mark.parametrize("kind", ["regressor", "classifier", "quantiles", "forecaster-tz",
                                  "global", "ensemble"])
def test_mutated_states_are_refused_or_predict(kind, saved, tmp_path):
    path, X = saved[kind]
    meta, body, arrays = _read(path)
    rng = random.Random(f"{kind}-1")
    counts = {"refused": 0, "predicts": 0, "checked by predict": 0}
    failures = []
    target = tmp_path / "mutated.tsrnn"
    for _ in range(N):
        b, a, what = _mutate(body, arrays, rng)
        for _ in range(rng.choice([0, 0, 1, 2])):  # sometimes several changes at once
            b, a, more = _mutate(b, a, rng)
            what += " & " + more
        _write(target, meta, b, a)
        try:
            model = tsrnn.load(target)
        except ValueError:
            counts["refused"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - what the test is looking for
            failures.append(f"{what}: load raised {type(exc).__name__}: {exc}")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _predict(model, X)
            counts["predicts"] += 1
        except Exception as exc:  # noqa: BLE001
            if _raised_by_tsrnn(exc):
                counts["checked by predict"] += 1
            else:
                failures.append(f"{what}: predict raised {type(exc).__name__}: {exc}")
    assert not failures, failures[:5]
    assert counts["refused"] > N // 2, counts  # the mutations do damage


def _crafted(path, change):
    meta, body, arrays = _read(path)
    change(body["model"]["state"], arrays)
    _write(path, meta, body, arrays)


def _array(state, arrays, key):
    return arrays[state[key]["__array__"]]


def _set_array(state, arrays, key, value):
    arrays[state[key]["__array__"]] = value


@pytest.mark.parametrize("kind, change, message", [
    ("regressor", lambda s, a: _set_array(s, a, "_x_std", -_array(s, a, "_x_std")),
     r"`model.RNNRegressor._x_std`=.* must be positive"),
    ("regressor", lambda s, a: _set_array(s, a, "_x_mean", _array(s, a, "_x_mean")[:1]),
     r"`model.RNNRegressor._x_mean`=.* must have shape \(2,\)"),
    ("regressor", lambda s, a: s.update(n_channels_=3, n_features_in_=18),
     r"_x_mean`=.* must have shape \(3,\)"),
    ("regressor", lambda s, a: s.update(hidden_size=-1), r"`hidden_size`=-1"),
    ("quantiles", lambda s, a: _set_array(s, a, "quantiles_", np.array([0.2, 0.8])),
     r"network_.output_size`=6 must equal the head's outputs \(4\)"),
    ("quantiles", lambda s, a: _set_array(s, a, "quantiles_", np.array([0.2, 0.2, 1.5])),
     r"quantiles_`=.* must be distinct levels strictly between 0 and 1"),
    ("regressor", lambda s, a: s.pop("_scaled"), r"partly fitted: it lacks \['_scaled'\]"),
    ("regressor", lambda s, a: s.update(cell="transformer"), r"`cell`='transformer'"),
    ("regressor", lambda s, a: s.update(predict=1), r"does not have \['predict'\]"),
    ("regressor", lambda s, a: s.pop("_y_std"), r"partly fitted: it lacks \['_y_std'\]"),
    ("regressor", lambda s, a: s.pop("max_iter"), r"lacks parameters \['max_iter'\]"),
    ("classifier", lambda s, a: _set_array(s, a, "classes_", np.array(["a", "b", "c"])),
     r"network_.output_size`=2 must equal the head's outputs \(3\)"),
    ("classifier", lambda s, a: _set_array(s, a, "classes_", np.array(["up", "down"])),
     r"classes_`=.* distinct labels in sorted order"),
    ("forecaster-tz", lambda s, a: s.update(horizon=4),
     r"estimator_.n_outputs_`=3 must equal the forecaster's outputs per window \(4\)"),
    ("forecaster-tz", lambda s, a: s.update(lags_=9),
     r"n_timesteps_`=8 must equal the forecaster's window steps"),
    ("global", lambda s, a: s.update(series_encoding="onehot"),
     r"n_channels_`=1 must equal the forecaster's channels \(3\)"),
    ("ensemble", lambda s, a: s["members_"][1]["__estimator__"]["state"].update(horizon=3),
     r"members_\[1\]"),
])
def test_crafted_states_are_refused_naming_the_attribute(kind, change, message, saved,
                                                         tmp_path):
    path = tmp_path / "crafted.tsrnn"
    path.write_bytes(saved[kind][0].read_bytes())
    _crafted(path, change)
    with pytest.raises(ValueError, match=message):
        tsrnn.load(path)
