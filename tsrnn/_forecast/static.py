"""Static covariates of a global model: one row of values per series.

The columns named in ``static_covariates`` are read from each series' own
covariates at fit: every observed value of a column must be the same within a
series (a site, a sector), and at least one must be observed.  Numeric columns
(booleans included) are taken as they are; any other column (strings, objects,
pandas categoricals, numeric categories included) becomes one-hot channels
``column=category`` over the categories seen at fit, in sorted order.  The rows
are appended to each series' future-known channels (after any one-hot series
code), so that every window carries them as its last channels, where a network
with ``static_size`` reads them for its initial state.  At predict time the
fitted rows are used; static columns given again in ``X`` must hold the fitted
values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from tsrnn.windowing import as_names


def names(fc):
    """The ``static_covariates`` named, as a list."""
    return as_names("static_covariates", fc.static_covariates)


def _value(sid, X, c):
    seen = pd.unique(X[c].dropna())
    if len(seen) == 0:
        raise ValueError(f"series {sid!r}: static covariate {c!r} has no observed value.")
    if len(seen) > 1:
        raise ValueError(f"series {sid!r}: static covariate {c!r} must be constant within "
                         f"the series; it takes {len(seen)} values ({list(seen[:5])}).")
    return seen[0]


def raw_values(fc, covariates, ids):
    """``{id: {column: value}}``: each series' static values as given (``{}`` without
    static covariates), from the per-series ``covariates`` (``{id: DataFrame or None}``)."""
    cols = names(fc)
    if not cols:
        return {}
    out = {}
    for sid in ids:
        X = covariates[sid]
        if X is None:
            raise ValueError(f"`static_covariates`={cols} are named but series {sid!r} has "
                             "no covariates `X`.")
        absent = [c for c in cols if c not in X.columns]
        if absent:
            raise ValueError(f"series {sid!r}: `static_covariates` names columns {absent} "
                             f"not in its `X` (columns {list(X.columns)}).")
        out[sid] = {c: _value(sid, X, c) for c in cols}
    return out


def _is_numeric(dtype):
    return pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype))


def static_frame(fc, covariates, ids):
    """The ``static_`` frame (rows ``ids``, float64 channels) of the per-series
    ``covariates``, or None without static covariates."""
    raw = raw_values(fc, covariates, ids)
    if not raw:
        return None
    parts = []
    for c in names(fc):
        values = [raw[sid][c] for sid in ids]
        # numeric or not by the column's dtype as given (a categorical of numbers is a
        # category), not by the values
        if _is_numeric(covariates[ids[0]][c].dtype):
            column = pd.Series(np.asarray(values, dtype=np.float64), index=ids, name=str(c))
            if not np.isfinite(column).all():
                bad = list(column.index[~np.isfinite(column)][:5])
                raise ValueError(f"static covariate {c!r} is not finite for series {bad}.")
            parts.append(column)
        else:
            for cat in sorted(set(values), key=str):
                parts.append(pd.Series([float(v == cat) for v in values], index=ids,
                                       name=f"{c}={cat}"))
        if len(ids) > 1 and len({str(v) for v in values}) == 1:
            warnings.warn(f"static covariate {c!r} takes one value ({values[0]!r}) for all "
                          f"{len(ids)} series (an `X` shared by every series?): the network "
                          "cannot learn from it.", UserWarning, stacklevel=5)
    frame = pd.concat(parts, axis=1)
    frame.index = pd.Index(ids, dtype=object)
    return frame


def check_warm_start(fc, frame):
    """Refuse to continue training a fitted network (``warm_start``) on static channels
    other than those it was trained on (a category added or gone changes their meaning)."""
    est = fc.estimator
    if est is None or not est.get_params(deep=False).get("warm_start") or \
            not hasattr(fc, "estimator_"):
        return
    old = getattr(fc, "static_", None)
    before = [] if old is None else list(old.columns)
    now = [] if frame is None else list(frame.columns)
    if before != now:
        raise ValueError(f"The fitted network was trained on the static channels {before}; "
                         f"this fit has {now}. Refit without warm_start.")


def size(fc):
    """Static channels of a fitted global model (0 without)."""
    frame = getattr(fc, "static_", None)
    return 0 if frame is None else frame.shape[1]


def appended(fc, F, code):
    """``F`` with series ``code``'s static row appended as constant channels."""
    frame = getattr(fc, "static_", None)
    if frame is None:
        return F
    row = frame.to_numpy(np.float64)[code]
    return np.concatenate([F, np.broadcast_to(row, (len(F), len(row)))], axis=1)


def check_unseen(fc, sid):
    """Refuse to forecast a series not seen at fit with a model of static covariates."""
    if getattr(fc, "static_", None) is not None:
        raise ValueError(f"series {sid!r} was not seen at fit; a model with "
                         f"`static_covariates`={names(fc)} forecasts only its fitted series "
                         f"{fc.series_ids_[:5]}{'...' if len(fc.series_ids_) > 5 else ''}.")


def without_static(fc, sid, X):
    """A fitted series' covariates ``X`` at predict time with its static columns taken
    out (None when nothing else is left), after checking they hold the fitted values."""
    frame = getattr(fc, "static_", None)
    cols = [c for c in names(fc) if X is not None and c in X.columns]
    if frame is None or not cols:
        return X
    fitted = frame.loc[sid]
    for c in cols:
        value = _value(sid, X, c)
        if str(c) in frame.columns:
            same = float(value) == fitted[str(c)] if _is_numeric(X[c].dtype) else False
        else:
            key = f"{c}={value}"
            same = key in frame.columns and fitted[key] == 1.0
        if not same:
            raise ValueError(f"series {sid!r}: static covariate {c!r} is {value!r} in `X`, "
                             "not its value at fit; static values are fixed per series "
                             "(refit to change them).")
    rest = X.drop(columns=cols)
    return rest if rest.shape[1] else None


def with_values(frame, values):
    """``frame`` with constant columns ``values`` (``{column: value}``) added."""
    if not values:
        return frame
    out = frame.copy()
    for c, v in values.items():
        out[c] = v
    return out
