"""A stream on its grid for the stateful forecaster: reading it, its units, new readings.

:func:`read_stream` puts a fit's ``y`` (and ``X``) on the regular grid with the
missing-value policy (through :func:`tsrnn._forecast.series.prepare`, as every
series of :class:`~tsrnn.RNNForecaster`); :class:`StreamUnits` maps readings to the
network's inputs and targets and its outputs back to forecasts;
:func:`check_readings` validates the readings given to ``update`` against the
stream so far.  Plain arrays cross to the engine; nothing here trains.
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.offsets import Tick

from tsrnn._forecast.series import prepare, rows, span
from tsrnn._forecast.timeaxis import TimeAxis
from tsrnn.windowing import check_numeric, check_time_index

__all__ = ["StreamData", "StreamUnits", "check_readings", "future_index", "read_stream"]


@dataclass
class StreamData:
    """A fitted stream on its grid, from its first fully observed row.

    ``values`` (n, K + P) holds the targets then the covariates after the
    missing-value policy (``"ffill"``: carried forward), ``observed`` (n, K) the
    targets as read (NaN where missing); ``index`` labels the rows.
    """

    index: pd.Index
    values: np.ndarray
    observed: np.ndarray
    targets: list
    covariates: list
    kind: str
    name: object
    axis: TimeAxis


def read_stream(fc, y, X) -> StreamData:
    """``y`` (and the covariates ``X``) of a fit as a :class:`StreamData`.

    Every column of ``X`` is an input read with the targets (known up to the
    present, given again to ``update``); a gap in the index is a missing row.
    Leading rows with a missing input are dropped: there is nothing to carry
    forward yet.
    """
    past = None if X is None else list(getattr(X, "columns", []))
    # series.prepare reads these of a forecaster; every covariate of a stream is a past one
    spec = types.SimpleNamespace(freq=fc.freq, missing=fc.missing, past_covariates=past,
                                 horizon=fc.horizon)
    prep = prepare(spec, y, X)
    data = prep.data
    k = data.n_targets
    values = data.filled.to_numpy(np.float64)
    observed = data.raw.iloc[:, :k].to_numpy(np.float64)
    complete = np.isfinite(values).all(axis=1)
    if not complete.any():
        raise ValueError(f"`y`/`X` have no row with every column observed "
                         f"({span(data.raw.index)}); nothing to start the stream from.")
    first = int(np.argmax(complete))
    if fc.missing != "ffill" and not complete[first:].all():
        raise ValueError(f"`y`/`X` have missing values "
                         f"({rows(data.raw.index[first:], ~complete[first:])}) and "
                         f"`missing`={fc.missing!r}.")
    return StreamData(data.raw.index[first:], values[first:], observed[first:],
                      list(data.raw.columns[:k]), prep.past, prep.kind, prep.name, prep.axis)


@dataclass
class StreamUnits:
    """How readings become the network's inputs and targets, and outputs forecasts.

    A stateful network never sees a window, so nothing can be expressed relative to
    one; the units are global, fitted on the training part of the stream:

    - inputs, per target: its level standardised, ``(y_t - loc) / scale``, and its
      last change, ``(y_t - y_{t-1}) / step``; per covariate its level standardised;
    - outputs: the change from the last reading to each of the ``horizon`` next
      ones, output ``j * K + k`` being ``(y_{t+1+j} - y_t) / change[j, k]`` for
      target ``k``, so that an output of zero is the naive forecast and every lead
      time weighs alike in the loss.

    Attributes
    ----------
    loc, scale : ndarray of shape (K + P,)
        Mean and standard deviation of each column's level.
    step : ndarray of shape (K,)
        Standard deviation of each target's one-step change.
    change : ndarray of shape (horizon, K)
        Standard deviation of each target's change over ``j + 1`` steps.
    n_targets : int
    """

    loc: np.ndarray
    scale: np.ndarray
    step: np.ndarray
    change: np.ndarray
    n_targets: int

    @classmethod
    def fit(cls, values, observed, horizon):
        """Units from the training rows: ``values`` (n, K + P) as filled, ``observed``
        (n, K) with NaN where a target was missing (changes are measured between
        observed readings only)."""
        K = observed.shape[1]
        loc = values.mean(axis=0)
        scale = _positive(values.std(axis=0))
        step = _positive(_nanstd(observed[1:] - observed[:-1]))
        change = np.ones((horizon, K))
        for j in range(horizon):
            if j + 1 < len(observed):
                change[j] = _positive(_nanstd(observed[j + 1:] - observed[:-j - 1]))
        return cls(loc, scale, step, change, K)

    @property
    def n_inputs(self):
        """Input channels: level and change of each target, level of each covariate."""
        return len(self.loc) + self.n_targets

    def inputs(self, values, previous):
        """The network's inputs (m, n_inputs) for the readings ``values`` (m, K + P),
        ``previous`` (K,) the targets' reading before the first (None: the first
        reading of the stream, whose change is taken as 0)."""
        K = self.n_targets
        levels = (values - self.loc) / self.scale
        targets = values[:, :K]
        before = np.concatenate([targets[:1] if previous is None else previous[None],
                                 targets[:-1]])
        changes = (targets - before) / self.step
        return np.concatenate([levels[:, :K], changes, levels[:, K:]], axis=1)

    def targets(self, values, observed):
        """Training targets (n, horizon * K) and step weights (n,): the scaled change
        from each row's (filled) reading to each of the next ``horizon`` observed
        ones; a step whose targets are not all observed (a gap, the stream's end)
        gets weight 0 and target 0."""
        n, K = observed.shape
        h = len(self.change)
        out = np.full((n, h, K), np.nan)
        base = values[:, :K]
        for j in range(h):
            if j + 1 < n:
                out[:n - j - 1, j] = (observed[j + 1:] - base[:n - j - 1]) / self.change[j]
        out = out.reshape(n, h * K)
        weight = np.isfinite(out).all(axis=1)
        out[~weight] = 0.0
        return out, weight.astype(np.float64)

    def forecast(self, last, output):
        """Forecasts (horizon, K) from the targets' last reading ``last`` (K,) and the
        head's ``output`` (horizon * K,)."""
        h, K = self.change.shape
        return last[None, :] + np.asarray(output, np.float64).reshape(h, K) * self.change


def _nanstd(a):
    """Column standard deviations ignoring NaN (0 for a column without two values)."""
    ok = np.isfinite(a)
    count = ok.sum(axis=0)
    filled = np.where(ok, a, 0.0)
    mean = filled.sum(axis=0) / np.maximum(count, 1)
    var = (np.where(ok, a - mean, 0.0) ** 2).sum(axis=0) / np.maximum(count, 1)
    return np.where(count > 1, np.sqrt(var), 0.0)


def _positive(std):
    """A scale that is never 0 (a constant column keeps its units)."""
    return np.where(std > 0, std, 1.0)


def _columns_of(value, what, columns, kind):
    """The readings ``value`` (a Series when a Series was fitted, else a DataFrame with
    ``columns``) as ``(index, [(name, dtype)], values)``, without copying into a frame:
    ``update`` runs at every reading."""
    if isinstance(value, pd.Series):
        if kind != "series" or len(columns) != 1:
            raise ValueError(f"`{what}` must be a DataFrame with the fitted columns "
                             f"{list(columns)}; got a Series.")
        return value.index, [(columns[0], value.dtype)], value
    if not isinstance(value, pd.DataFrame):
        raise TypeError(f"`{what}` must be a pandas Series or DataFrame of new readings, got "
                        f"{type(value).__name__}.")
    if list(value.columns) != list(columns):
        raise ValueError(f"`{what}` must have the fitted columns {list(columns)}; got "
                         f"{list(value.columns)}.")
    return value.index, list(value.dtypes.items()), value


def _check_dtypes(value, dtypes, what):
    """Numbers only (booleans count); the full check names the columns and gives hints."""
    api = pd.api.types
    if all((api.is_numeric_dtype(d) or api.is_bool_dtype(d)) and not api.is_complex_dtype(d)
           for _, d in dtypes):
        return
    frame = value.to_frame(name=dtypes[0][0]) if isinstance(value, pd.Series) else value
    check_numeric(frame, [c for c, _ in dtypes], what)


def check_readings(fc, y, X):
    """New readings for ``update``, checked against the fitted stream.

    Returns
    -------
    index : Index
        Their timestamps: the next ones on the stream's grid after ``fc.cutoff_``,
        without a gap.
    values : ndarray of shape (m, K + P)
        Targets then covariates, float64; with ``missing="ffill"`` a missing
        value is the column's last reading (``fc._last`` before the first).
    missing : ndarray of bool of shape (m,)
        Rows with a missing value.

    Raises
    ------
    TypeError
        ``y``/``X`` of the wrong type, index kind or dtype.
    ValueError
        Wrong columns, an empty update, timestamps that overlap the stream, are out
        of order or skip a step, missing values with ``missing="raise"``, infinite
        values; each message names the argument and the offending timestamp.
    """
    index, dtypes, frame = _columns_of(y, "y", fc.targets_, fc._kind)
    parts = [("y", index, dtypes, frame)]
    if fc.covariates_:
        if X is None:
            raise ValueError(f"`X` must hold the covariates {fc.covariates_} for the new "
                             "readings, as at fit.")
        parts.append(("X",) + _columns_of(X, "X", fc.covariates_, "frame"))
    elif X is not None:
        raise ValueError("The forecaster was fitted without covariates; `X` must be None.")
    if len(index) == 0:
        raise ValueError("`y` holds no readings (0 rows); pass at least one.")
    for what, idx, types_, part in parts:
        _check_dtypes(part, types_, what)
        _check_index(fc, idx, what)
    if len(parts) > 1 and not parts[1][1].equals(index):
        raise ValueError(f"`X` must have the timestamps of `y` ({span(index)}); it has "
                         f"{span(parts[1][1])}.")
    values = [np.asarray(part.to_numpy(np.float64, na_value=np.nan)).reshape(len(index), -1)
              for *_, part in parts]
    values = values[0] if len(values) == 1 else np.concatenate(values, axis=1)
    bad = ~np.isfinite(values)
    if not bad.any():
        return index, values, np.zeros(len(index), bool)
    inf = np.isinf(values).any(axis=1)
    if inf.any():
        raise ValueError(f"`y`/`X` hold infinite values ({rows(index, inf)}).")
    missing = bad.any(axis=1)
    if fc.missing != "ffill":
        raise ValueError(f"`y`/`X` have missing values ({rows(index, missing)}) and "
                         f"`missing`={fc.missing!r}; pass missing='ffill' to carry the last "
                         "reading forward.")
    values = pd.DataFrame(np.concatenate([fc._last[None], values])).ffill().to_numpy()[1:]
    return index, values, missing


def future_index(axis, last, horizon):
    """``axis.future(last, horizon)``, built directly for a fixed step (a pandas Tick):
    ``predict`` runs at every reading, and the general path checks the frequency of
    the index it builds, which took 0.25 ms."""
    if isinstance(axis.offset, Tick) and isinstance(last, pd.Timestamp):
        return pd.date_range(last + axis.offset, periods=horizon, freq=axis.offset,
                             name=axis.name)
    return axis.future(last, horizon)


def _check_index(fc, index, what):
    """``index`` must continue the stream: the grid's next timestamps after ``cutoff_``."""
    axis, last = fc.axis_, fc.cutoff_
    if isinstance(axis.offset, int):
        if not pd.api.types.is_integer_dtype(index.dtype):
            raise TypeError(f"`{what}` must have an integer index like the fitted stream; got "
                            f"{type(index).__name__} of dtype {index.dtype}.")
    else:
        if not isinstance(index, pd.DatetimeIndex):
            raise TypeError(f"`{what}` must have a DatetimeIndex like the fitted stream; got "
                            f"{type(index).__name__} of dtype {index.dtype}.")
        if str(index.tz) != str(getattr(last, "tz", None)):
            raise ValueError(f"`{what}` has timestamps with tz={index.tz}; the stream has "
                             f"tz={getattr(last, 'tz', None)}: convert them to match.")
    check_time_index(index, what)
    if index[0] <= last:
        raise ValueError(f"`{what}` starts at {index[0]}, which is not after the last reading "
                         f"{last}: readings already given may not be given again (overlap) "
                         "nor be older (out of order).")
    # one reading (the usual update) is checked without building an index
    if len(index) == 1 and index[0] == last + axis.offset:
        return
    expected = axis.future(last, len(index))
    if not index.equals(expected):
        i = int(np.argmax(np.asarray(index != expected)))
        before = last if i == 0 else index[i - 1]
        step = axis.offset if isinstance(axis.offset, int) else axis.offset.freqstr
        raise ValueError(
            f"`{what}` does not continue the stream on its grid (step {step!r}): after "
            f"{before} comes {expected[i]}, but `{what}` has {index[i]} (row {i}). Give "
            "every step, in order; a reading that is missing is a row of NaN (with "
            "missing='ffill').")
