"""Model files without pickle: :func:`save` and :func:`load`.

A ``.tsrnn`` file is a ZIP archive of ``model.json`` (class, parameters and
fitted state, tsrnn and format versions, a SHA-256 digest of everything) and
one ``.npy`` file per array, read with ``allow_pickle=False``. Loading parses
JSON and numeric arrays and builds only tsrnn's own estimator classes, so a
model file cannot run code. The digest detects corruption and accidental
edits; it is not a signature (anyone can rewrite a file and its digest), so
trust a file's *numbers* only as far as its source.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset, CustomBusinessDay
from sklearn.preprocessing import LabelEncoder

from tsrnn._engine.network import Network
from tsrnn._ensemble import RNNEnsembleForecaster
from tsrnn._forecast.series import SeriesState
from tsrnn._forecast.timeaxis import TimeAxis
from tsrnn._version import __version__
from tsrnn.estimators import RNNClassifier, RNNRegressor
from tsrnn.forecasting import RNNForecaster

__all__ = ["load", "save"]

FORMAT = "tsrnn-model"
FORMAT_VERSION = 1
_MAX_BYTES = 1 << 30  # uncompressed content; a zip bomb is refused before it is inflated
_CLASSES = {c.__name__: c for c in (RNNRegressor, RNNClassifier, RNNForecaster,
                                    RNNEnsembleForecaster)}
# Plain records of fitted state that may be stored (built from their fields, nothing else).
_RECORDS = {c.__name__: c for c in (SeriesState,)}
# Runtime helpers rebuilt on load instead of stored (optimizer moments restart).
_SKIP = {"_trainer", "_label_encoder"}


def _version():
    return __version__


def _n_params(x) -> int:
    """Parameter count of a stored network's layout, computed before anything is allocated."""
    sizes = {k: int(x.get(k, 0)) for k in ("input_size", "hidden_size", "num_layers",
                                             "output_size", "num_embeddings", "embedding_dim")}
    if min(v for k, v in sizes.items() if k not in ("num_embeddings", "embedding_dim")) < 1:
        raise ValueError("network sizes must be positive")
    shapes = Network.layout(x["cell"], **sizes)
    return sum(int(np.prod(shape)) for shape in shapes.values())


def _compatible(a: str, b: str) -> bool:
    """Same major.minor release line."""
    return a.split(".")[:2] == b.split(".")[:2]


class _Writer:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a):
        a = np.asarray(a)
        if a.dtype == object:
            items = a.tolist()
            flat = a.ravel().tolist()
            if not all(isinstance(v, (str, int, float, bool)) for v in flat):
                raise TypeError(f"cannot store an object array holding {type(flat[0]).__name__}")
            return {"__objarray__": items}
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(a)
        return {"__array__": key}

    def encode(self, v):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float, np.integer, np.floating, np.bool_)):
            v = v.item() if isinstance(v, np.generic) else v
            if isinstance(v, float) and not np.isfinite(v):
                return {"__float__": repr(v)}
            return v
        if isinstance(v, np.ndarray):
            return self.array(v)
        if isinstance(v, (list, tuple)):
            items = [self.encode(x) for x in v]
            return items if isinstance(v, list) else {"__tuple__": items}
        if isinstance(v, dict):
            return {"__dict__": [[self.encode(k), self.encode(x)] for k, x in v.items()]}
        if isinstance(v, type) and issubclass(v, np.generic):
            return {"__dtype__": np.dtype(v).name}
        if isinstance(v, np.dtype):
            return {"__dtype__": v.name}
        if isinstance(v, np.random.RandomState):
            name, keys, pos, has_gauss, cached = v.get_state()
            return {"__randomstate__": [name, self.array(keys), pos, has_gauss, cached]}
        if isinstance(v, Network):
            return {"__network__": {
                "cell": v.cell, "input_size": v.input_size, "hidden_size": v.hidden_size,
                "num_layers": v.num_layers, "output_size": v.output_size,
                "activation": v.activation, "dtype": np.dtype(v.dtype).name, "init": v.init,
                "num_embeddings": v.num_embeddings, "embedding_dim": v.embedding_dim,
                "params": self.array(v.params)}}
        if isinstance(v, CustomBusinessDay):
            return {"__cbday__": {"n": v.n, "weekmask": v.weekmask,
                                  "holidays": [str(h) for h in v.holidays]}}
        if isinstance(v, BaseOffset):
            return {"__offset__": v.freqstr}
        if isinstance(v, TimeAxis):
            return {"__axis__": [self.encode(v.offset), v.calendar, self.encode(v.name)]}
        if isinstance(v, pd.Index):
            return {"__index__": self.index(v)}
        if isinstance(v, pd.DataFrame):
            return {"__frame__": {"values": self.array(v.to_numpy()),
                                  "index": self.index(v.index),
                                  "columns": [self.encode(c) for c in v.columns]}}
        if isinstance(v, tuple(_CLASSES.values())):
            return {"__estimator__": self.estimator(v)}
        if type(v) in _RECORDS.values():
            return {"__record__": [type(v).__name__, {f.name: self.encode(getattr(v, f.name))
                                                      for f in dataclasses.fields(v)}]}
        raise TypeError(f"cannot store a value of type {type(v).__name__}")

    def index(self, idx):
        if isinstance(idx, pd.DatetimeIndex):
            return {"kind": "datetime", "ns": self.array(idx.as_unit("ns").asi8),
                    "unit": idx.unit, "tz": None if idx.tz is None else str(idx.tz),
                    "name": self.encode(idx.name)}
        return {"kind": "values", "values": self.array(idx.to_numpy()),
                "name": self.encode(idx.name)}

    def estimator(self, est):
        state = {k: self.encode(v) for k, v in vars(est).items() if k not in _SKIP}
        return {"class": type(est).__name__, "state": state}


class _Reader:
    def __init__(self, arrays):
        self.arrays = arrays

    def decode(self, v):
        if isinstance(v, list):
            return [self.decode(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) != 1:
            raise ValueError(f"unexpected object with keys {sorted(v)[:5]}")
        (tag, x), = v.items()
        if tag == "__array__":
            if x not in self.arrays:
                raise ValueError(f"array {x!r} is missing")
            return self.arrays[x]
        if tag == "__objarray__":
            return np.array(x, dtype=object)
        if tag == "__float__":
            return float(x)
        if tag == "__tuple__":
            return tuple(self.decode(i) for i in x)
        if tag == "__dict__":
            return {self.decode(k): self.decode(i) for k, i in x}
        if tag == "__dtype__":
            return np.dtype(x).type
        if tag == "__randomstate__":
            rs = np.random.RandomState()
            rs.set_state((x[0], self.decode(x[1]), int(x[2]), int(x[3]), float(x[4])))
            return rs
        if tag == "__network__":
            params = self.decode(x["params"])
            if not isinstance(params, np.ndarray) or params.size != _n_params(x):
                raise ValueError("network parameters do not match the network's layout")
            net = Network(x["cell"], input_size=x["input_size"], hidden_size=x["hidden_size"],
                          num_layers=x["num_layers"], output_size=x["output_size"],
                          activation=x["activation"], dtype=np.dtype(x["dtype"]).type,
                          random_state=0, init=x["init"],
                          num_embeddings=x.get("num_embeddings", 0),
                          embedding_dim=x.get("embedding_dim", 0))
            if params.shape != net.params.shape or params.dtype != net.params.dtype:
                raise ValueError("network parameters do not match the network's layout")
            net.params[...] = params
            return net
        if tag == "__cbday__":
            return CustomBusinessDay(n=x["n"], weekmask=x["weekmask"], holidays=x["holidays"])
        if tag == "__offset__":
            return to_offset(x)
        if tag == "__axis__":
            return TimeAxis(self.decode(x[0]), bool(x[1]), self.decode(x[2]))
        if tag == "__index__":
            return self.index(x)
        if tag == "__frame__":
            return pd.DataFrame(self.decode(x["values"]), index=self.index(x["index"]),
                                columns=pd.Index([self.decode(c) for c in x["columns"]]))
        if tag == "__estimator__":
            return self.estimator(x)
        if tag == "__record__":
            return self.record(x)
        raise ValueError(f"unknown tag {tag!r}")

    def index(self, x):
        name = self.decode(x["name"])
        if x["kind"] == "datetime":
            idx = pd.DatetimeIndex(self.decode(x["ns"]).astype("datetime64[ns]"), name=name)
            if x["tz"] is not None:
                idx = idx.tz_localize("UTC").tz_convert(x["tz"])
            return idx.as_unit(x["unit"])
        values = self.decode(x["values"])
        if np.issubdtype(values.dtype, np.integer) and len(values) > 1 and \
                np.all(np.diff(values) == values[1] - values[0]) and values[1] > values[0]:
            return pd.RangeIndex(values[0], values[-1] + 1, values[1] - values[0], name=name)
        return pd.Index(values, name=name)

    def record(self, x):
        name, values = x
        cls = _RECORDS.get(name)
        if cls is None:
            raise ValueError(f"unknown record {name!r}")
        fields = dataclasses.fields(cls)
        names = [f.name for f in fields]
        # fields added later have defaults: a file written before them still loads
        required = {f.name for f in fields if f.default is dataclasses.MISSING}
        if not isinstance(values, dict) or not required <= set(values) <= set(names):
            raise ValueError(f"record {name!r} must have the fields {sorted(required)} and no "
                             f"others than {names}")
        return cls(**{k: self.decode(v) for k, v in values.items()})

    def estimator(self, x):
        cls = _CLASSES.get(x["class"])
        if cls is None:
            raise ValueError(f"unknown estimator class {x['class']!r}")
        state = x["state"]
        if not isinstance(state, dict):
            raise ValueError("estimator state must be an object")  # noqa: TRY004
        shadowing = sorted(k for k in state if hasattr(cls, k))
        missing = sorted(set(cls._get_param_names()) - set(state))
        if shadowing or missing:
            raise ValueError(f"estimator state shadows class attributes {shadowing[:5]} or lacks "
                             f"parameters {missing[:5]}")
        obj = cls.__new__(cls)
        obj.__dict__.update({k: self.decode(v) for k, v in state.items()})
        if isinstance(obj, RNNClassifier) and hasattr(obj, "classes_"):
            obj._label_encoder = LabelEncoder().fit(obj.classes_)
        return obj


def _read_npy(data: bytes) -> np.ndarray:
    """An array from ``.npy`` bytes, refusing object arrays and headers promising more data than
    there is (a crafted shape must not allocate terabytes)."""
    f = io.BytesIO(data)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        raise ValueError("object arrays are not allowed")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize > len(data):
        raise ValueError(f"array header claims shape {shape} beyond the data")
    return np.load(io.BytesIO(data), allow_pickle=False)


def _read_archive(blob: bytes):
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > _MAX_BYTES:
            raise ValueError(f"content larger than {_MAX_BYTES >> 20} MiB")
        names = {i.filename for i in infos}
        if "meta.json" not in names or "model.json" not in names:
            raise ValueError("missing meta.json/model.json")
        meta = json.loads(zf.read("meta.json"))
        body = zf.read("model.json")
        arrays = {n[:-4]: _read_npy(zf.read(n)) for n in names if n.endswith(".npy")}
    return meta, body, arrays


def _digest(payload: bytes, arrays: dict) -> str:
    h = hashlib.sha256(payload)
    for key in sorted(arrays):
        a = arrays[key]
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def save(model, path) -> None:
    """Write a fitted (or unfitted) tsrnn estimator or forecaster to ``path``.

    Parameters
    ----------
    model : RNNRegressor, RNNClassifier, RNNForecaster or RNNEnsembleForecaster
    path : str or os.PathLike
        Conventionally ending in ``.tsrnn``; overwritten if it exists.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> import tsrnn
    >>> X = np.random.default_rng(0).normal(size=(32, 5, 1)); y = X[:, -1, 0]
    >>> reg = tsrnn.RNNRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "reg.tsrnn")
    >>> tsrnn.save(reg, path)
    >>> bool((tsrnn.load(path).predict(X) == reg.predict(X)).all())
    True
    """
    if not isinstance(model, tuple(_CLASSES.values())):
        raise TypeError(f"`model` must be a tsrnn estimator or forecaster "
                        f"({', '.join(_CLASSES)}), got {type(model).__name__}.")
    writer = _Writer()
    body = json.dumps({"model": writer.estimator(model)}, sort_keys=True).encode()
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "tsrnn_version": _version(),
            "class": type(model).__name__, "sha256": _digest(body, writer.arrays)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", json.dumps(meta, sort_keys=True))
        zf.writestr("model.json", body)
        for key, a in writer.arrays.items():
            npy = io.BytesIO()
            np.save(npy, a, allow_pickle=False)
            zf.writestr(f"{key}.npy", npy.getvalue())
    with open(os.fspath(path), "wb") as fh:
        fh.write(buffer.getvalue())


def load(path):
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    RNNRegressor, RNNClassifier or RNNForecaster
        Predicting bit-identically to the saved model.

    Raises
    ------
    ValueError
        If the file is not a tsrnn model, is truncated or corrupted, was
        edited, or comes from an incompatible tsrnn version.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError as exc:
        raise ValueError(f"Cannot read model file {path!r}: {exc.strerror}.") from None
    try:
        meta, body, arrays = _read_archive(blob)
    except Exception as exc:  # noqa: BLE001 - any damage is a bad file, never a crash
        raise ValueError(f"{path!r} is not a readable tsrnn model file "
                         f"({type(exc).__name__}: {str(exc)[:200]}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a tsrnn model file.")
    if meta.get("format_version") != FORMAT_VERSION or \
            not _compatible(str(meta.get("tsrnn_version")), _version()):
        raise ValueError(
            f"{path!r} was written by tsrnn {meta.get('tsrnn_version')} (format "
            f"{meta.get('format_version')}); this is tsrnn {_version()} (format {FORMAT_VERSION}). "
            "Refit the model with this version."
        )
    if _digest(body, arrays) != meta.get("sha256"):
        raise ValueError(f"{path!r} is corrupted or was edited: its SHA-256 digest does not "
                         "match the content.")
    try:
        model = _Reader(arrays).estimator(json.loads(body)["model"])
    except Exception as exc:  # noqa: BLE001 - e.g. RecursionError from a crafted body
        raise ValueError(f"{path!r} holds an invalid model ({type(exc).__name__}: "
                         f"{str(exc)[:200]}).") from None
    if type(model).__name__ != meta.get("class"):
        raise ValueError(f"{path!r} says it holds a {meta.get('class')} but holds a "
                         f"{type(model).__name__}.")
    return model

