"""Model files without pickle: :func:`save` and :func:`load`.

A ``.tsrnn`` file is a ZIP archive of ``model.json`` (class, parameters and
fitted state, tsrnn and format versions, a SHA-256 digest of everything) and
one ``.npy`` file per array, read with ``allow_pickle=False``. Loading parses
JSON and numeric arrays and builds only tsrnn's own estimator classes, from a
state checked first against what fitting can produce (:mod:`tsrnn._persist_schema`),
so a model file cannot run code, and a damaged or crafted one is refused with a
ValueError instead of failing later inside ``predict``. The digest detects
corruption and accidental edits; it is not a signature (anyone can rewrite a
file and its digest), so trust a file's *numbers* only as far as its source.

Saving replaces a previous file only once the new one is complete
(:func:`tsrnn._persist_io.write_atomic`); loading reads regular files only,
within a size limit, and takes about the model's own size in memory
(:mod:`tsrnn._persist_io`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import zipfile

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset, CustomBusinessDay
from sklearn.preprocessing import LabelEncoder

from tsrnn import _persist_io as files
from tsrnn._engine.network import Network
from tsrnn._engine.seq2seq import EncoderDecoder
from tsrnn._forecast.timeaxis import TimeAxis
from tsrnn._persist_checks import integer, name, timezone, tz_name
from tsrnn._persist_schema import (
    CLASSES,
    ENCODER_DECODER,
    RECORDS,
    check_axis,
    check_encoder_decoder,
    check_network,
    check_record,
    check_state,
)
from tsrnn._validation import format_bytes
from tsrnn._version import __version__
from tsrnn.estimators import RNNClassifier
from tsrnn.streaming import StreamingForecaster

__all__ = ["load", "save"]

# what an encoder-decoder's record holds beside its feedback units
_ENCODER_DECODER_KEYS = (*ENCODER_DECODER, "dtype", "params")

FORMAT = "tsrnn-model"
# 2: estimators keep their fitted quantile levels and scaling flag (quantiles_, _scaled),
# which a file of format 1 lacks.  4: the estimators' layout parameters (lag_order, n_lags,
# time_axis) and a 2-D X's column layout (_window_columns).
FORMAT_VERSION = 4
_MAX_META = 1 << 20
_UNITS = ("s", "ms", "us", "ns")
# Runtime helpers rebuilt on load instead of stored (optimizer moments restart).
_SKIP = {"_trainer", "_label_encoder"}
_digest = files.digest


def _version():
    return __version__


def _compatible(a: str, b: str) -> bool:
    """Same major.minor release line."""
    return a.split(".")[:2] == b.split(".")[:2]


class _Refused(ValueError):
    """A readable file that is not (or no longer) a model this version loads."""


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
        if a.dtype.kind not in files.ARRAY_KINDS or a.dtype.fields is not None:
            raise TypeError(f"cannot store an array of dtype {a.dtype}")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = a if a.flags.c_contiguous else a.copy(order="C")
        return {"__array__": key}

    def encode(self, v):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float, np.integer, np.floating, np.bool_)):
            v = v.item() if isinstance(v, np.generic) else v
            if isinstance(v, float) and not np.isfinite(v):
                return {"__float__": repr(v)}
            return v
        if isinstance(v, (datetime.datetime, np.datetime64)):  # pandas Timestamps and NaT too
            ts = pd.Timestamp(v)
            return {"__timestamp__": None if ts is pd.NaT else
                    [ts.value, ts.unit, tz_name(ts.tz)]}
        if isinstance(v, (datetime.timedelta, np.timedelta64)):
            td = pd.Timedelta(v)
            return {"__timedelta__": None if td is pd.NaT else [td.value, td.unit]}
        if isinstance(v, datetime.date):
            return {"__date__": v.isoformat()}
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
            name_, keys, pos, has_gauss, cached = v.get_state()
            return {"__randomstate__": [name_, self.array(keys), pos, has_gauss, cached]}
        if isinstance(v, Network):
            return {"__network__": {
                "cell": v.cell, "input_size": v.input_size, "hidden_size": v.hidden_size,
                "num_layers": v.num_layers, "output_size": v.output_size,
                "activation": v.activation, "dtype": np.dtype(v.dtype).name, "init": v.init,
                "num_embeddings": v.num_embeddings, "embedding_dim": v.embedding_dim,
                "static_size": v.static_size, "params": self.array(v.params)}}
        if isinstance(v, EncoderDecoder):
            return {"__encoder_decoder__": {**v.config, "dtype": np.dtype(v.dtype).name,
                                            "params": self.array(v.params),
                                            "feedback_scale": self.array(v.feedback_scale),
                                            "feedback_shift": self.array(v.feedback_shift)}}
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
        if isinstance(v, tuple(CLASSES.values())):
            return {"__estimator__": self.estimator(v)}
        if type(v) in RECORDS.values():
            return {"__record__": [type(v).__name__, {f.name: self.encode(getattr(v, f.name))
                                                      for f in dataclasses.fields(v)}]}
        raise TypeError(f"cannot store a value of type {type(v).__name__}")

    def index(self, idx):
        if isinstance(idx, pd.DatetimeIndex):
            return {"kind": "datetime", "ns": self.array(idx.as_unit("ns").asi8),
                    "unit": idx.unit, "tz": tz_name(idx.tz), "name": self.encode(idx.name)}
        return {"kind": "values", "values": self.array(idx.to_numpy()),
                "name": self.encode(idx.name)}

    def estimator(self, est):
        state = {k: self.encode(v) for k, v in vars(est).items() if k not in _SKIP}
        return {"class": type(est).__name__, "state": state}


class _Reader:
    """Builds a model from the decoded JSON and the arrays, each part checked before it is
    built (see :mod:`tsrnn._persist_schema`); every array must be used exactly once."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.used = set()

    def model(self, body):
        if not isinstance(body, dict) or set(body) != {"model"}:
            raise ValueError("the model body must be an object with one key, 'model'")
        model = self.estimator(body["model"], "model")
        unused = sorted(set(self.arrays) - self.used)
        if unused:
            raise ValueError(f"arrays {unused[:5]} belong to no attribute")
        return model

    def decode(self, v, where):
        if isinstance(v, list):
            return [self.decode(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if not isinstance(v, dict):
            return v
        if len(v) != 1:
            raise ValueError(f"`{where}`: unexpected object with keys {sorted(v)[:5]}")
        (tag, x), = v.items()
        decoder = _TAGS.get(tag)
        if decoder is None:
            raise ValueError(f"`{where}`: unknown tag {tag!r}")
        return decoder(self, x, where)

    def array(self, x, where):
        if not isinstance(x, str) or x not in self.arrays:
            raise ValueError(f"`{where}`: array {x!r} is missing")
        if x in self.used:
            raise ValueError(f"`{where}`: array {x!r} is used twice")
        self.used.add(x)
        return self.arrays[x]

    def objarray(self, x, where):
        a = np.array(x, dtype=object)
        if not all(type(v) in (str, int, float, bool) for v in a.ravel().tolist()):
            raise ValueError(f"`{where}`: an object array must hold only text and numbers")
        return a

    def randomstate(self, x, where):
        rs = np.random.RandomState()
        rs.set_state((x[0], self.decode(x[1], where), int(x[2]), int(x[3]), float(x[4])))
        return rs

    def network(self, x, where):
        params = self.decode(x["params"], f"{where}.params")
        check_network(x, params, where)
        config = {k: x[k] for k in ("cell", "input_size", "hidden_size", "num_layers",
                                    "output_size", "activation", "init")}
        return Network._with_params(
            params, **config, dtype=np.dtype(str(x["dtype"])).type,
            num_embeddings=x.get("num_embeddings", 0), embedding_dim=x.get("embedding_dim", 0),
            static_size=x.get("static_size", 0))

    def encoder_decoder(self, x, where):
        # the record's keys first: nothing is decoded or built from an unexpected one
        keys = ("feedback_scale", "feedback_shift")
        unknown = sorted(set(x) - set(_ENCODER_DECODER_KEYS) - set(keys))
        if unknown or any(k not in x for k in (*keys, "params", "dtype")):
            raise ValueError(f"`{where}` must hold the layout, `params`, `dtype` and "
                             f"{list(keys)}; it has {sorted(x)[:20]}.")
        params = self.decode(x["params"], f"{where}.params")
        config = check_encoder_decoder(x, params, where)
        model = EncoderDecoder._with_params(params, **config,
                                            dtype=np.dtype(str(x["dtype"])).type)
        units = [self.decode(x[k], f"{where}.{k}") for k in keys]
        try:
            model.set_feedback_units(*units)
        except ValueError as err:
            raise ValueError(f"`{where}.feedback_scale/shift`: {err}") from None
        return model

    def timestamp(self, x, where):
        if x is None:
            return pd.NaT
        value, unit, tz = x
        integer(-2**63, 2**63 - 1)(value, where)
        if unit not in _UNITS:
            raise ValueError(f"`{where}`: unknown time unit {unit!r}")
        tz = timezone(tz, f"{where} (time zone)")
        ts = pd.Timestamp(value) if tz is None else pd.Timestamp(value, tz="UTC").tz_convert(tz)
        return ts.as_unit(unit)

    def timedelta(self, x, where):
        if x is None:
            return pd.NaT
        value, unit = x
        integer(-2**63, 2**63 - 1)(value, where)
        if unit not in _UNITS:
            raise ValueError(f"`{where}`: unknown time unit {unit!r}")
        return pd.Timedelta(value, unit="ns").as_unit(unit)

    def cbday(self, x, where):
        integer(1)(x["n"], f"{where}.n")
        holidays = x["holidays"]
        if not isinstance(x["weekmask"], str) or not isinstance(holidays, list) or \
                not all(isinstance(h, str) for h in holidays):
            raise ValueError(f"`{where}`: a calendar needs a weekmask and holidays as text")
        return CustomBusinessDay(n=x["n"], weekmask=x["weekmask"], holidays=holidays)

    def offset(self, x, where):
        if not isinstance(x, str) or len(x) > 100:
            raise ValueError(f"`{where}`: a frequency must be a short text, got {x!r:.80}")
        return to_offset(x)

    def axis(self, x, where):
        offset, calendar, label = (self.decode(v, where) for v in x)
        check_axis(offset, calendar, label, where)
        return TimeAxis(offset, calendar, label)

    def index(self, x, where):
        label = self.decode(x["name"], f"{where}.name")
        name(label, f"{where}.name")
        if x["kind"] == "datetime":
            ns = self.decode(x["ns"], where)
            if not isinstance(ns, np.ndarray) or ns.dtype != np.int64 or ns.ndim != 1 or \
                    x["unit"] not in _UNITS:
                raise ValueError(f"`{where}`: timestamps must be int64 nanoseconds")
            idx = pd.DatetimeIndex(ns.view("datetime64[ns]"), name=label)
            tz = timezone(x["tz"], f"{where}.tz")
            if tz is not None:
                idx = idx.tz_localize("UTC").tz_convert(tz)
            return idx.as_unit(x["unit"])
        if x["kind"] != "values":
            raise ValueError(f"`{where}`: unknown kind of index {x['kind']!r}")
        values = self.decode(x["values"], where)
        if not isinstance(values, np.ndarray) or values.ndim != 1:
            raise ValueError(f"`{where}`: index labels must be a 1-D array")
        if np.issubdtype(values.dtype, np.integer) and len(values) > 1 and \
                np.all(np.diff(values) == values[1] - values[0]) and values[1] > values[0]:
            return pd.RangeIndex(values[0], values[-1] + 1, values[1] - values[0], name=label)
        return pd.Index(values, name=label)

    def frame(self, x, where):
        values = self.decode(x["values"], f"{where}.values")
        index = self.index(x["index"], f"{where}.index")
        columns = [self.decode(c, f"{where}.columns") for c in x["columns"]]
        for c in columns:
            name(c, f"{where}.columns")
        if not isinstance(values, np.ndarray) or values.shape != (len(index), len(columns)):
            raise ValueError(f"`{where}`: values must be an array of shape "
                             f"{(len(index), len(columns))}")
        return pd.DataFrame(values, index=index, columns=pd.Index(columns))

    def record(self, x, where):
        kind, values = x
        cls = RECORDS.get(kind)
        if cls is None:
            raise ValueError(f"`{where}`: unknown record {kind!r}")
        if not isinstance(values, dict):
            raise ValueError(f"`{where}`: a record's fields must be an object")
        values = {k: self.decode(v, f"{where}.{k}") for k, v in values.items()}
        check_record(cls, values, where)
        return cls(**values)

    def estimator(self, x, where):
        if not isinstance(x, dict) or set(x) != {"class", "state"}:
            raise ValueError(f"`{where}`: an estimator must be an object of class and state")
        cls = CLASSES.get(x["class"]) if isinstance(x["class"], str) else None
        if cls is None:
            raise ValueError(f"unknown estimator class {x['class']!r}")
        state = x["state"]
        if not isinstance(state, dict):
            raise ValueError(f"`{where}`: estimator state must be an object")  # noqa: TRY004
        where = f"{where}.{cls.__name__}" if where == "model" else where
        state = {k: self.decode(v, f"{where}.{k}") for k, v in state.items()}
        check_state(cls, state, where)
        obj = cls.__new__(cls)
        obj.__dict__.update(state)
        if isinstance(obj, RNNClassifier) and hasattr(obj, "classes_"):
            obj._label_encoder = LabelEncoder().fit(obj.classes_)
        return obj


def _decode_simple(build):
    return lambda reader, x, where: build(x)


_TAGS = {
    "__array__": _Reader.array,
    "__objarray__": _Reader.objarray,
    "__float__": _decode_simple(lambda x: float(str(x))),
    "__tuple__": lambda r, x, where: tuple(r.decode(list(x), where)),
    "__dict__": lambda r, x, where: {r.decode(k, where): r.decode(v, f"{where}[{k!r:.40}]")
                                     for k, v in x},
    "__dtype__": _decode_simple(lambda x: np.dtype(str(x)).type),
    "__date__": _decode_simple(lambda x: datetime.date.fromisoformat(str(x))),
    "__timestamp__": _Reader.timestamp,
    "__timedelta__": _Reader.timedelta,
    "__randomstate__": _Reader.randomstate,
    "__network__": _Reader.network,
    "__encoder_decoder__": _Reader.encoder_decoder,
    "__cbday__": _Reader.cbday,
    "__offset__": _Reader.offset,
    "__axis__": _Reader.axis,
    "__index__": _Reader.index,
    "__frame__": _Reader.frame,
    "__estimator__": _Reader.estimator,
    "__record__": _Reader.record,
}


def _file_limit():
    """The largest file a load opens: its content limit, plus what the archive adds
    (deflate's stored blocks, member headers, the directory)."""
    return files.MAX_BYTES + files.MAX_BYTES // 1000 + files.MAX_DIRECTORY + (1 << 20)


def _read_archive(fh, check_meta):
    """(meta, body, arrays) of an open model file; ``check_meta`` sees ``meta.json`` before
    anything else is inflated."""
    files.check_directory(fh)
    with zipfile.ZipFile(fh) as zf:
        infos = files.members(zf)
        if "meta.json" not in infos or "model.json" not in infos:
            raise ValueError("missing meta.json/model.json")
        budget = files.Budget(files.MAX_BYTES)
        declared = sum(i.file_size for i in infos.values())
        if declared > budget.limit:  # an early refusal; what is inflated is counted anyway
            raise ValueError(f"its members declare {format_bytes(declared)}, more than the "
                             f"{format_bytes(budget.limit)} a model file may inflate to")
        meta = json.loads(files.read_bytes(zf, infos["meta.json"], budget, _MAX_META))
        check_meta(meta)
        body = files.read_bytes(zf, infos["model.json"], budget, files.MAX_JSON)
        arrays = {n[:-4]: files.read_array(zf, info, budget) for n, info in infos.items()
                  if n.endswith(".npy")}
    return meta, body, arrays


def save(model, path) -> None:
    """Write a fitted (or unfitted) tsrnn estimator or forecaster to ``path``.

    The file is written beside ``path`` and renamed into place once complete,
    so a failure part-way (a full disk, a file-size limit, an interrupt)
    leaves a previous file at ``path`` as it was.

    Parameters
    ----------
    model : RNNRegressor, RNNClassifier, RNNForecaster or RNNEnsembleForecaster
    path : str or os.PathLike
        Conventionally ending in ``.tsrnn``; replaced if it exists (keeping its
        permissions; a symbolic link is followed; a device such as ``/dev/null`` is
        written to).

    Raises
    ------
    TypeError
        If ``model`` is not a tsrnn model, or holds a value a model file cannot
        store.
    ValueError
        If ``path`` is a directory, or the model's state is one that :func:`load`
        would refuse.
    OSError
        If the file cannot be written.

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
    if isinstance(model, StreamingForecaster):
        raise TypeError("`model` is a StreamingForecaster, which model files do not store: "
                        "no schema checks its carried state yet. Pickle it instead (pickle or "
                        "joblib.dump; load such files only from sources you trust).")
    if not isinstance(model, tuple(CLASSES.values())):
        raise TypeError(f"`model` must be a tsrnn estimator or forecaster "
                        f"({', '.join(CLASSES)}), got {type(model).__name__}.")
    writer = _Writer()
    try:
        body = json.dumps({"model": writer.estimator(model)}, sort_keys=True,
                          allow_nan=False).encode()
    except ValueError as err:  # a time zone without a name
        raise ValueError(f"`model` cannot be saved: {err}") from None
    try:
        # what load checks, checked before writing: a file that would not load is not written
        _Reader(writer.arrays).model(json.loads(body))
    except Exception as err:  # noqa: BLE001 - load would refuse it with a ValueError
        raise ValueError(f"`model` cannot be saved: {err}") from None
    size = len(body) + sum(a.nbytes for a in writer.arrays.values())
    if size > files.MAX_BYTES:
        raise ValueError(f"`model` takes {format_bytes(size)}, more than a model file "
                         f"may hold ({format_bytes(files.MAX_BYTES)}).")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "tsrnn_version": _version(),
            "class": type(model).__name__, "sha256": _digest(body, writer.arrays)}

    def write(fh):
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr("meta.json", json.dumps(meta, sort_keys=True))
            zf.writestr("model.json", body)
            for key, a in writer.arrays.items():
                files.write_array(zf, f"{key}.npy", a)

    files.write_atomic(path, write)


def load(path):
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file (a directory, FIFO or device is refused, never waited on).

    Returns
    -------
    RNNRegressor, RNNClassifier, RNNForecaster or RNNEnsembleForecaster
        Predicting bit-identically to the saved model.

    Raises
    ------
    ValueError
        If the file is not a tsrnn model, is truncated, corrupted or too large,
        was edited, holds a state that fitting cannot produce, or comes from an
        incompatible tsrnn version.
    """
    path = os.fspath(path)

    def check_meta(meta):
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise _Refused(f"{path!r} is not a tsrnn model file.")
        if meta.get("format_version") != FORMAT_VERSION or \
                not _compatible(str(meta.get("tsrnn_version")), _version()):
            raise _Refused(
                f"{path!r} was written by tsrnn {meta.get('tsrnn_version')} (format "
                f"{meta.get('format_version')}); this is tsrnn {_version()} (format "
                f"{FORMAT_VERSION}). Refit the model with this version.")

    with files.open_regular(path, _file_limit()) as fh:
        try:
            meta, body, arrays = _read_archive(fh, check_meta)
        except _Refused:
            raise
        except Exception as exc:  # noqa: BLE001 - any damage is a bad file, never a crash
            raise ValueError(f"{path!r} is not a readable tsrnn model file "
                             f"({type(exc).__name__}: {str(exc)[:200]}).") from None
    if _digest(body, arrays) != meta.get("sha256"):
        raise ValueError(f"{path!r} is corrupted or was edited: its SHA-256 digest does not "
                         "match the content.")
    try:
        model = _Reader({k: files.native(a) for k, a in arrays.items()}).model(json.loads(body))
    except Exception as exc:  # noqa: BLE001 - e.g. RecursionError from a crafted body
        raise ValueError(f"{path!r} holds an invalid model ({type(exc).__name__}: "
                         f"{str(exc)[:300]}).") from None
    if type(model).__name__ != meta.get("class"):
        raise ValueError(f"{path!r} says it holds a {meta.get('class')} but holds a "
                         f"{type(model).__name__}.")
    return model
