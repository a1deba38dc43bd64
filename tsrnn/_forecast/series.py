"""One series: its checks, its regular grid, its missing values, and what a fitted model keeps.

Every series a forecaster sees, alone or in a panel, goes through
:func:`prepare` (validation, covariates, the regular grid, the missing-value
policy) and is remembered as a :class:`SeriesState` (its time axis, how it was
given, its last ``lags`` rows, and its scaling in a many-series model).  The
single-series forecaster keeps one state, the global model one per series.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from tsrnn._forecast import windows
from tsrnn._forecast.plain import PlainState
from tsrnn._forecast.scaling import seasonal_indices
from tsrnn._forecast.timeaxis import TimeAxis, check_index_kind, resolve_axis
from tsrnn.windowing import as_names, check_numeric, check_time_index, series_frame


@dataclass
class SeriesData:
    """A series on its regular grid: ``raw`` with gaps as NaN, ``filled`` after the
    missing-value policy.  Columns are the targets, then past covariates, then future
    covariates."""

    raw: pd.DataFrame
    filled: pd.DataFrame
    n_targets: int
    n_past: int

    def arrays(self):
        """(known-up-to-origin channels, future-known channels, raw targets) as float64 arrays."""
        k = self.n_targets + self.n_past
        values = self.filled.to_numpy(dtype=np.float64)
        return values[:, :k], values[:, k:], self.raw.iloc[:, :self.n_targets].to_numpy(np.float64)


@dataclass
class SeriesState(PlainState):
    """What a fitted forecaster keeps of one series (pickled without pandas objects:
    :mod:`tsrnn._forecast.plain`).

    Attributes
    ----------
    axis : TimeAxis
        How the series steps through time (its future timestamps).
    kind : {"series", "frame"}
        Whether it was given as a Series (forecasts come back as one) or a DataFrame.
    name : object
        The Series' name (cosmetic; None for a frame).
    history : DataFrame
        Its last ``lags`` rows after the missing-value policy: what a forecast
        from the end of the fitted data reads.
    loc, scale : float
        The target's units inside a many-series model (``(y - loc) / scale``,
        after the log with ``log``); 0 and 1 for a single series.
    code : int
        The series' row in a series encoding (one-hot or embedding); -1 for none.
    log : bool
        Whether the targets are modelled on a log scale.
    norm : {"last", "season", None}
        What each window is expressed relative to (see :mod:`tsrnn._forecast.scaling`).
    season : int
        The season length (observations per cycle).
    floor : float
        On a log scale, the smallest value seen in training: a later value below it
        (a zero, a negative) is read as it, so that the log stays finite.
    seasonal : ndarray of shape (season, n_targets) or None
        A classical decomposition's seasonal indices (None: not decomposed); phase
        ``k`` holds the steps ``k, k + season, ...`` counted from ``anchor``.
    mult : bool
        Whether the indices divide the series (else they are subtracted).
    anchor : Index or None
        The label of the series' first observation (step 0 of the season), as a
        one-label index.
    trained_seasonal : ndarray or None
        The indices the network was trained and calibrated with, when ``seasonal``
        was re-estimated on every fitted value for forecasting (:meth:`reseasoned`).
    history_start : int
        The step number of ``history``'s first row (its position among the fitted
        rows: exact also for calendars whose sessions have gaps).

    Conversions between the target's units and the model's take each row's step
    number (counted from ``anchor``) when the series is decomposed.
    """

    axis: TimeAxis
    kind: str
    name: object
    history: pd.DataFrame
    loc: float = 0.0
    scale: float = 1.0
    code: int = -1
    log: bool = False
    norm: object = "last"
    season: int = 1
    floor: float = 0.0
    seasonal: object = None
    mult: bool = False
    anchor: object = None
    trained_seasonal: object = None
    history_start: int = 0

    @property
    def linear(self):
        """Whether the model's units are the target's own (no log, loc 0, scale 1, no
        decomposition)."""
        return not self.log and self.loc == 0.0 and self.scale == 1.0 and self.seasonal is None

    def reseasoned(self, values):
        """This state with its decomposition re-estimated (same kind) on ``values`` (own
        units, from the first observation): every fitted value, for forecasting, once
        training and calibration are done.  On the M1 and Tourism competitions the latest
        seasons mattered (``benchmarks/RESULTS.md``)."""
        if self.seasonal is None:
            return self
        found = seasonal_indices(values, self.season, self.mult)
        if found is None:
            return self
        return dataclasses.replace(self, seasonal=found[0], trained_seasonal=self.seasonal)

    def as_trained(self):
        """This state with the decomposition the network was trained and calibrated with
        (what calibration windows are measured in)."""
        if self.trained_seasonal is None:
            return self
        return dataclasses.replace(self, seasonal=self.trained_seasonal, trained_seasonal=None)

    def start_of(self, label):
        """The step number of ``label`` (counted from the first observation); 0 when the
        series is not decomposed (the number is then never used)."""
        return 0 if self.seasonal is None else self.axis.steps(self.anchor[0], label)

    def _indices(self, values, steps):
        """The seasonal indices for ``values`` whose leading axes are the step numbers
        ``steps``, broadcastable against ``values``."""
        steps = np.asarray(steps)
        idx = self.seasonal[steps % self.season]  # steps.shape + (n_targets,)
        idx = idx[..., :values.shape[steps.ndim]] if values.ndim > steps.ndim else idx[..., 0]
        return idx.reshape(idx.shape + (1,) * (values.ndim - idx.ndim))

    def to_units(self, values, steps=None):
        """Target values in the model's units; ``steps``: the step numbers of the leading
        axes of ``values`` (needed when the series is decomposed)."""
        if self.seasonal is not None:
            idx = self._indices(values, steps)
            values = values / idx if self.mult else values - idx
        if self.log:
            values = np.log(np.maximum(values, self.floor))  # NaN gaps stay NaN
        if self.loc == 0.0 and self.scale == 1.0:
            return values
        return (values - self.loc) / self.scale

    def from_units(self, values, steps=None):
        """Model outputs back in the target's units (``steps`` as in :meth:`to_units`)."""
        if self.loc != 0.0 or self.scale != 1.0:
            values = values * self.scale + self.loc
        if self.log:
            # a network output beyond float64's exp range is a forecast beyond any value
            # seen; clip it to the largest finite one rather than return inf
            with np.errstate(over="ignore"):
                values = np.minimum(np.exp(values), np.finfo(np.float64).max)
        if self.seasonal is not None:
            idx = self._indices(values, steps)
            with np.errstate(over="ignore"):
                values = values * idx if self.mult else values + idx
            values = np.clip(values, -np.finfo(np.float64).max, np.finfo(np.float64).max)
        return values

    def targets_to_units(self, A, n_targets, start=0):
        """A series' known-up-to-origin channels ``A`` (row 0 at step ``start``) with the
        targets (its first ``n_targets`` columns) in the model's units: a copy, or ``A``
        itself when the units are the target's own."""
        if self.linear:
            return A
        A = A.copy()
        A[:, :n_targets] = self.to_units(A[:, :n_targets], start + np.arange(len(A)))
        return A

    @property
    def window_norm(self):
        """``(norm, season)`` as the window functions take it."""
        return self.norm, self.season


class Prepared(NamedTuple):
    """What :func:`prepare` finds in ``y`` and ``X``."""

    data: SeriesData
    kind: str
    name: object
    axis: TimeAxis
    past: list
    future: list


def columns(frame, names):
    """``frame``'s columns ``names``, selected by position: a bare label list such as
    ``[True]`` would be read by pandas as a boolean mask."""
    return frame.iloc[:, [frame.columns.get_loc(n) for n in names]]


def span(index):
    return f"{index[0]} .. {index[-1]}" if len(index) else "empty"


def rows(index, mask, limit=3):
    """Which rows a problem is on: a count and the first few labels."""
    found = index[mask]
    return f"{len(found)} rows, e.g. {[str(r) for r in found[:limit]]}"


def _as_frame(y, what):
    """``y`` as a DataFrame copy, its kind and its Series name."""
    if isinstance(y, pd.Series):
        return series_frame(y), "series", y.name
    if isinstance(y, pd.DataFrame):
        if y.shape[1] == 0:
            raise ValueError(f"`{what}` has no columns.")
        if y.columns.has_duplicates:
            raise ValueError(f"`{what}` has duplicate column names "
                             f"{list(y.columns[y.columns.duplicated()])}.")
        return y.copy(), "frame", None
    raise TypeError(f"`{what}` must be a pandas Series or DataFrame, got {type(y).__name__}.")


def covariate_names(spec, X, targets):
    """(past, future) covariate names at fit: the columns of ``X`` named in
    ``spec.past_covariates`` are past ones, every other column is future-known."""
    past = as_names("past_covariates", spec.past_covariates)
    if X is None:
        if past:
            raise ValueError(f"`past_covariates`={past} are named but `X` is None.")
        return [], []
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"`X` must be a pandas DataFrame of covariates, got {type(X).__name__}.")
    unknown = [c for c in past if c not in X.columns]
    if unknown:
        raise ValueError(f"`past_covariates` names columns {unknown} not in `X` "
                         f"(columns {list(X.columns)}).")
    clash = [c for c in X.columns if c in targets]
    if clash:
        raise ValueError(f"`X` has columns {clash} that are also targets in `y`.")
    if X.columns.has_duplicates:
        raise ValueError(f"`X` has duplicate column names "
                         f"{list(X.columns[X.columns.duplicated()])}.")
    static = as_names("static_covariates", getattr(spec, "static_covariates", None))
    return past, [c for c in X.columns if c not in past and c not in static]


def prepare(spec, y, X, *, fitted=None, need_rows=None, axis=None):
    """Validate ``y``/``X`` and put them on one regular grid with the missing-value policy.

    Parameters
    ----------
    spec : RNNForecaster
        Reads ``freq``, ``missing`` and ``past_covariates``.
    y, X : the series and its covariates.
    fitted : tuple (state, targets, past, future), optional
        At predict time: the fitted series' state and columns, which ``y``
        (a newer history) must match; ``X`` is then checked by the caller.
    need_rows : int, optional
        Covariates must cover only the last rows (predict from a new history);
        by default all of ``y``.
    axis : TimeAxis, optional
        At fit: the time axis to use instead of resolving ``y``'s own (a series
        of a panel too short to show its frequency).

    Returns
    -------
    Prepared
    """
    frame, kind, name = _as_frame(y, "y")
    check_index_kind(frame.index, "y")
    check_time_index(frame.index, "y")
    if fitted is None:
        targets = list(frame.columns)
        if axis is None:
            axis = resolve_axis(frame.index, spec.freq, "y")
        past, future = covariate_names(spec, X, targets)
    else:
        state, targets, past, future = fitted
        if kind != state.kind:
            got = "Series" if kind == "series" else "DataFrame"
            want = "Series" if state.kind == "series" else f"DataFrame with columns {targets}"
            raise ValueError(f"`y` must be a {want} like the one fitted; got a {got}.")
        if kind == "series":
            frame.columns = targets  # a Series' name is cosmetic
        elif list(frame.columns) != targets:
            raise ValueError(f"`y` must have the fitted columns {targets}; got "
                             f"{list(frame.columns)}.")
        axis = state.axis
        if isinstance(axis.offset, int) != (not isinstance(frame.index, pd.DatetimeIndex)):
            raise TypeError(f"`y` has a {type(frame.index).__name__}; the forecaster was fitted "
                            "on a different kind of index.")
        fitted_tz = getattr(getattr(state.history, "index", None), "tz", None)
        if isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) != str(fitted_tz):
            raise ValueError(f"`y` has timestamps with tz={frame.index.tz}; the forecaster was "
                             f"fitted on tz={fitted_tz}: convert `y`'s index "
                             "(tz_localize/tz_convert) to match.")
    check_numeric(frame, targets, "y")
    frame = working_floats(frame)
    if past or future:
        cov = X[past + future]
        check_time_index(cov.index, "X")
        check_numeric(cov, past + future, "X")
        cov = working_floats(cov)
        need = frame.index if need_rows is None else frame.index[-need_rows:]
        missing = need.difference(cov.index)
        if len(missing):
            raise ValueError(f"`X` does not cover the index of `y`: {len(missing)} timestamps "
                             f"are missing ({span(missing)}); `X` spans {span(cov.index)}.")
        frame = frame.join(cov.reindex(frame.index))
    if fitted is None:
        check_observed(frame, targets, past + future, X)
    raw = axis.regularise(frame, "y")
    if len(raw):
        axis.check_room(raw.index[-1], spec.horizon, "y")
    used = raw if need_rows is None else raw.iloc[-need_rows:]
    values = used.to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        raise ValueError(f"`y`/`X` hold infinite values "
                         f"({rows(used.index, np.isinf(values).any(axis=1))}).")
    if spec.missing == "raise" and np.isnan(values).any():
        raise ValueError(f"`y`/`X` have missing values "
                         f"({rows(used.index, np.isnan(values).any(axis=1))}) and "
                         "`missing`='raise'.")
    filled = raw.ffill() if spec.missing == "ffill" else raw
    return Prepared(SeriesData(raw, filled, len(targets), len(past)), kind, name, axis, past,
                    future)


def working_floats(frame):
    """``frame`` with float columns of other widths (float16, longdouble, nullable
    Float64) as float64, the pandas layer's working dtype: pandas' forward fill has no
    float16 kernel, and the network works in float32 or float64 anyway."""
    odd = {c: np.float64 for c, dt in frame.dtypes.items()
           if dt.kind == "f" and dt not in (np.float32, np.float64)}
    return frame.astype(odd) if odd else frame


def check_observed(frame, targets, covariates, X):
    """Refuse targets or covariates without a single observed value: no window could be
    trained on (a target) or filled (a covariate)."""
    for cols, what, over in ((targets, "y", ""), (covariates, "X", " over the index of `y`")):
        empty = [c for c in cols if len(frame) and frame[c].isna().all()]
        if empty:
            raise ValueError(f"`{what}` has columns with no observed value (all missing{over}): "
                             f"{empty}.")


def check_covariate_lags(spec, future):
    """Future-known covariates need windows at least as long as the horizon."""
    lags, h = spec.lags_, spec.horizon
    if future and spec.strategy == "direct" and lags < h:
        raise ValueError(f"`lags`={lags} must be >= `horizon`={h} with future-known covariates "
                         f"{future}, so that each window covers them over all forecast steps.")


def check_length(spec, data, future, what):
    """Enough observations for one window and its targets (and future covariates that
    each window can cover)."""
    lags, h = spec.lags_, spec.horizon
    check_covariate_lags(spec, future)
    n = len(data.raw)
    if n < lags + h:
        raise ValueError(f"{what} has {n} observations ({span(data.raw.index)}); `lags` + "
                         f"`horizon` = {lags + h} are needed.")


def check_training_windows(spec, data, cal, n_found, what):
    """Refuse a fit with fewer than two training windows, saying in the data's terms what
    is short: the rows for ``lags`` + ``horizon`` + the calibration windows, or observed
    targets (gaps, or a frequency finer than the data)."""
    if n_found >= 2:
        return
    lags, H, n = spec.lags_, windows.train_steps(spec), len(data.raw)
    window = f"`lags`={lags} + {H} target steps"
    held = (f"{len(cal)} calibration windows (`calibration_fraction`="
            f"{spec.calibration_fraction})" + (f" and the {H - 1} before them" if H > 1 else "")
            if len(cal) else "no calibration windows")
    candidates = max(0, windows.training_count(spec, n, lags))
    if candidates < 2:
        need = max(n + 1, lags + spec.horizon + 1)
        while windows.training_count(spec, need, lags) < 2:
            need += 1
        raise ValueError(
            f"{what} is too short to train on: its {n} rows ({span(data.raw.index)}) leave "
            f"{candidates} training windows of {window} once {held} are held out; 2 are "
            f"needed, which takes {need} rows. Give a longer history, or lower `lags`, "
            "`horizon` or `calibration_fraction`.")
    raw, n_t = data.raw, data.n_targets
    observed = raw.iloc[:, :n_t].notna().all(axis=1).to_numpy()
    covs = raw.iloc[:, n_t:]
    cov_gaps = int(covs.isna().any(axis=1).sum()) if covs.shape[1] else 0
    need = "inputs and targets" if spec.missing == "drop" else "targets"
    text = (f"{what} has {n} rows on its grid ({span(raw.index)}), {n - int(observed.sum())} "
            f"of them with missing targets" + (f" and {cov_gaps} with missing covariates"
                                               if cov_gaps else "") +
            f": of its {candidates} training windows of {window}, once {held} are held "
            f"out, {n_found} have all their {need} observed; 2 are needed.")
    where = np.flatnonzero(observed)
    apart = float(np.median(np.diff(where))) if len(where) > 1 else 1.0
    if apart > 1:
        freq = f"`freq`={spec.freq!r}" if spec.freq is not None else \
            f"the inferred frequency {_freq(data)}"
        text += (f" Its observations are a median {apart:g} steps of the grid apart: if "
                 f"{freq} is finer than the data's, pass the data's own as `freq=` or "
                 "resample the data; else complete the history or lower `horizon`.")
    elif spec.missing == "drop":
        text += " Use `missing`='ffill', so that windows with gaps in their inputs are kept."
    else:
        text += " Complete the history, or lower `lags` or `horizon`."
    raise ValueError(text)


def _freq(data):
    freq = getattr(data.raw.index, "freq", None)
    return repr(freq.freqstr) if freq is not None else "of the index"


def check_predict_X(X, used):
    """``X`` at predict time must be a DataFrame with the covariates ``used`` when they
    are needed."""
    if not used:
        return
    if X is None:
        raise ValueError(f"`X` must hold the covariates {used} used at fit.")
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"`X` must be a pandas DataFrame of the covariates {used}, got "
                        f"{type(X).__name__}.")
    if X.columns.has_duplicates:
        raise ValueError(f"`X` has duplicate column names "
                         f"{list(X.columns[X.columns.duplicated()].unique())}.")
    # its rows are looked up by label, so their order does not matter; an unlabelled or
    # twice-labelled row would be read silently
    check_time_index(X.index, "X", order=False)
    absent = [c for c in used if c not in X.columns]
    if absent:
        raise ValueError(f"`X` lacks the covariates {absent} used at fit (it has "
                         f"{list(X.columns)}).")


def pad_start(values, k):
    """``values`` (n, C) with ``k`` rows in front, each column's first finite value (0
    for a column without any): a history too short for a window, made flat."""
    if k <= 0:
        return values
    first = np.zeros(values.shape[1])
    for j in range(values.shape[1]):
        ok = np.flatnonzero(np.isfinite(values[:, j]))
        if len(ok):
            first[j] = values[ok[0], j]
    return np.concatenate([np.broadcast_to(first, (k, values.shape[1])), values])


def forecast_inputs(spec, state, targets, past, future, X, y, *, short_ok=False):
    """(A, F, origin, future index, start) for a forecast of one series from the end of
    its history: the fitted one in ``state``, or the newer history ``y``; ``start`` is
    the step number of A's first row (see :class:`SeriesState`).  With ``short_ok`` a
    history shorter than ``lags`` is padded at its start (:func:`pad_start`) instead of
    refused."""
    lags, h = spec.lags_, spec.horizon
    # a new history needs every covariate; the fitted one only the future-known ones
    if X is not None and not (past or future):
        raise ValueError("The forecaster was fitted without covariates; `X` must be None.")
    check_predict_X(X, future if y is None else past + future)
    if y is None:
        hist = state.history
    else:
        data = prepare(spec, y, X, fitted=(state, targets, past, future), need_rows=lags).data
        if len(data.filled) < lags and not short_ok:
            raise ValueError(f"`y` has {len(data.filled)} observations; forecasting needs the "
                             f"last `lags`={lags}.")
        hist = data.filled.iloc[-lags:]
    known = targets + past
    gaps = columns(hist, known).isna().any(axis=1).to_numpy()
    if gaps.any():
        what = "`y`'s" if y is not None else "The fitted series'"
        fix = "use `missing`='ffill' or complete the history" if spec.missing != "ffill" else \
            "with `missing`='ffill' too: there is no earlier observation to carry forward; " \
            "give a history that starts with observed values"
        raise ValueError(
            f"{what} last `lags`={lags} observations have missing values in {known} "
            f"({rows(hist.index, gaps)}); {fix}."
        )
    future_index = state.axis.future(hist.index[-1], h)
    A = columns(hist, known).to_numpy(np.float64)
    F = columns(hist, future).to_numpy(np.float64)
    if future:
        missing = future_index.difference(X.index)
        if len(missing):
            raise ValueError(
                f"`X` must hold the future-known covariates for the {h} forecast steps "
                f"{span(future_index)}; {len(missing)} are missing ({span(missing)})."
            )
        Ff = X.loc[future_index, future]
        check_numeric(Ff, future, "X")
        Ff = Ff.to_numpy(np.float64)
        if not np.isfinite(Ff).all():
            raise ValueError(f"`X` has missing values in the future-known covariates over "
                             f"{span(future_index)}.")
        if np.isnan(F).any():
            raise ValueError(f"The covariates {future} have missing values in the last "
                             f"`lags`={lags} observations.")
        F = np.concatenate([F, Ff])
    else:
        F = np.zeros((len(A) + h, 0))
    # the fitted history's step is known; a newer one is placed by its first timestamp
    # and then by its rows (exact for a calendar's observed sessions when it starts
    # where the fitted series started)
    start = state.history_start if y is None else \
        state.start_of(data.filled.index[0]) + len(data.filled) - len(hist)
    if len(A) < lags:
        start -= lags - len(A)
        A, F = pad_start(A, lags - len(A)), pad_start(F, lags - len(A))
    return A, F, np.array([lags - 1]), future_index, start
