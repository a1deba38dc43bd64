"""Static covariates of a global model: one row of values per series.

The columns named in ``static_covariates`` are read from each series' own
covariates at fit: every observed value of a column must be the same within a
series (a site, a sector), and at least one must be observed.  Numeric columns
(booleans included) are taken as they are; any other column becomes one-hot
channels ``column=category`` over the categories seen at fit, in sorted order.
The rows are appended to each series' future-known channels (after any one-hot
series code), so that every window carries them as its last channels, where a
network with ``static_size`` reads them for its initial state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsrnn.windowing import as_names


def names(fc):
    """The ``static_covariates`` named, as a list."""
    return as_names("static_covariates", fc.static_covariates)


def static_frame(fc, covariates, ids):
    """The ``static_`` frame (rows ``ids``) of the per-series ``covariates``
    (``{id: DataFrame or None}``), or None without static covariates."""
    cols = names(fc)
    if not cols:
        return None
    raw = {}
    for sid in ids:
        X = covariates[sid]
        if X is None:
            raise ValueError(f"`static_covariates`={cols} are named but series {sid!r} has "
                             "no covariates `X`.")
        absent = [c for c in cols if c not in X.columns]
        if absent:
            raise ValueError(f"series {sid!r}: `static_covariates` names columns {absent} "
                             f"not in its `X` (columns {list(X.columns)}).")
        row = {}
        for c in cols:
            seen = pd.unique(X[c].dropna())
            if len(seen) == 0:
                raise ValueError(f"series {sid!r}: static covariate {c!r} has no observed "
                                 "value.")
            if len(seen) > 1:
                raise ValueError(f"series {sid!r}: static covariate {c!r} must be constant "
                                 f"within the series; it takes {len(seen)} values "
                                 f"({list(seen[:5])}).")
            row[c] = seen[0]
        raw[sid] = row
    table = pd.DataFrame.from_dict(raw, orient="index")[cols]
    parts = []
    for c in cols:
        column = table[c]
        numeric = pd.api.types.is_bool_dtype(column) or (
            pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype,
                                                                     pd.CategoricalDtype))
        if numeric:
            values = column.astype(np.float64)
            if not np.isfinite(values).all():
                bad = list(values.index[~np.isfinite(values)][:5])
                raise ValueError(f"static covariate {c!r} is not finite for series {bad}.")
            parts.append(values.rename(str(c)))
        else:
            for cat in sorted(pd.unique(column), key=str):
                parts.append((column == cat).astype(np.float64).rename(f"{c}={cat}"))
    frame = pd.concat(parts, axis=1)
    frame.index = pd.Index(ids, dtype=object)
    return frame


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
