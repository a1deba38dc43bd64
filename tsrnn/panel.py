"""Panels of many time series: splitting them per series, and stacking forecasts back.

A panel arrives in one of three shapes:

- **wide**: a DataFrame with one column per series on a shared time index;
- **long**: a DataFrame with a series-id column (``series_id``) and the
  value column(s), time in the index (or in an index level beside the id);
- **dict**: ``{series id: Series or DataFrame}``.

In every shape a series may start late or end early: it is trimmed to the
span from its first to its last observation.  Covariates follow the panel:
``None``, one time-indexed DataFrame shared by every series (a calendar), a
long DataFrame with the same ``series_id`` column, or a dict keyed like the
panel.  Every check names the series at fault.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsrnn.windowing import check_time_index

__all__ = ["split_covariates", "split_panel", "stack_forecasts"]


def _named(sid, message):
    return f"series {sid!r}: {message}"


def series_error(err, sid, action=None):
    """``err`` again (same type where it can be rebuilt from a message), its message
    prefixed with the series it is about (and ``action``, e.g. "fit failed"); the new
    error's ``series`` attribute holds the series id."""
    message = _named(sid, str(err) if action is None else f"{action}: {err}")
    try:
        new = type(err)(message)
    except Exception:  # noqa: BLE001  (types whose constructor wants more than a message)
        new = RuntimeError(f"{message} ({type(err).__name__})")
    new.series = sid
    return new


def split_panel(y, series_id=None, *, what="y"):
    """Split a panel into one Series (or DataFrame of joint targets) per series.

    Parameters
    ----------
    y : DataFrame or dict
        Wide (one column per series), long (with column ``series_id``), or
        ``{id: Series or DataFrame}``.
    series_id : str, optional
        The id column of a long panel (or the name of an index level holding
        the ids). Without it a DataFrame is read as wide.
    what : str, default="y"
        Argument name for the error messages.

    Returns
    -------
    dict
        ``{id: Series or DataFrame}`` in the order the series first appear,
        each a copy sorted by time.

    Raises
    ------
    ValueError
        For a duplicate series id, an empty series, or duplicate timestamps
        within a series; the message names the series.
    TypeError
        If ``y`` is neither a DataFrame nor a dict.
    """
    if isinstance(y, dict):
        if not y:
            raise ValueError(f"`{what}` is an empty dict: no series.")
        out = {}
        for sid, s in y.items():
            if not isinstance(s, (pd.Series, pd.DataFrame)):
                raise TypeError(_named(sid, f"`{what}` values must be pandas Series or "
                                            f"DataFrames, got {type(s).__name__}."))
            out[sid] = _checked(sid, s.copy(), what)
        return out
    if not isinstance(y, pd.DataFrame):
        raise TypeError(f"`{what}` must be a DataFrame (wide or long) or a dict of series, got "
                        f"{type(y).__name__}.")
    if series_id is None:
        return _split_wide(y, what)
    return _split_long(y, series_id, what)


def _split_wide(y, what):
    if y.shape[1] == 0:
        raise ValueError(f"`{what}` has no columns: no series.")
    if y.columns.has_duplicates:
        dup = list(dict.fromkeys(y.columns[y.columns.duplicated()]))
        raise ValueError(f"`{what}` has duplicate series ids {dup}.")
    check_time_index(y.index, what)
    return {sid: _checked(sid, y[sid].copy(), what, index_checked=True) for sid in y.columns}


def _split_long(y, series_id, what):
    if series_id in y.index.names and series_id not in y.columns:
        y = y.reset_index(level=series_id)
    if series_id not in y.columns:
        raise ValueError(f"`series_id`={series_id!r} is not a column (or index level) of "
                         f"`{what}`; columns are {list(y.columns)}.")
    values = [c for c in y.columns if c != series_id]
    if not values:
        raise ValueError(f"`{what}` has only the id column {series_id!r}: no values.")
    ids = y[series_id]
    if ids.isna().any():
        raise ValueError(f"`{what}` has {int(ids.isna().sum())} rows with a missing "
                         f"{series_id!r}.")
    out = {}
    for sid, rows in y.groupby(series_id, sort=False):
        part = rows[values].sort_index(kind="stable")  # a copy
        out[sid] = _checked(sid, part.iloc[:, 0] if len(values) == 1 else part, what)
    return out


def _checked(sid, s, what, index_checked=False):
    """One series, validated, from its first to its last observation (ragged panels);
    ``index_checked``: a slice of an index already checked (a wide panel's)."""
    seen = s.notna().to_numpy()
    if seen.ndim == 2:
        seen = seen.any(axis=1)
    if not seen.any():
        raise ValueError(_named(sid, f"no observations in `{what}`."))
    s = s.iloc[np.argmax(seen):len(seen) - np.argmax(seen[::-1])]
    if not index_checked:
        _check_index(sid, s.index, what)
    if isinstance(s, pd.Series):
        s.name = sid if s.name is None else s.name
    return s


def _check_index(sid, index, what):
    if index.has_duplicates:
        dup = index[index.duplicated()]
        raise ValueError(_named(sid, f"{len(dup)} duplicate timestamps in `{what}`, e.g. "
                                     f"{[str(t) for t in dup[:3]]} (a series id used twice?)."))
    try:
        check_time_index(index, what)
    except (TypeError, ValueError) as err:
        raise series_error(err, sid) from None


def split_covariates(X, ids, series_id=None):
    """Covariates per series, matched to the panel's ids.

    Parameters
    ----------
    X : None, DataFrame or dict
        ``None``; one time-indexed DataFrame shared by all series; a long
        DataFrame with column ``series_id``; or ``{id: DataFrame}``.
    ids : list
        The panel's series ids.
    series_id : str, optional
        The id column of a long ``X``.

    Returns
    -------
    dict
        ``{id: DataFrame or None}`` for every id.

    Raises
    ------
    ValueError
        If a series has no covariates, covariates name a series the panel
        lacks, or the series' covariate columns differ; naming the series.
    """
    if X is None:
        return dict.fromkeys(ids)
    if isinstance(X, pd.DataFrame) and (series_id is None or (
            series_id not in X.columns and series_id not in X.index.names)):
        return dict.fromkeys(ids, X)
    per = split_panel(X, series_id, what="X")
    per = {sid: (s.to_frame() if isinstance(s, pd.Series) else s) for sid, s in per.items()}
    extra = [sid for sid in per if sid not in ids]
    if extra:
        raise ValueError(f"`X` has covariates for series {extra[:5]} that are not in `y`.")
    absent = [sid for sid in ids if sid not in per]
    if absent:
        raise ValueError(_named(absent[0], f"no covariates in `X` ({len(absent)} series lack "
                                           f"them: {absent[:5]})."))
    first = ids[0]
    for sid in ids:
        if list(per[sid].columns) != list(per[first].columns):
            raise ValueError(_named(sid, f"covariate columns {list(per[sid].columns)} differ "
                                         f"from series {first!r}'s {list(per[first].columns)}."))
    return per


def stack_forecasts(frames, *, series_name="series", time_name=None):
    """One DataFrame from per-series forecasts, indexed by (series, time).

    Parameters
    ----------
    frames : dict
        ``{id: Series or DataFrame}`` indexed by forecast timestamps. A Series
        becomes the column ``"forecast"``.
    series_name : str, default="series"
        Name of the series level.
    time_name : str, optional
        Name of the time level (default: the first frame's index name, else
        ``"time"``).

    Returns
    -------
    DataFrame
    """
    parts = {sid: (f.to_frame("forecast") if isinstance(f, pd.Series) else f)
             for sid, f in frames.items()}
    first = next(iter(parts.values()))
    time_name = time_name or first.index.name or "time"
    out = pd.concat(parts, names=[series_name, time_name], sort=False)
    return out
