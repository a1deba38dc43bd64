"""pandas time series -> supervised windows, with the forecast origins kept as the index.

:func:`make_windows` turns a time-indexed DataFrame into ``(X, y)`` for
:class:`~tsrnn.RNNRegressor` (or any scikit-learn regressor): ``X`` holds the
last ``lags`` observations before each forecast origin, ``y`` the next
``horizon`` values of the targets.

Column names say exactly which observation a column holds, relative to the
origin ``t``: ``temp_max[t-3]`` is ``temp_max`` three steps before the
origin, ``holiday[t+2]`` a future-known covariate two steps after it, and
``temp_max[t+1]`` (in ``y``) the first value to forecast. ``X`` is
time-major — every channel of the oldest step, then the next step — which is
the layout :class:`~tsrnn.RNNRegressor` reads back as 3-D windows, also after
``set_output(transform="pandas")`` since the names survive.

Future-known covariates are led by ``horizon`` steps: at window step
``t-k`` their channel holds the value at ``t-k+horizon``, so the last
``horizon`` steps of every window carry the covariate over the forecast steps
``t+1 .. t+horizon``.  This needs ``lags >= horizon``.

Windows are positional: step ``k`` is the ``k``-th row before the origin.
Regularise an irregular index first (``df.asfreq(...)``) if a gap should not
be bridged; :class:`~tsrnn.RNNForecaster` does this for you.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tsrnn._validation import check_allocation, check_int

__all__ = ["make_sequences", "make_windows"]


def series_frame(series: pd.Series) -> pd.DataFrame:
    """A Series as a one-column DataFrame named after it (``"y"`` when it has no name)."""
    return series.to_frame(name=series.name if series.name is not None else "y")


def offset_name(channel: str, offset: int) -> str:
    """Column name of ``channel`` at ``offset`` steps from the origin (``t-0`` is the origin)."""
    return f"{channel}[t-{-offset}]" if offset <= 0 else f"{channel}[t+{offset}]"


def as_names(name: str, value) -> list[str]:
    """``None``, one column name or a list of names -> list of names, checked for duplicates."""
    if value is None:
        return []
    many = isinstance(value, (Sequence, pd.Index, np.ndarray, pd.Series))
    names = list(value) if many and not isinstance(value, str) else [value]
    dup = sorted({str(v) for v in names if names.count(v) > 1})
    if dup:
        raise ValueError(f"`{name}` lists {dup} more than once.")
    return names


def check_time_index(index: pd.Index, name: str, *, order: bool = True) -> None:
    """Refuse missing (NaT), duplicate or (with ``order``) unsorted index labels, showing
    where they are."""
    if index.hasnans:
        # before the order checks: NaT compares false with everything, so a sort check
        # finds no out-of-order pair to point at
        where = np.flatnonzero(index.isna())
        raise ValueError(f"`{name}` index has {len(where)} missing labels (NaT/NA) at positions "
                         f"{where[:5].tolist()}{' ...' if len(where) > 5 else ''}; drop those "
                         "rows or give them their timestamps.")
    if index.has_duplicates:
        dup = index[index.duplicated()].unique()[:5]
        raise ValueError(f"`{name}` has duplicate index labels, e.g. {list(map(str, dup))}.")
    if order and not index.is_monotonic_increasing:
        pos = _first_unsorted(index)
        raise ValueError(
            f"`{name}` index is not sorted in increasing order: {index[pos]!s} comes before "
            f"{index[pos + 1]!s} (positions {pos} and {pos + 1}); sort it with `.sort_index()`."
        )


def _first_unsorted(index: pd.Index) -> int:
    values = index.to_numpy()
    try:
        return int(np.flatnonzero(values[1:] < values[:-1])[0])
    except TypeError:  # mixed label types
        return 0


def check_numeric(frame: pd.DataFrame, columns: list, name: str) -> None:
    """Refuse non-numeric and complex columns (booleans count as numeric), naming them and
    their dtypes."""
    complex_ = {str(c): str(frame[c].dtype) for c in columns
                if pd.api.types.is_complex_dtype(frame[c])}
    if complex_:
        raise TypeError(f"`{name}` has complex columns {complex_}; give the real part (or "
                        "the real and imaginary parts as two columns).")
    bad = {str(c): str(frame[c].dtype) for c in columns
           if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))}
    if bad:
        hint = _as_text_hint(frame, [c for c in columns if str(c) in bad])
        raise TypeError(f"`{name}` has non-numeric columns {bad}; encode or drop them "
                        f"first{hint}.")


def _as_text_hint(frame, columns):
    """A hint for columns of numbers stored as text (read from a CSV without dtypes):
    converting them is the user's call (a stray 'n/a' should not become NaN unseen)."""
    for c in columns:
        sample = frame[c].dropna().iloc[:5]
        if not len(sample) or not all(isinstance(v, str) for v in sample):
            continue
        try:
            pd.to_numeric(sample)
        except (ValueError, TypeError):
            continue
        return (f" (column {c!r} holds numbers as text, e.g. {sample.iloc[0]!r}: convert it "
                "with `pd.to_numeric`)")
    return ""


def window_positions(n: int, lags: int, horizon: int, step: int) -> np.ndarray:
    """Origin positions that have ``lags`` observations and ``horizon`` targets, every ``step``-th
    counted back from the last one (the most recent origin is always kept)."""
    last = n - 1 - horizon
    return np.arange(last, lags - 2, -step)[::-1]


def check_window_memory(n_windows: int, steps: int, channels: int, what: str, *,
                        copies: int = 2, advice: str = "") -> None:
    """Refuse, before any is built, ``n_windows`` float64 windows of ``steps`` x
    ``channels`` (held ``copies`` times at once) beyond the memory budget
    (:func:`tsrnn._validation.memory_budget`); ``what`` names whose windows they are."""
    nbytes = int(n_windows) * int(steps) * int(channels) * 8 * copies
    try:
        check_allocation(f"{what} ({n_windows:,} windows of {steps} steps x {channels} "
                         f"channel{'s' * (channels != 1)}, float64)", nbytes)
    except ValueError as err:
        raise ValueError(f"{err} {advice or 'Lower `lags`, or use fewer rows or channels.'}"
                         ) from None


def gather_windows(A: np.ndarray, F: np.ndarray | None, pos: np.ndarray, lags: int,
                   lead: int, what: str = "The windows") -> np.ndarray:
    """Windows ``(len(pos), lags, C)`` ending at the origins ``pos``.

    ``A`` (n, C1) holds channels known up to the origin; ``F`` (n + lead, C2)
    holds future-known channels, read ``lead`` steps ahead of each window step.
    Refused up front beyond the memory budget (:func:`check_window_memory`; ``what``
    names the windows there).
    """
    channels = A.shape[1] + (F.shape[1] if F is not None else 0)
    # the channels known up to the origin, the future-known ones, and both joined
    check_window_memory(len(pos), lags, channels, what, copies=2 if channels > A.shape[1] else 1)
    steps = pos[:, None] + np.arange(-lags + 1, 1)
    X = A[steps]
    if F is not None and F.shape[1]:
        X = np.concatenate([X, F[steps + lead]], axis=2)
    return X


def make_windows(
    data: pd.DataFrame | pd.Series,
    *,
    target: str | Sequence[str],
    lags: int,
    horizon: int = 1,
    past_covariates: str | Sequence[str] | None = None,
    future_covariates: str | Sequence[str] | None = None,
    step: int = 1,
    dropna: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Supervised windows of a time-indexed frame, indexed by the forecast origin.

    Parameters
    ----------
    data : DataFrame or Series
        Rows in time order (unique, increasing index of any kind). Columns not
        named in ``target`` or the covariates are ignored. A Series is one
        column named after it (``"y"`` when it has no name).
    target : str or list of str
        Column(s) to forecast. Their history is part of every window.
    lags : int
        Observations per window, the origin included.
    horizon : int, default=1
        Steps to forecast after each origin.
    past_covariates : str or list of str, optional
        Columns known only up to the origin: their last ``lags`` values.
    future_covariates : str or list of str, optional
        Columns known ahead (calendar, planned inputs, weather forecasts): read
        ``horizon`` steps ahead, so each window covers their values over the
        forecast steps. Requires ``lags >= horizon``.
    step : int, default=1
        Keep every ``step``-th origin, counted back from the latest one.
    dropna : bool, default=True
        Drop windows with a missing value in ``X`` or ``y``.

    Returns
    -------
    X : DataFrame of shape (n_windows, lags * n_channels)
        Columns ``"<channel>[t-<k>]"`` (or ``[t+<k>]`` for future covariates),
        time-major; channels in the order targets, past covariates, future
        covariates.
    y : DataFrame of shape (n_windows, horizon * n_targets)
        Columns ``"<target>[t+<j>]"``, step-major (every target at ``t+1``,
        then ``t+2`` ...).

    Both are indexed by the origin: the label of the window's last row.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsrnn.windowing import make_windows
    >>> df = pd.DataFrame({"temp": [1.0, 2, 3, 4, 5]},
    ...                   index=pd.date_range("2024-01-01", periods=5, name="date"))
    >>> X, y = make_windows(df, target="temp", lags=3)
    >>> X  # doctest: +NORMALIZE_WHITESPACE
                temp[t-2]  temp[t-1]  temp[t-0]
    date
    2024-01-03        1.0        2.0        3.0
    2024-01-04        2.0        3.0        4.0
    >>> list(y.columns)
    ['temp[t+1]']
    """
    if isinstance(data, pd.Series):
        data = series_frame(data)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"`data` must be a pandas DataFrame or Series, got {type(data).__name__}.")
    lags = check_int("lags", lags)
    horizon = check_int("horizon", horizon)
    step = check_int("step", step)
    targets = as_names("target", target)
    past = as_names("past_covariates", past_covariates)
    future = as_names("future_covariates", future_covariates)
    if not targets:
        raise ValueError("`target` must name at least one column.")
    roles = {"target": targets, "past_covariates": past, "future_covariates": future}
    for role, names in roles.items():
        missing = [c for c in names if c not in data.columns]
        if missing:
            raise ValueError(f"`{role}` names unknown columns {missing}; `data` has "
                             f"{list(data.columns)}.")
    seen: dict = {}
    for role, names in roles.items():
        for c in names:
            if c in seen:
                raise ValueError(f"Column {c!r} is in both `{seen[c]}` and `{role}`.")
            seen[c] = role
    if future and lags < horizon:
        raise ValueError(f"`lags`={lags} must be >= `horizon`={horizon} with future_covariates, "
                         "so that every window covers their values over all forecast steps.")
    check_time_index(data.index, "data")
    check_numeric(data, targets + past + future, "data")
    n = len(data)
    if n < lags + horizon:
        span = f" ({data.index[0]} .. {data.index[-1]})" if n else ""
        raise ValueError(f"`data` has {n} rows{span}; windows need at least `lags` + `horizon` = "
                         f"{lags + horizon}.")

    pos = window_positions(n, lags, horizon, step)
    # the windows, their flat copy and the frame built on it
    check_window_memory(len(pos), lags, len(targets + past + future), "`data`'s windows",
                        copies=3, advice="Lower `lags`, raise `step`, or use fewer rows or "
                        "columns.")
    A = data[targets + past].to_numpy(dtype=np.float64)
    F = data[future].to_numpy(dtype=np.float64) if future else None
    X3 = gather_windows(A, F, pos, lags, horizon, "`data`'s windows")
    Y3 = data[targets].to_numpy(dtype=np.float64)[pos[:, None] + np.arange(1, horizon + 1)]
    offsets = range(-lags + 1, 1)
    xcols = [offset_name(str(c), o + (horizon if c in future else 0))
             for o in offsets for c in targets + past + future]
    ycols = [offset_name(str(c), j) for j in range(1, horizon + 1) for c in targets]
    as_text = [str(c) for c in targets + past + future]
    if len(set(as_text)) < len(as_text):
        raise ValueError(f"Columns {targets + past + future} are not distinct as text; window "
                         "column names would clash. Rename them.")
    X2 = X3.reshape(len(pos), -1)
    Y2 = Y3.reshape(len(pos), -1)
    if dropna:
        keep = ~(np.isnan(X2).any(axis=1) | np.isnan(Y2).any(axis=1))
        X2, Y2, pos = X2[keep], Y2[keep], pos[keep]
    index = data.index[pos]
    return (pd.DataFrame(X2, index=index, columns=xcols),
            pd.DataFrame(Y2, index=index.copy(), columns=ycols))


def make_sequences(
    data: pd.DataFrame,
    by: str,
    *,
    columns: Sequence[str] | str | None = None,
    sort_by: str | None = None,
) -> tuple[list[np.ndarray], pd.Index]:
    """Split a long DataFrame into one array per sequence, for variable-length input.

    Each value of the column ``by`` (a recording, a sensor, an utterance)
    becomes one ``(T_i, C)`` array of its rows, in the order of first
    appearance; :class:`~tsrnn.RNNRegressor`, :class:`~tsrnn.RNNClassifier`
    and :class:`tsrnn.nn.Network` take the list as ``X`` and run each sequence
    to its own length.

    Parameters
    ----------
    data : DataFrame
        One row per step, a sequence-id column among the others.
    by : str
        The sequence-id column.
    columns : str or list of str, optional
        The channels, in this order (default: every column but ``by`` and
        ``sort_by``).
    sort_by : str, optional
        A column (a time stamp, a step number) that orders each sequence's
        rows; default: the rows' order in ``data``.

    Returns
    -------
    sequences : list of ndarray of shape (T_i, C)
    ids : Index
        The sequence id of each array.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": ["a", "a", "b", "a"], "x": [1.0, 2.0, 3.0, 4.0]})
    >>> seqs, ids = make_sequences(df, "id")
    >>> [s.ravel().tolist() for s in seqs], list(ids)
    ([[1.0, 2.0, 4.0], [3.0]], ['a', 'b'])
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"`data` must be a pandas DataFrame, got {type(data).__name__}.")
    for name, value in (("by", by), ("sort_by", sort_by)):
        if value is not None and value not in data.columns:
            raise ValueError(f"`{name}`={value!r} is not a column of `data`; its columns are "
                             f"{list(data.columns)}.")
    if columns is None:
        cols = [c for c in data.columns if c not in (by, sort_by)]
    else:
        cols = as_names("columns", columns)
        missing = [c for c in cols if c not in data.columns]
        if missing:
            raise ValueError(f"`columns` {missing} are not columns of `data`; its columns are "
                             f"{list(data.columns)}.")
        if by in cols or (sort_by is not None and sort_by in cols):
            raise ValueError(f"`columns` must not hold the `by`/`sort_by` columns ({by!r}, "
                             f"{sort_by!r}).")
    if not cols:
        raise ValueError("`data` has no channel columns besides `by`/`sort_by`.")
    if data[by].isna().any():
        raise ValueError(f"`data[{by!r}]` has missing sequence ids (row "
                         f"{int(np.argmax(data[by].isna().to_numpy()))}).")
    check_numeric(data, cols, "data")
    frame = data.sort_values(sort_by, kind="stable") if sort_by is not None else data
    ids = pd.Index(pd.unique(data[by]), name=by)
    groups = frame.groupby(by, sort=False)[cols]
    values = {key: part.to_numpy(dtype=np.float64) for key, part in groups}
    return [values[key] for key in ids], ids
