"""The building blocks of :mod:`tsrnn._persist_schema`: checks of one value each, and the
labels and time zones a model file may hold.

A check is a function ``check(value, where)`` that returns nothing or raises a
ValueError naming ``where`` (the attribute's path, e.g.
``RNNForecaster.estimator_._x_std``) and the offending value.
"""

from __future__ import annotations

import datetime
import functools
import math
import numbers
import re
import zoneinfo

import numpy as np
import pandas as pd


def _show(v):
    if isinstance(v, np.ndarray):
        return f"array of shape {v.shape} and dtype {v.dtype}"
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def fail(where, value, must):
    raise ValueError(f"`{where}`={_show(value)} {must}.")


class optional:  # noqa: N801 - reads as a marker in the tables
    """An attribute that a fitted model may lack (e.g. ``feature_names_in_``)."""

    def __init__(self, spec):
        self.spec = spec

    def __call__(self, v, where):
        self.spec(v, where)


def is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def integer(low=None, high=2**53):
    """An int in [low, high]; by default at most 2**53, so that no count or step number
    can overflow the int64 arithmetic it takes part in."""
    def check(v, where):
        if not is_int(v) or (low is not None and v < low) or (high is not None and v > high):
            fail(where, v, "must be an int" + (f" >= {low}" if low is not None else "") +
                 (f" and <= {high}" if high is not None else ""))
    return check


def real(*, finite=True, positive=False):
    def check(v, where):
        if not is_real(v) or (finite and not math.isfinite(v)) or (positive and not v > 0):
            fail(where, v, "must be a " + ("positive " if positive else "") +
                 ("finite " if finite else "") + "number")
    return check


def instance(*classes):
    def check(v, where):
        if not isinstance(v, classes) or isinstance(v, bool) and bool not in classes:
            fail(where, v, f"must be a {' or '.join(c.__name__ for c in classes)}")
    return check


def choice(*options):
    def check(v, where):
        if not any(v is o or (type(v) is type(o) and v == o) for o in options):
            fail(where, v, f"must be one of {list(options)}")
    return check


def none_or(spec):
    def check(v, where):
        if v is not None:
            spec(v, where)
    return check


def either(*specs):
    def check(v, where):
        errors = []
        for spec in specs:
            try:
                return spec(v, where)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(" Or: ".join(errors))
    return check


def list_of(spec, *, low=0, unique=False):
    def check(v, where):
        if type(v) is not list or len(v) < low:
            fail(where, v, f"must be a list of at least {low} items")
        for i, item in enumerate(v):
            spec(item, f"{where}[{i}]")
        if unique and len(set(map(key, v))) != len(v):
            fail(where, v, "must not repeat an item")
    return check


def array(kinds, *, ndim=None, dtype=None, finite=False, no_inf=False, positive=False):
    """An ndarray of dtype kind in ``kinds`` (exactly ``dtype`` if given)."""
    dtype = None if dtype is None else np.dtype(dtype)

    def check(v, where):
        if not isinstance(v, np.ndarray):
            fail(where, v, "must be an array")
        if (dtype is not None and v.dtype != dtype) or v.dtype.kind not in kinds:
            fail(where, v, f"must have dtype {dtype or 'of kind ' + repr(kinds)}")
        if ndim is not None and v.ndim != ndim:
            fail(where, v, f"must be {ndim}-D")
        if v.dtype.kind == "O" and not all(isinstance(x, (str, int, float, bool))
                                           for x in v.ravel().tolist()):
            fail(where, v, "must hold only text and numbers")
        if v.dtype.kind in "fc" and v.size:
            if finite and not np.isfinite(v).all():
                fail(where, v, "must be finite")
            if no_inf and np.isinf(v).any():
                fail(where, v, "must not hold infinite values")
        if positive and v.size and not (v > 0).all():
            fail(where, v, "must be positive")
    return check


def shape(where, a, want):
    if a.shape != tuple(want):
        fail(where, a, f"must have shape {tuple(want)}")


def same(where, value, other, what):
    if not _equal(value, other):
        fail(where, value, f"must equal {what} ({_show(other)})")


def _equal(a, b):
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b) and type(a) is type(b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _missing(v):
    return v is pd.NaT or isinstance(v, float) and math.isnan(v)


def key(v):
    """A hashable stand-in for a name (NaN equals NaN, and NaT NaT, as in pandas)."""
    return repr(v) if _missing(v) else (type(v).__name__, v)


# ------------------------------------------------------------------ names and times
def name(v, where, depth=0):
    """A label: None, text, a number, a timestamp, a time span, a date, or a tuple of them
    (what ``save`` can store of pandas names)."""
    if v is None or v is pd.NaT or isinstance(v, (str, int, float, pd.Timestamp, pd.Timedelta)) \
            or type(v) is datetime.date:
        return
    if type(v) is tuple and depth < 3:
        for i, item in enumerate(v):
            name(item, f"{where}[{i}]", depth + 1)
        return
    fail(where, v, "must be a label (text, a number, a timestamp or a tuple of them)")


NAMES = list_of(name, unique=True)


@functools.lru_cache(maxsize=1)
def _zones():
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


_FIXED = re.compile(r"UTC([+-])([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")


def tz_name(tz):
    """The name ``save`` stores for a DatetimeIndex's time zone: an IANA name (``dateutil/``
    prefixed for a dateutil zone), ``"UTC"``, or ``"UTC+HH:MM"`` for a fixed offset;
    a ValueError for a zone that has none (a local or custom tzinfo)."""
    if tz is None:
        return None
    found = None
    if isinstance(tz, zoneinfo.ZoneInfo):
        found = tz.key
    elif isinstance(tz, str):
        found = tz
    elif isinstance(getattr(tz, "zone", None), str):  # pytz
        found = tz.zone
    elif type(tz).__module__.startswith("dateutil") and getattr(tz, "_filename", None):
        found = "dateutil/" + re.split(r"zoneinfo[/\\]", str(tz._filename))[-1]
    if found is None and (isinstance(tz, datetime.timezone) or type(tz).__name__ in (
            "tzutc", "tzoffset", "_FixedOffset", "UTC", "StaticTzInfo")):
        offset = tz.utcoffset(None)
        if isinstance(offset, datetime.timedelta):
            found = _offset_name(offset)
    if found is None or timezone(found, "tz", check_only=True) is None:
        raise ValueError(f"The time zone {tz!r} of an index has no name that a model file can "
                         "store; convert the data to a named zone (e.g. "
                         "`y.tz_convert('Europe/Paris')`) or to UTC before fitting.")
    return found


def _offset_name(offset):
    if not offset:
        return "UTC"
    sign = "-" if offset < datetime.timedelta(0) else "+"
    seconds = int(abs(offset).total_seconds())
    text = f"UTC{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    return text + (f":{seconds % 60:02d}" if seconds % 60 else "")


def timezone(text, where, *, check_only=False):
    """What pandas is given for a stored time zone name: a name of the system's time zone
    database (optionally ``dateutil/``-prefixed), ``"UTC"`` or a fixed ``"UTC+HH:MM"``.
    Anything else is refused before pandas sees it: pandas passes unknown names on to
    dateutil, which opens them as files."""
    if text is None:
        return None
    if isinstance(text, str) and len(text) < 80:
        m = _FIXED.fullmatch(text)
        if m is not None:
            sign, h, mi, s = m.groups()
            delta = datetime.timedelta(hours=int(h), minutes=int(mi), seconds=int(s or 0))
            if int(h) < 24 and int(mi) < 60 and int(s or 0) < 60:
                return datetime.timezone(-delta if sign == "-" else delta)
        elif text.removeprefix("dateutil/") in _zones():
            return text
    if check_only:
        return None
    fail(where, text, "must be a time zone name of the system's database, 'UTC' or "
         "'UTC+HH:MM'")


