"""How a 2-D ``X``'s columns form windows: which column the network reads at each step
and channel.

A recurrent network reads a window step by step, oldest first, so the columns of a
flattened window must be put back in time order.  Other libraries flatten them
differently: skforecast and mlforecast put the newest lag first (``lag_1``,
``lag1``), a per-channel ``ColumnTransformer`` puts each channel's block after the
other's and prefixes the names (``a__a[t-3]``), and columns that are not lags at all
(date features, exogenous values) follow the lags.  :func:`read_layout` reads the
names it knows, refuses names it cannot read without guessing, and says when a
layout had to be assumed.

The result is one integer array ``cols`` of shape ``(T, C)``: ``X[:, cols]`` is the
``(n, T, C)`` window.  A column that is not a lag (a feature of the whole sample) is
a constant channel: its index repeats down its column of ``cols``.

NumPy only; below :mod:`tsrnn._estimator_base`, which knows scikit-learn.
"""

from __future__ import annotations

import re

import numpy as np

LAG_ORDERS = ("auto", "oldest_first", "newest_first")

# Each naming convention: a pattern with the lagged variable (optional) and the offset.
# tsrnn.windowing writes "<channel>[t-<k>]" (future-known covariates "[t+<k>]").
_CONVENTIONS = (
    ("tsrnn", re.compile(r"^(?P<var>.+)\[t(?P<sign>[-+])(?P<k>\d+)\]$")),
    # skforecast: "lag_3", and "<series>_lag_3" for several series (multivariate); a
    # series name does not end in "_", so that "num__lag_3" is a transformer's prefix
    ("skforecast", re.compile(r"^(?:(?P<var>.*[^_])_)?lag_(?P<k>\d+)$")),
    # sktime's Lag transformer: "lag_3__y"
    ("sktime", re.compile(r"^lag_(?P<k>\d+)__(?P<var>.+)$")),
    # mlforecast: "lag3"
    ("mlforecast", re.compile(r"^lag(?P<k>\d+)$")),
)


class LayoutWarning(UserWarning):
    """A 2-D or 3-D ``X``'s window structure was assumed rather than read.

    Raised by :class:`~tsrnn.RNNRegressor` and :class:`~tsrnn.RNNClassifier` when a
    2-D ``X`` carries no column names they can read (a NumPy array, say) and neither
    ``n_channels`` nor ``lag_order`` says how its columns form windows, or when a 3-D
    ``X`` has fewer steps than channels and ``time_axis`` is not given (sktime's and
    aeon's arrays are ``(n, channels, time)``).  State the layout to silence it.
    """


def _parse(name):
    """``(convention, variable, offset)`` of a lag column's name, or None.

    A ``ColumnTransformer``'s ``"<transformer>__"`` prefixes are dropped one at a time
    until a convention matches (sktime's own names contain ``__``, so the whole name is
    tried first)."""
    s = str(name)
    while True:
        for convention, pattern in _CONVENTIONS:
            m = pattern.match(s)
            if m:
                g = m.groupdict()
                sign = -1 if g.get("sign", "-") == "-" else 1
                return convention, g.get("var") or "", sign * int(g["k"])
        if "__" not in s:
            return None
        s = s.split("__", 1)[1]


def _quote(names, limit=6):
    shown = ", ".join(repr(str(c)) for c in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _from_names(columns):
    """``(cols, order, lagged)`` read from recognised lag names, or None when no name is a
    lag.

    ``order`` is "oldest_first" or "newest_first", the columns' direction in time;
    ``lagged`` the number of lagged channels (the rest are constant).
    """
    parsed = [_parse(c) for c in columns]
    lag_at = [i for i, p in enumerate(parsed) if p is not None]
    if not lag_at:
        return None
    conventions = list(dict.fromkeys(parsed[i][0] for i in lag_at))
    if len(conventions) > 1:
        first = {cv: next(columns[i] for i in lag_at if parsed[i][0] == cv) for cv in conventions}
        raise ValueError("`X`'s columns mix lag namings: " + ", ".join(
            f"{first[cv]!r} ({cv})" for cv in conventions) + "; name every lag one way.")
    by_var = {}
    for i in lag_at:
        by_var.setdefault(parsed[i][1], []).append(i)
    seen = {}
    for i in lag_at:
        key = parsed[i][1:]
        if key in seen:
            raise ValueError(f"`X` has two columns for the same lag: {columns[seen[key]]!r} "
                             f"and {columns[i]!r}.")
        seen[key] = i
    directions = set()
    for var, idx in by_var.items():
        d = np.diff([parsed[i][2] for i in idx])
        if len(d) and not ((d > 0).all() or (d < 0).all()):
            raise ValueError(f"`X`'s lag columns {_quote([columns[i] for i in idx])} are in "
                             "mixed order: neither oldest first nor newest first.")
        if len(d):
            directions.add("oldest_first" if d[0] > 0 else "newest_first")
    if len(directions) > 1:
        raise ValueError("`X`'s lag columns run oldest first for some variables and newest "
                         f"first for others: {_quote([columns[i] for i in lag_at])}.")
    # every variable's steps in time order, oldest first
    steps = {var: sorted(idx, key=lambda i: parsed[i][2]) for var, idx in by_var.items()}
    shapes = {var: tuple(np.subtract([parsed[i][2] for i in s], parsed[s[0]][2]))
              for var, s in steps.items()}
    if len(set(shapes.values())) > 1:
        desc = "; ".join(f"{var or 'the target'!s}: {len(s)} lags "
                         f"{_quote([columns[i] for i in s], 3)}" for var, s in steps.items())
        raise ValueError("`X`'s lagged variables do not share one window (the same number of "
                         f"lags, equally spaced): {desc}.")
    cols = np.array([steps[var] for var in by_var], dtype=np.intp).T  # (T, C_lags)
    extra = [i for i, p in enumerate(parsed) if p is None]
    if extra:
        cols = np.concatenate([cols, np.broadcast_to(np.array(extra, np.intp),
                                                     (cols.shape[0], len(extra)))], axis=1)
    order = directions.pop() if directions else "oldest_first"
    return np.ascontiguousarray(cols), order, len(by_var)


def _from_counts(width, n_channels, order, n_lags):
    """``cols`` for columns given only by count: ``n_lags`` steps (all columns when None)
    of ``n_channels`` channels, time-major in ``order``, then one constant channel per
    remaining column."""
    C = n_channels
    window = width if n_lags is None else n_lags * C
    if n_lags is not None and window > width:
        raise ValueError(f"`n_lags`={n_lags} with {C} channel(s) needs {window} columns, but "
                         f"`X` has {width}.")
    if window % C:
        raise ValueError(f"`X` has {width} columns, which is not a multiple of "
                         f"`n_channels`={C}.")
    T = window // C
    cols = np.arange(window, dtype=np.intp).reshape(T, C)
    if order == "newest_first":
        cols = cols[::-1]
    extra = np.arange(window, width, dtype=np.intp)
    cols = np.concatenate([cols, np.broadcast_to(extra, (T, len(extra)))], axis=1)
    return np.ascontiguousarray(cols)


def read_layout(columns, width, *, n_channels="auto", lag_order="auto", n_lags=None):
    """Which column of a 2-D ``X`` each step and channel reads.

    Parameters
    ----------
    columns : sequence of str or None
        ``X``'s column names (None for an array without names).
    width : int
        ``X``'s number of columns.
    n_channels, lag_order, n_lags
        The estimator's parameters of those names.

    Returns
    -------
    cols : ndarray of int, shape (T, C)
        ``X[:, cols]`` is the time-ordered ``(n, T, C)`` window.
    assumed : str or None
        Why the layout had to be assumed (nothing stated it), for a
        :class:`LayoutWarning`; None when it was read or stated.
    """
    found = _from_names(list(columns)) if columns is not None else None
    if found is not None:
        cols, order, lagged = found
        if lag_order != "auto" and cols.shape[0] > 1 and lag_order != order:
            raise ValueError(f"`lag_order`={lag_order!r}, but `X`'s column names run "
                             f"{order.replace('_', ' ')}: {_quote(list(columns), 3)}.")
        if n_channels != "auto" and n_channels != cols.shape[1]:
            raise ValueError(f"`n_channels`={n_channels}, but `X`'s column names give "
                             f"{cols.shape[1]} channels ({lagged} lagged, "
                             f"{cols.shape[1] - lagged} constant).")
        if n_lags is not None and n_lags != cols.shape[0]:
            raise ValueError(f"`n_lags`={n_lags}, but `X`'s column names give "
                             f"{cols.shape[0]} lags.")
        return cols, None
    stated = n_channels != "auto" or lag_order != "auto"
    order = "oldest_first" if lag_order == "auto" else lag_order
    cols = _from_counts(width, 1 if n_channels == "auto" else n_channels, order, n_lags)
    if stated:
        return cols, None
    what = "a 2-D array without column names" if columns is None else \
        f"2-D with no lag names among its columns ({_quote(list(columns), 3)})"
    return cols, (
        f"`X` is {what}: read as {cols.shape[0]} steps of {cols.shape[1]} channel(s), oldest "
        "first. skforecast and mlforecast put the newest lag first (pass "
        "lag_order='newest_first', and n_lags= when other columns follow the lags); sktime "
        "puts the oldest first (pass lag_order='oldest_first'). Pass n_channels or lag_order "
        "to state the layout and silence this warning.")


def is_identity(cols):
    """Whether ``cols`` reads the columns as they are: time-major, every column once."""
    return bool(np.array_equal(cols.reshape(-1), np.arange(cols.size)))


def time_major(X, time_axis):
    """A 3-D ``X`` (or a list of 2-D sequences) as ``(n, time, channels)``.

    ``time_axis`` 2 (or -1) is sktime's and aeon's ``(n, channels, time)``; 1 (and
    "auto") leaves ``X`` as it is.
    """
    if time_axis not in (2, -1):
        return X
    if isinstance(X, (list, tuple)):
        return [np.asarray(x).T if np.ndim(x) == 2 else x for x in X]
    if not hasattr(X, "ndim"):
        X = np.asarray(X)
    if X.ndim == 3:
        return np.swapaxes(X, 1, 2)
    return X
