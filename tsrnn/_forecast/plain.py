"""The forecasters' pandas state as plain data when they are pickled, copied or dumped.

A fitted forecaster keeps a little pandas: each series' last rows (a DataFrame), the
label of its first observation (an Index), a global model's static inputs, a stream's
last timestamp.  Pickle stores those as pandas' own objects; skops cannot (it refuses
pandas' Cython internals, or cannot rebuild a ``Timestamp``), so an estimator holding
one could not be dumped with ``skops.io``.  :class:`PlainState` makes the classes that
hold them pickle (and deep-copy, and skops-dump) those values as dicts of NumPy arrays,
strings and numbers, rebuilt exactly on load: values, dtypes, index, names, time zone,
frequency.  Offsets (a series' step) stay pandas objects: both pickle and skops store them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_TAG = "__tsrnn_pandas__"


def encode(value):
    """``value`` with every DataFrame, Series, Index and Timestamp in it (inside dicts,
    lists and tuples too) replaced by a tagged dict of plain data."""
    if isinstance(value, pd.DataFrame):
        return {_TAG: "frame", "index": encode(value.index), "columns": encode(value.columns),
                "data": [_array(value.iloc[:, j]) for j in range(value.shape[1])],
                "dtypes": [str(t) for t in value.dtypes]}
    if isinstance(value, pd.Series):
        return {_TAG: "series", "index": encode(value.index), "data": _array(value),
                "dtype": str(value.dtype), "name": value.name}
    if isinstance(value, pd.Index):
        return _index(value)
    if isinstance(value, pd.Timestamp):
        utc = value.tz_convert("UTC").tz_localize(None) if value.tz is not None else value
        return {_TAG: "timestamp", "value": int(utc.to_datetime64().astype(np.int64)),
                "unit": value.unit, "tz": None if value.tz is None else str(value.tz)}
    if isinstance(value, dict) and _TAG not in value:
        return {k: encode(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(encode(v) for v in value)
    return value


def decode(value):
    """The inverse of :func:`encode`."""
    if isinstance(value, dict):
        kind = value.get(_TAG)
        if kind is None:
            return {k: decode(v) for k, v in value.items()}
        return _DECODE[kind](value)
    if type(value) in (list, tuple):
        return type(value)(decode(v) for v in value)
    return value


def _array(values):
    """A column as a NumPy array that ``np.save`` stores without pickle (object columns,
    such as labels, as a list)."""
    out = values.to_numpy()
    return out.tolist() if out.dtype == object else out


def _index(index):
    base = {_TAG: "index", "name": index.name}
    if isinstance(index, pd.RangeIndex):
        return {**base, _TAG: "range", "range": (index.start, index.stop, index.step)}
    if isinstance(index, pd.MultiIndex):
        return {**base, _TAG: "multi", "tuples": [list(t) for t in index],
                "names": list(index.names)}
    if isinstance(index, pd.DatetimeIndex):
        utc = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
        return {**base, _TAG: "datetime", "values": utc.to_numpy(),
                "tz": None if index.tz is None else str(index.tz), "freq": index.freq}
    return {**base, "values": _array(index), "dtype": str(index.dtype)}


def _decode_index(d):
    kind = d[_TAG]
    if kind == "range":
        return pd.RangeIndex(*d["range"], name=d["name"])
    if kind == "multi":
        return pd.MultiIndex.from_tuples([tuple(t) for t in d["tuples"]], names=d["names"])
    if kind == "datetime":
        index = pd.DatetimeIndex(d["values"], name=d["name"])
        if d["tz"] is not None:
            index = index.tz_localize("UTC").tz_convert(d["tz"])
        return pd.DatetimeIndex(index, freq=d["freq"]) if d["freq"] is not None else index
    return pd.Index(np.asarray(d["values"], dtype=object) if d["dtype"] == "object"
                    else d["values"], dtype=d["dtype"], name=d["name"])


def _decode_frame(d):
    index, columns = _decode_index(d["index"]), _decode_index(d["columns"])
    data = {j: pd.Series(v, index=index, dtype=t) for j, (v, t) in
            enumerate(zip(d["data"], d["dtypes"]))}
    frame = pd.DataFrame(data, index=index)
    frame.columns = columns
    return frame


def _decode_series(d):
    return pd.Series(d["data"], index=_decode_index(d["index"]), dtype=d["dtype"],
                     name=d["name"])


def _decode_timestamp(d):
    stamp = pd.Timestamp(np.datetime64(d["value"], d["unit"])).as_unit(d["unit"])
    return stamp.tz_localize("UTC").tz_convert(d["tz"]) if d["tz"] is not None else stamp


_DECODE = {"frame": _decode_frame, "series": _decode_series, "timestamp": _decode_timestamp,
           "index": _decode_index, "range": _decode_index, "multi": _decode_index,
           "datetime": _decode_index}


class PlainState:
    """A mixin: the instance's attributes are pickled through :func:`encode` (no pandas
    object in its state) and rebuilt by :func:`decode`; a base class's own
    ``__getstate__``/``__setstate__`` (scikit-learn's version stamp) still runs."""

    def __getstate__(self):
        parent = getattr(super(), "__getstate__", None)
        state = parent() if parent is not None else self.__dict__
        return encode(dict(state or {}))   # object.__getstate__ gives None for no attributes

    def __setstate__(self, state):
        state = decode(state)
        parent = getattr(super(), "__setstate__", None)
        if parent is not None:
            parent(state)
        else:
            self.__dict__.update(state)
